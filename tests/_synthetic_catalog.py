"""A small prototype catalog written directly in the catalog format (``protoecg.catalog.reader``)
from synthetic signals: no torch, no training, no shared data. The review tests use it the way
sqlite-utils' tests use an in-memory database."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from protoecg.catalog.reader import CATALOG_FORMAT, NEIGHBOUR_COLUMNS, PROTOTYPE_COLUMNS
from protoecg.data import labels as label_table
from protoecg.data.synthetic import make_synthetic

# branch -> (classes, prototypes per class, window in samples; None: the whole 10 s)
BRANCHES = {
    "rhythm": (("SR", "SBRAD", "STACH", "AFIB"), 3, None),
    "morphology": (("CLBBB", "STD_", "STE_"), 6, 93),
    "global": (("NORM",), 3, None),
}
# 16 prototypes: two raters who each answer 12 share at least 8 of them
SMALL = {branch: (codes, 2, width) for branch, (codes, _, width) in BRANCHES.items()}
N_RECORDS = 32


def write_synthetic_catalog(out: Path, branches: dict = BRANCHES, n_neighbours: int = 3,
                            seed: int = 0) -> Path:
    """Write ``out/{prototypes.csv, neighbours.csv, signals.npy, catalog.json}``: by default 33
    prototypes (12 rhythm, 18 morphology, 3 global) over 32 synthetic 10 s records at 100 Hz,
    in mV, each with ``n_neighbours`` nearest other windows; ``branches``: branch -> (classes,
    prototypes per class, window in samples)."""
    dataset = make_synthetic(N_RECORDS, fs=100, seed=seed)
    fs, n_samples = dataset.fs, dataset.signals.shape[2]
    rng = np.random.default_rng(seed)
    rows, neighbours = [], []
    for branch, (codes, per_class, width) in branches.items():
        for code in codes:
            column = dataset.label_names.index(code)
            carriers = [int(i) for i in np.flatnonzero(dataset.labels[:, column])]
            assert len(carriers) >= 2, (code, carriers)
            for k in range(per_class):
                record = carriers[k % len(carriers)]
                start = 0 if width is None else int(rng.integers(0, n_samples - width))
                end = n_samples if width is None else start + width
                pid = f"{branch}/{code}/{k:02d}"
                similarity = float(rng.uniform(0.6, 0.99))
                rows.append({
                    "prototype_id": pid, "branch": branch, "class_code": code,
                    "class_description": label_table.describe(code),
                    "prototype_index": len(rows), "source_dataset": "synthetic",
                    "source_record_id": dataset.record_ids[record],
                    "source_patient_id": dataset.patient_ids[record],
                    "source_labels": " ".join(c for c, on in zip(
                        dataset.label_names, dataset.labels[record], strict=True) if on),
                    "source_report": dataset.reports[record],
                    "source_fold": int(dataset.folds[record]),
                    "window_start": start, "window_end": end, "window_start_s": start / fs,
                    "window_end_s": end / fs, "fs": fs, "units": dataset.units,
                    "similarity": similarity, "signal_index": record,
                    "model_sha256": "0" * 64, "catalog_similarity": similarity,
                })
                others = [i for i in carriers if i != record] or carriers
                for rank in range(1, n_neighbours + 1):
                    other = others[(k + rank) % len(others)]
                    n_start = 0 if width is None else int(rng.integers(0, n_samples - width))
                    neighbours.append({
                        "prototype_id": pid, "rank": rank,
                        "record_id": dataset.record_ids[other], "window_start": n_start,
                        "window_end": n_samples if width is None else n_start + width,
                        "similarity": similarity - 0.05 * rank, "signal_index": other,
                    })
    out.mkdir(parents=True, exist_ok=True)
    np.save(out / "signals.npy", dataset.signals.astype(np.float32))
    pd.DataFrame(rows, columns=[*PROTOTYPE_COLUMNS, "catalog_similarity"]).to_csv(
        out / "prototypes.csv", index=False, lineterminator="\n")
    pd.DataFrame(neighbours, columns=list(NEIGHBOUR_COLUMNS)).to_csv(
        out / "neighbours.csv", index=False, lineterminator="\n")
    (out / "catalog.json").write_text(json.dumps({
        "format": CATALOG_FORMAT, "model_sha256": "0" * 64, "dataset": "synthetic",
        "root": None, "synthetic": True, "fs": fs, "units": dataset.units,
        "n_samples": n_samples, "leads": list(dataset.lead_names), "n_prototypes": len(rows),
        "per_branch": {b: len(c) * n for b, (c, n, _) in branches.items()},
        "n_signals": N_RECORDS, "n_neighbours": n_neighbours,
        "signal_preprocessing": "none (synthetic test catalog)", "similarity": "cosine",
    }, indent=2) + "\n")
    return out
