"""Two runs on the same test fold, side by side: macro AUROC before and after, the difference
with a paired bootstrap CI (the same resamples for both), per branch and per class.

Made for a pruned and retrained run against its source (``protoecg compare``), and usable for
any two runs of one dataset and label set (e.g. ProtoECGNet beside its black-box twin).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protoecg.model.protoecgnet import branch_label_sets
from protoecg.train.evaluation import fold_predictions
from protoecg.train.metrics import (
    auroc_per_label,
    bootstrap_indices,
    bootstrap_macro_auroc,
    macro_auroc,
)
from protoecg.train.run import RunError, read_run


def _paired(y: np.ndarray, before: np.ndarray, after: np.ndarray, indices: np.ndarray,
            level: float = 0.95) -> dict:
    a, b = macro_auroc(y, before), macro_auroc(y, after)
    samples_a = bootstrap_macro_auroc(y, before, indices)
    samples_b = bootstrap_macro_auroc(y, after, indices)
    keep = np.isfinite(samples_a) & np.isfinite(samples_b)
    alpha = (1 - level) / 2

    def ci(samples):
        return [float(v) for v in np.quantile(samples[keep], [alpha, 1 - alpha])]

    return {"before": float(a), "after": float(b), "delta": float(b - a),
            "before_ci": ci(samples_a), "after_ci": ci(samples_b),
            "delta_ci": ci(samples_b - samples_a), "n_resamples": int(keep.sum())}


def compare_runs(run_a: str | Path, run_b: str | Path, fold: int = 10,
                 n_resamples: int = 1000, seed: int = 42, device: str = "cpu",
                 changed: dict[str, int] | None = None) -> dict:
    """``after`` (run B) minus ``before`` (run A) on ``fold``, paired. ``changed``: class ->
    prototypes that B disabled or replaced (a pruned run's lineage), reported per class."""
    y_a, pred_a, labels_a, meta_a, data = fold_predictions(run_a, fold, device)
    meta_b, config_b = read_run(run_b)
    _, config_a = read_run(run_a)
    same_input = all(meta_a.get(k) == meta_b.get(k) for k in ("dataset", "root", "fs",
                                                                 "standardizer",
                                                                 "label_names")) \
        and config_a.data == config_b.data
    # the same dataset prepared the same way is loaded and preprocessed once
    y_b, pred_b, labels_b, meta_b, _ = fold_predictions(run_b, fold, device,
                                                        data if same_input else None)
    if (meta_a["dataset"], meta_a["root"]) != (meta_b["dataset"], meta_b["root"]) \
            or labels_a != labels_b or not np.array_equal(y_a, y_b):
        raise RunError(f"{run_b}: not comparable with {run_a} (another dataset, fold or label "
                       "set)")
    indices = bootstrap_indices(len(y_a), n_resamples, seed)
    result = {"run_a": str(run_a), "run_b": str(run_b), "dataset": meta_a["dataset"],
              "fold": fold, "n_records": int(len(y_a)), "seed": seed,
              **_paired(y_a, pred_a.fusion, pred_b.fusion, indices), "per_branch": {},
              "per_class": {}}
    for branch, codes in branch_label_sets(labels_a).items():
        idx = [labels_a.index(c) for c in codes]
        part = _paired(y_a[:, idx], pred_a.fusion[:, idx], pred_b.fusion[:, idx], indices)
        result["per_branch"][branch] = part
    changed = changed or {}
    per_a, per_b = auroc_per_label(y_a, pred_a.fusion), auroc_per_label(y_a, pred_b.fusion)
    for j, code in enumerate(labels_a):
        defined = np.isfinite(per_a[j]) and np.isfinite(per_b[j])
        result["per_class"][code] = {
            "before": float(per_a[j]) if defined else None,
            "after": float(per_b[j]) if defined else None,
            "delta": float(per_b[j] - per_a[j]) if defined else None,
            "positives": int(y_a[:, j].sum()), "prototypes_changed": changed.get(code, 0)}
    return result
