"""What ProtoECGNet's branch partition costs before any prototype, against its black-box twin.

ProtoECGNet reads each label from its own branch's backbone only; the black-box twin's one
head reads all three backbones.

For each seed, two runs of the preset (``protoecg train`` as its own process):

- ``branch_heads``: ProtoECGNet's feature pre-training stage alone (every other stage 0 epochs;
  ``--features-epochs``, default 20, early stopping as usual): each branch's backbone with a
  plain linear head on that branch's labels, the prototype model's ceiling if its prototype
  layer cost nothing;
- ``twin``: the black-box twin (``--black-box``), the same three backbones with one linear head
  over all of them for every label.

Both are scored on the test fold (fold 10) with the same bootstrap resamples (macro AUROC with
its 95% CI, per branch). Then, on the twin's own trained backbones, two linear probes
(scikit-learn's L2 logistic regression per label on standardised pooled features, C 0.01,
balanced classes, fitted on the training folds): ``probe_own_branch`` reads each label from its
branch's backbone only, ``probe_all_backbones`` from all three. Their difference is what the
partition costs with the backbones held equal; branch heads against ``probe_own_branch`` is
what training each backbone on its branch's labels alone costs. The mean over seeds comes
with a 95% t-interval. Writes
``benchmarks/results/branch_heads_<preset>.json`` and prints a Markdown table.

    .venv/bin/python benchmarks/branch_heads.py --dataset ludb --root ../shared/data/ludb \\
        --preset demo --runs data/branch-heads --seed 1 2 3 4 5 [--threads 1] [--keep]

On LUDB (160 training ECGs) the branch heads stand as far below the twin as the whole
ProtoECGNet does, so the gap is the branch partition, not the prototypes (README, issue 11).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import numpy as np
import torch
from _runs import add_dataset_arguments, timed_process, toml  # benchmarks/_runs.py
from compare import (  # benchmarks/compare.py
    difference_over_seeds,
    figure_over_seeds,
    fold_scores,
    seed_table_rows,
)
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from protoecg.data.labels import BRANCHES
from protoecg.model.protoecgnet import branch_label_sets
from protoecg.train.evaluation import fold_predictions
from protoecg.train.run import load_model

RESULTS = Path(__file__).resolve().parent / "results"
# every stage after the feature pre-training left out
ONLY_FEATURES = {"prototypes": 0, "joint": 0, "refine": 0, "classifier": 0, "fusion": 0}


def train(args: argparse.Namespace, kind: str, seed: int) -> Path:
    out = Path(args.runs) / f"{kind}_seed{seed}"
    if args.keep and (out / "model.pt").is_file():
        return out
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(parents=True, exist_ok=True)
    override: dict = {"train": {"seed": seed}}
    if args.threads is not None:
        override["train"]["threads"] = args.threads
    if kind == "branch_heads":
        override["train"]["epochs"] = {"features": args.features_epochs, **ONLY_FEATURES}
        # each head on its own branch's labels, whatever the preset's feature_labels say
        override["model"] = {"feature_labels": dict.fromkeys(BRANCHES, "branch")}
    config = out.parent / f"{kind}_seed{seed}.toml"
    config.write_text(toml(override))
    timed_process(["train", "--dataset", args.dataset, "--root", args.root, "--preset",
                   args.preset, "--config", str(config), "--out", str(out), "--quiet",
                   *(["--black-box"] if kind == "twin" else [])])
    return out


def score(run: Path, kind: str):
    """(figures, the run's opened data) of a branch-heads or twin run on the test fold."""
    y, pred, labels, _, data = fold_predictions(run, 10)
    return fold_scores(y, pred.features if kind == "branch_heads" else pred.fusion,
                       labels), data


@torch.no_grad()
def pooled_features(model, signals: np.ndarray, batch_size: int = 64) -> dict[str, np.ndarray]:
    """Each backbone's globally pooled features, as the twin's head reads them."""
    model.eval()
    parts: dict[str, list[np.ndarray]] = {name: [] for name in model.backbones}
    for start in range(0, len(signals), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size],
                                                  dtype=np.float32))
        for name, backbone in model.backbones.items():
            parts[name].append(backbone(x).mean(dim=2).numpy())
    return {name: np.concatenate(p) for name, p in parts.items()}


def probes(twin_run: Path, data, c: float = 0.01) -> dict[str, dict]:
    """Linear probes on the twin's backbones: each label from its own branch's backbone, and
    from all three (``data``: the twin run's opened data; ``c``: inverse L2 strength)."""
    model, _, _ = load_model(twin_run)
    folds, labels = data.dataset.folds, data.label_names
    train, test = np.flatnonzero(folds <= 8), np.flatnonzero(folds == 10)
    f_train, f_test = pooled_features(model, data.signals[train]), \
        pooled_features(model, data.signals[test])
    y_train, y_test = data.labels[train], data.labels[test]
    out = {}
    for mode in ("own_branch", "all_backbones"):
        scores = np.full(y_test.shape, 0.5)  # a label with no training positive: no ranking
        for branch, codes in branch_label_sets(labels).items():
            names = [branch] if mode == "own_branch" else list(f_train)
            x_train = np.hstack([f_train[n] for n in names])
            x_test = np.hstack([f_test[n] for n in names])
            scaler = StandardScaler().fit(x_train)
            for code in codes:
                j = labels.index(code)
                if y_train[:, j].sum() == 0:
                    continue
                fit = LogisticRegression(C=c, max_iter=3000, class_weight="balanced").fit(
                    scaler.transform(x_train), y_train[:, j])
                scores[:, j] = fit.predict_proba(scaler.transform(x_test))[:, 1]
        out[f"probe_{mode}"] = fold_scores(y_test, scores, labels)
    return out


KINDS = ("branch_heads", "twin", "probe_own_branch", "probe_all_backbones")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_dataset_arguments(parser)
    parser.add_argument("--runs", required=True, help="folder for the run folders")
    parser.add_argument("--seed", type=int, nargs="+", required=True, help="train.seed values")
    parser.add_argument("--features-epochs", type=int, default=20,
                        help="epochs of the feature pre-training stage (default 20)")
    parser.add_argument("--threads", type=int, help="train.threads for every run")
    parser.add_argument("--keep", action="store_true", help="reuse finished runs")
    parser.add_argument("--out", help="results file (default "
                        "benchmarks/results/branch_heads_<preset>.json)")
    args = parser.parse_args()
    per_seed = {}
    for seed in args.seed:
        row = {"branch_heads": score(train(args, "branch_heads", seed), "branch_heads")[0]}
        twin = train(args, "twin", seed)
        row["twin"], twin_data = score(twin, "twin")
        row.update(probes(twin, twin_data))
        per_seed[str(seed)] = row
        print(f"seed {seed}: " + ", ".join(f"{kind} {row[kind]['macro_auroc']:.3f}"
                                           for kind in KINDS), flush=True)
    branches = list(next(iter(per_seed.values()))["twin"]["per_branch"])

    def over_seeds(kind: str, branch: str | None = None) -> dict:
        return figure_over_seeds(per_seed, kind, branch)

    def difference(branch: str | None = None, a: str = "branch_heads", b: str = "twin") -> dict:
        return difference_over_seeds(per_seed, a, b, branch)

    summary = {"dataset": args.dataset, "preset": args.preset,
               "features_epochs": args.features_epochs, "threads": args.threads,
               "per_seed": per_seed,
               "mean": {**{kind: over_seeds(kind) for kind in KINDS},
                        "difference": difference(),
                        "partition_cost": difference(None, "probe_own_branch",
                                                     "probe_all_backbones")},
               "per_branch": {b: {**{kind: over_seeds(kind, b) for kind in KINDS},
                                  "difference": difference(b),
                                  "partition_cost": difference(b, "probe_own_branch",
                                                               "probe_all_backbones")}
                              for b in branches}}
    out = Path(args.out) if args.out else RESULTS / f"branch_heads_{args.preset}.json"
    out.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nmean over seeds {', '.join(per_seed)} (95% t-interval over seeds)\n\n"
          "| | branch heads (each label from its branch's backbone) | twin (one head, all "
          "backbones) | difference | twin's backbones, probe: own branch | all backbones | "
          "partition cost |\n|---|---|---|---|---|---|---|")
    print("\n".join(seed_table_rows(summary, [
        ("branch_heads", False), ("twin", False), ("difference", True),
        ("probe_own_branch", False), ("probe_all_backbones", False),
        ("partition_cost", True)])))


if __name__ == "__main__":
    sys.exit(main())
