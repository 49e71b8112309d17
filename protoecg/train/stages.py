"""The training stages as data (CaBRNet's ``periods``): a schedule is a table of rows.

Each row says which parameter groups train, which loss terms (and weights) they train with, for
how many epochs, with which optimiser settings per group, what the stage starts from and which
validation scores early stopping watches. The one loop (``trainer.py``) reads the resolved rows
and knows no stage by name; a new schedule (e.g. retraining the last layers of a pruned model)
is a new table in ``SCHEDULES``, not new code.

Rows are written as plain dicts so that they read like a config table. Where a row leaves a
setting out, it comes from the run's settings (``Defaults``, made by ``Config.schedule``):
epochs from ``train.epochs[<stage name>]``, a loss weight given as a string from
``loss.<that name>``, each group's learning rate from ``train.lr * train.lr_scale[<group>]`` and
its weight decay from ``train.weight_decay``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from protoecg.errors import ProtoECGError

# Parameter groups of ProtoECGNet and of the black-box twin ("all" = every parameter).
GROUPS = ("backbone", "feature_head", "add_on", "prototypes", "classifier", "fusion", "head",
          "all")
# Finer groups inside "backbone" (each backbone parameter belongs to "backbone" and to one of
# these), so that rows can unfreeze an encoder progressively, last residual stage first.
BACKBONE_PARTS = ("backbone.stage4", "backbone.stage3", "backbone.stage2", "backbone.stage1",
                  "backbone.stem")
# "epochs": train for some epochs; "projection": replace prototypes by their nearest training
# windows; "latent_init": set each prototype to the latent of a random training window of its
# class (so prototypes start in the latent space's range instead of near-orthogonal to it).
KINDS = ("epochs", "projection", "latent_init")
# "branches": each branch's terms on its own outputs and labels, summed over branches;
# "features": each branch's plain classifier on its pooled backbone features (pre-training);
# "model": terms on the model's final logits (fusion layer or black-box head);
# "views": contrastive pretraining on two augmented views of each ECG (no labels);
# "reports": ECG-report alignment (each ECG against its own report, no labels).
SCOPES = ("branches", "features", "model", "views", "reports")
# What a stage starts from besides the model as the previous stage left it.
STARTS = ("previous", "fusion_from_branches")
# "train_loss": the stage's own mean training loss (pretraining reads no validation fold)
MONITORS = ("branches", "features", "fusion", "train_loss")
# Loss terms each scope knows (their functions live in ``objective.py``).
TERMS = {
    "branches": ("bce", "clustering", "separation", "nearest_window", "diversity", "contrastive",
                 "l1", "forget", "feature_bce"),
    "features": ("bce",),
    "model": ("bce", "l1"),
    "views": ("nt_xent",),
    "reports": ("clip",),
}


class StageError(ProtoECGError):
    """A stage row that names an unknown group, loss term, kind or starting point."""


@dataclass(frozen=True)
class Defaults:
    """The run's settings that fill what a row leaves out."""

    epochs: Mapping[str, int]  # stage name -> epochs
    weights: Mapping[str, float]  # loss weight name -> value
    lr: float
    lr_scale: Mapping[str, float]  # group -> factor on lr
    weight_decay: float
    # switches that rows name in ``when`` (a row whose switch is off is left out)
    switches: Mapping[str, bool] = field(default_factory=dict)
    push_every: int = 0  # epochs between projections in a stage whose row says ``push``
    # stage (its train.epochs key) -> factor on every group's lr in that stage
    stage_lr_scale: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class GroupSettings:
    lr: float
    weight_decay: float


@dataclass(frozen=True)
class Stage:
    """One resolved row of a schedule (every setting concrete)."""

    name: str
    kind: str = "epochs"
    trains: tuple[str, ...] = ()
    scope: str = "branches"
    loss: Mapping[str, float] = field(default_factory=dict)  # term -> weight, summed in order
    epochs: int = 0
    optimizer: Mapping[str, GroupSettings] = field(default_factory=dict)  # group -> settings
    starts_from: str = "previous"
    monitor: str = "branches"
    # project the prototypes after every ``push_every``-th epoch (ProtoPNet's periodic push),
    # before validation, so early stopping keeps a projected state; 0 = never
    push_every: int = 0
    # the stage's starting model competes in early stopping: a stage that does not improve
    # the validation score leaves the model as it found it (last layers: the fusion layer
    # starts equal to the branch classifiers)
    keep_start: bool = False


_PROTOTYPE_LOSS = {"bce": 1.0, "clustering": "clustering", "separation": "separation",
                   "nearest_window": "nearest_window", "diversity": "diversity",
                   "contrastive": "contrastive", "feature_bce": "feature_bce"}
# where only prototypes train, the feature heads' term would move nothing: left out
_PROTOTYPES_ONLY_LOSS = {k: v for k, v in _PROTOTYPE_LOSS.items() if k != "feature_bce"}

# The last layers, as every schedule of ProtoECGNet ends: the branch classifiers, then the
# fusion layer (branches frozen, fusion initialised from the branch classifiers); each keeps
# its starting model when no epoch beats it.
_LAST_LAYERS = (
    {"name": "classifier", "trains": ("classifier",), "loss": {"bce": 1.0, "l1": "l1"},
     "keep_start": True},
    {"name": "fusion", "trains": ("fusion",), "scope": "model",
     "loss": {"bce": 1.0, "l1": "l1"}, "starts_from": "fusion_from_branches",
     "monitor": "fusion", "keep_start": True},
)
# After projection: backbones, add-on layers and prototypes train on with a push after every
# epoch, so the network adapts to prototypes that are real windows and they stay real windows
# (the best epoch kept is a pushed one).
_REFINE = {"name": "refine", "trains": ("backbone", "add_on", "prototypes"),
           "loss": _PROTOTYPE_LOSS, "push": 1}


def _unfreezing(name: str, first: tuple[str, ...], row: Mapping) -> tuple[dict, ...]:
    """Progressive unfreezing of pretrained encoders (switch ``progressive_unfreezing``:
    ``train.epochs.unfreeze`` > 0): before the row that trains everything, rows of
    ``train.epochs.unfreeze`` epochs that train ``first`` plus the last residual stage, then
    the last two, then three (SimCardioNet's fine-tuning, last blocks first)."""
    rows = []
    for k in range(1, 4):
        rows.append({**row, "name": f"{name}_{k}", "epochs": "unfreeze",
                     "trains": (*first, *BACKBONE_PARTS[:k]), "when": "progressive_unfreezing"})
    return tuple(rows)

SCHEDULES: dict[str, tuple[dict, ...]] = {
    # ProtoECGNet (Sethi et al. 2025): [feature pre-training] -> [prototypes from latents] ->
    # prototypes only -> joint [with periodic push] -> projection -> [refine, pushed every
    # epoch] -> branch classifiers ->
    # fusion (branches frozen, fusion initialised from the branch classifiers). Bracketed rows
    # are the switches of issue 11 (``when``; ``push``), off in the official code.
    "protoecgnet": (
        {"name": "features", "trains": ("backbone", "feature_head"), "scope": "features",
         "loss": {"bce": 1.0}, "monitor": "features", "when": "feature_pretraining"},
        {"name": "prototype_init", "kind": "latent_init", "when": "latent_init"},
        {"name": "prototypes", "trains": ("prototypes",), "loss": _PROTOTYPES_ONLY_LOSS},
        *_unfreezing("unfreeze", ("add_on", "prototypes"),
                     {"loss": _PROTOTYPE_LOSS, "push": True}),
        {"name": "joint", "trains": ("backbone", "add_on", "prototypes"),
         "loss": _PROTOTYPE_LOSS, "push": True},
        {"name": "projection", "kind": "projection"},
        {**_REFINE, "when": "refine"},
        *_LAST_LAYERS,
    ),
    # After review (protoecg retrain): the prototypes stay as pruned/replaced; the branch
    # classifiers and then the fusion layer learn again on the training folds.
    "retrain": _LAST_LAYERS,
    # After review with ProtoPDebug's fix (protoecg prune --action forbid, then retrain): a
    # short fine-tune of the prototypes that also pushes each class's prototypes away from the
    # windows raters rejected for it (with the periodic push, if on), a projection that never
    # picks those records for that class, then the last layers as in "retrain". Backbones and
    # add-on layers stay as they are: the latent space the other prototypes were projected in
    # does not move (fine-tuning them too cost 0.10 morphology AUROC on LUDB).
    "forbid": (
        {"name": "forbid", "trains": ("prototypes",),
         "loss": {**_PROTOTYPES_ONLY_LOSS, "forget": "forget"}, "push": True},
        {"name": "projection", "kind": "projection"},
        *_LAST_LAYERS,
    ),
    # A trained, projected ProtoECGNet refined afterwards (benchmarks/refine.py): the refine
    # stage (pushed every epoch, so prototypes stay real windows), then the last layers.
    "refine": (
        _REFINE,
        *_LAST_LAYERS,
    ),
    # Contrastive pretraining of the three branch encoders (protoecg pretrain), on the
    # training folds only and without their labels: SimCLR views with NT-Xent plus
    # SimCardioNet's cosine term (pretrain.*), or each ECG against its own report (CLIP).
    "pretrain_simclr": (
        {"name": "pretrain", "trains": ("all",), "scope": "views", "loss": {"nt_xent": 1.0},
         "monitor": "train_loss"},
    ),
    "pretrain_report": (
        {"name": "pretrain", "trains": ("all",), "scope": "reports", "loss": {"clip": 1.0},
         "monitor": "train_loss"},
    ),
    # The black-box twin: every parameter, BCE on its head's logits.
    "black_box": (
        *_unfreezing("unfreeze_twin", ("head",),
                     {"scope": "model", "loss": {"bce": 1.0}, "monitor": "fusion"}),
        {"name": "black_box", "trains": ("all",), "scope": "model", "loss": {"bce": 1.0},
         "monitor": "fusion"},
    ),
}

_ROW_KEYS = {"name", "kind", "trains", "scope", "loss", "epochs", "optimizer", "starts_from",
             "monitor", "when", "push", "keep_start"}


def stage_names() -> set[str]:
    """The keys ``train.epochs`` may hold: every stage name of every schedule, and the shared
    epoch counts rows name (``"epochs": "unfreeze"``)."""
    return {_epochs_key(row) for rows in SCHEDULES.values() for row in rows}


def _epochs_key(row: Mapping) -> str:
    return row["epochs"] if isinstance(row.get("epochs"), str) else row["name"]


def build_schedule(name: str, defaults: Defaults) -> tuple[Stage, ...]:
    """The rows of schedule ``name`` with every setting filled in."""
    if name not in SCHEDULES:
        raise StageError(f"unknown schedule {name!r}: expected one of {', '.join(SCHEDULES)}")
    rows = []
    for row in SCHEDULES[name]:
        switch = row.get("when")
        if switch is not None and switch not in defaults.switches:
            raise StageError(f"stage {row.get('name', '?')!r}: when {switch!r} is not one of "
                             f"{', '.join(sorted(defaults.switches)) or 'no switch'}")
        if switch is None or defaults.switches[switch]:
            rows.append(resolve_stage(row, defaults))
    return tuple(rows)


def resolve_stage(row: Mapping, defaults: Defaults) -> Stage:
    """One row (a dict as in ``SCHEDULES``) -> a ``Stage`` with concrete settings."""
    where = f"stage {row.get('name', '?')!r}"
    unknown = set(row) - _ROW_KEYS
    if unknown:
        raise StageError(f"{where}: unknown key {sorted(unknown)[0]!r} "
                         f"(expected one of {', '.join(sorted(_ROW_KEYS))})")
    kind = _choice(row.get("kind", "epochs"), KINDS, where, "kind")
    if kind != "epochs":
        return Stage(name=row["name"], kind=kind)
    trains = tuple(row.get("trains", ()))
    for group in trains:
        _choice(group, GROUPS + BACKBONE_PARTS, where, "trains")
    scope = _choice(row.get("scope", "branches"), SCOPES, where, "scope")
    loss = {}
    for term, weight in row.get("loss", {}).items():
        _choice(term, TERMS[scope], where, f"loss term ({scope} scope)")
        if isinstance(weight, str):
            if weight not in defaults.weights:
                raise StageError(f"{where}: loss weight {weight!r} is not a key of [loss]")
            weight = defaults.weights[weight]
        if float(weight) == 0.0:  # switched off in [loss]: not computed, not reported
            continue
        loss[term] = float(weight)
    overrides = row.get("optimizer", {})
    optimizer = {}
    stage_scale = defaults.stage_lr_scale.get(_epochs_key(row), 1.0)
    for group in trains:
        own = overrides.get(group, {})
        optimizer[group] = GroupSettings(
            lr=float(own.get("lr", defaults.lr * defaults.lr_scale.get(group, 1.0)
                             * stage_scale)),
            weight_decay=float(own.get("weight_decay", defaults.weight_decay)))
    return Stage(
        name=row["name"], kind=kind, trains=trains, scope=scope, loss=loss,
        epochs=(int(defaults.epochs.get(row["epochs"], 0)) if isinstance(row.get("epochs"), str)
                else int(row.get("epochs", defaults.epochs.get(row["name"], 0)))),
        optimizer=optimizer,
        starts_from=_choice(row.get("starts_from", "previous"), STARTS, where, "starts_from"),
        monitor=_choice(row.get("monitor", "branches"), MONITORS, where, "monitor"),
        # "push": True follows train.push_every; a number fixes the row's own period
        push_every=(defaults.push_every if row.get("push") is True
                    else int(row.get("push") or 0)),
        keep_start=bool(row.get("keep_start", False)),
    )


def _choice(value, allowed, where: str, what: str):
    if value not in allowed:
        raise StageError(f"{where}: {what} {value!r} is not one of {', '.join(allowed)}")
    return value


def parameter_groups(name: str) -> tuple[str, ...]:
    """The groups a parameter belongs to: its group and, inside a backbone, its part
    (``backbone.stage4`` ... ``backbone.stem``)."""
    group = parameter_group(name)
    parts = name.split(".")
    if group == "backbone":
        # backbones.<branch>.<part> (twin) or branches.<branch>.backbone.<part> (ProtoECGNet)
        at = 2 if name.startswith("backbones.") else parts.index("backbone") + 1
        if parts[at] == "trunk" and parts[at + 1] == "layers":
            return ("backbone", f"backbone.stage{int(parts[at + 2]) + 1}")
        return ("backbone", "backbone.stem")
    return (group,)


def parameter_group(name: str) -> str:
    """The group a parameter of ProtoECGNet / BlackBoxNet belongs to, from its name."""
    if name.startswith("fusion."):
        return "fusion"
    if name.startswith("backbones."):
        return "backbone"
    if name.startswith("head."):
        return "head"
    part = name.split(".")[2] if name.startswith("branches.") else name.split(".")[0]
    return {"backbone": "backbone", "feature_head": "feature_head", "add_on": "add_on",
            "prototypes": "prototypes", "classifier": "classifier"}.get(part, part)
