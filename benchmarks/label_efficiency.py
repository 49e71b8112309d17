"""How many labels pretraining saves: ProtoECGNet and its black-box twin trained with 10%, 25%,
50% and 100% of the training folds' labels (seeded multi-label stratified subsets,
``data.train_fraction``; the same validation and test folds), each from scratch, from
``simclr`` pretraining and from ``report`` pretraining (both on every training-fold ECG,
without labels). Figures: test macro AUROC with its 95% bootstrap CI, the projection drop
(mean over branches of validation macro AUROC just before minus just after projection), wall
time.

Run by hand, e.g.::

    .venv/bin/python benchmarks/label_efficiency.py --dataset ptbxl \\
        --root ../shared/data/ptbxl-subset --preset tiny --out data/label-efficiency

Writes ``benchmarks/results/label_efficiency_<preset>.json`` and ``.png``; ``--reuse`` keeps
finished runs of an interrupted benchmark.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from _runs import add_dataset_arguments, run

from protoecg.train.early_stopping import projection_drops
from protoecg.train.evaluation import evaluate_run

REPO = Path(__file__).resolve().parents[1]
FRACTIONS = (0.1, 0.25, 0.5, 1.0)
INITS = ("scratch", "simclr", "report")
# a short CPU budget, the same for every arm (min_train_positives as the ptbxl_subset preset,
# so the label set is the same)
BUDGET = """[data]
min_train_positives = 10
[train]
batch_size = 32
patience = 3
epochs = {{ prototypes = 2, joint = {joint}, classifier = 4, fusion = 4, black_box = {box}, \
pretrain = {pretrain} }}
"""


def projection_drop(evaluation: dict) -> float | None:
    """Mean over branches of validation macro AUROC just before minus just after projection
    (``evaluate``'s ``faithfulness``)."""
    drops = projection_drops(evaluation.get("faithfulness") or {})
    return sum(drops) / len(drops) if drops else None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(parser)
    parser.add_argument("--out", required=True, help="folder for the runs")
    parser.add_argument("--joint-epochs", type=int, default=8)
    parser.add_argument("--black-box-epochs", type=int, default=12)
    parser.add_argument("--pretrain-epochs", type=int, default=8)
    parser.add_argument("--fractions", type=float, nargs="+", default=list(FRACTIONS))
    parser.add_argument("--inits", nargs="+", default=list(INITS), choices=INITS)
    parser.add_argument("--resamples", type=int, default=1000)
    parser.add_argument("--reuse", action="store_true", help="keep finished runs")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    budget = BUDGET.format(joint=args.joint_epochs, box=args.black_box_epochs,
                           pretrain=args.pretrain_epochs)
    (out / "budget.toml").write_text(budget)
    data = ["--dataset", args.dataset, "--root", args.root, "--preset", args.preset]
    results = {"dataset": args.dataset, "root": args.root, "preset": args.preset,
               "budget": budget, "resamples": args.resamples, "pretraining": {}, "runs": []}
    for method in [i for i in args.inits if i != "scratch"]:
        pre = out / f"pretrain-{method}"
        started = time.perf_counter()
        if not (args.reuse and (pre / "model.pt").is_file()):
            run(["pretrain", *data, "--method", method, "--config", str(out / "budget.toml"),
                 "--out", str(pre), "--quiet"])
        results["pretraining"][method] = {"run": str(pre),
                                          "seconds": round(time.perf_counter() - started, 1)}
        print(f"pretrained {method} in {results['pretraining'][method]['seconds']} s",
              flush=True)
    for fraction in args.fractions:
        config = out / f"fraction-{fraction:g}.toml"
        config.write_text(budget.replace("[data]\n", f"[data]\ntrain_fraction = {fraction}\n"))
        for init in args.inits:
            for model in ("protoecgnet", "black_box"):
                target = out / f"{init}-{fraction:g}-{model}"
                started = time.perf_counter()
                if not (args.reuse and (target / "model.pt").is_file()):
                    cmd = ["train", *data, "--config", str(config), "--out", str(target),
                           "--quiet"]
                    if model == "black_box":
                        cmd.append("--black-box")
                    if init != "scratch":
                        cmd += ["--init", str(out / f"pretrain-{init}")]
                    run(cmd)
                seconds = round(time.perf_counter() - started, 1)
                evaluation = evaluate_run(target, 10, args.resamples)
                meta = json.loads((target / "run.json").read_text())
                entry = {"fraction": fraction, "init": init, "model": model,
                         "train_ecgs": meta["split_sizes"]["train"],
                         "macro_auroc": evaluation["macro_auroc"],
                         "macro_auroc_ci": evaluation["macro_auroc_ci"],
                         "projection_drop": (projection_drop(evaluation)
                                             if model == "protoecgnet" else None),
                         "seconds": seconds}
                results["runs"].append(entry)
                print(json.dumps(entry), flush=True)
    name = f"label_efficiency_{args.preset}"
    path = REPO / "benchmarks" / "results" / f"{name}.json"
    path.write_text(json.dumps(results, indent=2) + "\n")
    plot(results, path.with_suffix(".png"))
    print(f"-> {path}")


def plot(results: dict, path: Path) -> None:
    import altair as alt
    import pandas as pd
    import vl_convert as vlc

    table = pd.DataFrame([{**r, "low": r["macro_auroc_ci"][0], "high": r["macro_auroc_ci"][1],
                           "labels (%)": 100 * r["fraction"]} for r in results["runs"]])
    base = alt.Chart(table).encode(
        x=alt.X("labels (%):Q", scale=alt.Scale(type="log"), title="training labels (%)"),
        color=alt.Color("init:N", title="encoders from"))
    chart = (base.mark_line(point=True).encode(
        y=alt.Y("macro_auroc:Q", title="test macro AUROC", scale=alt.Scale(zero=False)))
        + base.mark_errorbar().encode(y=alt.Y("low:Q", title="test macro AUROC"),
                                      y2="high:Q")).properties(
        width=260, height=220).facet(column=alt.Column("model:N", title=None))
    path.write_bytes(vlc.vegalite_to_png(chart.to_json(), scale=2))


if __name__ == "__main__":
    main()
