"""Run configuration: a preset (TOML, shipped in ``presets/``) plus an optional user TOML.

Unknown tables or keys are errors that name the file and the key; the resolved configuration is
written to the run folder as ``config.json`` so that a run reproduces itself.
"""

from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from protoecg.errors import ProtoECGError
from protoecg.model.config import ADD_ON_ACTIVATIONS, FEATURE_LABELS, PROTOTYPE_INITS, ModelConfig
from protoecg.train.stages import GROUPS, Defaults, Stage, build_schedule, stage_names
from protoecg.train.windows import ProjectionRules


class ConfigError(ProtoECGError):
    """A preset or config file that is not what the trainer expects."""


@dataclass
class DataConfig:
    fs: int = 100
    highpass_hz: float | None = 0.5  # first-order Butterworth, zero phase; None = off
    standardize: bool = False  # per-lead, fitted on folds 1-8
    # labels with fewer positives in the training folds are left out (the preset says so)
    min_train_positives: int = 1
    # labels also need this many positives in the validation folds to be kept (0 = no rule)
    min_validation_positives: int = 0
    # share of the training folds whose labels training may use (label-efficiency studies):
    # a seeded multi-label stratified subset, topped up so every kept label keeps a positive;
    # validation and test folds stay whole
    train_fraction: float = 1.0
    subset_seed: int = 0  # which subset (the same seed gives the same records)


@dataclass
class TrainConfig:
    batch_size: int = 32
    lr: float = 1e-4
    weight_decay: float = 1.7e-4
    # each parameter group's learning rate is lr x its scale (stage rows may also set their own)
    lr_scale: dict[str, float] = field(default_factory=lambda: dict.fromkeys(GROUPS, 1.0))
    # and, in a stage, times that stage's scale (e.g. refine = 0.1: after projection the
    # network adapts in small steps; at the full rate its validation AUROC swung 0.51-0.80
    # from one pushed epoch to the next on the PTB-XL subset)
    stage_lr_scale: dict[str, float] = field(
        default_factory=lambda: dict.fromkeys(sorted(stage_names()), 1.0))
    seed: int = 42
    patience: int = 5  # epochs without a better validation macro AUROC before a stage stops
    # epochs per stage name of the schedules in stages.py
    # ("features" = 0 leaves the feature pre-training stage out, as the official code's default)
    epochs: dict[str, int] = field(default_factory=lambda: {
        "features": 0, "prototypes": 10, "joint": 100, "classifier": 50, "fusion": 50,
        "black_box": 100, "forbid": 5, "refine": 0, "pretrain": 20, "unfreeze": 0})
    # project the prototypes after every N-th joint epoch (ProtoPNet's periodic push), so the
    # final projection is a small step; 0 = only the projection stage (the official code)
    push_every: int = 0
    # a pushed epoch may be kept as its stage's best only if its push lowered no branch's
    # validation macro AUROC by more than this (faithful model selection: what clinicians rate
    # is what the kept model uses); while no pushed epoch qualifies, the best score is kept.
    # 1.0 = any drop, as in the official code (which has no push)
    push_max_drop: float = 1.0
    amp: bool = True  # mixed precision (float16 autocast), on CUDA only
    # bfloat16 autocast on the CPU, where it has native bf16 instructions (AVX512-BF16 or AMX;
    # refused elsewhere: emulated bf16 is slower than fp32). Similarities stay float32. Off by
    # default: it changes every output slightly (benchmarks/results/cpu_bf16.json)
    cpu_bf16: bool = False
    # projection: no two prototypes of a class from the same record (the official code allows
    # it; off by default until the ablation on real data says it helps)
    distinct_projection: bool = False
    # projection (and the periodic push, the catalog, prune's replacement): "none" (the
    # official code), "class" (no two prototypes of a class on overlapping windows of one
    # record; one record each for whole-record prototypes), "branch" (no two prototypes of a
    # branch) or "catalog" (nor of two branches: a rater never meets one window twice);
    # issue 29
    projection_distinct: str = "none"
    # time-local prototype windows keep this many seconds away from the record's first and
    # last sample (zero padding of the backbone; LUDB's experts annotate neither end); 0 = off
    projection_margin_s: float = 0.0
    # time-local prototypes of a class with an expert rule (data.delineation.EXPERT_RULES:
    # QRS, ST-T/T or P) only take windows centred on that wave, by the fallback delineation of
    # the training signals (QRS detection + interval template, any dataset); false = any window
    projection_wave: bool = False
    # each class keeps ceil(training positives / N) of its prototypes in use (at least 1, at
    # most model.prototypes_per_class); the rest start disabled (train/counts.py). 0 = every
    # class gets them all, as in the paper
    positives_per_prototype: int = 0
    num_workers: int = 0
    eval_batch_size: int = 128
    threads: int = 0  # torch CPU threads; 0 = torch's default
    # keep prototypes inside the latent space's range ([0, 1] per dimension, the add-on's
    # sigmoid) after every optimiser step: with the official diversity weight, unconstrained
    # prototypes leave it (median cosine ~0 to any real window), so projection moves them far
    prototypes_in_latent_range: bool = False
    # a completed black-box twin run whose three backbones seed the prototype branches'
    # backbones (issue 11: the twin's features, then prototypes learnt on them); "" = none
    backbones_from: str = ""


@dataclass
class LossConfig:
    clustering: float = 0.004
    separation: float = 0.0004
    # every prototype towards its nearest real window of its class in the batch (Li et al.
    # 2018; issue 11); 0 = off, as in the official code (a term weighted 0 is not computed)
    nearest_window: float = 0.0
    diversity: float = 250.0
    contrastive: float = 300.0
    l1: float = 1e-4
    # ProtoPDebug's forgetting term (only in the ``forbid`` schedule after review)
    forget: float = 1.0
    # the all-label feature pre-training heads' BCE (model.feature_labels) kept on in the
    # stages that train backbones with the prototypes (heads frozen), so such a backbone keeps
    # what the other branches' labels taught it (issue 11); 0 = off, as in the official code
    feature_bce: float = 0.0


@dataclass
class PretrainConfig:
    """Contrastive pretraining of the three branch encoders (``protoecg pretrain``)."""

    projection_dim: int = 128  # the projection head's output (and the report embedding)
    temperature: float = 0.1  # NT-Xent (simclr)
    cosine_weight: float = 0.5  # SimCardioNet's cosine term; 0 = plain SimCLR
    clip_temperature: float = 0.07  # ECG-report alignment (report)
    augment_probability: float = 0.8  # each augmentation's chance per view
    text_buckets: int = 65536  # hashed word/char n-gram rows of the report encoder


@dataclass
class Config:
    name: str = "custom"
    description: str = ""
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    pretrain: PretrainConfig = field(default_factory=PretrainConfig)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def projection_rules(self, fs: float) -> ProjectionRules:
        """Where this run's prototypes may be projected (``train.projection_*``)."""
        return ProjectionRules(
            "records" if self.train.distinct_projection else self.train.projection_distinct,
            int(round(self.train.projection_margin_s * fs)))

    def cap_epochs(self, epochs: int) -> None:
        """Every stage that runs gets ``epochs`` (quick runs); a stage at 0 stays out."""
        self.train.epochs = {k: epochs if v > 0 else 0 for k, v in self.train.epochs.items()}

    def schedule(self, name: str) -> tuple[Stage, ...]:
        """The stage rows of schedule ``name`` (``stages.SCHEDULES``) with this config's
        epochs, loss weights and optimiser settings filled in."""
        t = self.train
        switches = {"feature_pretraining": t.epochs.get("features", 0) > 0,
                    "latent_init": self.model.prototype_init == "latent",
                    "refine": t.epochs.get("refine", 0) > 0,
                    "progressive_unfreezing": t.epochs.get("unfreeze", 0) > 0}
        return build_schedule(name, Defaults(
            epochs=t.epochs, weights=dataclasses.asdict(self.loss), lr=t.lr,
            lr_scale=t.lr_scale, stage_lr_scale=t.stage_lr_scale,
            weight_decay=t.weight_decay, switches=switches,
            push_every=t.push_every))

    @classmethod
    def from_dict(cls, raw: dict, source: str = "config") -> Config:
        config = cls()
        _apply(config, raw, source, "")
        _validate(config, source)
        return config


def preset_names() -> list[str]:
    folder = resources.files("protoecg.train").joinpath("presets")
    return sorted(p.name.removesuffix(".toml") for p in folder.iterdir()
                  if p.name.endswith(".toml"))


def load_config(preset: str, config_file: str | Path | None = None) -> Config:
    """The preset, overridden by ``config_file`` where given."""
    if preset not in preset_names():
        raise ConfigError(f"unknown preset {preset!r}: expected one of {', '.join(preset_names())}")
    text = resources.files("protoecg.train").joinpath(f"presets/{preset}.toml").read_text()
    raw = _parse(text, f"preset {preset}")
    config = Config()
    _apply(config, raw, f"preset {preset}", "")
    if config_file is not None:
        path = Path(config_file)
        try:
            text = path.read_text()
        except OSError as exc:
            raise ConfigError(f"{path}: cannot read config ({exc.strerror})") from None
        _apply(config, _parse(text, str(path)), str(path), "")
    _validate(config, str(config_file or f"preset {preset}"))
    return config


def _parse(text: str, source: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{source}: not valid TOML ({exc})") from None


def _apply(target, raw: dict, source: str, prefix: str) -> None:
    known = {f.name: f for f in dataclasses.fields(target)}
    for key, value in raw.items():
        dotted = f"{prefix}{key}"
        if key not in known:
            raise ConfigError(f"{source}: unknown config key {dotted!r} "
                              f"(expected one of {', '.join(sorted(known))})")
        current = getattr(target, key)
        if dataclasses.is_dataclass(current):
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {dotted!r} must be a table")
            _apply(current, value, source, f"{dotted}.")
        elif isinstance(current, dict):
            if dotted == "model.feature_labels" and isinstance(value, str):
                # one value for every branch; run folders written before it was a table
                # (config.json) say "all" or "branch" this way
                value = dict.fromkeys(current, value)
            if not isinstance(value, dict):
                raise ConfigError(f"{source}: {dotted!r} must be a table")
            unknown = set(value) - set(current)
            if unknown:
                raise ConfigError(f"{source}: unknown config key {dotted}.{sorted(unknown)[0]!r} "
                                  f"(expected one of {', '.join(sorted(current))})")
            setattr(target, key, {**current, **value})
        else:
            expected = type(current) if current is not None else None
            if expected is float and isinstance(value, int):
                value = float(value)
            if expected is tuple and isinstance(value, list):
                value = tuple(value)
            if expected is not None and not isinstance(value, expected) or isinstance(
                    value, bool) and expected is not bool:
                raise ConfigError(f"{source}: {dotted!r} must be {expected.__name__}, "
                                  f"got {value!r}")
            setattr(target, key, value)


def _validate(config: Config, source: str) -> None:
    m = config.model
    if len(m.widths) != 4 or any(w < 1 for w in m.widths):
        raise ConfigError(f"{source}: model.widths must be four positive integers")
    if m.prototype_init not in PROTOTYPE_INITS:
        raise ConfigError(f"{source}: model.prototype_init must be one of "
                          f"{', '.join(repr(v) for v in PROTOTYPE_INITS)}")
    if m.add_on_activation not in ADD_ON_ACTIVATIONS:
        raise ConfigError(f"{source}: model.add_on_activation must be one of "
                          f"{', '.join(repr(v) for v in ADD_ON_ACTIVATIONS)}")
    if m.add_on_activation != "sigmoid" and (m.prototype_init == "uniform"
                                             or config.train.prototypes_in_latent_range):
        raise ConfigError(f"{source}: model.prototype_init = 'uniform' and "
                          "train.prototypes_in_latent_range assume the sigmoid's [0, 1] latent "
                          "range: they need model.add_on_activation = 'sigmoid'")
    for branch, labels in m.feature_labels.items():
        if labels not in FEATURE_LABELS:
            raise ConfigError(f"{source}: model.feature_labels.{branch} must be one of "
                              f"{', '.join(repr(v) for v in FEATURE_LABELS)}, got {labels!r}")
    if m.incorrect_class_connection > 0:
        raise ConfigError(f"{source}: model.incorrect_class_connection must be <= 0 (a "
                          "prototype's similarity may not count for another class)")
    if m.similarity not in ("cosine", "log_l2"):
        raise ConfigError(f"{source}: model.similarity must be 'cosine' or 'log_l2'")
    for branch, k in m.prototypes_per_class.items():
        if k < 1:
            raise ConfigError(f"{source}: model.prototypes_per_class.{branch} must be >= 1 "
                              "(every class of every branch needs a prototype)")
    if not 1 <= m.prototype_steps["morphology"] <= 32:
        raise ConfigError(f"{source}: model.prototype_steps.morphology must be 1-32")
    if config.data.min_train_positives < 1:
        raise ConfigError(f"{source}: data.min_train_positives must be >= 1: a class with no "
                          "training positive has no ECG to project its prototypes onto")
    if not 0 < config.data.train_fraction <= 1:
        raise ConfigError(f"{source}: data.train_fraction must be in (0, 1]")
    if config.data.fs not in (100, 500):
        raise ConfigError(f"{source}: data.fs must be 100 or 500")
    unknown_stages = set(config.train.epochs) - stage_names()
    if unknown_stages:
        raise ConfigError(f"{source}: unknown stage in train.epochs: {sorted(unknown_stages)}")
    for group, scale in config.train.lr_scale.items():
        if not scale > 0:
            raise ConfigError(f"{source}: train.lr_scale.{group} must be > 0")
    for stage, scale in config.train.stage_lr_scale.items():
        if not scale > 0:
            raise ConfigError(f"{source}: train.stage_lr_scale.{stage} must be > 0")
    if config.train.projection_distinct not in ("none", "class", "branch", "catalog"):
        raise ConfigError(f"{source}: train.projection_distinct must be 'none', 'class', "
                          f"'branch' or 'catalog', got {config.train.projection_distinct!r}")
    if config.train.distinct_projection and config.train.projection_distinct != "none":
        raise ConfigError(f"{source}: train.distinct_projection (one record per prototype of "
                          "a class) and train.projection_distinct are two rules for one thing: "
                          "set one")
    if not 0 <= config.train.projection_margin_s < 5:
        raise ConfigError(f"{source}: train.projection_margin_s must be in [0, 5) seconds, got "
                          f"{config.train.projection_margin_s}")
    if config.train.positives_per_prototype < 0:
        raise ConfigError(f"{source}: train.positives_per_prototype must be >= 0 (0 = every "
                          f"class keeps all its prototypes), got "
                          f"{config.train.positives_per_prototype}")
    if config.train.push_every < 0:
        raise ConfigError(f"{source}: train.push_every must be >= 0 (0 = no periodic push)")
    if not 0 <= config.train.push_max_drop <= 1:
        raise ConfigError(f"{source}: train.push_max_drop must be in [0, 1] (a drop in "
                          f"validation macro AUROC), got {config.train.push_max_drop}")
    if any(n < 0 for n in config.train.epochs.values()):
        raise ConfigError(f"{source}: train.epochs must be >= 0 for every stage")
    if config.train.batch_size < 2:
        raise ConfigError(f"{source}: train.batch_size must be at least 2 (batch norm)")
    pre = config.pretrain
    if pre.projection_dim < 1 or pre.text_buckets < 1:
        raise ConfigError(f"{source}: pretrain.projection_dim and pretrain.text_buckets must "
                          "be >= 1")
    if not (pre.temperature > 0 and pre.clip_temperature > 0):
        raise ConfigError(f"{source}: pretrain.temperature and pretrain.clip_temperature must "
                          "be > 0")
    if pre.cosine_weight < 0 or not 0 <= pre.augment_probability <= 1:
        raise ConfigError(f"{source}: pretrain.cosine_weight must be >= 0 and "
                          "pretrain.augment_probability in [0, 1]")
