"""The activations the clusters are fitted on: the outputs of the last three residual stages
of each branch's backbone, brought to one time axis (the finest of the three, by linear
interpolation of the coarser two) and concatenated over channels, as Boubekki et al. do."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from protoecg.model.protoecgnet import ProtoECGNet
from protoecg.train.predict import autocast

N_STAGES = 3  # the last three residual stages


class StageError(ValueError):
    """A model whose branches do not have the residual stages the clusters read."""


def _stages(branch) -> list[torch.nn.Module]:
    layers = getattr(getattr(getattr(branch, "backbone", None), "trunk", None), "layers", None)
    if layers is None or len(layers) < N_STAGES:
        raise StageError("its backbone has no residual stages to read (expected a ResNet "
                         f"trunk with at least {N_STAGES})")
    return list(layers)[-N_STAGES:]


@torch.no_grad()
def stage_activations(model: ProtoECGNet, signals: np.ndarray, batch_size: int = 64,
                      device: str | torch.device = "cpu", amp: bool = False
                      ) -> dict[str, np.ndarray]:
    """Per branch (N, T, D) float32: each time step's activations of the last three residual
    stages, T the finest stage's length."""
    device = torch.device(device)
    model.eval()
    names = list(model.branches)
    stages = {name: _stages(model.branches[name]) for name in names}
    captured: dict[tuple[str, int], torch.Tensor] = {}
    hooks = []
    for name in names:
        for i, stage in enumerate(stages[name]):
            def keep(_module, _inputs, output, key=(name, i)):
                captured[key] = output
            hooks.append(stage.register_forward_hook(keep))
    out: dict[str, list[np.ndarray]] = {name: [] for name in names}
    try:
        for start in range(0, len(signals), batch_size):
            x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size],
                                                      dtype=np.float32)).to(device)
            captured.clear()
            with autocast(device, amp):
                for name in names:
                    model.branches[name].backbone(x)
            for name in names:
                maps = [captured[(name, i)].float() for i in range(N_STAGES)]
                length = max(m.shape[2] for m in maps)
                joined = torch.cat([m if m.shape[2] == length else F.interpolate(
                    m, size=length, mode="linear", align_corners=False) for m in maps], dim=1)
                out[name].append(joined.transpose(1, 2).cpu().numpy())
    finally:
        for hook in hooks:
            hook.remove()
    return {name: np.concatenate(parts) for name, parts in out.items()}
