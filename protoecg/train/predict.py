"""Batched inference: label scores (fusion and per-branch logits) and prototype evidence.

Scores stay logits: AUROC reads only their order, and a float32 sigmoid loses it at the ends
(every logit above about 17 becomes 1.0, every one below about -104 becomes 0.0), so a
confident model's positives would tie with each other and with confident negatives. The
probabilities are for thresholds and display (``Predictions.fusion_probabilities``)."""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass

import numpy as np
import torch
from scipy.special import expit

from protoecg.model.protoecgnet import ProtoECGNet


@dataclass
class Predictions:
    fusion: np.ndarray  # (N, L) logits of the final layer (fusion or black-box head)
    branches: np.ndarray | None  # (N, L) logits of each label's branch classifier
    similarities: np.ndarray | None  # (N, P) each prototype's best-window similarity
    windows: np.ndarray | None  # (N, P) latent step of that best window
    # (N, L) logits of the branches' pre-training heads (pooled backbone features)
    features: np.ndarray | None = None

    @property
    def fusion_probabilities(self) -> np.ndarray:
        """(N, L) the final layer's label probabilities (float64, for thresholds)."""
        return expit(self.fusion.astype(np.float64))


def autocast(device: torch.device, enabled: bool):
    """Mixed precision where enabled: float16 autocast on CUDA, bfloat16 on the CPU."""
    if enabled and device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.float16)
    if enabled and device.type == "cpu":
        return torch.autocast("cpu", dtype=torch.bfloat16)
    return nullcontext()


def cpu_has_native_bf16() -> bool:
    """Whether this CPU computes bfloat16 in hardware (AVX512-BF16 or AMX tiles)."""
    return bool(torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported())


@torch.no_grad()
def predict(model: torch.nn.Module, signals: np.ndarray, batch_size: int = 128,
            device: torch.device | str = "cpu", amp: bool = False,
            evidence: bool = False) -> Predictions:
    device = torch.device(device)
    was_training = model.training
    model.eval()
    proto = isinstance(model, ProtoECGNet)
    fusion, branches, similarities, windows, features = [], [], [], [], []
    for start in range(0, len(signals), batch_size):
        x = torch.from_numpy(np.ascontiguousarray(signals[start:start + batch_size],
                                                  dtype=np.float32)).to(device)
        with autocast(device, amp):
            logits, outputs = model(x)
        fusion.append(logits.float().cpu())
        if proto:
            per_label = torch.zeros_like(logits, dtype=torch.float32)
            # each label: the mean logit of the pre-training heads that predict it (its own
            # branch's, and every head that reads all labels)
            feature_sum = torch.zeros_like(per_label)
            heads = torch.zeros(per_label.shape[1], device=per_label.device)
            for name, out in outputs.items():
                index = model.branch_label_index(name)
                per_label[:, index] = out.logits.float()
                if model.features_read_all_labels(name):
                    feature_sum += out.feature_logits.float()
                    heads += 1
                else:
                    feature_sum[:, index] += out.feature_logits.float()
                    heads[index] += 1
            branches.append(per_label.cpu())
            features.append((feature_sum / heads.clamp_min(1)).cpu())
            if evidence:
                similarities.append(torch.cat([o.similarities.float() for o in outputs.values()],
                                              1).cpu())
                windows.append(torch.cat([o.similarity_map.argmax(2) for o in outputs.values()],
                                         1).cpu())
    model.train(was_training)
    cat = lambda parts: torch.cat(parts).numpy() if parts else None  # noqa: E731
    return Predictions(cat(fusion), cat(branches), cat(similarities), cat(windows),
                       cat(features))
