"""Prototype layer and one ProtoECGNet branch (backbone -> add-on -> prototypes -> classifier)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from protoecg.model.backbone import ResNet18Backbone
from protoecg.model.config import ADD_ON_ACTIVATIONS, PROTOTYPE_INITS

EPS = 1e-6
SIMILARITIES = ("cosine", "log_l2")


def window_similarity(
    latent: torch.Tensor, prototypes: torch.Tensor, kind: str = "cosine"
) -> torch.Tensor:
    """Similarity of every prototype to every window of the latent map, without Python loops.

    latent (B, D, T), prototypes (P, D, L) -> (B, P, T - L + 1). ``cosine`` (the official code's
    "arc" space) or ``log_l2`` = log((d + 1) / (d + 1e-4)) of the squared L2 distance d
    (ProtoPNet). Both reduce to three convolutions: latent x prototypes, the windows' squared
    norms, and the prototypes' norms.
    """
    steps = prototypes.shape[2]
    dot = F.conv1d(latent, prototypes)  # (B, P, W)
    ones = torch.ones(1, latent.shape[1], steps, device=latent.device, dtype=latent.dtype)
    window_sq = F.conv1d(latent * latent, ones)  # (B, 1, W)
    proto_sq = (prototypes * prototypes).sum(dim=(1, 2))  # (P,)
    if kind == "cosine":
        return dot / (window_sq.clamp_min(EPS).sqrt() * proto_sq.clamp_min(EPS).sqrt()[:, None])
    if kind == "log_l2":
        distance = (window_sq - 2 * dot + proto_sq[:, None]).clamp_min(0)
        return torch.log((distance + 1) / (distance + 1e-4))
    raise ValueError(f"unknown similarity {kind!r}: expected one of {', '.join(SIMILARITIES)}")


@dataclass
class BranchOutput:
    similarities: torch.Tensor  # (B, P): best window per prototype
    logits: torch.Tensor  # (B, C) from the branch classifier
    similarity_map: torch.Tensor  # (B, P, W)
    latent: torch.Tensor  # (B, D, T') the add-on output
    # (B, C) a plain linear classifier on the pooled backbone features: trained only by the
    # optional feature pre-training stage, read by no prediction
    feature_logits: torch.Tensor | None = None


class PrototypeBranch(nn.Module):
    """One branch: its classes, ``k`` prototypes per class, a classifier over similarities."""

    def __init__(self, name: str, class_codes: list[str], prototypes_per_class: int,
                 prototype_steps: int, widths: tuple[int, int, int, int], latent_dim: int,
                 lead_mixing_stem: bool, pooled: bool, similarity: str = "cosine",
                 dropout: float = 0.0, prototype_init: str = "normal",
                 add_on_activation: str = "sigmoid", incorrect_class_connection: float = -0.5,
                 feature_outputs: int | None = None):
        super().__init__()
        if similarity not in SIMILARITIES:
            raise ValueError(f"unknown similarity {similarity!r}")
        self.name = name
        self.class_codes = list(class_codes)
        self.pooled = pooled
        self.similarity = similarity
        self.backbone = ResNet18Backbone(widths, lead_mixing_stem=lead_mixing_stem)
        self.dropout = nn.Dropout(dropout)
        if add_on_activation not in ADD_ON_ACTIVATIONS:
            raise ValueError(f"unknown add_on_activation {add_on_activation!r}")
        # Linear-ReLU-Linear-Sigmoid (1D) and two 1x1 convolutions (2D) are the same map: 1x1 convs
        self.add_on = nn.Sequential(
            nn.Conv1d(widths[-1], latent_dim, 1), nn.ReLU(inplace=True),
            nn.Conv1d(latent_dim, latent_dim, 1),
            *{"sigmoid": [nn.Sigmoid()], "none": [],
              "batch_norm": [nn.BatchNorm1d(latent_dim, affine=False)]}[add_on_activation],
        )
        n_classes = len(class_codes)
        n_prototypes = n_classes * prototypes_per_class
        shape = (n_prototypes, latent_dim, prototype_steps)
        if prototype_init not in PROTOTYPE_INITS:
            raise ValueError(f"unknown prototype_init {prototype_init!r}")
        # "latent" starts as "normal"; the trainer's latent_init stage replaces it
        self.prototypes = nn.Parameter(torch.rand(shape) if prototype_init == "uniform"
                                       else torch.randn(shape))
        # prototype j belongs to class j // k
        self.register_buffer(
            "prototype_class", torch.arange(n_classes).repeat_interleave(prototypes_per_class))
        # 1 = in use, 0 = disabled after review: a disabled prototype's similarity is zeroed
        # before the classifier and fusion layer, so it has exactly no influence on any output
        self.register_buffer("active", torch.ones(n_prototypes))
        # 1 for the prototype as first projected; +1 each time review replaces its window, so
        # a replaced prototype is a new catalog row (``morphology/IRBBB/07@2``)
        self.register_buffer("revision", torch.ones(n_prototypes, dtype=torch.long))
        self.classifier = nn.Linear(n_prototypes, n_classes, bias=False)
        self.incorrect_class_connection = incorrect_class_connection
        self.reset_classifier()
        # zero-initialised without drawing random numbers, so that a seeded model without
        # pre-training gets the same weights as before the head existed
        # (``feature_outputs``: the run's labels when pre-training reads all of them)
        self.feature_head = torch.nn.utils.skip_init(nn.Linear, widths[-1],
                                                     feature_outputs or n_classes)
        nn.init.zeros_(self.feature_head.weight)
        nn.init.zeros_(self.feature_head.bias)
        self.base_ids = [f"{name}/{code}/{k:02d}" for code in class_codes
                         for k in range(prototypes_per_class)]

    def _load_from_state_dict(self, state_dict, prefix, *args, **kwargs):
        # weights saved before prototypes could be disabled have no `active`: all in use
        state_dict.setdefault(prefix + "active", torch.ones(self.prototypes.shape[0]))
        state_dict.setdefault(prefix + "revision",
                              torch.ones(self.prototypes.shape[0], dtype=torch.long))
        # nor a feature head (it reads into no prediction, so its initial weights do)
        for key, value in self.feature_head.state_dict().items():
            state_dict.setdefault(f"{prefix}feature_head.{key}", value)
        super()._load_from_state_dict(state_dict, prefix, *args, **kwargs)

    @torch.no_grad()
    def disable(self, index: list[int]) -> None:
        """Take prototypes out of every decision: mask them and zero their classifier weights
        (the fusion layer's columns are the model's to zero)."""
        self.active[index] = 0.0
        self.classifier.weight[:, index] = 0.0

    @property
    def prototype_ids(self) -> list[str]:
        """Stable ids: ``branch/CLASS/NN``, with ``@R`` from the second revision on."""
        return [base if int(r) == 1 else f"{base}@{int(r)}"
                for base, r in zip(self.base_ids, self.revision.tolist(), strict=True)]

    @property
    def n_prototypes(self) -> int:
        return self.prototypes.shape[0]

    @property
    def prototype_steps(self) -> int:
        return self.prototypes.shape[2]

    def class_identity(self) -> torch.Tensor:
        """(P, C) one-hot: which class each prototype belongs to."""
        return F.one_hot(self.prototype_class, len(self.class_codes)).float()

    @torch.no_grad()
    def reset_classifier(self) -> None:
        """ProtoPNet's initialisation: +1 from a class's own prototypes, the branch's
        incorrect-class connection (-0.5 unless configured) from the others."""
        identity = self.class_identity().T  # (C, P)
        self.classifier.weight.copy_(identity + self.incorrect_class_connection * (1 - identity))

    def latent(self, x: torch.Tensor) -> torch.Tensor:
        return self._latent(self.backbone(x))

    def _latent(self, features: torch.Tensor) -> torch.Tensor:
        if self.pooled:
            features = features.mean(dim=2, keepdim=True)
        return self.add_on(self.dropout(features))

    def forward(self, x: torch.Tensor) -> BranchOutput:
        features = self.backbone(x)
        z = self._latent(features)
        # no dropout here: a second dropout draw would change every seeded run's random stream
        feature_logits = self.feature_head(features.mean(dim=2))
        # similarities in float32 even under mixed precision: cosines of 512-d vectors lose
        # too much in float16 to rank windows reliably
        with torch.autocast(device_type=z.device.type, enabled=False):
            similarity_map = window_similarity(z.float(), self.prototypes.float(),
                                               self.similarity)
        similarities = similarity_map.amax(dim=2) * self.active
        return BranchOutput(similarities, self.classifier(similarities), similarity_map, z,
                            feature_logits)
