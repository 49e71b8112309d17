"""Contrastive losses for pretraining: NT-Xent (SimCLR) with SimCardioNet's cosine term, and
the symmetric CLIP loss for ECG-report alignment."""

from __future__ import annotations

import torch
import torch.nn.functional as F


def nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1) -> torch.Tensor:
    """SimCLR's normalised temperature-scaled cross entropy over 2B views: view i's positive
    is its twin; the other 2B - 2 views of the batch are its negatives. Mean over the 2B."""
    if z1.shape != z2.shape or z1.ndim != 2:
        raise ValueError(f"two (B, D) embeddings of one shape expected, got {tuple(z1.shape)} "
                         f"and {tuple(z2.shape)}")
    b = z1.shape[0]
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    logits = z @ z.T / temperature
    logits = logits.masked_fill(torch.eye(2 * b, dtype=torch.bool, device=z.device),
                                float("-inf"))
    target = torch.cat([torch.arange(b, 2 * b), torch.arange(0, b)]).to(z.device)
    return F.cross_entropy(logits, target)


def cosine_term(z1: torch.Tensor, z2: torch.Tensor) -> torch.Tensor:
    """SimCardioNet's added cosine-similarity term: mean of 1 - cos(z1_i, z2_i), pulling the
    two views of an ECG together beyond what the softmax asks."""
    return (1 - F.cosine_similarity(z1, z2, dim=1)).mean()


def simclr_loss(z1: torch.Tensor, z2: torch.Tensor, temperature: float = 0.1,
                cosine_weight: float = 0.5) -> torch.Tensor:
    """NT-Xent + ``cosine_weight`` x the cosine term (0 gives plain SimCLR)."""
    loss = nt_xent(z1, z2, temperature)
    return loss + cosine_weight * cosine_term(z1, z2) if cosine_weight else loss


def clip_loss(ecg: torch.Tensor, text: torch.Tensor, temperature: float = 0.07
              ) -> torch.Tensor:
    """CLIP's symmetric InfoNCE: ECG i matches report i among the batch's reports and report
    i matches ECG i among its ECGs; the mean of the two cross entropies."""
    if ecg.shape != text.shape or ecg.ndim != 2:
        raise ValueError(f"two (B, D) embeddings of one shape expected, got "
                         f"{tuple(ecg.shape)} and {tuple(text.shape)}")
    logits = F.normalize(ecg, dim=1) @ F.normalize(text, dim=1).T / temperature
    target = torch.arange(len(ecg), device=ecg.device)
    return (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target)) / 2
