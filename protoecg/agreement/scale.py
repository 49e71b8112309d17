"""Answers on an ordinal scale: counts per category and disagreement weights, shared by the
statistics and their vectorised bootstrap forms."""

from __future__ import annotations

import numpy as np


def category_counts(matrix: np.ndarray, values: list[int]) -> np.ndarray:
    """(units, categories): how many answers each unit got in each scale category."""
    m = np.asarray(matrix)
    return np.stack([(m == v).sum(axis=1) for v in values], axis=1).astype(float)


def disagreement_weights(values: list[int], kind: str) -> np.ndarray:
    """Disagreement weights between categories by their position on the scale (as
    scikit-learn does; for a gapless protocol scale, position and value agree): ``none``
    (0 on the diagonal, 1 elsewhere), ``linear`` or ``quadratic``."""
    q = len(values)
    if kind == "none":
        return 1.0 - np.eye(q)
    position = np.arange(q, dtype=float)
    d = np.abs(position[:, None] - position[None, :]) / max(q - 1, 1)
    return d if kind == "linear" else d**2
