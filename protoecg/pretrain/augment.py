"""ECG augmentations for contrastive pretraining (SimCLR-style views), in torch, seeded.

Each takes a batch ``x`` (B, 12, T) float and a ``torch.Generator`` and returns a new tensor of
the same shape and dtype; the input is never changed. Parameters are per ECG. The set follows
SimCardioNet's ECG-specific views: a time crop/shift, an amplitude scale, baseline wander,
Gaussian noise, powerline interference and lead dropout.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import torch

Augmentation = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _uniform(shape, low: float, high: float, generator: torch.Generator,
             like: torch.Tensor) -> torch.Tensor:
    u = torch.rand(shape, generator=generator, device="cpu").to(like.device, like.dtype)
    return low + (high - low) * u


def shift(x: torch.Tensor, generator: torch.Generator, max_fraction: float = 0.1
          ) -> torch.Tensor:
    """Crop/shift: each ECG moves by up to ``max_fraction`` of its length, the uncovered part
    zero (the crop that a shorter window of a longer recording would give)."""
    b, _, t = x.shape
    limit = int(round(max_fraction * t))
    offsets = torch.randint(-limit, limit + 1, (b,), generator=generator).tolist()
    out = torch.zeros_like(x)
    for i, k in enumerate(offsets):
        if k >= 0:
            out[i, :, k:] = x[i, :, :t - k]
        else:
            out[i, :, :t + k] = x[i, :, -k:]
    return out


def amplitude_scale(x: torch.Tensor, generator: torch.Generator, low: float = 0.8,
                    high: float = 1.2) -> torch.Tensor:
    """Multiply each ECG by a factor in [low, high] (positive: waves keep their sign and their
    zero crossings)."""
    return x * _uniform((x.shape[0], 1, 1), low, high, generator, x)


def baseline_wander(x: torch.Tensor, generator: torch.Generator, fs: float = 100.0,
                    amplitude: float = 0.1, max_hz: float = 0.5) -> torch.Tensor:
    """Add a slow sinusoid (respiration-like, below ``max_hz``), the same drift in all leads,
    of up to ``amplitude`` (in the signal's units)."""
    b, _, t = x.shape
    time = torch.arange(t, device=x.device, dtype=x.dtype) / fs
    freq = _uniform((b, 1, 1), 0.05, max_hz, generator, x)
    phase = _uniform((b, 1, 1), 0.0, 2 * math.pi, generator, x)
    size = _uniform((b, 1, 1), 0.0, amplitude, generator, x)
    return x + size * torch.sin(2 * math.pi * freq * time + phase)


def gaussian_noise(x: torch.Tensor, generator: torch.Generator, sigma: float = 0.02
                   ) -> torch.Tensor:
    """Add white Gaussian noise of standard deviation ``sigma``."""
    noise = torch.randn(x.shape, generator=generator, device="cpu").to(x.device, x.dtype)
    return x + sigma * noise


def powerline_noise(x: torch.Tensor, generator: torch.Generator, fs: float = 100.0,
                    amplitude: float = 0.05) -> torch.Tensor:
    """Add 50 or 60 Hz mains interference as sampled at ``fs`` (above fs/2 it folds back,
    as it would in a recording), random phase, up to ``amplitude``."""
    b, _, t = x.shape
    time = torch.arange(t, device=x.device, dtype=x.dtype) / fs
    mains = torch.where(torch.rand((b, 1, 1), generator=generator) < 0.5, 50.0, 60.0).to(
        x.device, x.dtype)
    phase = _uniform((b, 1, 1), 0.0, 2 * math.pi, generator, x)
    size = _uniform((b, 1, 1), 0.0, amplitude, generator, x)
    return x + size * torch.sin(2 * math.pi * mains * time + phase)


def lead_dropout(x: torch.Tensor, generator: torch.Generator, p: float = 0.2,
                 keep_at_least: int = 1) -> torch.Tensor:
    """Zero each lead with probability ``p`` (an electrode off), keeping at least
    ``keep_at_least`` leads of every ECG."""
    b, leads, _ = x.shape
    drop = torch.rand((b, leads), generator=generator) < p
    for i in range(b):
        kept = (~drop[i]).sum().item()
        if kept < keep_at_least:
            order = torch.randperm(leads, generator=generator)
            drop[i, order[:keep_at_least]] = False
    return x * (~drop).to(x.device, x.dtype)[:, :, None]


AUGMENTATIONS: dict[str, Augmentation] = {
    "shift": shift, "amplitude_scale": amplitude_scale, "baseline_wander": baseline_wander,
    "gaussian_noise": gaussian_noise, "powerline_noise": powerline_noise,
    "lead_dropout": lead_dropout,
}


@dataclass
class ViewMaker:
    """Draws one random view of a batch: each augmentation applied with probability ``p``
    (per batch), in the order of ``AUGMENTATIONS``; ``fs`` for the frequency-based ones."""

    fs: float = 100.0
    p: float = 0.8
    names: tuple[str, ...] = tuple(AUGMENTATIONS)

    def __call__(self, x: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        for name in self.names:
            if torch.rand((), generator=generator).item() >= self.p:
                continue
            function = AUGMENTATIONS[name]
            if name in ("baseline_wander", "powerline_noise"):
                x = function(x, generator, fs=self.fs)
            else:
                x = function(x, generator)
        return x
