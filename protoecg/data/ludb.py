"""LUDB adapter (Kalyakulina et al. 2020): PhysioNet layout -> ``ECGDataset``, and -> PTB-XL layout.

LUDB holds 200 real 10 s 12-lead ECGs at 500 Hz in mV (leads ``i ii … v6``, normalised here to
PTB-XL's names). Its diagnoses are free-text lines in each header after ``#<diagnoses>:``; we
map them to SCP statements with the documented table ``ludb_findings.csv`` (one regular
expression per finding, first match wins). Findings with no SCP statement are kept in the
``unmapped_findings`` column and in the report text, never dropped. The electrical axis goes
to ``heart_axis`` in PTB-XL's codes. ``NORM`` is *derived* (LUDB has no such label): sinus
rhythm and a normal, vertical or horizontal axis, and nothing else.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

import numpy as np
import pandas as pd
from scipy.signal import resample_poly

from protoecg.data import labels as label_table
from protoecg.data.dataset import ECGDataset, SkippedRecord
from protoecg.data.folds import stratified_folds
from protoecg.data.wfdb_io import read_record
from protoecg.errors import DataError, LayoutError, RecordError

NATIVE_FS = 500
DURATION_S = 10
NORMAL_AXES = ("MID", "AXR", "AXL")  # normal, vertical, horizontal
FOLD_SEED = 42


@dataclass(frozen=True)
class LudbDiagnosis:
    """One record's diagnoses as mapped to SCP statements."""

    findings: list[str]
    codes: list[str]
    heart_axis: str
    unmapped: list[str]
    age: float | None
    sex: str


@cache
def finding_table() -> list[tuple[re.Pattern, list[str], str, str]]:
    """The documented LUDB finding -> SCP statement table (``ludb_findings.csv``)."""
    with resources.files("protoecg.data").joinpath("ludb_findings.csv").open() as f:
        rows = pd.read_csv(f, keep_default_na=False)
    table = []
    for row in rows.itertuples():
        codes = row.scp_codes.split()
        label_table.check_codes(codes, where=f"ludb_findings.csv pattern {row.pattern!r}")
        table.append((re.compile(row.pattern, re.IGNORECASE), codes, row.heart_axis, row.note))
    return table


def parse_comments(comments: list[str]) -> tuple[list[str], float | None, str]:
    """Findings, age and sex from LUDB header comments.

    One LUDB header has two findings on one line (``… posterior wall. #Rhythm: Sinus rhythm.``),
    so lines are split at embedded ``#``.
    """
    age, sex, findings, in_diagnoses = None, "", [], False
    for line in comments:
        for part in line.split("#"):
            part = part.strip()
            if not part:
                continue
            if part.startswith("<age>:"):
                value = part.split(":", 1)[1].strip().lstrip(">")
                age = float(value) if value.replace(".", "", 1).isdigit() else None
            elif part.startswith("<sex>:"):
                sex = part.split(":", 1)[1].strip()
            elif part.startswith("<diagnoses>"):
                in_diagnoses = True
            elif in_diagnoses:
                findings.append(part.rstrip(". ").strip())
    return findings, age, sex


def map_findings(findings: list[str]) -> tuple[list[str], str, list[str]]:
    """(SCP codes in label order, heart_axis, unmapped findings) for one record."""
    codes: set[str] = set()
    axis = ""
    unmapped: list[str] = []
    rhythm_sinus_only = False
    other_findings = False
    for finding in findings:
        for pattern, mapped, heart_axis, _ in finding_table():
            if pattern.fullmatch(finding):
                codes.update(mapped)
                axis = heart_axis or axis
                if not mapped and not heart_axis:
                    unmapped.append(finding)
                break
        else:
            unmapped.append(finding)
            mapped, heart_axis = [], ""
        if mapped == ["SR"]:
            rhythm_sinus_only = True
        elif not heart_axis or heart_axis not in NORMAL_AXES:
            other_findings = True
    if rhythm_sinus_only and not other_findings and axis in NORMAL_AXES:
        codes.add("NORM")  # derived: LUDB itself has no "normal ECG" statement
    return [c for c in label_table.all_codes() if c in codes], axis, unmapped


def diagnose(comments: list[str]) -> LudbDiagnosis:
    findings, age, sex = parse_comments(comments)
    codes, axis, unmapped = map_findings(findings)
    return LudbDiagnosis(findings, codes, axis, unmapped, age, sex)


def record_names(root: Path) -> list[str]:
    """Record paths relative to ``root`` (``data/1`` …), from RECORDS or the headers present."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: not a folder (expected LUDB's PhysioNet layout)")
    records_file = root / "RECORDS"
    if records_file.is_file():
        names = [line.strip() for line in records_file.read_text().splitlines() if line.strip()]
    else:
        names = sorted((str(p.relative_to(root).with_suffix("")) for p in root.glob("data/*.hea")),
                       key=lambda n: (len(n), n))
    if not names:
        raise LayoutError(
            f"{root}: not an LUDB folder: no RECORDS file and no data/*.hea headers "
            "(expected LUDB's PhysioNet layout: RECORDS, data/1.hea, data/1.dat, …)"
        )
    return names


def resample_to(signals: np.ndarray, fs_from: int, fs_to: int) -> np.ndarray:
    """Polyphase resampling with its anti-aliasing filter (500 -> 100 Hz is factor 1/5)."""
    if fs_from == fs_to:
        return signals
    g = np.gcd(fs_from, fs_to)
    return resample_poly(signals, fs_to // g, fs_from // g, axis=-1).astype(np.float32)


def load_ludb(root: str | Path, fs: int = 500, *, skip_bad: bool = False) -> ECGDataset:
    """Load LUDB at its native 500 Hz or resampled to 100 Hz (ProtoECGNet's rate)."""
    root = Path(root)
    if fs not in (100, NATIVE_FS):
        raise DataError(f"LUDB is recorded at 500 Hz and offered at 100 or 500 Hz, not {fs} Hz")
    signals, ids, diagnoses, skipped = [], [], [], []
    for name in record_names(root):
        record_id = Path(name).name
        try:
            signal, units, comments = read_record(root / name, NATIVE_FS, NATIVE_FS * DURATION_S)
            if units != "mV":
                raise RecordError(f"{root / name}.hea", f"expected units mV, found {units}")
        except RecordError as exc:
            if not skip_bad:
                raise
            skipped.append(SkippedRecord(record_id, str(exc)))
            continue
        signals.append(signal)
        ids.append(record_id)
        diagnoses.append(diagnose(comments))
    if not signals:
        raise DataError(f"{root}: no usable LUDB records (all {len(skipped)} skipped)")
    stacked = resample_to(np.stack(signals), NATIVE_FS, fs)
    labels = label_table.multi_hot([d.codes for d in diagnoses], where=f"{root} diagnoses")
    metadata = pd.DataFrame(
        {
            "age": [d.age for d in diagnoses],
            "sex": [d.sex for d in diagnoses],
            "heart_axis": [d.heart_axis for d in diagnoses],
            "findings": ["; ".join(d.findings) for d in diagnoses],
            "unmapped_findings": ["; ".join(d.unmapped) for d in diagnoses],
        },
        index=pd.Index(ids, name="record_id"),
    )
    return ECGDataset(
        signals=stacked,
        labels=labels,
        label_names=label_table.all_codes(),
        record_ids=ids,
        patient_ids=list(ids),  # LUDB: one record per subject
        folds=stratified_folds(labels, seed=FOLD_SEED),
        reports=["; ".join(d.findings) for d in diagnoses],
        fs=fs,
        units="mV",
        source="ludb",
        root=str(root),
        metadata=metadata,
        skipped=skipped,
    )


def unmapped_counts(dataset: ECGDataset) -> dict[str, int]:
    """How often each LUDB finding with no SCP statement occurs."""
    if "unmapped_findings" not in dataset.metadata:
        return {}
    counts: dict[str, int] = {}
    for cell in dataset.metadata["unmapped_findings"]:
        for finding in filter(None, str(cell).split("; ")):
            counts[finding] = counts.get(finding, 0) + 1
    return dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0])))
