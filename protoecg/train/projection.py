"""Prototype projection: each prototype becomes the latent of a real training window.

For every prototype we look, among the training ECGs that carry one of its classes, for the
window whose latent is most similar, and replace the prototype by that latent (ProtoPNet's
"push"; ProtoECGNet's projection). All in batches: one forward pass per batch gives the
similarity of every prototype to every window of every ECG (B, P, W); a running (P, N) table of
each record's best window replaces the official code's Python loop over prototypes and items.
The 5 next most similar records (their best windows) are kept as the prototype's neighbours.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from protoecg.errors import DataError
from protoecg.model.prototypes import PrototypeBranch, window_similarity


@dataclass
class BranchProjection:
    """Where each of a branch's prototypes was projected (indices into the projected set)."""

    branch: str
    record: np.ndarray  # (P,) index of the source ECG
    window: np.ndarray  # (P,) first latent step of the window
    similarity: np.ndarray  # (P,) similarity of the prototype (before replacement) to it
    neighbour_record: np.ndarray  # (P, k) next most similar ECGs (-1 where fewer exist)
    neighbour_window: np.ndarray  # (P, k)
    neighbour_similarity: np.ndarray  # (P, k) (to the projected prototype)
    steps: int  # prototype length in latent steps
    latent_length: int  # latent steps per ECG (1 for the pooled rhythm branch)

    def sample_window(self, latent_step: np.ndarray, n_samples: int) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        """Latent window -> (start, end) in input samples (end exclusive)."""
        scale = n_samples / self.latent_length
        start = np.round(latent_step * scale).astype(int)
        end = np.minimum(np.round((latent_step + self.steps) * scale).astype(int), n_samples)
        return start, end


@torch.no_grad()
def _best_windows(branch: PrototypeBranch, signals: np.ndarray, eligible: torch.Tensor,
                  batch_size: int, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, N) best similarity per prototype and record (-inf where not eligible), and window."""
    n = len(signals)
    best = torch.full((branch.n_prototypes, n), float("-inf"))
    where = torch.zeros((branch.n_prototypes, n), dtype=torch.long)
    for start in range(0, n, batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size])).to(device)
        z = branch.latent(x).float()
        similarity = window_similarity(z, branch.prototypes.float(), branch.similarity)
        value, window = similarity.max(dim=2)  # (B, P)
        value = value.cpu().masked_fill(~eligible[start:start + batch_size], float("-inf"))
        best[:, start:start + len(x)] = value.T
        where[:, start:start + len(x)] = window.cpu().T
    return best, where


@torch.no_grad()
def project_branch(branch: PrototypeBranch, signals: np.ndarray, labels: np.ndarray,
                   batch_size: int = 64, device: torch.device | str = "cpu",
                   n_neighbours: int = 5, replace: bool = True) -> BranchProjection:
    """Project ``branch``'s prototypes onto ``signals`` (N, 12, T) with branch labels (N, C).

    ``replace``: write the projected latents into the prototypes (the projection stage); with
    False only report where each prototype sits (the catalog of an already projected model).
    ``n_neighbours=0`` skips the neighbour ranking (and, with ``replace``, the second pass over
    the data it needs): the training stage only needs the projection itself.
    """
    device = torch.device(device)
    was_training = branch.training
    branch.eval()
    identity = branch.class_identity()  # (P, C)
    eligible = (torch.from_numpy(np.asarray(labels, dtype=np.float32)) @ identity.T) > 0  # (N, P)
    orphan = (~eligible.any(dim=0)).nonzero().flatten().tolist()
    if orphan:
        names = ", ".join(branch.prototype_ids[i] for i in orphan[:3])
        raise DataError(f"projection: no training ECG carries the class of prototype(s) {names}")
    best, where = _best_windows(branch, signals, eligible, batch_size, device)
    similarity, record = best.max(dim=1)
    window = where.gather(1, record[:, None]).squeeze(1)
    latent_length = None
    if replace:
        chosen = sorted(set(record.tolist()))
        position = {r: i for i, r in enumerate(chosen)}
        x = torch.from_numpy(np.ascontiguousarray(signals[chosen])).to(device)
        z = branch.latent(x).float()
        latent_length = z.shape[2]
        steps = branch.prototype_steps
        rows = torch.tensor([position[r] for r in record.tolist()], device=device)
        offsets = window.to(device)[:, None] + torch.arange(steps, device=device)[None]
        # z[rows] (P, D, T') -> the prototype's window (P, D, L)
        windows = torch.gather(z[rows], 2, offsets[:, None, :].expand(-1, z.shape[1], -1))
        branch.prototypes.data.copy_(windows.to(branch.prototypes.dtype))
        if n_neighbours > 0:  # neighbours are ranked by similarity to the prototype as it is now
            best, where = _best_windows(branch, signals, eligible, batch_size, device)
    others = best.clone()
    others[torch.arange(len(record)), record] = float("-inf")
    k = min(max(n_neighbours, 0), others.shape[1])
    neighbour_similarity, neighbour_record = others.topk(k, dim=1)
    neighbour_window = where.gather(1, neighbour_record)
    missing = ~torch.isfinite(neighbour_similarity)
    neighbour_record[missing] = -1
    if latent_length is None:
        x = torch.from_numpy(np.ascontiguousarray(signals[:1])).to(device)
        latent_length = branch.latent(x).shape[2]
    branch.train(was_training)
    return BranchProjection(
        branch.name, record.numpy(), window.numpy(), similarity.numpy(),
        neighbour_record.numpy(), neighbour_window.numpy(),
        neighbour_similarity.masked_fill(missing, float("nan")).numpy(),
        branch.prototype_steps, latent_length,
    )
