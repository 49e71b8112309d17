"""Preprocessing as in ProtoECGNet: baseline-wander removal, optional standardisation.

``highpass``: first-order Butterworth high-pass at 0.5 Hz applied forwards and backwards
(``filtfilt``, zero phase, so waves are not shifted in time), as the paper's official code does.
``LeadStandardizer``: per-lead mean and standard deviation fitted on the training folds only
(PTB-XL benchmark habit: nothing about validation or test data leaks into the scaling).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.signal import butter, filtfilt

from protoecg.data.dataset import TRAIN_FOLDS, ECGDataset
from protoecg.errors import DataError


def highpass(
    signals: np.ndarray, fs: int, cutoff_hz: float = 0.5, order: int = 1, chunk: int = 1024
) -> np.ndarray:
    """Zero-phase Butterworth high-pass along the last axis; float32 out.

    Works in chunks of records so that a memory-mapped (21,799, 12, 1000) array is filtered
    without loading it whole in float64.
    """
    if not 0 < cutoff_hz < fs / 2:
        raise DataError(f"high-pass cut-off must be between 0 and {fs / 2:g} Hz, got {cutoff_hz}")
    b, a = butter(order, cutoff_hz, btype="highpass", fs=fs)
    signals = np.asarray(signals) if not isinstance(signals, np.memmap) else signals
    out = np.empty(signals.shape, dtype=np.float32)
    flat_in = signals.reshape(-1, signals.shape[-1]) if signals.ndim > 1 else signals[None]
    flat_out = out.reshape(-1, signals.shape[-1]) if signals.ndim > 1 else out[None]
    for start in range(0, flat_in.shape[0], chunk):
        flat_out[start:start + chunk] = filtfilt(b, a, flat_in[start:start + chunk], axis=-1)
    return out


@dataclass
class LeadStandardizer:
    """Per-lead z-scoring with statistics from the training folds."""

    mean: np.ndarray | None = None
    std: np.ndarray | None = None

    def fit(self, signals: np.ndarray) -> LeadStandardizer:
        """Fit on (N, leads, T) signals: one mean and standard deviation per lead."""
        signals = np.asarray(signals, dtype=np.float64)
        self.mean = signals.mean(axis=(0, 2))
        std = signals.std(axis=(0, 2))
        self.std = np.where(std > 0, std, 1.0)  # a constant lead is left unscaled, not divided by 0
        return self

    def fit_dataset(self, dataset: ECGDataset) -> LeadStandardizer:
        """Fit on the training folds (1-8) of ``dataset`` only."""
        train = np.isin(dataset.folds, TRAIN_FOLDS)
        if not train.any():
            raise DataError(f"{dataset.source}: no records in training folds 1-8 to fit on")
        return self.fit(dataset.signals[np.flatnonzero(train)])

    def transform(self, signals: np.ndarray) -> np.ndarray:
        if self.mean is None or self.std is None:
            raise DataError("LeadStandardizer.transform called before fit")
        return ((np.asarray(signals) - self.mean[:, None]) / self.std[:, None]).astype(np.float32)

    def to_dict(self) -> dict:
        return {"mean": np.asarray(self.mean).tolist(), "std": np.asarray(self.std).tolist()}

    @classmethod
    def from_dict(cls, state: dict) -> LeadStandardizer:
        return cls(np.asarray(state["mean"]), np.asarray(state["std"]))
