"""The review loop on real ECGs: train -> project -> a study whose imported answers flag a share
of the prototypes -> prune (disable, replace, forbid) -> retrain -> compare -> round-2 study.

No clinicians rated these prototypes: the answers are a SIMULATED panel of three raters that
follows the model-side purity rule (the lowest-purity prototypes, ties by lower similarity at
projection, are rated 1-2 and flagged bad by two of the three raters; the rest 3-5). The figures
measure what pruning and retraining cost the model, not what clinicians think. A control arm
prunes nothing and retrains the same way: the pruned arms are compared with it too (paired), so
the effect of pruning is told apart from the effect of retraining the last layers.

    python benchmarks/prune_loop.py --dataset ludb --root ../shared/data/ludb \
        --preset ludb --out data/prune-ludb
    python benchmarks/prune_loop.py --dataset ptbxl --root ../shared/data/ptbxl-subset \
        --preset ptbxl_subset --out data/prune-ptbxl-subset

Writes benchmarks/results/prune_loop_<preset>.json.
"""

from __future__ import annotations

import argparse
import json
import shutil
import time
from pathlib import Path

import numpy as np
import pandas as pd
from _runs import add_dataset_arguments, run  # benchmarks/_runs.py (run as scripts)

from protoecg.catalog.reader import read_catalog
from protoecg.resources import protocol_path
from protoecg.study.store import ReviewStore
from protoecg.train.comparison import compare_runs

RESULTS = Path(__file__).resolve().parent / "results"
RULE = "bad >= 2"
# the control arm: the same prune + retrain with a rule that selects nothing, so that the
# effect of retraining the last layers is told apart from the effect of pruning
ARMS = {"disable": (RULE, "disable"), "replace": (RULE, "replace"),
        "forbid": (RULE, "forbid"), "control": ("bad > 1000", "disable")}


def simulated_answers(catalog_dir: Path, fraction: float, seed: int) -> pd.DataFrame:
    table = read_catalog(catalog_dir).prototypes
    order = table.sort_values(["purity", "similarity"], kind="stable")
    # never flag a class's last prototype: the loop must stay comparable for disable
    flagged, per_class = [], table.groupby("class_code").size().to_dict()
    for row in order.itertuples():
        if len(flagged) >= round(fraction * len(table)):
            break
        if per_class[row.class_code] > 1:
            flagged.append(row.prototype_id)
            per_class[row.class_code] -= 1
    rng = np.random.default_rng(seed)
    rows = []
    for k, rater in enumerate(("sim rater A", "sim rater B", "sim rater C")):
        for pid in table["prototype_id"]:
            bad = pid in flagged and k < 2
            low, high = (1, 2) if bad else (3, 5)
            rows += [(rater, pid, "representativeness", int(rng.integers(low, high + 1))),
                     (rater, pid, "clarity", int(rng.integers(low, high + 1)))]
            if bad:
                rows.append((rater, pid, "bad", 1))
    return pd.DataFrame(rows, columns=["reviewer", "prototype_id", "question", "answer"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    add_dataset_arguments(parser)
    parser.add_argument("--out", required=True, help="working folder (runs, database)")
    parser.add_argument("--run", help="an existing projected run to start from")
    parser.add_argument("--fraction", type=float, default=0.15,
                        help="share of prototypes the simulated panel flags (default 0.15)")
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--config", help="TOML overriding the preset (e.g. threads)")
    parser.add_argument("--reuse", action="store_true",
                        help="keep arms already pruned, retrained and compared (their "
                             "compare.json exists)")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"prune_loop_{args.preset}.json"
    earlier = json.loads(path.read_text()) if path.is_file() else {}
    timings = earlier.get("timings", {}) if args.reuse else {}  # of a source trained before
    source = Path(args.run) if args.run else out / "source"
    if not (source / "catalog" / "catalog.json").is_file():
        started = time.perf_counter()
        command = ["train", "--dataset", args.dataset, "--root", args.root, "--preset",
                   args.preset, "--out", str(source), "--quiet"]
        if args.config:
            command += ["--config", args.config]
        run(command)
        run(["project", "--run", str(source)])
        timings["train_and_project_s"] = round(time.perf_counter() - started, 1)
    db = out / "review.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)
    answers = simulated_answers(source / "catalog", args.fraction, args.seed)
    answers.to_csv(out / "simulated_answers.csv", index=False)
    run(["study", "create", "--db", str(db), "--protocol", str(protocol_path()), "--catalog",
         str(source / "catalog"), "--name", "round1"])
    run(["study", "import-ratings", "--db", str(db), "--study", "round1", "--csv",
         str(out / "simulated_answers.csv"), "--create-reviewers"])
    result = {"dataset": args.dataset, "root": args.root, "preset": args.preset,
              "source_run": str(source), "rule": RULE, "simulated_panel": True,
              "fraction_flagged_target": args.fraction, "actions": {}, "timings": timings}
    for action, (rule, how) in ARMS.items():
        pruned = out / f"pruned-{action}"
        compare_path = pruned / "compare.json"
        seconds = earlier.get("actions", {}).get(action, {}).get("prune_and_retrain_s")
        if not (args.reuse and compare_path.is_file()):
            if pruned.exists():
                shutil.rmtree(pruned)
            started = time.perf_counter()
            run(["prune", "--run", str(source), "--db", str(db), "--study", "round1",
                 "--rule", rule, "--action", how, "--out", str(pruned)])
            run(["retrain", "--run", str(pruned), "--quiet"])
            seconds = round(time.perf_counter() - started, 1)
            run(["compare", str(source), str(pruned), "--save"])
        figures = json.loads(compare_path.read_text())
        record = json.loads((pruned / "pruning.json").read_text())
        result["actions"][action] = {"rule": rule, "action": how,
            "selected": record["selected"], "n_selected": len(record["selected"]),
            "n_prototypes": record["n_prototypes"], "n_active": record["n_active"],
            "share_selected": len(record["selected"]) / record["n_prototypes"],
            **({"n_moved": len(record["moved"])} if "moved" in record else {}),
            "prune_and_retrain_s": seconds,
            **{k: figures[k] for k in ("before", "after", "delta", "delta_ci",
                                       "n_records", "n_resamples")},
            "per_branch": {b: {k: v[k] for k in ("before", "after", "delta", "delta_ci")}
                           for b, v in figures["per_branch"].items()},
            "changed_classes": {c: v for c, v in figures["per_class"].items()
                                if v["prototypes_changed"]},
        }
        if action == "replace":
            if not (pruned / "catalog" / "catalog.json").is_file():
                run(["project", "--run", str(pruned)])
            run(["study", "create", "--db", str(db), "--protocol", str(protocol_path()),
                 "--catalog", str(pruned / "catalog"), "--name", "round2", "--previous",
                 "round1"])
            new = read_catalog(pruned / "catalog").prototypes
            with ReviewStore(db) as store:
                to_rate = [p.prototype_id for p in store.prototypes(store.study("round2"))]
            result["round2"] = {
                "catalog": str(pruned / "catalog"), "catalog_prototypes": len(new),
                "new_revisions": sorted(p for p in new["prototype_id"] if "@" in p),
                "study_round2_prototypes": len(to_rate)}
    for action in ("disable", "replace", "forbid"):  # paired: pruned arm against the control
        net = compare_runs(out / "pruned-control", out / f"pruned-{action}")
        result["actions"][action]["vs_control"] = {
            k: net[k] for k in ("before", "after", "delta", "delta_ci")}
        result["actions"][action]["vs_control"]["per_branch"] = {
            b: {k: v[k] for k in ("delta", "delta_ci")} for b, v in net["per_branch"].items()}
    RESULTS.mkdir(exist_ok=True)
    path.write_text(json.dumps(result, indent=2) + "\n")
    for action, figures in result["actions"].items():
        low, high = figures["delta_ci"]
        print(f"{action}: {figures['n_selected']} of {figures['n_prototypes']} prototypes, "
              f"macro AUROC {figures['before']:.4f} -> {figures['after']:.4f}, delta "
              f"{figures['delta']:+.4f} (95% CI {low:+.4f} to {high:+.4f})")
        if "vs_control" in figures:
            net = figures["vs_control"]
            print(f"  against the control arm: {net['delta']:+.4f} (95% CI "
                  f"{net['delta_ci'][0]:+.4f} to {net['delta_ci'][1]:+.4f})")
    print(f"-> {path}")


if __name__ == "__main__":
    main()
