"""ResNet-18 feature extractors of ProtoECGNet.

- rhythm: 1D ResNet-18 on (B, 12, T): conv1 k7 s2 + max-pool, BasicBlock [2, 2, 2, 2],
  64 -> 512 channels; the branch pools the (B, 512, T/32) map globally.
- morphology / global: "2D ResNet-18" on (B, 1, 12, T) whose first convolution has kernel (12, 7)
  and stride (1, 2), mixing all 12 leads at once, so every later map is one row high.

On a one-row map a 3x3 convolution with padding 1 only ever uses its middle kernel row (the other
two rows meet zero padding), and BatchNorm2d over (B, C, 1, W) is BatchNorm1d over (B, C, W). So
after the (12, 7) stem we run the same 1D residual trunk as the rhythm branch: the same function
class as the official 2D network, a third of its multiply-adds and no duplicated 1D/2D code.
"""

from __future__ import annotations

import torch
from torch import nn


class BasicBlock1d(nn.Module):
    expansion = 1

    def __init__(self, in_channels: int, channels: int, stride: int = 1):
        super().__init__()
        self.conv1 = nn.Conv1d(in_channels, channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm1d(channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm1d(channels)
        self.relu = nn.ReLU(inplace=True)
        self.downsample = None
        if stride != 1 or in_channels != channels:
            self.downsample = nn.Sequential(
                nn.Conv1d(in_channels, channels, 1, stride, bias=False), nn.BatchNorm1d(channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class ResNetTrunk(nn.Module):
    """Max-pool + the four residual stages of ResNet-18 (BasicBlock [2, 2, 2, 2]), 1D."""

    def __init__(self, widths: tuple[int, int, int, int], blocks: tuple[int, ...] = (2, 2, 2, 2)):
        super().__init__()
        self.maxpool = nn.MaxPool1d(3, 2, 1)
        layers, in_channels = [], widths[0]
        for i, (width, n_blocks) in enumerate(zip(widths, blocks, strict=True)):
            stride = 1 if i == 0 else 2
            stage = [BasicBlock1d(in_channels, width, stride)]
            stage += [BasicBlock1d(width, width) for _ in range(n_blocks - 1)]
            layers.append(nn.Sequential(*stage))
            in_channels = width
        self.layers = nn.Sequential(*layers)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.layers(self.maxpool(x))


class ResNet18Backbone(nn.Module):
    """(B, 12, T) -> (B, C, T/32). ``lead_mixing_stem``: the 2D (12, 7) first convolution."""

    def __init__(self, widths: tuple[int, int, int, int], n_leads: int = 12,
                 lead_mixing_stem: bool = False):
        super().__init__()
        self.lead_mixing_stem = lead_mixing_stem
        if lead_mixing_stem:
            self.conv1 = nn.Conv2d(1, widths[0], (n_leads, 7), (1, 2), (0, 3), bias=False)
        else:
            self.conv1 = nn.Conv1d(n_leads, widths[0], 7, 2, 3, bias=False)
        self.bn1 = nn.BatchNorm1d(widths[0])
        self.relu = nn.ReLU(inplace=True)
        self.trunk = ResNetTrunk(widths)
        self.out_channels = widths[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.lead_mixing_stem:
            x = self.conv1(x.unsqueeze(1)).squeeze(2)  # (B, 64, 1, T/2) -> (B, 64, T/2)
        else:
            x = self.conv1(x)
        return self.trunk(self.relu(self.bn1(x)))
