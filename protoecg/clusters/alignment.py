"""How the clusters line up with the waves: each time step's wave (P, QRS, T or the rest) from
the cardiologists' delineation where it exists (LUDB), else from the audit's documented
fallback (``data.delineation.fallback_delineation``: detected QRS and an interval template,
said so in every result), against each step's cluster: the contingency table, the adjusted
mutual information, and for each wave the cluster whose steps fall on it most often.

A clustering that ignores the waves fails here: steps clustered by their place in the record,
or at random, give an AMI near 0 and no cluster that falls mostly on P or T."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import adjusted_mutual_info_score

from protoecg.data.delineation import Delineation, window_segment

WAVES = ("P", "QRS", "T", "rest")
_WAVE_OF = {"P": 0, "QRS": 1, "T": 2, "PR": 3, "ST-T": 3, "none": 3}
UNKNOWN = -1  # a step no lead's delineation spans


def step_waves(delineation: Delineation, n_samples: int, fs: float, n_steps: int
               ) -> np.ndarray:
    """(T,) each time step's wave (index into ``WAVES``; ``UNKNOWN`` where not delineated): the
    segment at the step's centre by majority over the delineated leads."""
    edges = np.linspace(0, n_samples / fs, n_steps + 1)
    out = np.full(n_steps, UNKNOWN, dtype=np.int8)
    for t in range(n_steps):
        segment, _ = window_segment(delineation, edges[t], edges[t + 1])
        if segment is not None:
            out[t] = _WAVE_OF[segment]
    return out


def alignment(clusters: np.ndarray, waves: np.ndarray, n_clusters: int) -> dict:
    """``clusters`` (N, T) each step's cluster, ``waves`` (N, T) its wave: the table (cluster ×
    wave step counts), AMI, each cluster's main wave and share (its legend), and for each of P,
    QRS and T the cluster whose steps fall on that wave most often, with that share."""
    known = waves >= 0
    c, w = clusters[known].astype(int), waves[known].astype(int)
    table = np.zeros((n_clusters, len(WAVES)), dtype=int)
    np.add.at(table, (c, w), 1)
    sizes = table.sum(axis=1)
    share = np.divide(table, sizes[:, None], out=np.zeros(table.shape), where=sizes[:, None] > 0)
    legend = [{"cluster": k, "wave": WAVES[int(share[k].argmax())] if sizes[k] else None,
               "share": float(share[k].max()) if sizes[k] else None, "steps": int(sizes[k])}
              for k in range(n_clusters)]
    best = {}
    for j, wave in enumerate(WAVES[:3]):
        k = int(share[:, j].argmax())
        best[wave] = {"cluster": k, "share": float(share[k, j]),
                      "coverage": float(table[k, j] / max(1, table[:, j].sum())),
                      "mostly": bool(share[k, j] > 0.5)}
    return {"waves": list(WAVES), "table": table.tolist(), "steps": int(known.sum()),
            "unknown_steps": int((~known).sum()),
            "ami": float(adjusted_mutual_info_score(w, c)) if len(c) else None,
            "legend": legend, "best": best,
            "wave_shares": (table.sum(axis=0) / max(1, table.sum())).tolist()}
