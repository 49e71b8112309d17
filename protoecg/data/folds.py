"""Deterministic multi-label stratified folds for datasets that ship without ``strat_fold``."""

from __future__ import annotations

import numpy as np
from iterstrat.ml_stratifiers import MultilabelStratifiedKFold


def stratified_folds(labels: np.ndarray, n_folds: int = 10, seed: int = 42) -> np.ndarray:
    """Fold numbers 1..n_folds, balanced over every label (iterative stratification).

    Same inputs, same folds: the order is fixed by ``seed``. Labels with no positive are
    ignored. Each record is its own patient here (LUDB, synthetic), so no patient grouping.
    """
    labels = np.asarray(labels)
    present = labels[:, labels.sum(axis=0) > 0]
    if present.shape[1] == 0 or len(labels) < n_folds:  # nothing to stratify: seeded round robin
        rng = np.random.default_rng(seed)
        return (rng.permutation(len(labels)) % n_folds) + 1
    folds = np.zeros(len(labels), dtype=np.int64)
    splitter = MultilabelStratifiedKFold(n_splits=n_folds, shuffle=True, random_state=seed)
    for fold, (_, test_index) in enumerate(splitter.split(np.zeros(len(labels)), present), 1):
        folds[test_index] = fold
    return folds
