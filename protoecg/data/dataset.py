"""``ECGDataset``: the one in-memory form every adapter (PTB-XL, LUDB, synthetic) returns."""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd

from protoecg.data import labels as label_table
from protoecg.errors import DataError

LEADS: tuple[str, ...] = (
    "I", "II", "III", "AVR", "AVL", "AVF", "V1", "V2", "V3", "V4", "V5", "V6",
)
# PTB-XL's recommended split (Wagner et al. 2020; strat_fold): 1-8 train, 9 validation, 10 test.
TRAIN_FOLDS: tuple[int, ...] = (1, 2, 3, 4, 5, 6, 7, 8)
VALIDATION_FOLDS: tuple[int, ...] = (9,)
TEST_FOLDS: tuple[int, ...] = (10,)
SPLITS = {"train": TRAIN_FOLDS, "validation": VALIDATION_FOLDS, "test": TEST_FOLDS}


@dataclass(frozen=True)
class SkippedRecord:
    """A record left out because ``skip_bad`` was asked for, and why."""

    record_id: str
    reason: str


@dataclass
class ECGDataset:
    """Signals, labels and identifiers of a set of 10 s 12-lead ECGs.

    ``signals`` is float32 (N, 12, T) in the lead order ``LEADS``, in ``units`` (mV for PTB-XL
    and LUDB; the PTB-XL subset we test on is in normalised units ``NU`` and is reported as
    such, never rescaled). ``labels`` is uint8 multi-hot (N, len(label_names)); by default the
    71 PTB-XL statements in ``labels.all_codes()`` order. ``signals`` may be a read-only
    memory map (the PTB-XL cache).
    """

    signals: np.ndarray
    labels: np.ndarray
    label_names: list[str]
    record_ids: list[str]
    patient_ids: list[str]
    folds: np.ndarray
    reports: list[str]
    fs: int
    units: str
    source: str
    synthetic: bool = False
    root: str | None = None
    metadata: pd.DataFrame = field(default_factory=pd.DataFrame)
    skipped: list[SkippedRecord] = field(default_factory=list)
    from_cache: bool = False
    lead_names: tuple[str, ...] = LEADS

    def __post_init__(self) -> None:
        n = len(self.record_ids)
        if self.signals.ndim != 3 or self.signals.shape[:2] != (n, len(self.lead_names)):
            raise DataError(
                f"{self.source}: signals must have shape ({n}, {len(self.lead_names)}, T), "
                f"got {self.signals.shape}"
            )
        if self.labels.shape != (n, len(self.label_names)):
            raise DataError(
                f"{self.source}: labels must have shape ({n}, {len(self.label_names)}), "
                f"got {self.labels.shape}"
            )
        for name in ("patient_ids", "reports"):
            if len(getattr(self, name)) != n:
                raise DataError(f"{self.source}: {name} has {len(getattr(self, name))} "
                                f"entries for {n} records")
        self.folds = np.asarray(self.folds, dtype=np.int64)
        if self.folds.shape != (n,):
            raise DataError(f"{self.source}: folds must have shape ({n},), got {self.folds.shape}")
        if self.metadata.empty:
            self.metadata = pd.DataFrame(index=pd.Index(self.record_ids, name="record_id"))

    def __len__(self) -> int:
        return len(self.record_ids)

    @property
    def n_samples(self) -> int:
        return int(self.signals.shape[2])

    @property
    def duration_s(self) -> float:
        return self.n_samples / self.fs

    def subset(self, index) -> ECGDataset:
        """The records selected by a boolean mask or an integer index array, in that order."""
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        pick = [int(i) for i in index]
        return replace(
            self,
            signals=np.asarray(self.signals[index]),
            labels=self.labels[index],
            record_ids=[self.record_ids[i] for i in pick],
            patient_ids=[self.patient_ids[i] for i in pick],
            folds=self.folds[index],
            reports=[self.reports[i] for i in pick],
            metadata=self.metadata.iloc[pick],
            from_cache=False,
        )

    def split(self, name: str) -> ECGDataset:
        """``train`` (folds 1-8), ``validation`` (9) or ``test`` (10)."""
        if name not in SPLITS:
            raise DataError(f"unknown split {name!r}: expected one of {', '.join(SPLITS)}")
        return self.subset(np.isin(self.folds, SPLITS[name]))

    def index_of(self, record_id: str) -> int:
        """Position of ``record_id``; DataError naming it if the dataset does not hold it."""
        try:
            return self.record_ids.index(str(record_id))
        except ValueError:
            raise DataError(
                f"record {record_id!r} is not in this {self.source} dataset "
                f"({len(self)} records, e.g. {', '.join(self.record_ids[:3])})"
            ) from None

    def label_counts(self) -> dict[str, int]:
        """Positives per label, labels with no positive omitted, in label order."""
        counts = self.labels.sum(axis=0)
        return {c: int(n) for c, n in zip(self.label_names, counts, strict=True) if n > 0}

    def fold_counts(self) -> dict[int, int]:
        values, counts = np.unique(self.folds, return_counts=True)
        return {int(v): int(c) for v, c in zip(values, counts, strict=True)}

    def aggregate_labels(self, level: str) -> tuple[np.ndarray, list[str]]:
        """Labels in one of the PTB-XL benchmark aggregations (see ``labels.aggregate``)."""
        if self.label_names != label_table.all_codes():
            raise DataError("label aggregation needs the 71 PTB-XL statements as label_names")
        return label_table.aggregate(self.labels, level)
