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


def _auroc(labels: np.ndarray, scores: np.ndarray, axis: int) -> np.ndarray:
    """Mann-Whitney AUROC with the samples along ``axis``; NaN where a label has no positive
    or no negative."""
    labels = np.asarray(labels).astype(bool)
    ranks = rankdata(np.asarray(scores, dtype=np.float64), axis=axis)
    n_pos = labels.sum(axis=axis)
    n_neg = labels.shape[axis] - n_pos
    rank_sum = np.where(labels, ranks, 0).sum(axis=axis)
    with np.errstate(invalid="ignore", divide="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def auroc_per_label(labels: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """(L,) AUROC per column; NaN where a column has no positive or no negative."""
    return _auroc(labels, scores, axis=0)


def _nanmean_or_nan(per_label: np.ndarray) -> float:
    return float(np.nanmean(per_label)) if np.isfinite(per_label).any() else float("nan")


def macro_auroc(labels: np.ndarray, scores: np.ndarray) -> float:
    return _nanmean_or_nan(auroc_per_label(labels, scores))


def bootstrap_indices(n: int, n_resamples: int = 1000, seed: int = 42) -> np.ndarray:
    """(R, n) resample indices, drawn once and shared between models (paired CIs)."""
    return np.random.default_rng(seed).integers(0, n, size=(n_resamples, n))


def bootstrap_macro_auroc(labels: np.ndarray, scores: np.ndarray, indices: np.ndarray,
                          chunk: int = 50) -> np.ndarray:
    """(R,) macro AUROC of each resample."""
    out = np.empty(len(indices))
    for start in range(0, len(indices), chunk):
        idx = indices[start:start + chunk]
        auc = _auroc(np.asarray(labels)[idx], np.asarray(scores)[idx], axis=1)  # (r, L)
        with warnings.catch_warnings():  # a resample where no label is defined -> NaN
            warnings.simplefilter("ignore", RuntimeWarning)
            out[start:start + chunk] = np.nanmean(auc, axis=1)
    return out


def macro_auroc_with_ci(labels: np.ndarray, scores: np.ndarray, n_resamples: int = 1000,
                        seed: int = 42, level: float = 0.95) -> dict:
    """{"value", "ci": [low, high], "n_labels", "n_resamples"} (percentile bootstrap)."""
    per_label = auroc_per_label(labels, scores)
    value = _nanmean_or_nan(per_label)
    n_labels = int(np.isfinite(per_label).sum())
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
