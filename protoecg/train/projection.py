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

from protoecg.data.delineation import class_segment_table, window_segment_codes
from protoecg.errors import DataError
from protoecg.model.prototypes import PrototypeBranch, window_similarity
from protoecg.train.predict import autocast
from protoecg.train.windows import ProjectionRules, allowed_windows


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
    # (P,) 1 for prototypes in use; a disabled one takes its best window without holding it
    active: np.ndarray | None = None

    def sample_window(self, latent_step: np.ndarray, n_samples: int) -> tuple[np.ndarray,
                                                                               np.ndarray]:
        """Latent window -> (start, end) in input samples (end exclusive)."""
        scale = n_samples / self.latent_length
        start = np.round(latent_step * scale).astype(int)
        end = np.minimum(np.round((latent_step + self.steps) * scale).astype(int), n_samples)
        return start, end


def _allowed(branch: PrototypeBranch, latent_length: int, n_samples: int,
             rules: ProjectionRules) -> torch.Tensor:
    allowed = allowed_windows(latent_length, branch.prototype_steps, n_samples,
                              rules.margin_samples)
    if not allowed.any():
        raise DataError(f"projection: a margin of {rules.margin_samples} samples leaves no "
                        f"window of {branch.prototype_steps} latent steps in a record of "
                        f"{n_samples} samples (branch {branch.name})")
    return torch.from_numpy(allowed)


@torch.no_grad()
def _best_windows(branch: PrototypeBranch, signals: np.ndarray, batch_size: int,
                  device: torch.device, amp: bool = False,
                  rules: ProjectionRules | None = None,
                  eligible: torch.Tensor | None = None, k: int = 0,
                  wave: tuple[np.ndarray, np.ndarray] | None = None):
    """(P, N) best similarity of each prototype in each record over its allowed windows, and
    the window where it is (``amp``: the backbone under mixed precision); with ``k`` > 0 also
    each prototype's ``k`` best (record, window) pairs among the records ``eligible`` (N, P)
    marks, as (P, k) similarities and flat indices ``record * W + window``. ``wave``:
    (segment codes (N, W), allowed codes per prototype (P, S)): only windows centred on an
    allowed segment count.

    Similarities are computed in float64: a projected prototype and a window whose latent
    differs from its own by ~1e-3 in a few dimensions both reach cosine 1 within float32's
    resolution, so a float32 search let an already projected prototype hop between such
    windows at every push, each hop moving near-tied validation scores (LUDB, 20 validation
    ECGs: 0.017 morphology AUROC); in float64 projection is idempotent."""
    rules = rules or ProjectionRules()
    n = len(signals)
    best = torch.empty((branch.n_prototypes, n), dtype=torch.float64)
    where = torch.zeros((branch.n_prototypes, n), dtype=torch.long)
    top_value = top_index = None
    allowed = None
    for start in range(0, n, batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size])).to(device)
        with autocast(device, amp):
            z = branch.latent(x)
        similarity = window_similarity(z.double(), branch.prototypes.double(), branch.similarity)
        similarity = similarity.cpu()
        if allowed is None:
            allowed = _allowed(branch, z.shape[2], signals.shape[-1], rules)
        similarity = similarity.masked_fill(~allowed, float("-inf"))
        if wave is not None:
            codes, table = wave
            ok = table[:, codes[start:start + len(x)]]  # (P, B, W)
            similarity = similarity.masked_fill(~torch.from_numpy(ok).permute(1, 0, 2),
                                                float("-inf"))
        value, window = similarity.max(dim=2)  # (B, P)
        best[:, start:start + len(x)] = value.T
        where[:, start:start + len(x)] = window.T
        if k > 0:
            n_windows = similarity.shape[2]
            masked = similarity.masked_fill(~eligible[start:start + len(x), :, None],
                                            float("-inf"))
            flat = masked.permute(1, 0, 2).reshape(branch.n_prototypes, -1)  # (P, B * W)
            index = (torch.arange(flat.shape[1]) + start * n_windows).expand_as(flat)
            if top_value is not None:
                flat = torch.cat([top_value, flat], dim=1)
                index = torch.cat([top_index, index], dim=1)
            top_value, chosen = flat.topk(min(k, flat.shape[1]), dim=1)
            top_index = index.gather(1, chosen)
    if k > 0:
        return best, where, (top_value, top_index)
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


def _place_apart(candidates: tuple[torch.Tensor, torch.Tensor], order: list[int],
                 scope: list[int], steps: int, n_windows: int, blocked=None,
                 claims: list[bool] | None = None
                 ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, int]:
    """Greedy: prototypes in ``order`` each take their best candidate (record, window) that
    overlaps no window already taken in their ``scope`` (their class, or the whole branch)
    nor, where ``blocked(record, window)`` says so, another branch's window. Returns
    similarity, record, window per prototype and how many found no such candidate among their
    ``k`` (they keep their best, overlapping, candidate). A prototype whose ``claims`` entry
    is False (disabled: no rater sees it, no decision reads it) takes its best candidate and
    holds nothing."""
    values, flat = candidates
    n = values.shape[0]
    similarity = torch.empty(n, dtype=torch.float64)
    record = torch.empty(n, dtype=torch.long)
    window = torch.empty(n, dtype=torch.long)
    taken: dict[tuple[int, int], list[int]] = {}
    crowded = 0
    for p in order:
        if claims is not None and not claims[p]:
            r, w = divmod(int(flat[p, 0]), n_windows)
            similarity[p], record[p], window[p] = float(values[p, 0]), r, w
            continue
        choice = None
        for value, index in zip(values[p].tolist(), flat[p].tolist(), strict=True):
            if not np.isfinite(value):
                break
            r, w = divmod(index, n_windows)
            if blocked is not None and blocked(r, w):
                continue
            if all(abs(w - f) >= steps for f in taken.get((scope[p], r), ())):
                choice = (value, r, w)
                break
        if choice is None:
            crowded += 1
            r, w = divmod(int(flat[p, 0]), n_windows)
            choice = (float(values[p, 0]), r, w)
        similarity[p], record[p], window[p] = choice
        taken.setdefault((scope[p], choice[1]), []).append(choice[2])
    return similarity, record, window, crowded


CANDIDATES = 1024  # best (record, window) pairs kept per prototype for the distinct rules


@torch.no_grad()
def project_branch(branch: PrototypeBranch, signals: np.ndarray, labels: np.ndarray,
                   batch_size: int = 64, device: torch.device | str = "cpu",
                   n_neighbours: int = 5, replace: bool = True,
                   purity_k: int = 0, distinct_records: bool = False,
                   excluded: Sequence[tuple[int, int]] = (),
                   amp: bool = False,
                   rules: ProjectionRules | None = None,
                   window_segments: np.ndarray | None = None,
                   occupied: dict[int, list[tuple[int, int]]] | None = None
                   ) -> BranchProjection:
    """Project ``branch``'s prototypes onto ``signals`` (N, 12, T) with branch labels (N, C).

    ``replace``: write the projected latents into the prototypes (the projection stage); with
    False only report where each prototype sits (the catalog of an already projected model).
    ``n_neighbours=0`` skips the neighbour ranking (and, with ``replace``, the second pass over
    the data it needs): the training stage only needs the projection itself. ``purity_k > 0``
    also reports each prototype's purity over its ``purity_k`` most similar training records.
    ``rules`` (:class:`ProjectionRules`): which windows a prototype may take (apart from the
    other prototypes of its class or branch, away from the record's edges); prototypes choose
    in order of their best similarity, a later one taking its next-best allowed window.
    ``distinct_records`` is ``rules.distinct = "records"``.
    ``window_segments``: (N, W) the segment at each window's centre
    (``data.delineation.window_segment_codes``): a time-local prototype of a class with an
    expert rule only takes windows centred on its class's wave (where its class's records
    have any; else any window).
    ``occupied``: record -> [(start, end) in samples] of windows other branches' prototypes
    hold; with ``rules.distinct = "catalog"`` no prototype overlaps them (``project_model``
    fills it branch by branch).
    ``excluded``: (record, class) pairs a prototype of that class may not use (the records
    raters rejected for the class; the ``forbid`` schedule).
    ``amp``: rank windows with the backbone under mixed precision (bfloat16 on the CPU, float16
    on CUDA: about twice as fast); the chosen windows' latents, which become the prototypes,
    are recomputed in float32, so only near-ties can pick another window.
    """
    rules = rules or ProjectionRules()
    if rules.distinct != "catalog":
        occupied = None
    if distinct_records:
        rules = ProjectionRules("records", rules.margin_samples)
    device = torch.device(device)
    was_training = branch.training
    branch.eval()
    eligible = _eligible_except(branch, labels, excluded)  # (N, P)
    apart = rules.distinct in ("class", "branch", "catalog")
    wave = _wave_rule(branch, window_segments, eligible)
    scanned = _best_windows(branch, signals, batch_size, device, amp, rules, eligible,
                            CANDIDATES if apart else 0, wave)
    raw, where = scanned[0], scanned[1]
    best = raw.masked_fill(~eligible.T, float("-inf"))
    similarity, record = best.max(dim=1)
    if rules.distinct == "records":
        similarity, record = _distinct(best, similarity, branch.prototype_class.cpu())
    active = (branch.active.cpu() > 0).tolist()
    if apart:
        similarity, record, window = _apart(branch, signals, device, rules, occupied,
                                            scanned[2], similarity, active)
    else:
        window = where.gather(1, record[:, None]).squeeze(1)
    latent_length = None
    if replace:
        latent_length = _become_windows(branch, signals, record, window, device)
        if n_neighbours > 0 or purity_k > 0:  # ranked by similarity to the prototype as it is now
            raw, where = _best_windows(branch, signals, batch_size, device, amp, rules,
                                       wave=wave)
            best = raw.masked_fill(~eligible.T, float("-inf"))
    neighbour_similarity, neighbour_record, neighbour_window, missing = _neighbours(
        best, where, record, n_neighbours)
    if latent_length is None:
        latent_length = _latent_length(branch, signals, device)
    branch.train(was_training)
    return BranchProjection(
        branch.name, record.numpy(), window.numpy(), similarity.numpy(),
        neighbour_record.numpy(), neighbour_window.numpy(),
        neighbour_similarity.masked_fill(missing, float("nan")).numpy(),
        branch.prototype_steps, latent_length,
        _purity(raw, eligible, purity_k) if purity_k > 0 else None,
        np.asarray(active, dtype=np.int64),
    )


def _eligible_except(branch: PrototypeBranch, labels: np.ndarray,
                     excluded: Sequence[tuple[int, int]]) -> torch.Tensor:
    """(N, P): the records carrying each prototype's class, less the (record, class) pairs
    raters rejected; refuses a prototype left with none."""
    eligible = _eligible(branch, labels)
    for record, cls in excluded:
        eligible[record, branch.prototype_class.cpu() == cls] = False
    orphan = (~eligible.any(dim=0)).nonzero().flatten().tolist()
    if orphan:
        names = ", ".join(branch.prototype_ids[i] for i in orphan[:3])
        raise DataError(f"projection: no training ECG carries the class of prototype(s) {names}"
                        + (" apart from the records rejected for it" if excluded else ""))
    return eligible


def _apart(branch: PrototypeBranch, signals: np.ndarray, device: torch.device,
           rules: ProjectionRules, occupied: dict[int, list[tuple[int, int]]] | None,
           candidates: tuple[torch.Tensor, torch.Tensor], similarity: torch.Tensor,
           active: list[bool]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Each prototype's window under ``rules.distinct`` class / branch / catalog: placed
    greedily in order of best similarity, none overlapping another of its scope (nor, for
    catalog, a window another branch holds in ``occupied``)."""
    order = torch.argsort(similarity, descending=True, stable=True).tolist()
    classes = branch.prototype_class.cpu().tolist()
    scope = classes if rules.distinct == "class" else [0] * len(classes)
    n_windows = _n_windows(branch, signals, device)
    blocked = None
    if rules.distinct == "catalog" and occupied:
        latent_length = n_windows + branch.prototype_steps - 1
        spans = _sample_spans(latent_length, branch.prototype_steps, signals.shape[-1])

        def blocked(r: int, w: int) -> bool:
            start, end = spans[w]
            return any(start < e and s < end for s, e in occupied.get(r, ()))
    similarity, record, window, _ = _place_apart(candidates, order, scope,
                                                 branch.prototype_steps, n_windows, blocked,
                                                 claims=active)
    return similarity, record, window


def _become_windows(branch: PrototypeBranch, signals: np.ndarray, record: torch.Tensor,
                    window: torch.Tensor, device: torch.device) -> int:
    """Each prototype becomes the latent of its window (float32); returns the latent length."""
    chosen = sorted(set(record.tolist()))
    position = {r: i for i, r in enumerate(chosen)}
    x = torch.from_numpy(np.ascontiguousarray(signals[chosen])).to(device)
    z = branch.latent(x).float()
    steps = branch.prototype_steps
    rows = torch.tensor([position[r] for r in record.tolist()], device=device)
    offsets = window.to(device)[:, None] + torch.arange(steps, device=device)[None]
    # z[rows] (P, D, T') -> the prototype's window (P, D, L)
    windows = torch.gather(z[rows], 2, offsets[:, None, :].expand(-1, z.shape[1], -1))
    branch.prototypes.data.copy_(windows.to(branch.prototypes.dtype))
    return z.shape[2]


def _neighbours(best: torch.Tensor, where: torch.Tensor, record: torch.Tensor,
                n_neighbours: int):
    """Each prototype's ``n_neighbours`` most similar other eligible records and windows
    (record -1 where there are fewer)."""
    others = best.clone()
    others[torch.arange(len(record)), record] = float("-inf")
    k = min(max(n_neighbours, 0), others.shape[1])
    neighbour_similarity, neighbour_record = others.topk(k, dim=1)
    neighbour_window = where.gather(1, neighbour_record)
    missing = ~torch.isfinite(neighbour_similarity)
    neighbour_record[missing] = -1
    return neighbour_similarity, neighbour_record, neighbour_window, missing


def window_segments(branch: PrototypeBranch, signals: np.ndarray, fs: float,
                    device: torch.device | str = "cpu") -> np.ndarray | None:
    """(N, W) the segment code at the centre of each of the branch's windows of each ECG, by
    the fallback delineation (``project_branch``'s ``window_segments``); None for whole-record
    and pooled prototypes."""
    latent_length = _latent_length(branch, signals, torch.device(device))
    steps = branch.prototype_steps
    if steps >= latent_length:
        return None
    first = np.arange(latent_length - steps + 1)
    n_samples = signals.shape[-1]
    scale = n_samples / latent_length
    starts = np.round(first * scale)
    ends = np.minimum(np.round((first + steps) * scale), n_samples)
    return window_segment_codes(signals, fs, starts, ends)


def _sample_spans(latent_length: int, steps: int, n_samples: int) -> list[tuple[int, int]]:
    """(start, end) in samples of every window start, as ``BranchProjection.sample_window``."""
    scale = n_samples / latent_length
    return [(int(round(w * scale)), int(min(round((w + steps) * scale), n_samples)))
            for w in range(latent_length - steps + 1)]


def projection_order(branches: dict[str, PrototypeBranch]) -> list[str]:
    """The order in which ``rules.distinct = "catalog"`` projects branches: whole-record
    prototypes first (a pooled or 32-step prototype holds its whole record), time-local last
    (they can share a record with each other, never with a whole-record one)."""
    return sorted(branches, key=lambda name: (not branches[name].pooled,
                                              -branches[name].prototype_steps))


def hold(occupied: dict[int, list[tuple[int, int]]], result: BranchProjection,
         n_samples: int) -> None:
    """Add a branch's projected windows (in samples) to ``occupied`` (a disabled prototype's
    window is nobody's)."""
    start, end = result.sample_window(result.window, n_samples)
    active = (result.active.tolist() if result.active is not None
              else [1] * len(result.record))
    for r, s, e, on in zip(result.record.tolist(), start.tolist(), end.tolist(), active,
                           strict=True):
        if not on:
            continue
        occupied.setdefault(int(r), []).append((int(s), int(e)))


def _wave_rule(branch: PrototypeBranch, codes: np.ndarray | None, eligible: torch.Tensor
               ) -> tuple[np.ndarray, np.ndarray] | None:
    """(codes, (P, S) allowed segment codes per prototype) for ``_best_windows``, or None for
    whole-record prototypes and when no codes are given."""
    if codes is None or codes.shape[1] == 1:
        return None
    table = class_segment_table(branch.class_codes)[branch.prototype_class.cpu().numpy()]
    reachable = eligible.numpy().T.astype(np.float32) @ np.stack(
        [np.bincount(row, minlength=table.shape[1]) for row in codes]).astype(np.float32)
    table = table.copy()
    table[~(reachable * table).any(axis=1)] = True  # no such window anywhere: any window
    return codes, table


@torch.no_grad()
def _latent_length(branch: PrototypeBranch, signals: np.ndarray, device: torch.device) -> int:
    x = torch.from_numpy(np.ascontiguousarray(signals[:1])).to(device)
    return int(branch.latent(x).shape[2])


def _n_windows(branch: PrototypeBranch, signals: np.ndarray, device: torch.device) -> int:
    return _latent_length(branch, signals, device) - branch.prototype_steps + 1
