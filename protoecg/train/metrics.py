"""AUROC (macro, per class) with paired bootstrap confidence intervals.

AUROC is computed from tie-averaged ranks (the Mann-Whitney U statistic), vectorised over labels
and resamples; ``tests/test_metrics.py`` checks it against scikit-learn's ``roc_auc_score``.
Macro AUROC averages over the labels that have both positives and negatives in the evaluated
set (in each bootstrap resample: in that resample). Bootstrap indices depend only on the number
of records and the seed, so two models evaluated on the same fold get the same resamples and
their intervals are paired (the PTB-XL benchmark's habit).
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy.stats import rankdata


def auroc_per_label(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(L,) AUROC per column; NaN where a column has no positive or no negative."""
    labels = np.asarray(labels).astype(bool)
    scores = np.asarray(scores, dtype=np.float64)
    ranks = rankdata(scores, axis=0)
    n_pos = labels.sum(axis=0)
    n_neg = labels.shape[0] - n_pos
    rank_sum = np.where(labels, ranks, 0).sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def macro_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    per_label = auroc_per_label(labels, scores)
    return float(np.nanmean(per_label)) if np.isfinite(per_label).any() else float("nan")


def bootstrap_indices(n: int, n_resamples: int = 1000, seed: int = 42) -> np.ndarray:
    """(R, n) resample indices, drawn once and shared between models (paired CIs)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def bootstrap_macro_auroc(labels: np.ndarray, scores: np.ndarray, indices: np.ndarray,
                          chunk: int = 50) -> np.ndarray:
    """(R,) macro AUROC of each resample."""
    out = np.empty(len(indices))
    for start in range(0, len(indices), chunk):
        idx = indices[start:start + chunk]
        y = np.asarray(labels)[idx].astype(bool)  # (r, n, L)
        s = np.asarray(scores, dtype=np.float64)[idx]
        ranks = rankdata(s, axis=1)
        n_pos = y.sum(axis=1)
        n_neg = y.shape[1] - n_pos
        rank_sum = np.where(y, ranks, 0).sum(axis=1)
        with np.errstate(invalid="ignore", divide="ignore"):
            auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
        auc = np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)
        with warnings.catch_warnings():  # a resample where no label is defined -> NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            out[start:start + chunk] = np.nanmean(auc, axis=1)
    return out


def macro_auroc_with_ci(labels: np.ndarray, scores: np.ndarray, n_resamples: int = 1000,
                        seed: int = 42, level: float = 0.95) -> dict:
    """{"value", "ci": [low, high], "n_labels", "n_resamples"} (percentile bootstrap)."""
    value = macro_auroc(labels, scores)
    n_labels = int(np.isfinite(auroc_per_label(labels, scores)).sum())
    if n_labels == 0:
        return {"value": None, "ci": [None, None], "n_labels": 0, "n_resamples": 0,
                "reason": "no label has both positives and negatives"}
    samples = bootstrap_macro_auroc(labels, scores, bootstrap_indices(len(labels), n_resamples,
                                                                       seed))
    samples = samples[np.isfinite(samples)]
    alpha = (1 - level) / 2
    low, high = np.quantile(samples, [alpha, 1 - alpha])
    return {"value": value, "ci": [float(low), float(high)], "n_labels": n_labels,
            "n_resamples": int(len(samples))}
