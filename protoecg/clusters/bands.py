"""Clusters as drawings read them (``ecgplot.Band``): per branch, a record's cluster sequence
named by cluster and main wave ("M3 · QRS": morphology cluster 3, mostly on the QRS complex)
and each step's certainty (1 - entropy / log K). Torch-free: read from the saved clusters."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protoecg.clusters.files import has_clusters, read_clusters, read_summary
from protoecg.ecgplot import Band


def band(summary: dict, branch: str, sequence: np.ndarray, entropy: np.ndarray) -> Band:
    """One branch's band of one record."""
    info = summary["branches"][branch]
    legend = info["legend"]
    top = max(float(info["max_entropy"]), 1e-9)
    steps = np.asarray(sequence).tolist()
    waves = tuple(legend[k]["wave"] or "rest" for k in steps)
    names = tuple(f"{branch[0].upper()}{k} · {w}" for k, w in zip(steps, waves, strict=True))
    certainty = tuple(float(c) for c in np.clip(1 - np.asarray(entropy) / top, 0, 1))
    return Band(branch, names, waves, certainty)


def record_bands(run_dir: str | Path, record_id: str, branches: tuple[str, ...] | None = None
                 ) -> tuple[Band, ...]:
    """The bands of one record of the run's dataset (every branch, or ``branches``); none
    where the run has no clusters or the record is not among those clustered."""
    if not has_clusters(run_dir):
        return ()
    summary = read_summary(run_dir)
    _, record_ids, sequences, entropies = read_clusters(run_dir)
    try:
        index = record_ids.index(str(record_id))
    except ValueError:
        return ()
    # the model's branch order (rhythm, morphology, global), as the summary lists them
    return tuple(band(summary, name, sequences[name][index], entropies[name][index])
                 for name in summary["branches"] if name in sequences
                 and (branches is None or name in branches))
