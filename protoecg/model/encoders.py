"""The network contrastive pretraining trains: the three branch encoders (the same backbones
as ProtoECGNet's branches and the black-box twin), each with a projection head, and for
ECG-report alignment a report encoder. Its ``backbones.<branch>.*`` weights are what
``protoecg train --init`` copies."""

from __future__ import annotations

import torch
from torch import nn

from protoecg.model.backbone import ResNet18Backbone
from protoecg.model.config import ModelConfig
from protoecg.model.protoecgnet import BRANCH_DESIGN
from protoecg.model.text import HashedTextEncoder

METHODS = ("simclr", "report")


class EncoderPretrainNet(nn.Module):
    """forward(x) -> {branch: (B, projection_dim)}: each encoder's pooled features through a
    two-layer projection head (SimCLR's g); ``text`` embeds reports (method ``report``)."""

    def __init__(self, config: ModelConfig, method: str, projection_dim: int = 128,
                 text_buckets: int = 65536):
        super().__init__()
        if method not in METHODS:
            raise ValueError(f"unknown pretraining method {method!r}")
        self.method = method
        width = config.widths[-1]
        self.backbones = nn.ModuleDict({
            name: ResNet18Backbone(config.widths, lead_mixing_stem=stem)
            for name, (stem, _) in BRANCH_DESIGN.items()})
        self.heads = nn.ModuleDict({
            name: nn.Sequential(nn.Linear(width, width), nn.ReLU(inplace=True),
                                nn.Linear(width, projection_dim))
            for name in self.backbones})
        self.text = (HashedTextEncoder(projection_dim, text_buckets) if method == "report"
                     else None)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: self.heads[name](backbone(x).mean(dim=2))
                for name, backbone in self.backbones.items()}
