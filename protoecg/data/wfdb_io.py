"""Reading and writing one WFDB record, with the checks every adapter needs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import wfdb

from protoecg.data.dataset import LEADS
from protoecg.errors import RecordError


def normalise_lead_name(name: str) -> str:
    """``avr``, ``aVR``, ``AVR`` -> ``AVR``; ``i`` -> ``I``; ``v1`` -> ``V1``."""
    return name.strip().upper()


def read_header_comments(record_path: str | Path) -> list[str]:
    """The ``#`` comment lines of a WFDB header, without reading the signal file."""
    record_path = Path(record_path)
    try:
        header = wfdb.rdheader(str(record_path))
    except FileNotFoundError:
        raise RecordError(f"{record_path}.hea", "header file not found") from None
    except Exception as exc:  # wfdb raises bare ValueError/IndexError on malformed headers
        raise RecordError(f"{record_path}.hea", f"unreadable WFDB header ({exc})") from None
    return list(header.comments or [])


def read_record(
    record_path: str | Path, fs: int, n_samples: int
) -> tuple[np.ndarray, str, list[str]]:
    """Read one 12-lead record and check it.

    Returns (signal float32 (12, n_samples) in ``LEADS`` order, units, header comments).
    Raises RecordError naming the file when the record is missing or unreadable, has the wrong
    lead count or names, sampling rate or length, NaN samples or a flat-line lead.
    """
    record_path = Path(record_path)
    header_file = f"{record_path}.hea"
    if not Path(header_file).is_file():
        raise RecordError(header_file, "record header not found")
    try:
        signal, fields = wfdb.rdsamp(str(record_path))
    except Exception as exc:  # wfdb raises many kinds on truncated or malformed files
        raise _diagnose_unreadable(record_path, exc) from None

    names = [normalise_lead_name(n) for n in fields["sig_name"]]
    if len(names) != len(LEADS):
        raise RecordError(header_file, f"expected 12 leads, found {len(names)} ({' '.join(names)})")
    if sorted(names) != sorted(LEADS):
        raise RecordError(
            header_file,
            f"expected leads {' '.join(LEADS)}, found {' '.join(fields['sig_name'])}",
        )
    if int(round(fields["fs"])) != fs:
        raise RecordError(header_file, f"expected sampling rate {fs} Hz, found {fields['fs']:g} Hz")
    if signal.shape[0] != n_samples:
        raise RecordError(
            header_file, f"expected {n_samples} samples ({n_samples / fs:g} s at {fs} Hz), "
            f"found {signal.shape[0]}"
        )
    units = {u.strip() for u in fields["units"]}
    if len(units) != 1:
        raise RecordError(header_file, f"expected one unit for all leads, found {sorted(units)}")

    order = [names.index(lead) for lead in LEADS]
    signal = np.ascontiguousarray(signal[:, order].T, dtype=np.float32)
    nan_leads = [LEADS[i] for i in range(len(LEADS)) if np.isnan(signal[i]).any()]
    if nan_leads:
        raise RecordError(header_file, f"NaN samples in lead(s) {' '.join(nan_leads)}")
    flat = [LEADS[i] for i in range(len(LEADS)) if np.ptp(signal[i]) == 0.0]
    if flat:
        raise RecordError(header_file, f"flat-line signal (constant) in lead(s) {' '.join(flat)}")
    return signal, units.pop(), list(fields.get("comments") or [])


def write_record(
    record_name: str, directory: Path, signal: np.ndarray, fs: int, units: str = "mV",
    comments: list[str] | None = None, gain: float = 1000.0,
) -> None:
    """Write a (12, T) signal as a 16-bit WFDB record (PTB-XL uses gain 1000 per mV)."""
    directory.mkdir(parents=True, exist_ok=True)
    p_signal = np.asarray(signal, dtype=np.float64).T
    limit = 32767 / gain
    if np.abs(p_signal).max() > limit:
        raise RecordError(record_name, f"amplitude beyond ±{limit:g} {units}, "
                          "which 16-bit samples at this gain cannot hold")
    digital = np.round(p_signal * gain).astype(np.int16)
    wfdb.wrsamp(
        record_name, fs=fs, units=[units] * len(LEADS), sig_name=list(LEADS),
        d_signal=digital, fmt=["16"] * len(LEADS), adc_gain=[gain] * len(LEADS),
        baseline=[0] * len(LEADS), comments=comments, write_dir=str(directory),
    )


def _diagnose_unreadable(record_path: Path, exc: Exception) -> RecordError:
    """Say which file of an unreadable record is at fault, when we can tell."""
    header_file = f"{record_path}.hea"
    try:
        header = wfdb.rdheader(str(record_path))
    except Exception as header_exc:
        return RecordError(header_file, f"unreadable WFDB header ({header_exc})")
    files = sorted({name for name in (header.file_name or []) if name})
    for name in files:
        data_file = record_path.parent / name
        if not data_file.is_file():
            return RecordError(str(data_file), "signal file not found (named in the header)")
        if header.fmt and all(f == "16" for f in header.fmt) and header.sig_len:
            expected = 2 * header.sig_len * len([f for f in header.file_name if f == name])
            actual = data_file.stat().st_size
            if actual < expected:
                return RecordError(str(data_file), f"truncated signal file: {actual} bytes, "
                                   f"expected {expected} ({header.sig_len} samples x 16 bit)")
    return RecordError(header_file, f"unreadable WFDB record ({type(exc).__name__}: {exc})")
