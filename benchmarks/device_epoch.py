"""A short end-to-end run of the `paper`-size ProtoECGNet on one device, as a user runs it:
``protoecg train`` with one epoch per stage on a PTB-XL-layout folder (mixed precision on CUDA,
the config's default), ``protoecg project`` and ``protoecg evaluate``, each timed from outside.
Its purpose is to show the CUDA path works end to end and what an epoch costs there, not
accuracy (one epoch per stage learns little).

    python benchmarks/device_epoch.py --root ../shared/data/ptbxl-subset --device cuda \\
        --runs /tmp/device-epoch

Writes ``benchmarks/results/device_epoch_<device type>.json``: the device's name, torch's
version, per stage its epoch time and training ECG/s, and the wall time of each command.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from _runs import timed_process  # benchmarks/_runs.py (run as a script)

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"


def timed(*args: str) -> float:
    return round(timed_process(list(args)), 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", required=True, help="a folder in PTB-XL's layout")
    parser.add_argument("--device", default="cuda", help="cuda, cuda:N or cpu")
    parser.add_argument("--runs", required=True, help="where the run folder goes")
    parser.add_argument("--epochs", type=int, default=1, help="epochs per stage (default 1)")
    args = parser.parse_args()
    device = torch.device(args.device)
    run = Path(args.runs) / f"paper-{device.type}"
    if run.exists():
        raise SystemExit(f"{run} exists: remove it or give another --runs")
    result: dict = {
        "device": (torch.cuda.get_device_name(device) if device.type == "cuda"
                   else "CPU"),
        "torch": torch.__version__, "date": time.strftime("%Y-%m-%d"), "preset": "paper",
        "epochs_per_stage": args.epochs,
        "precision": "float16 autocast (train.amp)" if device.type == "cuda" else "fp32",
        "wall_s": {},
    }
    result["wall_s"]["train"] = timed(
        "train", "--dataset", "ptbxl", "--root", args.root, "--preset", "paper",
        "--epochs", str(args.epochs), "--device", args.device, "--out", str(run), "--quiet")
    result["wall_s"]["project"] = timed("project", "--run", str(run), "--device", args.device)
    result["wall_s"]["evaluate"] = timed("evaluate", "--run", str(run), "--device",
                                         args.device)
    meta = json.loads((run / "run.json").read_text())
    n_train = meta["split_sizes"]["train"]
    result["split_sizes"] = meta["split_sizes"]
    result["n_prototypes"] = meta["n_prototypes"]
    stages = {}
    for line in (run / "metrics.jsonl").read_text().splitlines():
        record = json.loads(line)
        if "seconds" in record:  # an epoch of a training stage (validation included)
            stages.setdefault(record["stage"], []).append(record["seconds"])
        elif record.get("stage") == "projection":
            result["faithfulness"] = record["faithfulness"]
    result["stages"] = {name: {"epoch_s": round(min(s), 2),
                               "train_ecgs_per_s": round(n_train / min(s), 1)}
                        for name, s in stages.items()}
    evaluation = json.loads((run / "evaluation.json").read_text())
    result["test_macro_auroc"] = evaluation["macro_auroc"]
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"device_epoch_{device.type}.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
