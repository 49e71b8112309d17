"""A stage's loss, assembled from its row: each term named there is looked up here.

One registry per scope of ``stages.py``: branch terms (and the pre-training stage's feature
terms) are computed on each branch's outputs and labels and summed over branches; model terms
on the final logits. Terms are added
in the order the stage row lists them and reported under their own names in ``metrics.jsonl``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import torch

from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.model.prototypes import window_similarity
from protoecg.pretrain.augment import ViewMaker
from protoecg.pretrain.losses import clip_loss, simclr_loss
from protoecg.train import losses
from protoecg.train.stages import Stage


@dataclass
class ForbiddenWindows:
    """One branch's training windows that raters rejected (ProtoPDebug's forbidden concepts):
    the ``forget`` term pushes the prototypes of each window's class away from its latent, and
    the projection after it never picks a rejected record for that class again."""

    signals: torch.Tensor  # (F, 12, T) the records holding the windows
    window: torch.Tensor  # (F,) first latent step of each window
    class_index: torch.Tensor  # (F,) the branch class the window was rejected for
    records: list[int]  # (F) positions of the records in the training folds

    def to(self, device: torch.device) -> ForbiddenWindows:
        return ForbiddenWindows(self.signals.to(device), self.window.to(device),
                                self.class_index.to(device), self.records)

    @property
    def exclusions(self) -> list[tuple[int, int]]:
        """(training record, class) pairs that projection must not use."""
        return list(zip(self.records, self.class_index.tolist(), strict=True))


@dataclass
class LossContext:
    """What the loss needs from the training labels, computed once per run."""

    pos_weight: torch.Tensor  # over the run's labels
    branch_pos_weight: dict[str, torch.Tensor] = field(default_factory=dict)
    contrastive: dict[str, tuple[torch.Tensor, torch.Tensor]] = field(default_factory=dict)
    forbidden: dict[str, ForbiddenWindows] = field(default_factory=dict)  # branch -> windows

    @classmethod
    def from_labels(cls, model, y_train: np.ndarray, device: torch.device) -> LossContext:
        y = torch.from_numpy(y_train.astype(np.float32))
        ctx = cls(losses.positive_weights(y).to(device))
        if isinstance(model, ProtoECGNet):
            for name, branch in model.branches.items():
                y_branch = y[:, model.branch_label_index(name).cpu()]
                ctx.branch_pos_weight[name] = losses.positive_weights(y_branch).to(device)
                jaccard = losses.jaccard_cooccurrence(y_branch)
                pos, neg = losses.contrastive_targets(jaccard, branch.prototype_class.cpu())
                ctx.contrastive[name] = (pos.to(device), neg.to(device))
        return ctx


class BranchBatch:
    """One branch's view of a batch; shared intermediates are computed once."""

    def __init__(self, model, name: str, output, y: torch.Tensor, ctx: LossContext):
        self.name = name
        self.model = model
        self.all_y = y
        self.branch = model.branches[name]
        self.output = output
        self.y = y[:, model.branch_label_index(name)]
        self.ctx = ctx

    @cached_property
    def feature_target(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(labels, positive weights) the branch's feature head predicts: its own branch's
        labels, or every label where the model's feature heads read all of them."""
        if self.model.features_read_all_labels(self.name):
            return self.all_y, self.ctx.pos_weight
        return self.y, self.ctx.branch_pos_weight[self.name]

    @cached_property
    def identity(self) -> torch.Tensor:
        return self.branch.class_identity().to(self.y.device)

    @cached_property
    def live_identity(self) -> torch.Tensor:
        """``identity`` without disabled prototypes: their similarity is a constant 0, which
        must not stand in for a class's closest prototype nor another class's."""
        return self.identity * self.branch.active[:, None].to(self.y.device)

    @cached_property
    def similarities(self) -> torch.Tensor:
        return self.output.similarities.float()

    @cached_property
    def cosine(self) -> torch.Tensor:  # shared by diversity and contrastive
        return losses.prototype_cosine(self.branch.prototypes.float())


@dataclass
class ModelBatch:
    model: torch.nn.Module
    logits: torch.Tensor
    y: torch.Tensor
    ctx: LossContext


def _forget(b: BranchBatch) -> torch.Tensor:
    forbidden = b.ctx.forbidden.get(b.name)
    if forbidden is None:
        return b.similarities.sum() * 0.0
    # the rejected windows' latents with the branch in eval mode: gradients flow, but these few
    # records neither update batch-norm statistics nor draw dropout
    modes = {m: m.training for m in b.branch.modules()}
    b.branch.eval()
    try:
        z = b.branch.latent(forbidden.signals).float()
    finally:
        for module, training in modes.items():
            module.training = training
    similarity = window_similarity(z, b.branch.prototypes.float(), b.branch.similarity)
    at = similarity[torch.arange(len(forbidden.window), device=z.device), :, forbidden.window]
    same = ((b.branch.prototype_class[None] == forbidden.class_index[:, None])
            & (b.branch.active[None] > 0))
    return losses.forget(at, same)


def _feature_bce(b: BranchBatch) -> torch.Tensor:
    """The branch's pre-training head (pooled backbone features) against its labels."""
    return losses.bce(b.output.feature_logits.float(), *b.feature_target)


def _other_labels_bce(b: BranchBatch) -> torch.Tensor:
    """``_feature_bce`` where the branch's head reads every label: in the prototype stages it
    keeps what the other branches' labels taught the backbone (an own-label head adds nothing
    the prototypes' own BCE does not already train)."""
    if not b.model.features_read_all_labels(b.name):
        return b.similarities.sum() * 0.0
    return _feature_bce(b)


BRANCH_TERMS: dict[str, Callable[[BranchBatch], torch.Tensor]] = {
    "bce": lambda b: losses.bce(b.output.logits.float(), b.y, b.ctx.branch_pos_weight[b.name]),
    "clustering": lambda b: losses.clustering(b.similarities, b.live_identity, b.y),
    "separation": lambda b: losses.separation(b.similarities, b.live_identity, b.y),
    "nearest_window": lambda b: losses.nearest_window(b.similarities, b.identity, b.y,
                                                      b.branch.active),
    "diversity": lambda b: losses.diversity(b.cosine),
    "contrastive": lambda b: losses.contrastive(b.cosine, *b.ctx.contrastive[b.name]),
    # ProtoPNet's last-layer rule: only connections from other classes' prototypes
    "l1": lambda b: losses.l1(b.branch.classifier.weight, 1 - b.identity.T),
    # ProtoPDebug: away from the windows raters rejected (the ``forbid`` schedule)
    "forget": _forget,
    # the all-label pre-training heads kept on while the backbones train with the prototypes
    "feature_bce": _other_labels_bce,
}
# the optional pre-training stage: each branch's backbone as a plain classifier
FEATURE_TERMS: dict[str, Callable[[BranchBatch], torch.Tensor]] = {"bce": _feature_bce}
MODEL_TERMS: dict[str, Callable[[ModelBatch], torch.Tensor]] = {
    "bce": lambda m: losses.bce(m.logits.float(), m.y, m.ctx.pos_weight),
    "l1": lambda m: losses.l1(m.model.fusion.weight),
}


PRETRAIN_SCOPES = ("views", "reports")


def pretrain_loss(stage: Stage, model, x: torch.Tensor, reports: list[str],
                  generator: torch.Generator, settings, fs: float
                  ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss, {term: value}) of one pretraining batch, summed over the three encoders:
    two views of each ECG (``views``) or each ECG against its report (``reports``).
    ``settings``: the run's ``PretrainConfig``."""
    if stage.scope == "views":
        make_view = ViewMaker(fs=fs, p=settings.augment_probability)
        z1, z2 = model(make_view(x, generator)), model(make_view(x, generator))
        value = sum(simclr_loss(z1[name].float(), z2[name].float(), settings.temperature,
                                settings.cosine_weight) for name in z1)
        terms = {"nt_xent": stage.loss["nt_xent"] * value}
    else:
        z = model(x)
        text = model.text(reports).float()
        value = sum(clip_loss(z[name].float(), text, settings.clip_temperature) for name in z)
        terms = {"clip": stage.loss["clip"] * value}
    return sum(terms.values()), terms


def stage_loss(stage: Stage, model, logits: torch.Tensor, outputs: dict, y: torch.Tensor,
               ctx: LossContext) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """(total loss, {term: weighted value}) for one batch of ``stage``."""
    if stage.scope == "model":
        batch = ModelBatch(model, logits, y, ctx)
        terms = {term: weight * MODEL_TERMS[term](batch) for term, weight in stage.loss.items()}
        return sum(terms.values()), terms
    registry = FEATURE_TERMS if stage.scope == "features" else BRANCH_TERMS
    terms: dict[str, torch.Tensor] = {}
    total = 0.0
    for name, output in outputs.items():
        batch = BranchBatch(model, name, output, y, ctx)
        for term, weight in stage.loss.items():
            value = weight * registry[term](batch)
            terms[term] = terms.get(term, 0.0) + value
            total = total + value
    return total, terms
