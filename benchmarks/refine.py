"""Refine a trained, projected ProtoECGNet after the fact (issue 11): the `refine` schedule
trains backbones, add-on layers and prototypes on for a few epochs with a push after every
epoch (so the network adapts to prototypes that are real training windows, and they stay
real windows), then the last layers; compared with its source on the test fold (paired).

    python benchmarks/refine.py --run data/ablation-ptbxl/pretrain --out data/refine-ptbxl \\
        [--epochs 5] [--threads 1]

Writes benchmarks/results/refine_<source run name>_<epochs>.json.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from protoecg.train.comparison import compare_runs
from protoecg.train.run import load_model, open_run_data
from protoecg.train.trainer import Trainer

RESULTS = Path(__file__).resolve().parent / "results"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--run", required=True, help="a complete, projected ProtoECGNet run")
    parser.add_argument("--out", required=True, help="the refined run folder to write")
    parser.add_argument("--epochs", type=int, default=5, help="refine epochs (default 5)")
    parser.add_argument("--threads", type=int, default=0)
    args = parser.parse_args()
    model, meta, config = load_model(args.run)
    config.train.epochs["refine"] = args.epochs
    if args.threads:
        config.train.threads = args.threads
    data = open_run_data(meta, config)
    started = time.perf_counter()
    Trainer(config, data, args.out, dataset_name=meta["dataset"], progress=False,
            command=["benchmarks/refine.py", "--run", args.run], schedule="refine",
            initial_state=model.state_dict(),
            extra_meta={"source_run": str(Path(args.run).resolve())}).fit()
    seconds = time.perf_counter() - started
    figures = compare_runs(args.run, args.out)
    pushes = [json.loads(line) for line in (Path(args.out) / "metrics.jsonl").open()
              if '"refine"' in line]
    result = {"source_run": args.run, "refined_run": args.out, "refine_epochs": args.epochs,
              "train_s": round(seconds, 1),
              "refine_val_macro_auroc": [p["val_macro_auroc"] for p in pushes],
              "push_cosine_median": [p.get("push_cosine_median") for p in pushes],
              **{k: figures[k] for k in ("before", "after", "delta", "delta_ci")},
              "per_branch": {b: {k: v[k] for k in ("before", "after", "delta", "delta_ci")}
                             for b, v in figures["per_branch"].items()}}
    RESULTS.mkdir(exist_ok=True)
    path = RESULTS / f"refine_{Path(args.run).name}_{args.epochs}.json"
    path.write_text(json.dumps(result, indent=2) + "\n")
    low, high = result["delta_ci"]
    print(f"test macro AUROC {result['before']:.4f} -> {result['after']:.4f}, difference "
          f"{result['delta']:+.4f} (95% CI {low:+.4f} to {high:+.4f}) -> {path}")


if __name__ == "__main__":
    main()
