"""From a study's ratings to a pruned run: select prototypes with a rule, disable or replace
them, write the new run folder with its lineage (``pruning.json``), and retrain its last layers.

``disable`` (CaBRNet's habit): the prototype keeps its place and id, its similarity is masked
and its classifier and fusion weights are zero, so it has no influence on any prediction.
``replace`` (R3-ProtoPNet's next-best patch): the prototype is re-projected onto the best
training window that is not from a record a rater rejected (the selected prototypes' source
records), not a window another prototype of its branch uses, and not overlapping one; it becomes
a new revision (``morphology/IRBBB/07@2``) so that its old ratings are never read as its new.
``forbid`` (ProtoPDebug): the pruned run records the rejected windows; ``retrain`` then runs the
``forbid`` schedule (a short joint fine-tune whose forgetting term pushes each class's prototypes
away from the windows rejected for it, a projection that never uses those records for that
class, the last layers), and every prototype whose window changed becomes a new revision.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from protoecg import __version__
from protoecg.catalog.reader import Catalog, catalog_dir, has_catalog, read_catalog
from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.prune.lineage import PRUNING_JSON, is_pruned, read_pruning, write_pruning
from protoecg.prune.selection import Selection, select
from protoecg.study.store import ReviewStore, Study
from protoecg.train.objective import ForbiddenWindows
from protoecg.train.projection import window_segments
from protoecg.train.reprojection import reproject
from protoecg.train.run import (
    RunError,
    copy_config,
    has_model,
    load_model,
    model_sha256,
    open_run_data,
    read_projection,
    read_run,
    save_model,
    write_meta,
)
from protoecg.train.trainer import Trainer


@dataclass
class Plan(Selection):
    """What a rule selects in a study, checked against the run it will change."""

    run: Path

    def to_dict(self) -> dict:
        return {"source_run": str(self.run.resolve()), "study": self.study, "rule": self.rule,
                "action": self.action, "selected": self.selected,
                "per_class": self.per_class}


def _projected_catalog(run_dir: Path) -> Catalog:
    """The run's catalog, checked to come from its model.pt (without loading the model)."""
    meta, _ = read_run(run_dir)
    if meta["black_box"]:
        raise RunError(f"{run_dir}: a black-box run has no prototypes to prune")
    if not has_model(run_dir):
        raise RunError(f"{run_dir}: no final weights (training has not finished; "
                       "`protoecg train ... --resume` continues it)")
    if not has_catalog(run_dir):
        raise RunError(f"{run_dir}: not projected (no catalog/); run `protoecg project --run "
                       f"{run_dir}` and rate that catalog first")
    catalog = read_catalog(catalog_dir(run_dir))
    if catalog.meta.get("model_sha256") != model_sha256(run_dir):
        raise RunError(f"{catalog_dir(run_dir)}: made from other weights than the run's; "
                       "re-run `protoecg project`")
    return catalog


def _open_study(db: Path, name: str) -> tuple[ReviewStore, Study]:
    if not db.is_file():
        raise RunError(f"{db}: no such review database")
    store = ReviewStore(db, "read")
    try:
        return store, store.study(name, kind="rating")
    except BaseException:
        store.close()
        raise


def plan_pruning(run_dir: str | Path, db: str | Path, study_name: str, rule: str,
                 action: str, *, allow_empty_class: bool = False,
                 audit: str | Path | None = None) -> Plan:
    """What ``rule`` selects, checked against the run, its catalog and the study; changes
    nothing (and loads no model)."""
    run_dir, db = Path(run_dir), Path(db)
    catalog = _projected_catalog(run_dir)
    store, study = _open_study(db, study_name)
    try:
        if study.catalog_meta.get("model_sha256") != catalog.meta["model_sha256"]:
            raise RunError(f"study {study_name!r} rated another model "
                           f"({str(study.catalog_meta.get('model_sha256'))[:12]}…) than "
                           f"{run_dir} ({catalog.meta['model_sha256'][:12]}…)")
        selection = select(store, study, rule, action, allow_empty_class, audit)
    finally:
        store.close()
    return Plan(**vars(selection), run=run_dir)


def apply_pruning(plan: Plan, out: str | Path, device: str = "cpu") -> dict:
    """Write the pruned run ``out`` (run.json, config.json, model.pt, pruning.json); returns
    the pruning record. ``out`` must not exist yet."""
    out = Path(out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise RunError(f"{out}: already exists; choose a new --out for the pruned run")
    catalog = _projected_catalog(plan.run)
    model, meta, config = load_model(plan.run, device)
    prototypes: dict[str, dict] = {}
    forbidden = []
    if plan.action == "disable":
        model.disable(plan.selected)
        for pid in plan.selected:
            prototypes[pid] = {"action": "disable", **plan.evidence[pid]}
    elif plan.action == "replace":
        prototypes = _replace(model, meta, config, catalog, plan, device)
    else:  # forbid: the model changes when it is retrained
        table = catalog.prototypes.set_index("prototype_id")
        for pid in plan.selected:
            row = table.loc[pid]
            window = {"record_id": str(row["source_record_id"]),
                      "window_start": int(row["window_start"]),
                      "window_end": int(row["window_end"])}
            prototypes[pid] = {"action": "forbid", **plan.evidence[pid], "old_window": window}
            forbidden.append({"prototype_id": pid, "branch": str(row["branch"]),
                              "class_code": str(row["class_code"]), **window})
    out.mkdir(parents=True, exist_ok=True)
    copy_config(plan.run, out)
    save_model(out, model.state_dict())
    write_meta(out, {
        **meta, "status": "pruned", "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "protoecg_version": __version__, "command": ["protoecg", *sys.argv[1:]],
        "source_run": str(plan.run.resolve()), "pruning": PRUNING_JSON})
    record = {**plan.to_dict(), "source_model_sha256": catalog.meta["model_sha256"],
              "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "prototypes": prototypes,
              "n_prototypes": int(model.n_prototypes), "n_active": int(model.active.sum()),
              **({"forbidden": forbidden} if plan.action == "forbid" else {})}
    write_pruning(out, record)
    return record


def _replace(model: ProtoECGNet, meta: dict, config, catalog: Catalog, plan: Plan,
             device: str) -> dict[str, dict]:
    data = open_run_data(meta, config)
    x_train, y_train = data.part("train")
    train_ids = data.split_index["train"]
    position = {data.dataset.record_ids[p]: i for i, p in enumerate(train_ids)}
    table = catalog.prototypes.set_index("prototype_id")
    rejected = {position[r] for r in table.loc[plan.selected, "source_record_id"]
                if r in position}
    n_samples = data.dataset.n_samples
    done: dict[str, dict] = {}
    for name, branch in model.branches.items():
        ids = branch.prototype_ids
        targets = [i for i, pid in enumerate(ids) if pid in plan.selected]
        if not targets:
            continue
        scale = _latent_length(branch, x_train) / n_samples
        taken: dict[int, list[tuple[int, int]]] = {}
        for i, pid in enumerate(ids):  # every other prototype's window stays its own
            row = table.loc[pid]
            if i in targets or row["source_record_id"] not in position:
                continue
            taken.setdefault(position[row["source_record_id"]], []).append(
                (int(round(row["window_start"] * scale)), branch.prototype_steps))
        if config.projection_rules(data.dataset.fs).distinct == "catalog":
            # nor another branch's window (a whole-record prototype holds its whole record)
            others = table[(table["branch"] != name) & (table["active"].astype(int) == 1)]
            for record, start, end in zip(others["source_record_id"], others["window_start"],
                                          others["window_end"], strict=True):
                if record in position:
                    first = int(math.floor(int(start) * scale))
                    taken.setdefault(position[record], []).append(
                        (first, max(1, int(math.ceil(int(end) * scale)) - first)))
        y_branch = y_train[:, model.branch_label_index(name).cpu().numpy()]
        old = {i: ids[i] for i in targets}
        segments = (window_segments(branch, x_train, data.dataset.fs, device)
                    if config.train.projection_wave else None)
        placed = reproject(branch, x_train, y_branch, targets, rejected, taken,
                           config.train.eval_batch_size, device,
                           config.projection_rules(data.dataset.fs), segments)
        for step in placed:
            branch.revision[step.prototype] += 1
            start = int(round(step.window / scale))
            end = min(int(round((step.window + branch.prototype_steps) / scale)), n_samples)
            record_id = data.dataset.record_ids[train_ids[step.record]]
            done[old[step.prototype]] = {
                "action": "replace", **plan.evidence[old[step.prototype]],
                "new_id": branch.prototype_ids[step.prototype],
                "old_window": {"record_id": str(table.at[old[step.prototype],
                                                         "source_record_id"]),
                               "window_start": int(table.at[old[step.prototype],
                                                            "window_start"]),
                               "window_end": int(table.at[old[step.prototype], "window_end"])},
                "new_window": {"record_id": str(record_id), "window_start": start,
                               "window_end": end, "similarity": step.similarity}}
    return done


def retrain(run_dir: str | Path, device: str = "cpu", progress: bool = True) -> dict:
    """Retrain a pruned run on the training folds, early stopping on validation, seeded as
    ``train``; the run folder becomes complete. After ``disable`` / ``replace`` the ``retrain``
    schedule (branch classifiers, then the fusion layer; prototypes and backbones stay); after
    ``forbid`` the ``forbid`` schedule, whose moved prototypes become new revisions."""
    run_dir = Path(run_dir)
    meta, config = read_run(run_dir)
    if "source_run" not in meta or not is_pruned(run_dir):
        raise RunError(f"{run_dir}: not a pruned run (no {PRUNING_JSON}); make one with "
                       "`protoecg prune`")
    record = read_pruning(run_dir)
    if meta["status"] == "complete":
        raise RunError(f"{run_dir}: already retrained (status complete)")
    model, meta, config = load_model(run_dir, "cpu")
    state = model.state_dict()
    data = open_run_data(meta, config, progress=progress)
    lineage = {k: meta[k] for k in ("source_run", "pruning")}
    forbid = record.get("action") == "forbid"
    trainer = Trainer(config, data, run_dir, device=device, progress=progress,
                      dataset_name=meta["dataset"], command=["protoecg", *sys.argv[1:]],
                      schedule="forbid" if forbid else "retrain", initial_state=state,
                      extra_meta=lineage,
                      forbidden=_forbidden_windows(model, data, record) if forbid else None)
    finished = trainer.fit()
    if forbid:
        _new_revisions(run_dir, record, data, trainer.model)
    return finished


def _latent_length(branch, signals) -> int:
    """Latent steps per ECG of ``branch``: one forward pass of one ECG, on the branch's device,
    in eval mode (in train mode batch norm would fold this one ECG into its running statistics,
    and they would be saved with the model)."""
    device = next(branch.parameters()).device
    was_training = branch.training
    branch.eval()
    try:
        with torch.no_grad():
            return int(branch.latent(torch.from_numpy(signals[:1]).to(device)).shape[2])
    finally:
        branch.train(was_training)


def _forbidden_windows(model: ProtoECGNet, data, record: dict) -> dict[str, ForbiddenWindows]:
    """The rejected windows of a forbid record, per branch, in the branch's latent steps."""
    x_train, _ = data.part("train")
    position = {data.dataset.record_ids[p]: i for i, p in enumerate(data.split_index["train"])}
    n_samples = data.dataset.n_samples
    out = {}
    for name, branch in model.branches.items():
        rows = [w for w in record["forbidden"] if w["branch"] == name
                and w["record_id"] in position and w["class_code"] in branch.class_codes]
        if not rows:
            continue
        latent_length = _latent_length(branch, x_train)
        last = latent_length - branch.prototype_steps
        records = [position[w["record_id"]] for w in rows]
        out[name] = ForbiddenWindows(
            signals=torch.from_numpy(x_train[records]),
            window=torch.tensor([min(int(round(w["window_start"] * latent_length / n_samples)),
                                     last) for w in rows]),
            class_index=torch.tensor([branch.class_codes.index(w["class_code"]) for w in rows]),
            records=records)
    return out


def _new_revisions(run_dir: Path, record: dict, data, model: ProtoECGNet) -> None:
    """After the forbid schedule's projection (``model``: the trained one, as the trainer
    saved it): every prototype whose window is not the one its catalog row showed becomes a
    new revision (so no rating of the old window is read as one of the new); model.pt is saved
    again and pruning.json gains where each selected prototype went and which others moved."""
    old = read_catalog(catalog_dir(record["source_run"])).prototypes.set_index(
        "prototype_id")
    projection = read_projection(run_dir)
    x_train, _ = data.part("train")
    n_samples = data.dataset.n_samples
    moved: dict[str, str] = {}
    for name, branch in model.branches.items():
        scale = n_samples / _latent_length(branch, x_train)
        for i, entry in enumerate(projection[name]):
            pid = entry["prototype_id"]
            start = int(round(entry["window"] * scale))
            end = min(int(round((entry["window"] + branch.prototype_steps) * scale)), n_samples)
            was = old.loc[pid]
            if (str(was["source_record_id"]), int(was["window_start"])) == (
                    str(entry["record_id"]), start):
                continue
            branch.revision[i] += 1
            moved[pid] = branch.prototype_ids[i]
            if pid in record["prototypes"]:
                record["prototypes"][pid].update({
                    "new_id": branch.prototype_ids[i],
                    "new_window": {"record_id": str(entry["record_id"]), "window_start": start,
                                   "window_end": end, "similarity": entry["similarity"]}})
    save_model(run_dir, model.state_dict())
    record["moved"] = moved
    write_pruning(run_dir, record)
