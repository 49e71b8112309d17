"""The clusters folder of a run (``RUN/clusters/``): ``clusters.npz`` (each branch's fitted
clustering as plain arrays, and every ECG's cluster sequence and entropy), ``clusters.json``
(the figures: clusters chosen, legend, alignment, surrogate) and ``prototype_clusters.csv``
(the cluster each time-local prototype window mostly falls in). This module alone names, reads
and writes them; torch-free (prune rules and the app read them)."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pandas as pd

from protoecg.clusters.mixture import Clustering
from protoecg.files import check_object, read_json, write_json
from protoecg.train.run import RunError

CLUSTERS_DIR = "clusters"
CLUSTERS_NPZ = "clusters.npz"
CLUSTERS_JSON = "clusters.json"
PROTOTYPES_CSV = "prototype_clusters.csv"
WHAT = "the clusters written by `protoecg clusters`"


def clusters_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / CLUSTERS_DIR


def has_clusters(run_dir: str | Path) -> bool:
    folder = clusters_dir(run_dir)
    return (folder / CLUSTERS_NPZ).is_file() and (folder / CLUSTERS_JSON).is_file()


def write_clusters(run_dir: str | Path, clusterings: dict[str, Clustering],
                   record_ids: list[str], sequences: dict[str, np.ndarray],
                   entropies: dict[str, np.ndarray], summary: dict,
                   prototypes: pd.DataFrame) -> Path:
    """Write the folder; its path."""
    folder = clusters_dir(run_dir)
    folder.mkdir(parents=True, exist_ok=True)
    arrays = {"record_ids": np.array(record_ids, dtype=str)}
    for name, clustering in clusterings.items():
        arrays.update(clustering.to_arrays(f"{name}/"))
        arrays[f"{name}/sequence"] = sequences[name].astype(np.int8)
        arrays[f"{name}/entropy"] = entropies[name].astype(np.float16)
    tmp = folder / f".{CLUSTERS_NPZ}.tmp.npz"
    np.savez_compressed(tmp, **arrays)
    tmp.replace(folder / CLUSTERS_NPZ)
    prototypes.to_csv(folder / PROTOTYPES_CSV, index=False)
    write_json(folder / CLUSTERS_JSON, summary)
    return folder


def read_summary(run_dir: str | Path) -> dict:
    """``clusters.json``, checked: its keys, and each branch's."""
    path = clusters_dir(run_dir) / CLUSTERS_JSON
    if not path.is_file():
        raise RunError(f"{run_dir}: no clusters; run `protoecg clusters --run {run_dir}` first")
    summary = read_json(path, RunError, WHAT, keys=("model_sha256", "n_steps", "step_ms",
                                                    "branches"))
    check_object(summary["branches"], f"{path}: branches", RunError, WHAT)
    for name, branch in summary["branches"].items():
        check_object(branch, f"{path}: branches.{name}", RunError, WHAT,
                     keys=("n_clusters", "legend", "max_entropy"))
        check_object(branch["legend"], f"{path}: branches.{name}.legend", RunError, WHAT,
                     kind=list)
        if len(branch["legend"]) != branch["n_clusters"] or not all(
                isinstance(e, dict) and "wave" in e for e in branch["legend"]):
            raise RunError(f"{path}: branches.{name}.legend: expected one entry with a wave "
                           f"per cluster ({WHAT})")
    return summary


def read_clusters(run_dir: str | Path) -> tuple[dict[str, Clustering], list[str],
                                                dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(clusterings, record ids, sequences (N, T) and entropies (N, T) per branch)."""
    path = clusters_dir(run_dir) / CLUSTERS_NPZ
    if not path.is_file():
        raise RunError(f"{run_dir}: no clusters; run `protoecg clusters --run {run_dir}` first")
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {key: data[key] for key in data.files}
        names = sorted({key.split("/")[0] for key in arrays if "/" in key})
        clusterings = {n: Clustering.from_arrays(arrays, f"{n}/") for n in names}
        sequences = {n: arrays[f"{n}/sequence"] for n in names}
        entropies = {n: arrays[f"{n}/entropy"].astype(np.float32) for n in names}
        record_ids = arrays["record_ids"].tolist()
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError) as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise RunError(f"{path}: not {WHAT} ({reason}); run `protoecg clusters` "
                       "again") from None
    return clusterings, record_ids, sequences, entropies


def read_prototype_clusters(run_dir: str | Path) -> pd.DataFrame | None:
    """``prototype_clusters.csv`` (prototype_id, branch, cluster, cluster_share, cluster_wave);
    None where the run has no clusters."""
    path = clusters_dir(run_dir) / PROTOTYPES_CSV
    if not path.is_file():
        return None
    try:
        table = pd.read_csv(path, dtype={"prototype_id": str})
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise RunError(f"{path}: not {WHAT} ({str(exc).splitlines()[0]})") from None
    missing = [c for c in ("prototype_id", "branch", "cluster", "cluster_share", "cluster_wave")
               if c not in table.columns]
    if missing:
        raise RunError(f"{path}: missing column(s) {', '.join(missing)} ({WHAT})")
    return table
