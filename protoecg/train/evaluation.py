"""Evaluation of a run on one fold: macro AUROC with bootstrap CI, per branch, per class, per
PTB-XL aggregation. Black-box twins are evaluated by the same code on the same resamples.

Aggregated labels (superdiagnostic, subdiagnostic, form, rhythm, diagnostic) are scored from a
model trained on statements: a group's score is the highest probability among its member
statements that the run predicts, its truth whether the record carries any of them.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from protoecg.data import labels as label_table
from protoecg.errors import DataError
from protoecg.model.protoecgnet import branch_label_sets
from protoecg.train.data import PreparedData
from protoecg.train.health import model_health
from protoecg.train.metrics import auroc_per_label, macro_auroc_with_ci
from protoecg.train.predict import predict
from protoecg.train.run import load_model, open_run_data, read_metrics, write_evaluation

AGGREGATION_LEVELS = ("superdiagnostic", "subdiagnostic", "diagnostic", "form", "rhythm")


def aggregate_scores(labels: np.ndarray, scores: np.ndarray, label_names: list[str],
                     level: str) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Truth and scores over the groups of ``level`` that the run's labels reach."""
    full_y = np.zeros((len(labels), 71), dtype=np.uint8)
    full_s = np.full((len(labels), 71), -np.inf)
    codes = label_table.all_codes()
    for j, code in enumerate(label_names):
        full_y[:, codes.index(code)] = labels[:, j]
        full_s[:, codes.index(code)] = scores[:, j]
    table = label_table.scp_statements()
    if level in ("diagnostic", "form", "rhythm"):
        groups = {c: [c] for c in codes if table.at[c, level] == 1}
    else:
        column = "diagnostic_subclass" if level == "subdiagnostic" else "diagnostic_class"
        groups = {}
        for c in codes:
            if table.at[c, "diagnostic"] == 1:
                groups.setdefault(table.at[c, column], []).append(c)
    names, ys, ss = [], [], []
    for group, members in sorted(groups.items()):
        idx = [codes.index(c) for c in members if c in label_names]
        if not idx:
            continue
        names.append(group)
        ys.append(full_y[:, idx].max(axis=1))
        ss.append(full_s[:, idx].max(axis=1))
    if not names:
        return np.zeros((len(labels), 0)), np.zeros((len(labels), 0)), []
    return np.stack(ys, 1), np.stack(ss, 1), names


def evaluate_scores(labels: np.ndarray, scores: np.ndarray, label_names: list[str],
                    n_resamples: int = 1000, seed: int = 42) -> dict:
    """The evaluation figures for one set of scores (ProtoECGNet's or the black box's)."""
    overall = macro_auroc_with_ci(labels, scores, n_resamples, seed)
    per_label = auroc_per_label(labels, scores)
    result = {
        "macro_auroc": overall["value"], "macro_auroc_ci": overall["ci"],
        "n_labels_evaluated": overall["n_labels"], "n_resamples": overall["n_resamples"],
        "per_class": {
            code: {"auroc": None if np.isnan(a) else float(a),
                   "positives": int(labels[:, j].sum())}
            for j, (code, a) in enumerate(zip(label_names, per_label, strict=True))},
        "per_branch": {}, "per_aggregation": {},
    }
    for branch, codes in branch_label_sets(label_names).items():
        idx = [label_names.index(c) for c in codes]
        part = macro_auroc_with_ci(labels[:, idx], scores[:, idx], n_resamples, seed)
        result["per_branch"][branch] = {"macro_auroc": part["value"],
                                        "macro_auroc_ci": part["ci"],
                                        "n_labels_evaluated": part["n_labels"]}
    for level in AGGREGATION_LEVELS:
        y_agg, s_agg, names = aggregate_scores(labels, scores, label_names, level)
        if names:
            part = macro_auroc_with_ci(y_agg, s_agg, n_resamples, seed)
            if part["n_labels"]:
                result["per_aggregation"][level] = {
                    "macro_auroc": part["value"], "macro_auroc_ci": part["ci"],
                    "n_labels_evaluated": part["n_labels"]}
    return result


def projection_records(run_dir: str | Path) -> list[dict]:
    """The run's projection lines of ``metrics.jsonl``, in order: the projection stage's, then
    any push a later stage kept (the refine stage ends on one), with where it happened."""
    return [r for r in read_metrics(run_dir)
            if r.get("stage") == "projection" and "faithfulness" in r]


def fold_predictions(run_dir: str | Path, fold: int = 10, device: str = "cpu",
                     data: PreparedData | None = None):
    """(truth, predictions, label names, run meta, the run's data) of a completed run on
    ``fold``; ``data``: the run's data already opened (``open_run_data``), else opened here."""
    model, meta, config = load_model(run_dir, device)
    if data is None:
        data = open_run_data(meta, config)
    index = np.flatnonzero(data.dataset.folds == fold)
    if len(index) == 0:
        raise DataError(f"{meta['dataset']}: fold {fold} has no records "
                        f"(folds present: {sorted(set(data.dataset.folds.tolist()))})")
    pred = predict(model, data.signals[index], config.train.eval_batch_size, device)
    return data.labels[index], pred, data.label_names, meta, data


def evaluate_run(run_dir: str | Path, fold: int = 10, n_resamples: int = 1000,
                 device: str = "cpu", seed: int = 42) -> dict:
    """Evaluate a completed run on ``fold``; writes ``evaluation.json`` (fold 10) or
    ``evaluation_fold<N>.json`` into the run folder and returns the figures."""
    run_dir = Path(run_dir)
    projections = projection_records(run_dir)  # a damaged metrics file stops us before the work
    y, pred, label_names, meta, data = fold_predictions(run_dir, fold, device)
    result = {"run": str(run_dir), "model": "black_box" if meta["black_box"] else "protoecgnet",
              "dataset": meta["dataset"], "fold": fold, "n_records": int(len(y)),
              "seed": seed,
              **evaluate_scores(y, pred.fusion, label_names, n_resamples, seed)}
    if projections:  # the last one is where the model's prototypes come from
        last = projections[-1]
        result["faithfulness"] = last["faithfulness"]
        if "after_stage" in last:  # a later stage's push replaced the projection stage's windows
            result["faithfulness_at"] = {"after_stage": last["after_stage"],
                                         "epoch": last["epoch"]}
            first = next((r for r in projections if "after_stage" not in r), None)
            if first is not None:  # None: a run refined from another, its projection there
                result["faithfulness_first_projection"] = first["faithfulness"]
    if not meta["black_box"]:
        health = meta.get("latent_health")
        if not health:  # a run trained before it was recorded: measured here, not stored
            model, _, config = load_model(run_dir, device)
            health = model_health(model, data.part("train")[0], config.train.eval_batch_size,
                                  device)
        result["latent_health"] = health
        # beside the faithfulness figures: a cosine of 1.00 to the window means nothing where
        # every window is at 1.00 (a degenerate branch meets them vacuously)
        result["faithfulness_context"] = {
            name: {"latent_spread": figures["spread_median"],
                   "vacuous": bool(figures["degenerate"])}
            for name, figures in health.items()}
    if pred.branches is not None:
        branch_only = macro_auroc_with_ci(y, pred.branches, n_resamples, seed)
        result["branch_classifiers"] = {"macro_auroc": branch_only["value"],
                                        "macro_auroc_ci": branch_only["ci"]}
    write_evaluation(run_dir, result, fold)
    return result
