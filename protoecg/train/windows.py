"""Which latent windows a prototype may be projected onto (torch-free: the catalog's quality
figures and the review side read the same rule)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

DISTINCT = ("none", "records", "class", "branch", "catalog")


@dataclass(frozen=True)
class ProjectionRules:
    """Where a prototype may be projected.

    ``distinct``: ``"none"`` (the official code: any window of any record of the class);
    ``"records"``: no two prototypes of a class in one record; ``"class"``: no two prototypes
    of a class on overlapping windows of one record; ``"branch"``: no two prototypes of the
    branch on overlapping windows; ``"catalog"``: nor two prototypes of different branches
    (a whole-record prototype holds its record), so a rater never meets one window twice.
    ``margin_samples``: time-local windows keep this far from the record's first and last
    sample (the backbone pads with zeros there, and LUDB's experts left the first and last
    second unannotated); whole-record and pooled prototypes are not affected."""

    distinct: str = "none"
    margin_samples: int = 0

    def __post_init__(self) -> None:
        if self.distinct not in DISTINCT:
            raise ValueError(f"unknown distinct rule {self.distinct!r}: expected one of "
                             f"{', '.join(DISTINCT)}")


def allowed_windows(latent_length: int, steps: int, n_samples: int,
                    margin_samples: int) -> np.ndarray:
    """(W,) the window starts a time-local prototype may use under ``margin_samples``."""
    n_windows = latent_length - steps + 1
    if margin_samples <= 0 or steps >= latent_length:
        return np.ones(n_windows, dtype=bool)
    first = np.arange(n_windows)
    scale = n_samples / latent_length
    start = np.round(first * scale)
    end = np.minimum(np.round((first + steps) * scale), n_samples)
    return (start >= margin_samples) & (end <= n_samples - margin_samples)
