"""Prototype projection: each prototype becomes the latent of a real training window.

For every prototype we look, among the training ECGs that carry one of its classes, for the
window whose latent is most similar, and replace the prototype by that latent (ProtoPNet's
"push"; ProtoECGNet's projection). All in batches: one forward pass per batch gives the
similarity of every prototype to every window of every ECG (B, P, W); a running (P, N) table of
each record's best window replaces the official code's Python loop over prototypes and items.
The 5 next most similar records (their best windows) are kept as the prototype's neighbours.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from protoecg.errors import DataError
from protoecg.model.prototypes import PrototypeBranch, window_similarity
from protoecg.train.predict import autocast


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
    purity: np.ndarray | None = None  # (P,) when asked for (``purity_k``)

    def sample_window(self, latent_step: np.ndarray, n_samples: int) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        """Latent window -> (start, end) in input samples (end exclusive)."""
        scale = n_samples / self.latent_length
        start = np.round(latent_step * scale).astype(int)
        end = np.minimum(np.round((latent_step + self.steps) * scale).astype(int), n_samples)
        return start, end


@torch.no_grad()
def _best_windows(branch: PrototypeBranch, signals: np.ndarray, batch_size: int,
                  device: torch.device, amp: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
    """(P, N) best similarity of each prototype in each record, and the window where it is
    (``amp``: the backbone under mixed precision).

    Similarities are computed in float64: a projected prototype and a window whose latent
    differs from its own by ~1e-3 in a few dimensions both reach cosine 1 within float32's
    resolution, so a float32 search let an already projected prototype hop between such
    windows at every push, each hop moving near-tied validation scores (LUDB, 20 validation
    ECGs: 0.017 morphology AUROC); in float64 projection is idempotent."""
    n = len(signals)
    best = torch.empty((branch.n_prototypes, n), dtype=torch.float64)
    where = torch.zeros((branch.n_prototypes, n), dtype=torch.long)
    for start in range(0, n, batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size])).to(device)
        with autocast(device, amp):
            z = branch.latent(x)
        similarity = window_similarity(z.double(), branch.prototypes.double(), branch.similarity)
        value, window = similarity.max(dim=2)  # (B, P)
        best[:, start:start + len(x)] = value.cpu().T
        where[:, start:start + len(x)] = window.cpu().T
    return best, where


def _eligible(branch: PrototypeBranch, labels: np.ndarray) -> torch.Tensor:
    """(N, P): the record carries the prototype's class."""
    identity = branch.class_identity().cpu()  # (P, C); the label table stays on the host
    return (torch.from_numpy(np.asarray(labels, dtype=np.float32)) @ identity.T) > 0


def _purity(raw_best: torch.Tensor, eligible: torch.Tensor, k: int) -> np.ndarray:
    """ProtoPNet's purity: the share of a prototype's k most similar training records (best
    window each, among ALL training records) that carry its class."""
    k = min(k, raw_best.shape[1])
    nearest = raw_best.topk(k, dim=1).indices  # (P, k)
    return eligible.T.gather(1, nearest).float().mean(dim=1).numpy()


def _distinct(best: torch.Tensor, similarity: torch.Tensor, prototype_class: torch.Tensor
              ) -> tuple[torch.Tensor, torch.Tensor]:
    """Greedy: prototypes in order of their best similarity each take their best record not
    yet taken by a prototype of the same class."""
    similarity, record = similarity.clone(), torch.empty(len(similarity), dtype=torch.long)
    taken: dict[int, set[int]] = {}
    for p in torch.argsort(similarity, descending=True, stable=True).tolist():
        cls = int(prototype_class[p])
        scores = best[p].clone()
        used = sorted(taken.get(cls, ()))
        if used:
            scores[used] = float("-inf")
        value, r = scores.max(dim=0)
        if not torch.isfinite(value):  # the class has fewer records than prototypes
            value, r = best[p].max(dim=0)
        similarity[p], record[p] = value, r
        taken.setdefault(cls, set()).add(int(r))
    return similarity, record


@torch.no_grad()
def project_branch(branch: PrototypeBranch, signals: np.ndarray, labels: np.ndarray,
                   batch_size: int = 64, device: torch.device | str = "cpu",
                   n_neighbours: int = 5, replace: bool = True,
                   purity_k: int = 0, distinct_records: bool = False,
                   excluded: Sequence[tuple[int, int]] = (),
                   amp: bool = False) -> BranchProjection:
    """Project ``branch``'s prototypes onto ``signals`` (N, 12, T) with branch labels (N, C).

    ``replace``: write the projected latents into the prototypes (the projection stage); with
    False only report where each prototype sits (the catalog of an already projected model).
    ``n_neighbours=0`` skips the neighbour ranking (and, with ``replace``, the second pass over
    the data it needs): the training stage only needs the projection itself. ``purity_k > 0``
    also reports each prototype's purity over its ``purity_k`` most similar training records.
    ``distinct_records``: two prototypes of one class never land in the same record (so never
    on the same or an overlapping window); the official code allows it. Prototypes choose in
    order of their best similarity, a later one taking its next-best record.
    ``excluded``: (record, class) pairs a prototype of that class may not use (the records
    raters rejected for the class; the ``forbid`` schedule).
    ``amp``: rank windows with the backbone under mixed precision (bfloat16 on the CPU, float16
    on CUDA: about twice as fast); the chosen windows' latents, which become the prototypes,
    are recomputed in float32, so only near-ties can pick another window.
    """
    device = torch.device(device)
    was_training = branch.training
    branch.eval()
    eligible = _eligible(branch, labels)  # (N, P)
    for record, cls in excluded:
        eligible[record, branch.prototype_class.cpu() == cls] = False
    orphan = (~eligible.any(dim=0)).nonzero().flatten().tolist()
    if orphan:
        names = ", ".join(branch.prototype_ids[i] for i in orphan[:3])
        raise DataError(f"projection: no training ECG carries the class of prototype(s) {names}"
                        + (" apart from the records rejected for it" if excluded else ""))
    raw, where = _best_windows(branch, signals, batch_size, device, amp)
    best = raw.masked_fill(~eligible.T, float("-inf"))
    similarity, record = best.max(dim=1)
    if distinct_records:
        similarity, record = _distinct(best, similarity, branch.prototype_class.cpu())
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
        if n_neighbours > 0 or purity_k > 0:  # ranked by similarity to the prototype as it is now
            raw, where = _best_windows(branch, signals, batch_size, device, amp)
            best = raw.masked_fill(~eligible.T, float("-inf"))
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
        _purity(raw, eligible, purity_k) if purity_k > 0 else None,
    )


@torch.no_grad()
def init_from_latents(branch: PrototypeBranch, signals: np.ndarray, labels: np.ndarray,
                      rng: np.random.Generator, device: torch.device | str = "cpu") -> np.ndarray:
    """Set each prototype to the latent of a random window of a random training ECG of its
    class (different ECGs for the prototypes of one class while the class has enough), so the
    prototypes start inside the latent space's range rather than near-orthogonal to every real
    window (issue 11). Returns the chosen record of each prototype."""
    device = torch.device(device)
    was_training = branch.training
    branch.eval()
    eligible = _eligible(branch, labels).numpy()  # (N, P)
    records = np.empty(branch.n_prototypes, dtype=int)
    for cls in range(len(branch.class_codes)):
        members = np.flatnonzero(branch.prototype_class.cpu().numpy() == cls)
        pool = np.flatnonzero(eligible[:, members[0]])
        if len(pool) == 0:
            raise DataError(f"prototype initialisation: no training ECG carries class "
                            f"{branch.class_codes[cls]} of branch {branch.name}")
        records[members] = rng.choice(pool, size=len(members), replace=len(pool) < len(members))
    chosen = sorted(set(records.tolist()))
    x = torch.from_numpy(np.ascontiguousarray(signals[chosen])).to(device)
    z = branch.latent(x).float()  # (R, D, T')
    steps = branch.prototype_steps
    last = z.shape[2] - steps  # windows start at 0..last
    position = {r: i for i, r in enumerate(chosen)}
    for p, record in enumerate(records):
        first = int(rng.integers(0, last + 1))
        window = z[position[int(record)], :, first:first + steps]
        branch.prototypes.data[p] = window.to(branch.prototypes.dtype)
    branch.train(was_training)
    return records


@dataclass
class Replacement:
    """Where ``reproject`` put one prototype (record index into the projected set)."""

    prototype: int  # index in the branch
    record: int
    window: int  # first latent step
    similarity: float  # of the prototype before replacement to its new window


@torch.no_grad()
def reproject(branch: PrototypeBranch, signals: np.ndarray, labels: np.ndarray,
              targets: list[int], excluded_records: set[int],
              taken: dict[int, list[tuple[int, int]]], batch_size: int = 64,
              device: torch.device | str = "cpu") -> list[Replacement]:
    """Re-project the ``targets`` prototypes onto the best window that is still allowed: from a
    record carrying the prototype's class, not in ``excluded_records``, and not overlapping a
    window in ``taken`` (record -> [(first latent step, steps)], the windows other prototypes
    use). Targets are placed in order, each one's new window joining ``taken`` (R3-ProtoPNet's
    "next best real patch" after a rejection)."""
    device = torch.device(device)
    was_training = branch.training
    branch.eval()
    steps = branch.prototype_steps
    eligible = _eligible(branch, labels)[:, targets].T.clone()  # (T, N)
    if excluded_records:
        eligible[:, sorted(excluded_records)] = False
    prototypes = branch.prototypes[targets].double()  # float64 as in _best_windows
    tables, latents = [], {}
    for start in range(0, len(signals), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size])).to(device)
        z = branch.latent(x).double()
        tables.append(window_similarity(z, prototypes, branch.similarity).cpu())  # (B, T, W)
    table = torch.cat(tables).permute(1, 0, 2).clone()  # (T, N, W)
    n_windows = table.shape[2]
    table[~eligible] = float("-inf")
    taken = {r: list(w) for r, w in taken.items()}
    placed = []
    for row, target in enumerate(targets):
        scores = table[row].clone()
        for record, spans in taken.items():
            for first, length in spans:  # windows [w, w+steps) overlapping [first, first+length)
                low, high = max(first - steps + 1, 0), min(first + length, n_windows)
                scores[record, low:high] = float("-inf")
        flat = int(scores.argmax())
        record, window = divmod(flat, n_windows)
        value = float(scores[record, window])
        if not np.isfinite(value):
            raise DataError(f"replace: no allowed training window left for prototype "
                            f"{branch.prototype_ids[target]} (every record of its class is "
                            "excluded or its windows are taken)")
        placed.append(Replacement(target, record, window, value))
        taken.setdefault(record, []).append((window, steps))
        if record not in latents:
            x = torch.from_numpy(np.ascontiguousarray(signals[record:record + 1])).to(device)
            latents[record] = branch.latent(x).float()[0]
        new = latents[record][:, window:window + steps]
        branch.prototypes.data[target] = new.to(branch.prototypes.dtype)
    branch.train(was_training)
    return placed
