"""Read a prototype catalog without torch (the review side imports only this module).

A catalog folder (``RUN/catalog/``) holds:

- ``prototypes.csv``: one row per prototype (columns in ``PROTOTYPE_COLUMNS``, and the
  ``OPTIONAL_COLUMNS`` later catalogs add: pruning state, purity, issue 29's quality columns);
- ``neighbours.csv``: the nearest other training windows of each prototype;
- ``signals.npy``: float32 (M, 12, T), the full 10 s of every source and neighbour record, as
  the model saw them before any standardisation (0.5 Hz high-pass), in ``catalog.json``'s units;
  the ``signal_index`` columns point into it;
- ``catalog.json``: format version, model hash, dataset, fs, units, counts; the projection
  rules, ``latent_health`` and ``prototype_quality`` per branch (``catalog/quality.py``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from protoecg.errors import DataError
from protoecg.files import read_json, write_json

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
    # true-positive validation predictions it is among the top 3 contributors of (issue 29);
    # empty in catalogs written before
    "usage_decisions": "",
    # catalog/quality.py's per-prototype flags (issue 29): 1 / 0, empty where undefined
    "duplicate": "", "edge": "", "on_wave": "", "class_prevalence": "",
}
NEIGHBOUR_COLUMNS = ("prototype_id", "rank", "record_id", "window_start", "window_end",
                     "similarity", "signal_index")


# The catalog folder's files: this module alone names, reads and writes them (the writer
# hands it what it computed).
CATALOG_DIR = "catalog"
CATALOG_JSON = "catalog.json"
PROTOTYPES_CSV = "prototypes.csv"
NEIGHBOURS_CSV = "neighbours.csv"
SIGNALS_NPY = "signals.npy"
_ID_TYPES = {"source_record_id": str, "source_patient_id": str}


class CatalogError(DataError):
    """A catalog folder that is missing files or columns."""


def catalog_dir(run_dir: str | Path) -> Path:
    """Where ``protoecg project`` writes the catalog of ``run_dir``."""
    return Path(run_dir) / CATALOG_DIR


def has_catalog(run_dir: str | Path) -> bool:
    return (catalog_dir(run_dir) / CATALOG_JSON).is_file()


def read_meta(path: str | Path) -> dict:
    """``catalog.json`` of the catalog folder ``path``, checked for type and format."""
    file = Path(path) / CATALOG_JSON
    meta = read_json(file, CatalogError, "a catalog's metadata written by `protoecg project`")
    if meta.get("format") != CATALOG_FORMAT:
        raise CatalogError(f"{file}: catalog format {meta.get('format')!r}, "
                           f"expected {CATALOG_FORMAT}")
    return meta


def write_meta(path: str | Path, meta: dict) -> None:
    write_json(Path(path) / CATALOG_JSON, meta)


def write_tables(path: str | Path, prototypes: pd.DataFrame,
                 neighbours: pd.DataFrame | None = None,
                 signals: np.ndarray | None = None) -> None:
    """prototypes.csv (and neighbours.csv, signals.npy when given) of a catalog folder."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    if signals is not None:
        np.save(path / SIGNALS_NPY, signals)
    prototypes.to_csv(path / PROTOTYPES_CSV, index=False, lineterminator="\n")
    if neighbours is not None:
        neighbours.to_csv(path / NEIGHBOURS_CSV, index=False, lineterminator="\n")


def read_prototype_table(path: str | Path) -> pd.DataFrame:
    """prototypes.csv as written, without the defaults ``read_catalog`` fills in."""
    return _read_table(Path(path) / PROTOTYPES_CSV, PROTOTYPE_COLUMNS, keep_default_na=False,
                       dtype=_ID_TYPES)


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


def _read_table(path: Path, columns: tuple[str, ...], **options) -> pd.DataFrame:
    try:
        table = pd.read_csv(path, **options)
    except pd.errors.EmptyDataError:
        raise CatalogError(f"{path}: empty file (expected a header with "
                           f"{', '.join(columns[:3])}, ...)") from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError) as exc:
        raise CatalogError(f"{path}: not a readable CSV ({exc})") from None
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise CatalogError(f"{path}: missing column(s) {', '.join(missing)}")
    return table


def read_catalog(path: str | Path) -> Catalog:
    """Load and check a catalog folder; CatalogError names what is missing."""
    path = Path(path)
    if not path.is_dir():
        raise CatalogError(f"{path}: not a catalog folder (make one with `protoecg project`)")
    for name in (PROTOTYPES_CSV, NEIGHBOURS_CSV, SIGNALS_NPY, CATALOG_JSON):
        if not (path / name).is_file():
            raise CatalogError(f"{path}: catalog file {name} missing")
    meta = read_meta(path)
    prototypes = read_prototype_table(path)
    neighbours = _read_table(path / NEIGHBOURS_CSV, NEIGHBOUR_COLUMNS,
                             dtype={"record_id": str})
    if prototypes.empty:
        raise CatalogError(f"{path / 'prototypes.csv'}: no prototypes")
    duplicated = prototypes["prototype_id"][prototypes["prototype_id"].duplicated()]
    if not duplicated.empty:
        raise CatalogError(f"{path / 'prototypes.csv'}: prototype_id {duplicated.iloc[0]!r} "
                           "appears more than once")
    for column, default in OPTIONAL_COLUMNS.items():
        if column not in prototypes.columns:
            prototypes[column] = default
    try:
        signals = np.load(path / SIGNALS_NPY, mmap_mode="r", allow_pickle=False)
    except (ValueError, OSError, EOFError) as exc:
        raise CatalogError(f"{path / 'signals.npy'}: not a readable signal array ({exc})"
                           ) from None
    if signals.ndim != 3 or signals.shape[1] != 12 or not np.issubdtype(signals.dtype,
                                                                         np.floating):
        raise CatalogError(f"{path / 'signals.npy'}: expected float signals of shape "
                           f"(ECGs, 12, samples), got {signals.dtype} {signals.shape}")
    for table, name in ((prototypes, "prototypes.csv"), (neighbours, "neighbours.csv")):
        index = pd.to_numeric(table["signal_index"], errors="coerce")
        bad = table["signal_index"][~(index.notna() & (index % 1 == 0) & (index >= 0)
                                      & (index < signals.shape[0]))]
        if not bad.empty:
            raise CatalogError(f"{path / name} line {bad.index[0] + 2}: signal_index "
                               f"{str(bad.iloc[0])!r} is not a row of signals.npy "
                               f"(0-{signals.shape[0] - 1})")
    used = sorted(set(prototypes["signal_index"].astype(int)))
    if not np.isfinite(np.asarray(signals[used])).all():
        raise CatalogError(f"{path / 'signals.npy'}: a prototype's signal holds NaN or "
                           "infinite values")
    return Catalog(path, meta, prototypes, neighbours, signals)
