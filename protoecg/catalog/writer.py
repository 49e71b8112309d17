"""Write the prototype catalog of a trained run (``protoecg project``)."""

from __future__ import annotations

import json
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
    read_catalog,
)
from protoecg.data import labels as label_table
from protoecg.data.preprocess import highpass
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.health import decision_usage, model_health
from protoecg.train.projection import hold, project_branch, projection_order, window_segments
from protoecg.train.run import RunError, load_model, model_sha256, open_run_data, write_json

PURITY_K = 6  # ProtoPNet's pruning neighbourhood


def write_catalog(run_dir: str | Path, device: str = "cpu", n_neighbours: int = 5) -> Path:
    """Locate every prototype of the run's final model in the training ECGs; write
    ``RUN/catalog/``. Returns the catalog folder."""
    run_dir = Path(run_dir)
    model, meta, config = load_model(run_dir, device)
    if not isinstance(model, ProtoECGNet):
        raise RunError(f"{run_dir}: a black-box run has no prototypes to project")
    data = open_run_data(meta, config)
    dataset = data.dataset
    x_train, y_train = data.part("train")
    train_ids = data.split_index["train"]
    projected = _projection_similarities(run_dir)
    sha = model_sha256(run_dir)
    n_samples, fs = dataset.n_samples, dataset.fs
    batch = config.train.eval_batch_size
    health = model_health(model, x_train, batch, device)
    x_val, y_val = data.part("validation")
    usage = decision_usage(model, x_val, y_val, batch, device)
    prevalence = dict(zip(meta["label_names"], np.asarray(y_train).mean(axis=0).tolist(),
                          strict=True))

    signal_rows: dict[int, int] = {}  # dataset position -> row of signals.npy

    def signal_index(position: int) -> int:
        return signal_rows.setdefault(int(position), len(signal_rows))

    occupied: dict[int, list[tuple[int, int]]] = {}  # train.projection_distinct = "catalog"
    located = {}
    for name in projection_order(model.branches):  # the order projection placed them in
        branch = model.branches[name]
        y_branch = y_train[:, model.branch_label_index(name).cpu().numpy()]
        located[name] = project_branch(
            branch, x_train, y_branch, batch, device, n_neighbours=n_neighbours,
            replace=False, purity_k=PURITY_K, rules=config.projection_rules(fs),
            window_segments=(window_segments(branch, x_train, fs, device)
                             if config.train.projection_wave else None),
            occupied=occupied)
        hold(occupied, located[name], n_samples)
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

    out = run_dir / "catalog"
    out.mkdir(exist_ok=True)
    positions = sorted(signal_rows, key=signal_rows.get)
    raw = np.asarray(dataset.signals[positions], dtype=np.float32)
    display = highpass(raw, fs, config.data.highpass_hz) if config.data.highpass_hz else raw
    np.save(out / "signals.npy", display)
    columns = [*PROTOTYPE_COLUMNS, "catalog_similarity", *OPTIONAL_COLUMNS]
    pd.DataFrame(rows, columns=columns).to_csv(out / "prototypes.csv", index=False,
                                               lineterminator="\n")
    pd.DataFrame(neighbour_rows, columns=list(NEIGHBOUR_COLUMNS)).to_csv(
        out / "neighbours.csv", index=False, lineterminator="\n")
    write_json(out / "catalog.json", {
        "format": CATALOG_FORMAT, "protoecg_version": __version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "run": str(run_dir.resolve()),
        "model_sha256": sha, "dataset": meta["dataset"], "root": meta["root"],
        "synthetic": meta.get("synthetic", False), "fs": fs, "units": dataset.units,
        "n_samples": n_samples, "leads": list(dataset.lead_names),
        "n_prototypes": len(rows),
        "per_branch": {name: b.n_prototypes for name, b in model.branches.items()},
        "n_signals": len(positions), "n_neighbours": n_neighbours, "purity_k": PURITY_K,
        "n_active": int(sum(r["active"] for r in rows)),
        "signal_preprocessing": (f"{config.data.highpass_hz} Hz first-order Butterworth "
                                 "high-pass, zero phase" if config.data.highpass_hz else "none"),
        "similarity": config.model.similarity,
        "projection": {"distinct": config.projection_rules(fs).distinct,
                       "margin_s": config.train.projection_margin_s,
                       "wave": config.train.projection_wave},
        "latent_health": health,
    })
    # the quality figures read the catalog as the review side will (files, no torch); the
    # per-prototype flags join prototypes.csv, where studies and prune rules read them
    written = read_catalog(out)
    segments, _ = prototype_segments(written, meta["dataset"], meta["root"])
    flags = prototype_flags(written, segments, prevalence)
    table = pd.read_csv(out / "prototypes.csv", keep_default_na=False,
                        dtype={"source_record_id": str, "source_patient_id": str})
    for column in flags.columns:
        table[column] = flags[column].to_numpy()
    table.to_csv(out / "prototypes.csv", index=False, lineterminator="\n")
    quality = prototype_quality(read_catalog(out), prevalence, health, segments)
    meta_path = out / "catalog.json"
    write_json(meta_path, {**json.loads(meta_path.read_text()), "prototype_quality": quality})
    return out


def _projection_similarities(run_dir: Path) -> dict[str, float]:
    """Similarity of each prototype to its window when the projection stage replaced it."""
    path = run_dir / "projection.json"
    if not path.is_file():
        return {}
    report = json.loads(path.read_text())
    return {row["prototype_id"]: row["similarity"] for rows in report.values() for row in rows}
