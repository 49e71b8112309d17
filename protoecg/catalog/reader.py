"""Read a prototype catalog without torch (the review side imports only this module).

A catalog folder (``RUN/catalog/``) holds:

- ``prototypes.csv``: one row per prototype (columns in ``PROTOTYPE_COLUMNS``);
- ``neighbours.csv``: the nearest other training windows of each prototype;
- ``signals.npy``: float32 (M, 12, T), the full 10 s of every source and neighbour record, as
  the model saw them before any standardisation (0.5 Hz high-pass), in ``catalog.json``'s units;
  the ``signal_index`` columns point into it;
- ``catalog.json``: format version, model hash, dataset, fs, units, counts.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from protoecg.errors import DataError

CATALOG_FORMAT = 1
PROTOTYPE_COLUMNS = (
    "prototype_id", "branch", "class_code", "class_description", "prototype_index",
    "source_dataset", "source_record_id", "source_patient_id", "source_labels",
    "source_report", "source_fold", "window_start", "window_end", "window_start_s",
    "window_end_s", "fs", "units", "similarity", "signal_index", "model_sha256",
)
# written since pruning exists; filled with these defaults when reading an older catalog
OPTIONAL_COLUMNS = {
    "active": 1,  # 0: disabled after review (no influence on any prediction)
    "revision": 1,  # 2, 3 ...: the prototype's window was replaced after review
    "purity": float("nan"),  # share of its k most similar training records with its class
}
NEIGHBOUR_COLUMNS = ("prototype_id", "rank", "record_id", "window_start", "window_end",
                     "similarity", "signal_index")


class CatalogError(DataError):
    """A catalog folder that is missing files or columns."""


@dataclass
class Catalog:
    path: Path
    meta: dict
    prototypes: pd.DataFrame
    neighbours: pd.DataFrame
    signals: np.ndarray  # memory-mapped (M, 12, T)

    def prototype(self, prototype_id: str) -> pd.Series:
        rows = self.prototypes[self.prototypes["prototype_id"] == prototype_id]
        if rows.empty:
            raise CatalogError(f"{self.path}: no prototype {prototype_id!r}")
        return rows.iloc[0]

    def signal(self, signal_index: int) -> np.ndarray:
        return np.asarray(self.signals[int(signal_index)])


def read_catalog(path: str | Path) -> Catalog:
    """Load and check a catalog folder; CatalogError names what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise CatalogError(f"{path}: not a catalog folder (make one with `protoecg project`)")
    for name in ("prototypes.csv", "neighbours.csv", "signals.npy", "catalog.json"):
        if not (path / name).is_file():
            raise CatalogError(f"{path}: catalog file {name} missing")
    meta = json.loads((path / "catalog.json").read_text())
    if meta.get("format") != CATALOG_FORMAT:
        raise CatalogError(f"{path / 'catalog.json'}: catalog format {meta.get('format')!r}, "
                           f"expected {CATALOG_FORMAT}")
    prototypes = pd.read_csv(path / "prototypes.csv", keep_default_na=False,
                             dtype={"source_record_id": str, "source_patient_id": str})
    neighbours = pd.read_csv(path / "neighbours.csv", dtype={"record_id": str})
    for table, name, columns in ((prototypes, "prototypes.csv", PROTOTYPE_COLUMNS),
                                 (neighbours, "neighbours.csv", NEIGHBOUR_COLUMNS)):
        missing = [c for c in columns if c not in table.columns]
        if missing:
            raise CatalogError(f"{path / name}: missing column(s) {', '.join(missing)}")
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in prototypes.columns:
            prototypes[column] = default
    signals = np.load(path / "signals.npy", mmap_mode="r")
    top = int(max([*prototypes["signal_index"], *neighbours["signal_index"]], default=-1))
    if signals.ndim != 3 or signals.shape[0] <= top:
        raise CatalogError(f"{path / 'signals.npy'}: shape {signals.shape} does not hold "
                           f"signal_index {top}")
    return Catalog(path, meta, prototypes, neighbours, signals)
