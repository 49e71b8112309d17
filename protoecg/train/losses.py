"""ProtoECGNet's loss terms (DESIGN.md; Sethi et al. 2025 and its official code).

All take a branch's similarities ``S`` (B, P) to its prototypes, the prototypes' classes and the
batch's multi-hot labels over the branch's classes ``Y`` (B, C). Prototype-set terms take the
prototype tensor (P, D, L). Each is checked in ``tests/test_losses.py`` against values worked out
by hand on small tensors.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def positive_weights(labels: torch.Tensor) -> torch.Tensor:
    """pos_weight_c = (N_total_positives - n_c) / n_c over the training labels (official code).

    Classes with no positive get weight 1 (they contribute only negatives anyway).
    """
    labels = labels.float()
    per_class = labels.sum(dim=0)
    total = per_class.sum()
    weights = (total - per_class) / per_class.clamp_min(1)
    return torch.where(per_class > 0, weights, torch.ones_like(weights))


def bce(logits: torch.Tensor, labels: torch.Tensor, pos_weight: torch.Tensor | None = None):
    """Multi-label binary cross-entropy on logits, mean over samples and classes."""
    return F.binary_cross_entropy_with_logits(logits, labels.float(), pos_weight=pos_weight)


def _class_max(similarities: torch.Tensor, identity: torch.Tensor) -> torch.Tensor:
    """(B, C): for each sample and class, the highest similarity to that class's prototypes."""
    masked = similarities[:, :, None].masked_fill(identity[None] == 0, float("-inf"))
    return masked.amax(dim=1)


def clustering(similarities: torch.Tensor, identity: torch.Tensor, labels: torch.Tensor):
    """-mean over (sample, positive class) of the max similarity to that class's prototypes.

    ``identity`` (P, C) one-hot prototype classes. Zero when the batch has no positive.
    """
    positives = labels.bool()
    if not positives.any():
        return similarities.sum() * 0.0
    return -_class_max(similarities, identity)[positives].mean()


def separation(similarities: torch.Tensor, identity: torch.Tensor, labels: torch.Tensor):
    """+mean over samples of the max similarity to prototypes of classes the sample lacks."""
    foreign = (1 - labels.float()) @ identity.T  # (B, P): 1 where the prototype's class is absent
    masked = similarities.masked_fill(foreign == 0, float("-inf")).amax(dim=1)
    valid = torch.isfinite(masked)  # a sample carrying every class has no foreign prototype
    if not valid.any():
        return similarities.sum() * 0.0
    return masked[valid].mean()


def nearest_window(similarities: torch.Tensor, identity: torch.Tensor, labels: torch.Tensor,
                   active: torch.Tensor | None = None) -> torch.Tensor:
    """-mean over prototypes of the highest similarity to a window of a batch ECG of the
    prototype's class (Li et al. 2018's "every prototype close to some training example", within
    the batch). ProtoPNet's clustering pulls only the best prototype of a class per sample;
    this pulls every prototype towards its nearest real window, so projection is a small step.
    Prototypes whose class has no positive in the batch (or that are disabled) are left out;
    zero when none is left.
    """
    eligible = (labels.float() @ identity.T) > 0  # (B, P)
    if active is not None:
        eligible = eligible & (active[None] > 0)
    nearest = similarities.masked_fill(~eligible, float("-inf")).amax(dim=0)  # (P,)
    valid = torch.isfinite(nearest)
    if not valid.any():
        return similarities.sum() * 0.0
    return -nearest[valid].mean()


def prototype_cosine(prototypes: torch.Tensor) -> torch.Tensor:
    """(P, P) cosine similarity of the flattened prototypes (computed once per step)."""
    flat = F.normalize(prototypes.flatten(1), dim=1)
    return flat @ flat.T


def diversity(cosine: torch.Tensor) -> torch.Tensor:
    """||P^ P^T - I||_F^2 / P^2 on L2-normalised prototypes (``cosine`` = P^ P^T)."""
    n = cosine.shape[0]
    eye = torch.eye(n, device=cosine.device, dtype=cosine.dtype)
    return ((cosine - eye) ** 2).sum() / n**2


def jaccard_cooccurrence(labels: torch.Tensor) -> torch.Tensor:
    """(C, C) Jaccard index |a and b| / |a or b| between label columns of the training set."""
    y = labels.float()
    both = y.T @ y
    count = y.sum(dim=0)
    either = count[:, None] + count[None, :] - both
    return torch.where(either > 0, both / either.clamp_min(1), torch.zeros_like(both))


def contrastive_targets(jaccard: torch.Tensor, prototype_class: torch.Tensor):
    """(pos, neg) prototype-pair weights from the label co-occurrence, as the official code.

    pos = A J A^T (A the (P, C) prototype-class assignment, J the Jaccard matrix, so pos[i, j]
    is the co-occurrence of the two prototypes' classes, 1 within a class), neg = 1 - pos; each
    normalised to sum to 1, so the term compares weighted means, whatever P is.
    """
    pos = jaccard[prototype_class][:, prototype_class]
    neg = 1 - pos
    return pos / (pos.sum() + 1e-6), neg / (neg.sum() + 1e-6)


def contrastive(cosine: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor) -> torch.Tensor:
    """-(sum S*pos - sum S*neg) / sqrt(P): prototypes of co-occurring classes may be close,
    those of classes that never co-occur are pushed apart."""
    return -((cosine * pos).sum() - (cosine * neg).sum()) / math.sqrt(cosine.shape[0])


def l1(weight: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Sum of absolute weights; with ``mask`` only where it is 1 (ProtoPNet: a branch
    classifier's connections from other classes' prototypes)."""
    return (weight.abs() if mask is None else weight.abs() * mask).sum()


def forget(similarity: torch.Tensor, same_class: torch.Tensor) -> torch.Tensor:
    """ProtoPDebug's forgetting term (Bontempelli et al. 2023): the mean, over prototypes whose
    class has a forbidden window, of the highest similarity to a forbidden window of their class.

    ``similarity`` (F, P): each prototype's similarity to each forbidden window; ``same_class``
    (F, P): the window was rejected for the prototype's class. Zero when nothing is forbidden.
    """
    concerned = same_class.any(dim=0)
    if not concerned.any():
        return similarity.sum() * 0.0
    highest = similarity.masked_fill(~same_class, float("-inf")).amax(dim=0)
    return highest[concerned].mean()
