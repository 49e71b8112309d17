"""Stage 1 of the data path: ECG records -> ``ECGDataset``.

``load_dataset(name, root, fs)`` is the one entry point the other stages use; the registry
raises on unknown names.
"""

from __future__ import annotations

from pathlib import Path

from protoecg.data.dataset import LEADS, ECGDataset, SkippedRecord
from protoecg.errors import DataError

DATASETS = ("ptbxl", "ludb", "synthetic")


def load_dataset(
    name: str, root: str | Path | None = None, fs: int = 100, *, skip_bad: bool = False,
    progress: bool = True, cache_dir: str | Path | None = None,
) -> ECGDataset:
    """Load ``ptbxl`` or ``ludb`` from ``root``, or make the ``synthetic`` set (no root)."""
    if name == "ptbxl":
        from protoecg.data.ptbxl import load_ptbxl

        _need_root(name, root)
        return load_ptbxl(root, fs, skip_bad=skip_bad, progress=progress, cache_dir=cache_dir)
    if name == "ludb":
        from protoecg.data.ludb import load_ludb

        _need_root(name, root)
        return load_ludb(root, fs, skip_bad=skip_bad)
    if name == "synthetic":
        from protoecg.data.synthetic import make_synthetic

        return make_synthetic(fs=fs)
    raise DataError(f"unknown dataset {name!r}: expected one of {', '.join(DATASETS)}")


def _need_root(name: str, root) -> None:
    if root is None:
        raise DataError(f"dataset {name!r} needs --root (the folder it was downloaded to)")


def summarize(dataset: ECGDataset) -> dict:
    """The facts ``protoecg data summary --json`` prints (JSON-ready)."""
    from protoecg.data.ludb import unmapped_counts

    summary = {
        "dataset": dataset.source,
        "synthetic": dataset.synthetic,
        "root": dataset.root,
        "n_records": len(dataset),
        "fs": dataset.fs,
        "n_leads": len(dataset.lead_names),
        "leads": list(dataset.lead_names),
        "n_samples": dataset.n_samples,
        "units": dataset.units,
        "label_counts": dataset.label_counts(),
        "fold_counts": {str(k): v for k, v in dataset.fold_counts().items()},
        "n_skipped": len(dataset.skipped),
        "skipped": [{"record_id": s.record_id, "reason": s.reason} for s in dataset.skipped],
        "from_cache": dataset.from_cache,
    }
    unmapped = unmapped_counts(dataset)
    if unmapped:
        summary["unmapped_findings"] = unmapped
    return summary


def format_summary(summary: dict) -> str:
    """Human-readable form of ``summarize``'s output."""
    head = summary["dataset"]
    if summary["synthetic"]:
        head += " (SYNTHETIC, not patient data)"
    units_note = "" if summary["units"] == "mV" else "  (not mV: amplitudes are not in millivolts)"
    lines = [
        f"dataset      {head}",
        f"root         {summary['root'] or '-'}",
        f"records      {summary['n_records']}" + (f"  ({summary['n_skipped']} skipped)"
                                                 if summary["n_skipped"] else ""),
        f"signals      {summary['n_leads']} leads x {summary['n_samples']} samples at "
        f"{summary['fs']} Hz, units {summary['units']}{units_note}",
        "folds        " + "  ".join(f"{k}:{v}" for k, v in summary["fold_counts"].items()),
        f"labels       {len(summary['label_counts'])} of 71 statements present",
    ]
    ranked = sorted(summary["label_counts"].items(), key=lambda kv: -kv[1])
    for i in range(0, len(ranked), 6):
        lines.append("             " + "  ".join(f"{c} {n}" for c, n in ranked[i:i + 6]))
    for finding, count in summary.get("unmapped_findings", {}).items():
        lines.append(f"unmapped     {count} x {finding}")
    for skip in summary["skipped"][:10]:
        lines.append(f"skipped      {skip['record_id']}: {skip['reason']}")
    if summary["n_skipped"] > 10:
        lines.append(f"skipped      … and {summary['n_skipped'] - 10} more")
    return "\n".join(lines)


__all__ = ["DATASETS", "ECGDataset", "LEADS", "SkippedRecord", "format_summary", "load_dataset",
           "summarize"]
