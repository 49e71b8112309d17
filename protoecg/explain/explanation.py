"""Case-based explanations: for each label the model predicts for an ECG, the prototypes that
contributed most (similarity x fusion weight) and where in this ECG each one matched."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import torch

from protoecg.catalog.reader import catalog_dir, has_catalog, read_catalog
from protoecg.data import labels as label_table
from protoecg.data.preprocess import highpass
from protoecg.ecgplot import Band, Window, save_png, twelve_lead_chart
from protoecg.files import write_json
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.run import RunError, load_model, open_run_data

COLORS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b")


@torch.no_grad()
def explain_record(run_dir: str | Path, record_id: str, threshold: float = 0.5,
                   top_prototypes: int = 3, device: str = "cpu") -> tuple[dict, np.ndarray]:
    """(explanation JSON, the ECG as displayed) for ``record_id`` of the run's dataset."""
    run_dir = Path(run_dir)
    model, meta, config = load_model(run_dir, device)
    if not isinstance(model, ProtoECGNet):
        raise RunError(f"{run_dir}: a black-box run has no prototypes to explain with")
    data = open_run_data(meta, config, record_id=record_id)
    dataset, position = data.dataset, 0  # the record alone
    model.eval()
    x = torch.from_numpy(data.signals).to(device)
    logits, outputs = model(x)
    scores = logits[0].detach().float().cpu().numpy()  # ranked as logits: no float32 ties at 0/1
    probabilities = torch.sigmoid(logits)[0].detach().cpu().numpy()
    n_samples = dataset.n_samples
    similarity, windows, ids, branches = [], [], [], []
    for name, out in outputs.items():
        branch = model.branches[name]
        latent_length = out.latent.shape[2]
        scale = n_samples / latent_length
        step = out.similarity_map[0].argmax(dim=1).cpu().numpy()  # (P,)
        start = np.round(step * scale).astype(int)
        end = np.minimum(np.round((step + branch.prototype_steps) * scale).astype(int),
                         n_samples)
        similarity.append(out.similarities[0].cpu().numpy())
        windows += list(zip(start.tolist(), end.tolist(), strict=True))
        ids += branch.prototype_ids
        branches += [name] * branch.n_prototypes
    similarity = np.concatenate(similarity)
    weights = model.fusion.weight.detach().cpu().numpy()  # (L, P)
    sources = catalog_sources(run_dir)
    order = np.argsort(-scores, kind="stable")
    chosen = [j for j in order if probabilities[j] >= threshold] or list(order[:3])
    predictions = []
    for j in chosen:
        contribution = weights[j] * similarity
        top = np.argsort(-contribution)[:top_prototypes]
        code = model.label_names[j]
        predictions.append({
            "label": code, "description": label_table.describe(code),
            "probability": float(probabilities[j]),
            "above_threshold": bool(probabilities[j] >= threshold),
            "prototypes": [{
                "prototype_id": ids[p], "branch": branches[p],
                "class_code": ids[p].split("/")[1], "similarity": float(similarity[p]),
                "weight": float(weights[j, p]), "contribution": float(contribution[p]),
                "window_start": windows[p][0], "window_end": windows[p][1],
                "window_start_s": windows[p][0] / dataset.fs,
                "window_end_s": windows[p][1] / dataset.fs,
                **sources.get(ids[p], {}),
            } for p in top],
        })
    true_labels = [c for c, on in zip(dataset.label_names, dataset.labels[position],
                                      strict=True) if on]
    explanation = {
        "run": str(run_dir), "dataset": meta["dataset"], "record_id": str(record_id),
        "fold": int(dataset.folds[position]), "fs": dataset.fs, "units": dataset.units,
        "true_labels": true_labels, "threshold": threshold, "predictions": predictions,
    }
    raw = np.asarray(dataset.signals[position], dtype=np.float32)[None]
    shown = highpass(raw, dataset.fs, config.data.highpass_hz)[0] if config.data.highpass_hz \
        else raw[0]
    return explanation, shown


def catalog_sources(run_dir: Path) -> dict[str, dict]:
    """Where each prototype comes from, when the run has a catalog."""
    if not has_catalog(run_dir):
        return {}
    table: pd.DataFrame = read_catalog(catalog_dir(run_dir)).prototypes
    return {row.prototype_id: {"source_record_id": row.source_record_id,
                               "source_window_start": int(row.window_start),
                               "source_window_end": int(row.window_end)}
            for row in table.itertuples()}


def explanation_chart(explanation: dict, signal: np.ndarray, bands: tuple[Band, ...] = ()):
    """The ECG in the standard print. For each explained label, its strongest time-local
    (morphology) prototype match is shaded and named; whole-record matches (rhythm, global)
    are listed under the title, since shading all 10 s would hide the trace. ``bands``: the
    run's time-localized clusters of this record, under the rhythm strip."""
    windows, caption = [], []
    n_samples = signal.shape[1]
    for k, prediction in enumerate(explanation["predictions"]):
        head = f"{prediction['label']} (p={prediction['probability']:.2f}):"
        local = [q for q in prediction["prototypes"]
                 if q["window_end"] - q["window_start"] < n_samples]
        whole = [q for q in prediction["prototypes"] if q not in local]
        if local:
            q = local[0]
            windows.append(Window(q["window_start"], q["window_end"],
                                  f"{head} {q['prototype_id']}", COLORS[k % len(COLORS)]))
        if whole:
            caption.append(f"{head} " + ", ".join(
                f"{q['prototype_id']} (sim {q['similarity']:.2f})" for q in whole[:2])
                + " - whole record")
    title = (f"{explanation['dataset']} record {explanation['record_id']}: "
             f"true {' '.join(explanation['true_labels']) or '-'}")
    if bands:
        caption.append("bands: the network's time-localized clusters, R rhythm, M morphology, "
                       "G global branch (colour: the wave a step's cluster mostly covers, a "
                       "shade per cluster; faint: uncertain)")
    return twelve_lead_chart(signal, explanation["fs"], explanation["units"], tuple(windows),
                             title=title, caption=tuple(caption), bands=bands)


def write_explanation(run_dir: str | Path, record_id: str, out_dir: str | Path | None = None,
                      bands: tuple[Band, ...] = (), **kwargs) -> tuple[dict, Path, Path]:
    """Explain ``record_id`` and write ``<id>.json`` and ``<id>.png`` (default RUN/explanations);
    ``bands`` drawn under the picture's rhythm strip."""
    explanation, signal = explain_record(run_dir, record_id, **kwargs)
    out_dir = Path(out_dir) if out_dir else Path(run_dir) / "explanations"
    out_dir.mkdir(parents=True, exist_ok=True)
    stem = str(record_id).replace("/", "_")
    json_path, png_path = out_dir / f"{stem}.json", out_dir / f"{stem}.png"
    write_json(json_path, explanation)
    save_png(explanation_chart(explanation, signal, bands), png_path, scale=1.5)
    return explanation, json_path, png_path
