"""PTB-XL adapter: any folder in PTB-XL's PhysioNet layout -> ``ECGDataset``.

Layout (Wagner et al. 2020): ``ptbxl_database.csv`` (one row per ECG; ``scp_codes`` is a Python
dict literal of statement -> likelihood, every key counts as a label, as in ProtoECGNet),
``scp_statements.csv``, and WFDB records under ``records100/…_lr`` (100 Hz) and
``records500/…_hr`` (500 Hz), 10 s each. Signal units come from the headers and are reported,
never rescaled.
"""

from __future__ import annotations

import ast
import os
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from protoecg.data import cache
from protoecg.data import labels as label_table
from protoecg.data.dataset import LEADS, ECGDataset, SkippedRecord
from protoecg.data.wfdb_io import read_record
from protoecg.errors import DataError, LabelError, LayoutError, RecordError

DATABASE = "ptbxl_database.csv"
STATEMENTS = "scp_statements.csv"
FILENAME_COLUMN = {100: "filename_lr", 500: "filename_hr"}
REQUIRED_COLUMNS = ("ecg_id", "patient_id", "scp_codes", "strat_fold")
DURATION_S = 10


def parse_scp_codes(text: object, where: str) -> list[str]:
    """Keys of one ``scp_codes`` cell (``"{'NORM': 100.0, 'SR': 0.0}"``)."""
    try:
        value = ast.literal_eval(text) if isinstance(text, str) else None
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):  # TypeError:
        # an unhashable key such as {[1]: 0}
        value = None
    if not isinstance(value, dict) or not all(isinstance(k, str) for k in value):
        raise LabelError(
            f"{where}: scp_codes must be a Python dict literal such as "
            f"{{'NORM': 100.0, 'SR': 0.0}}, got {text!r}"
        )
    return list(value)


def read_database(root: Path, fs: int) -> pd.DataFrame:
    """The record table, checked for the columns and folds the adapter relies on."""
    root = Path(root)
    if not root.is_dir():
        raise LayoutError(f"{root}: not a folder (expected a PTB-XL folder with {DATABASE})")
    for name in (DATABASE, STATEMENTS):
        if not (root / name).is_file():
            raise LayoutError(
                f"{root}: not a PTB-XL folder: {name} missing (expected {DATABASE}, "
                f"{STATEMENTS} and records100/ or records500/)"
            )
    if fs not in FILENAME_COLUMN:
        raise DataError(f"PTB-XL ships 100 Hz and 500 Hz records; --fs {fs} is neither")
    try:
        table = pd.read_csv(root / DATABASE, dtype={"scp_codes": str, "report": str})
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        raise LayoutError(f"{root / DATABASE}: not a readable CSV ({exc})") from None
    missing = [c for c in (*REQUIRED_COLUMNS, FILENAME_COLUMN[fs]) if c not in table.columns]
    if missing:
        raise LayoutError(f"{root / DATABASE}: missing column(s) {', '.join(missing)}")
    folds = pd.to_numeric(table["strat_fold"], errors="coerce")
    bad = table.loc[~folds.isin(range(1, 11)), "ecg_id"]
    if len(bad):
        raise LayoutError(
            f"{root / DATABASE}: strat_fold must be an integer 1-10; ecg_id {bad.iloc[0]} "
            f"has {str(table.loc[bad.index[0], 'strat_fold'])!r} ({len(bad)} row(s) in all)"
        )
    if table["ecg_id"].duplicated().any():
        dup = table.loc[table["ecg_id"].duplicated(), "ecg_id"].iloc[0]
        raise LayoutError(f"{root / DATABASE}: ecg_id {dup} appears more than once")
    return table


def load_ptbxl(
    root: str | Path,
    fs: int = 100,
    *,
    skip_bad: bool = False,
    cache_dir: str | Path | None = None,
    use_cache: bool = True,
    progress: bool = True,
    workers: int | None = None,
) -> ECGDataset:
    """Load a PTB-XL-layout folder at 100 or 500 Hz.

    ``skip_bad``: leave out records whose signal file or ``scp_codes`` cell is unusable and list
    them in ``ECGDataset.skipped`` (otherwise the first one raises). The signals are cached as a
    memory-mapped array under ``cache_dir`` (see ``protoecg.data.cache``). ``workers``
    processes read records in parallel (default: one per CPU core; wfdb's header parsing,
    not the disk, is the bottleneck).
    """
    root = Path(root)
    table = read_database(root, fs)
    n_samples = fs * DURATION_S
    where = root / DATABASE

    code_lists, label_skips = _statements(table, where, skip_bad)
    record_paths = [root / str(name) for name in table[FILENAME_COLUMN[fs]]]
    key = cache.cache_key(
        [p.with_suffix(ext) for p in record_paths for ext in (".hea", ".dat")],
        fs=fs, skip_bad=skip_bad, skipped_rows=sorted(label_skips), root=str(root.resolve()),
    )
    cache_dir = Path(cache_dir) if cache_dir is not None else cache.default_cache_dir()
    cached = cache.load_cached(cache_dir, f"ptbxl-{fs}hz", key) if use_cache else None
    if cached is not None:
        signals, meta = cached
        kept_rows, units, skipped = meta["rows"], meta["units"], meta["skipped"]
        from_cache = True
    else:
        signals, kept_rows, units, skipped = _read_signals(
            record_paths, [str(i) for i in table["ecg_id"]], fs, n_samples, label_skips,
            skip_bad, progress, (cache_dir, f"ptbxl-{fs}hz", key) if use_cache else None,
            workers if workers is not None else (os.cpu_count() or 1),
        )
        from_cache = False

    kept = table.iloc[kept_rows]
    record_ids = [str(i) for i in kept["ecg_id"]]
    if "report" in kept:
        reports = kept["report"].fillna("").astype(str).tolist()
    else:
        reports = [""] * len(kept)
    metadata = kept.drop(columns=["scp_codes"]).copy()
    metadata.index = pd.Index(record_ids, name="record_id")
    return ECGDataset(
        signals=signals,
        labels=label_table.multi_hot([code_lists[r] for r in kept_rows], where=str(where)),
        label_names=label_table.all_codes(),
        record_ids=record_ids,
        patient_ids=_patient_ids(kept["patient_id"]),
        folds=kept["strat_fold"].astype(int).to_numpy(),
        reports=reports,
        fs=fs,
        units=units,
        source="ptbxl",
        root=str(root),
        metadata=metadata,
        skipped=[SkippedRecord(**s) for s in skipped],
        from_cache=from_cache,
    )


def _statements(table: pd.DataFrame, where: Path, skip_bad: bool
                ) -> tuple[list[list[str] | None], dict[int, str]]:
    """Each row's SCP statements (None where unusable and ``skip_bad``), and why those rows
    are left out."""
    code_lists: list[list[str] | None] = []
    label_skips: dict[int, str] = {}
    for row, (ecg_id, text) in enumerate(zip(table["ecg_id"], table["scp_codes"], strict=True)):
        try:
            codes = parse_scp_codes(text, f"{where}, ecg_id {ecg_id}")
        except LabelError as exc:
            if not skip_bad:
                raise
            label_skips[row] = str(exc)
            codes = None
        if codes is not None:
            label_table.check_codes(codes, where=f"{where}, ecg_id {ecg_id}, scp_codes")
        code_lists.append(codes)
    return code_lists, label_skips


def _patient_ids(column: pd.Series) -> list[str]:
    """PTB-XL's float patient ids as integers' text (the raw cell where not a number)."""
    patients = pd.to_numeric(column, errors="coerce")
    return [str(int(p)) if pd.notna(p) else str(raw)
            for p, raw in zip(patients, column, strict=True)]


def _read_one(job: tuple[Path, int, int]) -> tuple[np.ndarray | None, str, str | None]:
    """(signal, units, None) or (None, "", problem): picklable for the worker processes."""
    path, fs, n_samples = job
    try:
        signal, units, _ = read_record(path, fs, n_samples)
    except RecordError as exc:
        return None, "", str(exc)
    return signal, units, None


def _read_signals(
    record_paths, ids, fs, n_samples, label_skips, skip_bad, progress, cache_slot, workers
):
    """Read every record once (into the cache array when caching), skipping bad ones if asked."""
    shape = (len(record_paths), len(LEADS), n_samples)
    if cache_slot is not None:
        out = cache.open_cache_array(*cache_slot, shape=shape)
    else:
        out = np.empty(shape, dtype=np.float32)
    kept_rows: list[int] = []
    skipped: list[dict] = []
    units_seen: dict[str, str] = {}
    jobs = [(p, fs, n_samples) for p in record_paths]
    pool = ProcessPoolExecutor(workers) if workers > 1 and len(jobs) > 64 else None
    try:
        results = pool.map(_read_one, jobs, chunksize=64) if pool else map(_read_one, jobs)
        bar = tqdm(zip(record_paths, results, strict=True), total=len(jobs),
                   desc=f"reading PTB-XL {fs} Hz", unit="rec", disable=not progress,
                   mininterval=1.0)
        for row, (path, (signal, units, problem)) in enumerate(bar):
            record_id = ids[row]
            if row in label_skips:
                skipped.append({"record_id": record_id, "reason": label_skips[row]})
                continue
            if problem is not None:
                if not skip_bad:
                    raise DataError(problem)
                skipped.append({"record_id": record_id, "reason": problem})
                continue
            units_seen.setdefault(units, str(path))
            if len(units_seen) > 1:
                raise DataError(
                    f"{path}.hea: units {units!r} differ from {next(iter(units_seen))!r} "
                    f"in {next(iter(units_seen.values()))}.hea; one dataset must use one unit"
                )
            out[len(kept_rows)] = signal
            kept_rows.append(row)
    except BaseException:
        if cache_slot is not None:
            cache.discard(out)
        raise
    finally:
        if pool is not None:
            pool.shutdown(cancel_futures=True)
    if not kept_rows:
        if cache_slot is not None:
            cache.discard(out)
        raise DataError(f"no usable records: all {len(record_paths)} were skipped")
    units = next(iter(units_seen))
    if cache_slot is not None:
        meta = {"rows": kept_rows, "units": units, "skipped": skipped,
                "record_ids": [ids[r] for r in kept_rows]}
        cache.commit_cache(*cache_slot, array=out, n_rows=len(kept_rows), meta=meta)
        signals, _ = cache.load_cached(*cache_slot)
        return signals, kept_rows, units, skipped
    return out[: len(kept_rows)], kept_rows, units, skipped
