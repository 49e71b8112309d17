"""``protoecg audit``: sanity checks, where prototypes look, and dataset-wide activation of a
trained run, written as ``audit.json`` and a Markdown report (``report.md``).

``audit.json`` (format 1):

- ``run``, ``model_sha256``, ``dataset``, ``split`` and counts;
- ``sanity.<branch>``: ``model_randomisation`` (``steps``: figures after each cascading step;
  ``verdict``) and ``label_randomisation`` (figures and ``verdict``, or ``skipped`` with why);
- ``segments.<class>``: share of the class's time-local prototype windows centred on each of
  ``P``, ``PR``, ``QRS``, ``ST-T``, ``T``, ``none``, with counts, the expert rule and the share
  agreeing with it; each window is placed by expert delineation where the dataset has it (LUDB,
  inside its annotated span) and by the fallback elsewhere; ``delineation`` gives the counts of
  each and, on LUDB, how often the fallback agrees with the experts;
- ``activation``: drivers of positive predictions per class and subgroup, ``never_used``;
- ``prototypes.<id>``: the per-prototype terms prune rules read (``audit.segment``,
  ``audit.no_wave``, ``audit.agrees``, ``audit.used``, ``audit.drivers``).
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from protoecg.audit import activation as activation_mod
from protoecg.audit import sanity
from protoecg.audit.files import LABEL_RANDOMISED_DIR
from protoecg.audit.segments import segment_table
from protoecg.catalog.quality import prototype_segments
from protoecg.catalog.reader import catalog_dir, has_catalog, read_catalog
from protoecg.errors import DataError
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.predict import predict
from protoecg.train.run import RunError, has_model, load_model, model_sha256, open_run_data
from protoecg.train.trainer import Trainer

AUDIT_FORMAT = 1
SPLITS = ("all", "train", "validation", "test")




def _label_randomised_model(run_dir: Path, out_dir: Path, meta: dict, config, data,
                            label_run: str | Path | None, epochs: int | None, device: str,
                            progress: bool) -> tuple[ProtoECGNet, str]:
    """The run's configuration trained on permuted training and validation labels (reused
    from ``label_run`` or ``OUT/label-randomised`` when complete; ``audit_run`` has already
    refused a ``label_run`` without a model)."""
    target = Path(label_run) if label_run else out_dir / LABEL_RANDOMISED_DIR
    if has_model(target):
        model, other_meta, _ = load_model(target, device)
        if other_meta["label_names"] != meta["label_names"]:
            raise RunError(f"{target}: trained on other labels than {run_dir}")
        return model, str(target)
    config = dataclasses.replace(config, train=dataclasses.replace(config.train))
    if epochs is not None:
        config.cap_epochs(epochs)
    index = np.concatenate([data.split_index["train"], data.split_index["validation"]])
    permuted = dataclasses.replace(
        data, labels=sanity.permuted_labels(data.labels, index, config.train.seed))
    trainer = Trainer(config, permuted, target, device=device, progress=progress,
                      dataset_name=meta["dataset"],
                      command=["protoecg", "audit", "--run", str(run_dir),
                               "(label randomisation: training and validation labels permuted)"])
    trainer.fit()
    model, _, _ = load_model(target, device)
    return model, str(target)


def _audited(run_dir: Path, device: str):
    """(model, meta, config, catalog, model hash) of a run that can be audited: a completed
    ProtoECGNet run whose catalog was made from its final weights."""
    model, meta, config = load_model(run_dir, device)
    if not isinstance(model, ProtoECGNet):
        raise RunError(f"{run_dir}: a black-box run has no prototypes to audit")
    if not has_catalog(run_dir):
        raise RunError(f"{run_dir}: no catalog; run `protoecg project --run {run_dir}` first")
    catalog = read_catalog(catalog_dir(run_dir))
    sha = model_sha256(run_dir)
    if catalog.meta.get("model_sha256") != sha:
        raise RunError(f"{catalog_dir(run_dir)}: made from other weights than the run's; "
                       f"run `protoecg project --run {run_dir}` again")
    return model, meta, config, catalog, sha


def _per_prototype(prototype_ids: list[str], rows: list[dict], usage: dict) -> dict[str, dict]:
    """The terms prune rules read as ``audit.*``, per prototype."""
    by_id = {r["prototype_id"]: r for r in rows}
    out = {}
    for pid in prototype_ids:
        seg = by_id.get(pid, {})
        counts = usage["per_prototype"][pid]
        out[pid] = {"segment": seg.get("segment"), "no_wave": seg.get("no_wave"),
                    "agrees": seg.get("agrees"), "used": counts["top3"] > 0,
                    "drivers": counts["driver"]}
    return out


def audit_run(run_dir: str | Path, out_dir: str | Path, *, split: str = "all",
              max_ecgs: int = 200, label_randomisation: bool = True,
              label_run: str | Path | None = None, label_epochs: int | None = None,
              threshold: float = 0.5, device: str = "cpu", progress: bool = False,
              log: Callable[[str], None] = print) -> dict:
    """Audit a trained run (see the module text); returns the ``audit.json`` content."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if split not in SPLITS:
        raise DataError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    if label_randomisation and label_run and not has_model(label_run):
        # before any work: a missing comparison run is known at once
        raise RunError(f"{label_run}: no final weights (a completed label-randomised run was "
                       "expected)")
    model, meta, config, catalog, sha = _audited(run_dir, device)
    started = time.perf_counter()
    data = open_run_data(meta, config, progress=progress)
    model.eval()

    log("where prototypes look (segments) ...")
    rows, delineation = prototype_segments(catalog, meta["dataset"], meta["root"])

    # sanity checks on (at most max_ecgs) test ECGs, evenly spaced so the choice is stable
    test = data.split_index["test"]
    if len(test) == 0:
        raise DataError(f"{meta['dataset']}: no test-fold records to run the sanity checks on")
    chosen = test[np.linspace(0, len(test) - 1, min(max_ecgs, len(test))).astype(int)]
    signals = data.signals[chosen]
    log(f"model randomisation on {len(chosen)} test ECGs ...")
    by_model = sanity.model_randomisation(model, signals, seed=config.train.seed)
    if label_randomisation:
        log("label randomisation (a model trained on permuted labels) ...")
        permuted, permuted_run = _label_randomised_model(
            run_dir, out_dir, meta, config, data, label_run, label_epochs, device, progress)
        by_labels = sanity.label_randomisation(model, permuted, signals)
    else:
        permuted_run, by_labels = None, {}
    sanity_out = {branch: {
        "model_randomisation": by_model[branch],
        "label_randomisation": by_labels.get(branch,
                                             {"skipped": "--no-label-randomisation"}),
    } for branch in model.branches}

    log("activation ...")
    index = (np.arange(len(data.signals)) if split == "all" else data.split_index[split])
    predictions = predict(model, data.signals[index], device=device, evidence=True)
    record_ids = [data.dataset.record_ids[i] for i in index]
    active = model.active.cpu().numpy()
    usage = activation_mod.activation_table(
        predictions.fusion_probabilities, predictions.similarities,
        model.fusion.weight.detach().cpu().numpy(), model.label_names, model.prototype_ids,
        activation_mod.subgroups(data.dataset.metadata, record_ids), active, threshold)

    result = {
        "format": AUDIT_FORMAT, "run": str(run_dir), "model_sha256": sha,
        "dataset": meta["dataset"], "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "split": split, "n_ecgs": int(len(index)), "n_sanity_ecgs": int(len(chosen)),
        "thresholds": {"max_rank_correlation": sanity.MAX_RANK_CORRELATION,
                       "max_top_k_overlap": sanity.MAX_TOP_OVERLAP,
                       "positive_prediction": threshold},
        "label_randomised_run": permuted_run,
        "sanity": sanity_out,
        "segments": segment_table(rows), "delineation": delineation,
        "segment_windows": rows,
        "activation": usage, "prototypes": _per_prototype(model.prototype_ids, rows, usage),
        "seconds": round(time.perf_counter() - started, 1),
    }
    return result
