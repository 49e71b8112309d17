"""Is a branch's latent space alive? The figures that catch a degenerate branch.

A prototype branch is only worth reviewing when its add-on maps different ECG windows to
different latents. When it does not (a saturated sigmoid puts every unit at 0 or 1 for every
input), every prototype has cosine 1.000 to every training window, projection picks arbitrary
windows, and the faithfulness figures (projection cost, median cosine to the window) are met
vacuously. Two figures over a set of windows (the training windows for a run's record and its
catalog, the validation windows for early stopping):

* ``dims_varying``: latent dimensions whose standard deviation over the windows is at least
  ``VARYING_STD`` of the latent's root mean square (a dimension stuck at 0 or 1 everywhere
  does not vary);
* ``spread``: each prototype's similarity to every window, its 90th minus its 10th percentile;
  the branch's ``spread_median`` over its active prototypes. A prototype that rates every
  window alike cannot tell a clinician anything about the window it was projected onto.

The rule (``degenerate``): a branch is degenerate when its median spread is below
``MIN_SPREAD`` (0.02) or fewer than ``MIN_VARYING_SHARE`` (5%) of its latent dimensions vary.
Early stopping never keeps an epoch in which a branch is degenerate; ``study create`` refuses a
catalog with one. The thresholds sit far below a live branch (on LUDB and the PTB-XL subset
live branches spread 0.1-0.8) and far above a dead one (0.000 in the demo's morphology branch
of commit 7fc3a74).
"""

from __future__ import annotations

import numpy as np
import torch

from protoecg.model.prototypes import PrototypeBranch, window_similarity
from protoecg.train.predict import autocast, predict

VARYING_STD = 0.01  # of the latent's root mean square
MIN_SPREAD = 0.02
MIN_VARYING_SHARE = 0.05
MAX_RECORDS = 2000  # the spread is estimated on at most this many ECGs (seeded choice)


@torch.no_grad()
def branch_health(branch: PrototypeBranch, signals: np.ndarray, batch_size: int = 128,
                  device: torch.device | str = "cpu", amp: bool = False,
                  max_records: int = MAX_RECORDS, seed: int = 0) -> dict:
    """The liveness figures of one branch over the windows of ``signals`` (N, 12, T)."""
    device = torch.device(device)
    n = len(signals)
    index = np.arange(n)
    if n > max_records:
        index = np.sort(np.random.default_rng(seed).choice(n, max_records, replace=False))
    was_training = branch.training
    branch.eval()
    prototypes = branch.prototypes.double()
    total = total_sq = None
    count = 0
    similarities = []
    for start in range(0, len(index), batch_size):
        rows = index[start:start + batch_size]
        x = torch.from_numpy(np.ascontiguousarray(signals[rows], dtype=np.float32)).to(device)
        with autocast(device, amp):
            z = branch.latent(x)
        z = z.double()
        flat = z.permute(0, 2, 1).reshape(-1, z.shape[1])  # (B * T', D): one row per step
        total = flat.sum(0) if total is None else total + flat.sum(0)
        total_sq = (flat * flat).sum(0) if total_sq is None else total_sq + (flat * flat).sum(0)
        count += flat.shape[0]
        sim = window_similarity(z, prototypes, branch.similarity)  # (B, P, W)
        similarities.append(sim.permute(1, 0, 2).reshape(sim.shape[1], -1).cpu())
    branch.train(was_training)
    mean = total / count
    variance = (total_sq / count - mean * mean).clamp_min(0)
    rms = float((total_sq.sum() / (count * len(mean))).sqrt())
    varying = int((variance.sqrt() >= VARYING_STD * max(rms, 1e-12)).sum())
    table = torch.cat(similarities, dim=1).numpy()  # (P, windows)
    p10, p90 = np.quantile(table, [0.1, 0.9], axis=1)
    active = branch.active.cpu().numpy() > 0
    spread = (p90 - p10)[active] if active.any() else p90 - p10
    figures = {
        "latent_dims": int(len(mean)), "dims_varying": varying,
        "share_varying": varying / len(mean),
        "spread_median": float(np.median(spread)),
        "spread_p10": float(np.quantile(spread, 0.1)),
        "similarity_p10_median": float(np.median(p10[active] if active.any() else p10)),
        "similarity_p90_median": float(np.median(p90[active] if active.any() else p90)),
        "n_records": int(len(index)), "n_windows": int(table.shape[1]),
    }
    figures["degenerate"] = is_degenerate(figures)
    return figures


def is_degenerate(figures: dict) -> bool:
    """The rule of the module text."""
    return (figures["spread_median"] < MIN_SPREAD
            or figures["share_varying"] < MIN_VARYING_SHARE)


def model_health(model, signals: np.ndarray, batch_size: int = 128,
                 device: torch.device | str = "cpu", amp: bool = False) -> dict[str, dict]:
    """``branch_health`` of every branch of a ProtoECGNet."""
    return {name: branch_health(branch, signals, batch_size, device, amp)
            for name, branch in model.branches.items()}


def degenerate_branches(health: dict[str, dict]) -> list[str]:
    return [name for name, figures in health.items() if figures.get("degenerate")]


def describe(name: str, figures: dict) -> str:
    """One line naming the branch and what is wrong with it."""
    return (f"the {name} branch is degenerate: {figures['dims_varying']} of "
            f"{figures['latent_dims']} latent dimensions vary over {figures['n_windows']} "
            f"windows and its prototypes' similarity to them spreads "
            f"{figures['spread_median']:.3f} (median p90 - p10; a live branch spreads at least "
            f"{MIN_SPREAD} with at least {MIN_VARYING_SHARE:.0%} of its dimensions varying), so "
            "its prototypes cannot tell one window from another")


def health_warnings(health: dict[str, dict]) -> list[str]:
    """One line per degenerate branch (``train``, ``evaluate``, ``project`` print them)."""
    return [describe(name, health[name]) for name in degenerate_branches(health)]


TOP_CONTRIBUTORS = 3


def decision_thresholds(logits: np.ndarray, labels: np.ndarray) -> np.ndarray:
    """(L,) per label the logit threshold with the best F1 on these ECGs (a label with no
    positive: +inf, it is never predicted). A fixed probability of 0.5 says nothing about a
    model whose logits are all far below 0 (the -0.5 connections from 60 other classes'
    prototypes put LUDB's morphology logits near -25: no positive prediction at all)."""
    thresholds = np.full(logits.shape[1], np.inf)
    for j in range(logits.shape[1]):
        truth = np.asarray(labels[:, j]) > 0
        if not truth.any():
            continue
        best = -1.0
        for t in np.unique(logits[truth, j]):
            predicted = logits[:, j] >= t
            tp = int((predicted & truth).sum())
            f1 = 2 * tp / (predicted.sum() + truth.sum())
            if f1 > best:
                best, thresholds[j] = f1, t
    return thresholds


def decision_usage(model, signals: np.ndarray, labels: np.ndarray, batch_size: int = 128,
                   device: torch.device | str = "cpu", amp: bool = False) -> np.ndarray:
    """(P,) how many true-positive predictions on ``signals`` (labels (N, L)) each prototype
    drives: it is among the ``TOP_CONTRIBUTORS`` active prototypes with the largest
    contribution (similarity x fusion weight) to a label the model predicts (its logit at or
    above the label's F1-best threshold on these ECGs, ``decision_thresholds``) and the ECG
    carries. A prototype with 0 takes no part in any correct positive decision."""
    pred = predict(model, signals, batch_size, device, amp, evidence=True)
    weight = model.fusion.weight.detach().float().cpu().numpy()  # (L, P)
    active = model.active.detach().cpu().numpy() > 0
    counts = np.zeros(weight.shape[1], dtype=int)
    truth = np.asarray(labels) > 0
    positive = (pred.fusion >= decision_thresholds(pred.fusion, truth)) & truth
    for n, label in zip(*np.nonzero(positive), strict=True):
        contribution = np.where(active, pred.similarities[n] * weight[label], -np.inf)
        top = np.argsort(-contribution, kind="stable")[:TOP_CONTRIBUTORS]
        counts[top[np.isfinite(contribution[top])]] += 1
    return counts
