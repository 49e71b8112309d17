"""Prototypes placed on real windows outside the projection stage: their initialisation from
the latents of random windows of their class (``latent_init``), and re-projection after review
(``prune --action replace``: a rejected prototype onto the next best training window still
allowed, R3-ProtoPNet's "next best real patch")."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from protoecg.errors import DataError
from protoecg.model.prototypes import PrototypeBranch, window_similarity

# the projection stage's own rules, shared so that no prototype is placed by other ones
from protoecg.train.projection import _allowed, _eligible, _wave_rule
from protoecg.train.windows import ProjectionRules


@torch.no_grad()
def init_from_latents(branch: PrototypeBranch, signals: np.ndarray, labels: np.ndarray,
                      rng: np.random.Generator, device: torch.device | str = "cpu",
                      rules: ProjectionRules | None = None) -> np.ndarray:
    """Set each prototype to the latent of a random window of a random training ECG of its
    class (different ECGs for the prototypes of one class while the class has enough), so the
    prototypes start inside the latent space's range rather than near-orthogonal to every real
    window (issue 11); the window among those ``rules.margin_samples`` allows. Returns the
    chosen record of each prototype."""
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
    starts = np.flatnonzero(_allowed(branch, z.shape[2], signals.shape[-1],
                                     rules or ProjectionRules()).numpy())
    position = {r: i for i, r in enumerate(chosen)}
    for p, record in enumerate(records):
        # without a margin every start is allowed and the draw is the one it always was
        first = int(starts[rng.integers(0, len(starts))])
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
              device: torch.device | str = "cpu",
              rules: ProjectionRules | None = None,
              window_segments: np.ndarray | None = None) -> list[Replacement]:
    """Re-project the ``targets`` prototypes onto the best window that is still allowed: from a
    record carrying the prototype's class, not in ``excluded_records``, and not overlapping a
    window in ``taken`` (record -> [(first latent step, steps)], the windows other prototypes
    use), nor within ``rules.margin_samples`` of the record's edges. Targets are placed in
    order, each one's new window joining ``taken`` (R3-ProtoPNet's "next best real patch"
    after a rejection). ``window_segments`` (N, W): as in ``project_branch``, a time-local
    prototype of a class with an expert rule only takes a window centred on its wave."""
    device = torch.device(device)
    was_training = branch.training
    branch.eval()
    steps = branch.prototype_steps
    everyone = _eligible(branch, labels)  # (N, P)
    eligible = everyone[:, targets].T.clone()  # (T, N)
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
    latent_length = n_windows + steps - 1
    allowed = _allowed(branch, latent_length, signals.shape[-1], rules or ProjectionRules())
    table[:, :, ~allowed] = float("-inf")
    wave = _wave_rule(branch, window_segments, everyone)
    if wave is not None:
        codes, ok = wave
        on_wave = torch.from_numpy(ok[targets][:, codes])  # (T, N, W)
        table = table.masked_fill(~on_wave, float("-inf"))
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
