"""Synthesis: per-pixel 1x1 layers from the stacked latents to colour, then 3x3 residual convs.

Colour is RGB (or one grey channel) in [0, 1]; the decoder clamps and rounds to 8 bits.
"""
from __future__ import annotations

import torch
from torch import nn

from ..arch import Architecture
from .padding import replicate_pad


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
        """x: [N, planes, H, W] (N = 1 for an image, the frames of a group for video). The 1x1
        layers run as [out, in] @ [in, pixels] matrix products (same MACs as 1x1 convolutions,
        faster on CPU); without autograd they run in chunks of pixels so the wide hidden
        activations stay in cache instead of streaming through memory."""
        n, planes, h, w = x.shape
        flat = x.transpose(0, 1).reshape(planes, n * h * w)
        if torch.is_grad_enabled():
            y = self.pointwise_layers(flat)
        else:
            y = x.new_empty(self.pointwise[-1].out_channels, n * h * w)
            for start in range(0, n * h * w, self.CHUNK):
                y[:, start:start + self.CHUNK] = self.pointwise_layers(flat[:, start:start + self.CHUNK])
        x = y.view(-1, n, h, w).transpose(0, 1)
        if torch.is_grad_enabled() and self.residual:
            # oneDNN's backward of these 3-channel 3x3 convolutions is ~2x faster from
            # channels-last input (fitting; the forward alone gains nothing)
            x = x.contiguous(memory_format=torch.channels_last)
        for conv in self.residual:
            x = x + conv(replicate_pad(torch.relu(x), 1))
        return x

    CHUNK = 8192

    def pointwise_layers(self, y: torch.Tensor) -> torch.Tensor:
        last = len(self.pointwise) - 1
        for k, layer in enumerate(self.pointwise):
            weight = layer.weight.view(layer.out_channels, layer.in_channels)
            y = torch.addmm(layer.bias.unsqueeze(1), weight, y)
            if k < last:
                y = y.relu_()     # in place: addmm's backward does not need its output
        return y
