"""Synthesis: per-pixel 1x1 layers from the stacked latents to colour, then 3x3 residual convs.

Colour is RGB (or one grey channel) in [0, 1]; the decoder clamps and rounds to 8 bits.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from ..arch import Architecture


class Synthesis(nn.Module):
    def __init__(self, arch: Architecture, out_channels: int):
        super().__init__()
        widths = [arch.latent_planes, *arch.synthesis_hidden, out_channels]
        self.pointwise = nn.ModuleList(
            nn.Conv2d(a, b, 1) for a, b in zip(widths[:-1], widths[1:]))
        self.residual = nn.ModuleList(
            nn.Conv2d(out_channels, out_channels, 3) for _ in range(arch.synthesis_residual))
        with torch.no_grad():
            self.pointwise[-1].bias.fill_(0.5)
            for conv in self.residual:
                conv.weight.mul_(0.1)
                conv.bias.zero_()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for layer in self.pointwise[:-1]:
            x = torch.relu(layer(x))
        x = self.pointwise[-1](x)
        for conv in self.residual:
            x = x + conv(F.pad(torch.relu(x), (1, 1, 1, 1), mode="replicate"))
        return x
