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
import json
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from protoecg.audit import activation as activation_mod
from protoecg.audit import sanity
from protoecg.audit.segments import (
    SEGMENTS,
    segment_table,
)
from protoecg.catalog.quality import prototype_segments
from protoecg.catalog.reader import read_catalog
from protoecg.errors import DataError
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.predict import predict
from protoecg.train.run import RunError, load_model, model_sha256, open_run_data, write_json
from protoecg.train.trainer import Trainer

AUDIT_FORMAT = 1
SPLITS = ("all", "train", "validation", "test")




def _label_randomised_model(run_dir: Path, out_dir: Path, meta: dict, config, data,
                            label_run: str | Path | None, epochs: int | None, device: str,
                            progress: bool) -> tuple[ProtoECGNet, str]:
    """The run's configuration trained on permuted training and validation labels (reused
    from ``label_run`` or ``OUT/label-randomised`` when complete; ``audit_run`` has already
    refused a ``label_run`` without a model)."""
    target = Path(label_run) if label_run else out_dir / "label-randomised"
    if (target / "model.pt").is_file():
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


def audit_run(run_dir: str | Path, out_dir: str | Path, *, split: str = "all",
              max_ecgs: int = 200, label_randomisation: bool = True,
              label_run: str | Path | None = None, label_epochs: int | None = None,
              threshold: float = 0.5, device: str = "cpu", progress: bool = False,
              log: Callable[[str], None] = print) -> dict:
    """Audit a trained run (see the module text); returns the ``audit.json`` content."""
    run_dir, out_dir = Path(run_dir), Path(out_dir)
    if split not in SPLITS:
        raise DataError(f"--split {split!r}: expected one of {', '.join(SPLITS)}")
    if label_randomisation and label_run and not (Path(label_run) / "model.pt").is_file():
        # before any work: a missing comparison run is known at once
        raise RunError(f"{label_run}: no model.pt (a completed label-randomised run was "
                       "expected)")
    model, meta, config = load_model(run_dir, device)
    if not isinstance(model, ProtoECGNet):
        raise RunError(f"{run_dir}: a black-box run has no prototypes to audit")
    if not (run_dir / "catalog" / "catalog.json").is_file():
        raise RunError(f"{run_dir}: no catalog; run `protoecg project --run {run_dir}` first")
    catalog = read_catalog(run_dir / "catalog")
    sha = model_sha256(run_dir)
    if catalog.meta.get("model_sha256") != sha:
        raise RunError(f"{run_dir / 'catalog'}: made from other weights than {run_dir}/model.pt;"
                       f" run `protoecg project --run {run_dir}` again")
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

    per_prototype = {}
    by_id = {r["prototype_id"]: r for r in rows}
    for pid in model.prototype_ids:
        seg = by_id.get(pid, {})
        counts = usage["per_prototype"][pid]
        per_prototype[pid] = {
            "segment": seg.get("segment"), "no_wave": seg.get("no_wave"),
            "agrees": seg.get("agrees"), "used": counts["top3"] > 0,
            "drivers": counts["driver"],
        }
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
        "activation": usage, "prototypes": per_prototype,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return result


def write_audit(result: dict, out_dir: str | Path) -> tuple[Path, Path]:
    """``audit.json`` and ``report.md`` in ``out_dir``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out_dir / "audit.json", out_dir / "report.md"
    write_json(json_path, result)
    md_path.write_text(markdown_report(result))
    return json_path, md_path


def _f(value, digits: int = 2) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def markdown_report(result: dict) -> str:
    """The audit as a Markdown document (tables a researcher can paste into a supplement)."""
    lines = [f"# Audit of `{result['run']}`", "",
             f"Dataset `{result['dataset']}`, model sha256 `{result['model_sha256'][:12]}`, "
             f"{result['created']}.", "", "## Sanity checks (Adebayo et al. 2018)", "",
             f"{result['n_sanity_ecgs']} test ECGs. Explanations depend on the model (labels) "
             f"when, after randomisation, the median rank correlation of the similarity maps is "
             f"below {result['thresholds']['max_rank_correlation']} and, for model "
             f"randomisation, the top-k prototype overlap below "
             f"{result['thresholds']['max_top_k_overlap']} (where chance alone stays below it; "
             "prototype slots of two separately trained models do not correspond, so label "
             "randomisation compares the maps only).", "",
             "| branch | test | rank correlation (median) | top-k overlap (chance) | verdict |",
             "|---|---|---|---|---|"]
    for branch, checks in result["sanity"].items():
        last = checks["model_randomisation"]["steps"][-1]
        lines.append(f"| {branch} | model randomisation (all layers) | "
                     f"{_f(last['rank_correlation_median'])} | {_f(last['top_k_overlap'])} "
                     f"({_f(last['top_k_chance'])}) | "
                     f"{checks['model_randomisation']['verdict']} |")
        lab = checks["label_randomisation"]
        if "skipped" in lab:
            lines.append(f"| {branch} | label randomisation | — | — | skipped |")
        else:
            lines.append(f"| {branch} | label randomisation | "
                         f"{_f(lab['rank_correlation_median'])} | not compared | "
                         f"{lab['verdict']} |")
    steps = next(iter(result["sanity"].values()))["model_randomisation"]["steps"]
    lines += ["", "Cascading model randomisation, step by step (rank correlation / top-k "
              "overlap):", "",
              "| branch | " + " | ".join(s["randomised_down_to"] for s in steps) + " |",
              "|---" * (1 + len(steps)) + "|"]
    for branch, checks in result["sanity"].items():
        lines.append(f"| {branch} | " + " | ".join(
            f"{_f(s['rank_correlation_median'])} / {_f(s['top_k_overlap'])}"
            for s in checks["model_randomisation"]["steps"]) + " |")
    d = result["delineation"]
    lines += ["", "## Where prototypes look", "",
              f"Delineation: {d['source']}. {d['n_windows']} time-local prototype windows: "
              f"{d['n_expert']} placed by expert delineation, {d['n_fallback']} by the fallback, "
              f"{d['n_unannotated']} before the first or after the last detected wave; "
              f"{d['n_in_first_or_last_second']} lie (partly) in the first or last second of "
              "their record."]
    if d.get("fallback_agreement_with_experts") is not None:
        lines.append(f" The fallback delineation agrees with the experts on "
                     f"{d['fallback_agreement_with_experts']:.0%} of "
                     f"{d['fallback_checked_windows']} windows.")
    lines += ["", "| class | prototypes | " + " | ".join(SEGMENTS) +
              " | expected | agreement |", "|---" * (4 + len(SEGMENTS)) + "|"]
    for code, entry in result["segments"].items():
        by_fallback = f" ({entry['n_fallback']} by fallback)" if entry.get("n_fallback") else ""
        lines.append(f"| {code} | {entry['n_annotated']} of {entry['n_prototypes']}"
                     f"{by_fallback} | " +
                     " | ".join(_f(entry[s]) for s in SEGMENTS) +
                     f" | {'/'.join(entry['expected']) if entry['expected'] else '—'} | "
                     f"{_f(entry['agreement'])} |")
    no_wave = [r["prototype_id"] for r in result["segment_windows"] if r["no_wave"]]
    lines += ["", f"Windows with no wave at all: {', '.join(no_wave) if no_wave else 'none'}.",
              "", "## Activation", "",
              f"{result['n_ecgs']} ECGs ({result['split']}), "
              f"{result['activation']['n_positive_predictions']} positive predictions "
              f"(probability ≥ {result['thresholds']['positive_prediction']}).", "",
              "| class | positive predictions | drivers (share) |", "|---|---|---|"]
    for code, entry in result["activation"]["per_class"].items():
        lines.append(f"| {code} | {entry['n_positive_predictions']} | " + ", ".join(
            f"{d['prototype_id']} ({d['share']:.0%})" for d in entry["drivers"]) + " |")
    never = result["activation"]["never_used"]
    lines += ["", f"Never among the top 3 of a positive prediction ({len(never)}): "
              + (", ".join(never) if never else "none") + "."]
    for variable, groups in result["activation"]["per_subgroup"].items():
        lines += ["", f"By {variable.replace('_', ' ')}:", "",
                  "| group | ECGs | classes predicted | top driver of the most predicted class |",
                  "|---|---|---|---|"]
        for group, entry in groups.items():
            classes = entry["per_class"]
            if classes:
                code = max(classes, key=lambda c: classes[c]["n_positive_predictions"])
                top = classes[code]["drivers"][0]
                text = f"{code}: {top['prototype_id']} ({top['share']:.0%})"
            else:
                text = "—"
            lines.append(f"| {group} | {entry['n_ecgs']} | {len(classes)} | {text} |")
    return "\n".join(lines) + "\n"



def sanity_verdicts(run_dir: str | Path) -> dict[str, dict] | None:
    """Per branch the sanity checks' verdicts of the run's audit (``RUN/audit/audit.json``,
    the default place) when it audited this very model; None when there is none."""
    path = Path(run_dir) / "audit" / "audit.json"
    try:
        result = json.loads(path.read_text(encoding="utf-8"))
        if result.get("model_sha256") != model_sha256(run_dir):
            return None
        return {branch: {"model_randomisation": checks.get("model_randomisation", {})
                         .get("verdict"),
                         "label_randomisation": checks.get("label_randomisation", {})
                         .get("verdict")}
                for branch, checks in result["sanity"].items()}
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, AttributeError, KeyError,
            TypeError):
        return None
