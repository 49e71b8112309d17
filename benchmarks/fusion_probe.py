"""Can a layer that reads every branch's prototypes close ProtoECGNet's gap to its twin?

ProtoECGNet's one cross-branch layer is the fusion layer over all prototypes' similarities
(the paper's last layer). On trained ``compare.py`` run pairs (``RUNS/<name>_seed<N>_protoecgnet``
and ``..._black_box``) this refits that readout by scikit-learn's L2 logistic regression per
label on the standardised best-window similarities, fitted on the training folds (1-8), with
its inverse strength C chosen from ``--c`` by validation (fold 9) macro AUROC:

- ``probe_own_branch``: each label from its own branch's prototypes only (the branch
  classifier's inputs);
- ``probe_all_prototypes``: each label from every prototype (the fusion layer's inputs).

Beside them on the test fold (fold 10, the same bootstrap resamples): the run's own
predictions (``protoecgnet``) and the twin's (``twin``). The mean over seeds comes with a 95%
t-interval. Nothing is trained but the probes; the runs are only read. Writes
``benchmarks/results/fusion_probe_<name>.json`` and prints a Markdown table.

    .venv/bin/python benchmarks/fusion_probe.py --runs data/compare-ludb --name demo \\
        --seed 1 2 3 4
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np
from compare import (  # benchmarks/compare.py
    difference_over_seeds,
    figure_over_seeds,
    fold_scores,
    seed_table_rows,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from protoecg.model.protoecgnet import branch_label_sets
from protoecg.train.evaluation import fold_predictions
from protoecg.train.metrics import macro_auroc
from protoecg.train.predict import predict
from protoecg.train.run import load_model, open_run_data

RESULTS = Path(__file__).resolve().parent / "results"
KINDS = ("protoecgnet", "probe_own_branch", "probe_all_prototypes", "twin")


def _fit_scores(x_fit: np.ndarray, y_fit: np.ndarray, x_score: np.ndarray, c: float) -> np.ndarray:
    """Per label, an L2 logistic regression on ``x_fit``; its logits on ``x_score`` (a label
    with one class in ``y_fit`` gets no ranking)."""
    scaler = StandardScaler().fit(x_fit)
    scores = np.zeros((len(x_score), y_fit.shape[1]))
    for j in range(y_fit.shape[1]):
        if 0 < y_fit[:, j].sum() < len(y_fit):
            fit = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(
                scaler.transform(x_fit), y_fit[:, j])
            scores[:, j] = fit.decision_function(scaler.transform(x_score))
    return scores


def probe(run: Path, cs: list[float]) -> dict[str, dict]:
    """ProtoECGNet run ``run`` on the test fold (``protoecgnet``) and the two probes on its
    prototype similarities; the run is loaded, and each fold predicted, once."""
    model, meta, config = load_model(run)
    data = open_run_data(meta, config)
    labels, folds = data.label_names, data.dataset.folds
    part = {name: np.flatnonzero(f(folds)) for name, f in
            (("train", lambda f: f <= 8), ("validation", lambda f: f == 9),
             ("test", lambda f: f == 10))}
    preds = {name: predict(model, data.signals[index], config.train.eval_batch_size,
                           evidence=True) for name, index in part.items()}
    sims = {name: pred.similarities for name, pred in preds.items()}
    y = {name: data.labels[index] for name, index in part.items()}
    columns, start = {}, 0  # each branch's prototypes among all similarities, in model order
    for name, branch in model.branches.items():
        columns[name] = np.arange(start, start + branch.n_prototypes)
        start += branch.n_prototypes
    out = {"protoecgnet": fold_scores(y["test"], preds["test"].fusion, labels)}
    chosen = {}
    for mode in ("own_branch", "all_prototypes"):
        best = None
        for c in cs:
            val, test = np.zeros(y["validation"].shape), np.zeros(y["test"].shape)
            for branch, codes in branch_label_sets(labels).items():
                cols = columns[branch] if mode == "own_branch" else slice(None)
                j = [labels.index(code) for code in codes]
                fitted = _fit_scores(sims["train"][:, cols], y["train"][:, j],
                                     np.vstack([sims["validation"][:, cols],
                                                sims["test"][:, cols]]), c)
                val[:, j], test[:, j] = fitted[:len(val)], fitted[len(val):]
            score = macro_auroc(y["validation"], val)
            if best is None or score > best[0]:
                best = (score, c, test)
        out[f"probe_{mode}"] = fold_scores(y["test"], best[2], labels)
        chosen[mode] = {"c": best[1], "validation_macro_auroc": best[0]}
    return out | {"chosen": chosen}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", required=True, help="compare.py's runs folder")
    parser.add_argument("--name", required=True,
                        help="the set-up's name (compare.py --name, else the preset)")
    parser.add_argument("--seed", type=int, nargs="+", required=True)
    parser.add_argument("--c", type=float, nargs="+", default=[0.001, 0.01, 0.1, 1.0],
                        help="inverse L2 strengths to choose from on validation "
                             "(default 0.001 0.01 0.1 1)")
    parser.add_argument("--out", help="results file (default "
                        "benchmarks/results/fusion_probe_<name>.json)")
    args = parser.parse_args()
    per_seed = {}
    for seed in args.seed:
        runs = {kind: Path(args.runs) / f"{args.name}_seed{seed}_{kind}"
                for kind in ("protoecgnet", "black_box")}
        missing = [str(p) for p in runs.values() if not (p / "model.pt").is_file()]
        if missing:
            print(f"fusion_probe: no finished run at {', '.join(missing)} "
                  "(train it with compare.py first)", file=sys.stderr)
            return 2
        y, pred, labels, _, _ = fold_predictions(runs["black_box"], 10)
        row = {"twin": fold_scores(y, pred.fusion, labels), **probe(runs["protoecgnet"], args.c)}
        per_seed[str(seed)] = row
        print(f"seed {seed}: " + ", ".join(f"{kind} {row[kind]['macro_auroc']:.3f}"
                                           for kind in KINDS), flush=True)
    branches = list(next(iter(per_seed.values()))["twin"]["per_branch"])

    def block(branch: str | None = None) -> dict:
        return {**{kind: figure_over_seeds(per_seed, kind, branch) for kind in KINDS},
                **{f"{kind}_minus_twin": difference_over_seeds(per_seed, kind, "twin", branch)
                   for kind in KINDS[:3]}}

    summary = {"runs": args.runs, "name": args.name, "c": args.c, "per_seed": per_seed,
               "mean": block(), "per_branch": {b: block(b) for b in branches}}
    out = Path(args.out) if args.out else RESULTS / f"fusion_probe_{args.name}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nmean over seeds {', '.join(per_seed)} (95% t-interval over seeds)\n\n"
          "| | ProtoECGNet | probe: own branch's prototypes | probe: all prototypes | twin | "
          "all prototypes − twin |\n|---|---|---|---|---|---|")
    print("\n".join(seed_table_rows(summary, [
        ("protoecgnet", False), ("probe_own_branch", False), ("probe_all_prototypes", False),
        ("twin", False), ("probe_all_prototypes_minus_twin", True)])))
    return 0


if __name__ == "__main__":
    sys.exit(main())
