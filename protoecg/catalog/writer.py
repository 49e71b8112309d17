"""Write the prototype catalog of a trained run (``protoecg project``)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from protoecg import __version__
from protoecg.catalog.quality import prototype_flags, prototype_quality, prototype_segments
from protoecg.catalog.reader import (
    CATALOG_FORMAT,
    NEIGHBOUR_COLUMNS,
    OPTIONAL_COLUMNS,
    PROTOTYPE_COLUMNS,
    catalog_dir,
    read_catalog,
    read_meta,
    read_prototype_table,
    write_meta,
    write_tables,
)
from protoecg.data import labels as label_table
from protoecg.data.preprocess import highpass
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.health import decision_usage, model_health
from protoecg.train.projection import hold, project_branch, projection_order, window_segments
from protoecg.train.run import (
    RunError,
    has_projection,
    load_model,
    model_sha256,
    open_run_data,
    read_projection,
)

PURITY_K = 6  # ProtoPNet's pruning neighbourhood


def write_catalog(run_dir: str | Path, device: str = "cpu", n_neighbours: int = 5) -> Path:
    """Locate every prototype of the run's final model in the training ECGs; write
    ``RUN/catalog/``. Returns the catalog folder."""
    run_dir = Path(run_dir)
    model, meta, config = load_model(run_dir, device)
    if not isinstance(model, ProtoECGNet):
        raise RunError(f"{run_dir}: a black-box run has no prototypes to project")
    projected = _projection_similarities(run_dir)  # a damaged file stops us before the work
    data = open_run_data(meta, config)
    dataset = data.dataset
    x_train, y_train = data.part("train")
    batch = config.train.eval_batch_size
    health = model_health(model, x_train, batch, device)
    x_val, y_val = data.part("validation")
    usage = decision_usage(model, x_val, y_val, batch, device)
    prevalence = dict(zip(meta["label_names"], np.asarray(y_train).mean(axis=0).tolist(),
                          strict=True))
    located = _locate(model, x_train, y_train, config, device, n_neighbours, dataset.fs,
                      dataset.n_samples)
    sha = model_sha256(run_dir)
    rows, neighbour_rows, positions = _rows(model, located, data, meta, projected, sha, usage)
    out = catalog_dir(run_dir)
    raw = np.asarray(dataset.signals[positions], dtype=np.float32)
    highpass_hz = config.data.highpass_hz
    display = highpass(raw, dataset.fs, highpass_hz) if highpass_hz else raw
    columns = [*PROTOTYPE_COLUMNS, "catalog_similarity", *OPTIONAL_COLUMNS]
    write_tables(out, pd.DataFrame(rows, columns=columns),
                 pd.DataFrame(neighbour_rows, columns=list(NEIGHBOUR_COLUMNS)), display)
    write_meta(out, {
        "format": CATALOG_FORMAT, "protoecg_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run": str(run_dir.resolve()),
        "model_sha256": sha, "dataset": meta["dataset"],
        "root": meta["root"], "synthetic": meta.get("synthetic", False), "fs": dataset.fs,
        "units": dataset.units, "n_samples": dataset.n_samples,
        "leads": list(dataset.lead_names), "n_prototypes": len(rows),
        "per_branch": {name: b.n_prototypes for name, b in model.branches.items()},
        "n_signals": len(positions), "n_neighbours": n_neighbours, "purity_k": PURITY_K,
        "n_active": int(sum(r["active"] for r in rows)),
        "signal_preprocessing": (f"{highpass_hz} Hz first-order Butterworth high-pass, zero "
                                 "phase" if highpass_hz else "none"),
        "similarity": config.model.similarity,
        "projection": {"distinct": config.projection_rules(dataset.fs).distinct,
                       "margin_s": config.train.projection_margin_s,
                       "wave": config.train.projection_wave},
        "latent_health": health,
    })
    _add_quality(out, meta, prevalence, health)
    return out


def _locate(model: ProtoECGNet, x_train: np.ndarray, y_train: np.ndarray, config, device: str,
            n_neighbours: int, fs: float, n_samples: int) -> dict:
    """Each branch's prototypes in the training ECGs, under the run's projection rules, in the
    order projection placed them (whole-record branches first, their windows held)."""
    occupied: dict[int, list[tuple[int, int]]] = {}  # train.projection_distinct = "catalog"
    located = {}
    for name in projection_order(model.branches):
        branch = model.branches[name]
        y_branch = y_train[:, model.branch_label_index(name).cpu().numpy()]
        located[name] = project_branch(
            branch, x_train, y_branch, config.train.eval_batch_size, device,
            n_neighbours=n_neighbours, replace=False, purity_k=PURITY_K,
            rules=config.projection_rules(fs),
            window_segments=(window_segments(branch, x_train, fs, device)
                             if config.train.projection_wave else None),
            occupied=occupied)
        hold(occupied, located[name], n_samples)
    return located


def _rows(model: ProtoECGNet, located: dict, data, meta: dict, projected: dict[str, float],
          sha: str, usage: np.ndarray) -> tuple[list[dict], list[dict], list[int]]:
    """prototypes.csv and neighbours.csv rows, and the dataset positions of the records they
    show (the rows of signals.npy, in order)."""
    dataset, train_ids = data.dataset, data.split_index["train"]
    n_samples, fs = dataset.n_samples, dataset.fs
    signal_rows: dict[int, int] = {}  # dataset position -> row of signals.npy

    def signal_index(position: int) -> int:
        return signal_rows.setdefault(int(position), len(signal_rows))

    rows, neighbour_rows, offset = [], [], 0
    for name, branch in model.branches.items():
        result = located[name]
        start, end = result.sample_window(result.window, n_samples)
        for i, pid in enumerate(branch.prototype_ids):
            position = int(train_ids[result.record[i]])
            code = branch.class_codes[int(branch.prototype_class[i])]
            record_labels = [c for c, on in zip(dataset.label_names, dataset.labels[position],
                                                 strict=True) if on]
            rows.append({
                "prototype_id": pid, "branch": name, "class_code": code,
                "class_description": label_table.describe(code), "prototype_index": offset + i,
                "source_dataset": meta["dataset"],
                "source_record_id": dataset.record_ids[position],
                "source_patient_id": dataset.patient_ids[position],
                "source_labels": " ".join(record_labels),
                "source_report": dataset.reports[position],
                "source_fold": int(dataset.folds[position]),
                "window_start": int(start[i]), "window_end": int(end[i]),
                "window_start_s": start[i] / fs, "window_end_s": end[i] / fs,
                "fs": fs, "units": dataset.units,
                "similarity": projected.get(pid, float(result.similarity[i])),
                "catalog_similarity": float(result.similarity[i]),
                "signal_index": signal_index(position), "model_sha256": sha,
                "active": int(branch.active[i]), "revision": int(branch.revision[i]),
                "purity": float(result.purity[i]),
                "usage_decisions": int(usage[offset + i]),
            })
            n_start, n_end = result.sample_window(result.neighbour_window[i], n_samples)
            for rank, record in enumerate(result.neighbour_record[i]):
                if record < 0:
                    continue
                n_position = int(train_ids[record])
                neighbour_rows.append({
                    "prototype_id": pid, "rank": rank + 1,
                    "record_id": dataset.record_ids[n_position],
                    "window_start": int(n_start[rank]), "window_end": int(n_end[rank]),
                    "similarity": float(result.neighbour_similarity[i, rank]),
                    "signal_index": signal_index(n_position),
                })
        offset += branch.n_prototypes
    return rows, neighbour_rows, sorted(signal_rows, key=signal_rows.get)


def _add_quality(out: Path, meta: dict, prevalence: dict[str, float], health: dict) -> None:
    """The quality figures, read from the catalog as the review side will (files, no torch);
    the per-prototype flags join prototypes.csv, where studies and prune rules read them."""
    written = read_catalog(out)
    segments, _ = prototype_segments(written, meta["dataset"], meta["root"])
    flags = prototype_flags(written, segments, prevalence)
    table = read_prototype_table(out)
    for column in flags.columns:
        table[column] = flags[column].to_numpy()
    write_tables(out, table)
    quality = prototype_quality(read_catalog(out), prevalence, health, segments)
    write_meta(out, {**read_meta(out), "prototype_quality": quality})


def _projection_similarities(run_dir: Path) -> dict[str, float]:
    """Similarity of each prototype to its window when the projection stage replaced it."""
    if not has_projection(run_dir):
        return {}
    report = read_projection(run_dir)
    return {row["prototype_id"]: row["similarity"] for rows in report.values() for row in rows}
