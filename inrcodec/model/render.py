"""Latent buffer -> image: gather the grids, upsample, synthesise. Shared by fit and decode."""
from __future__ import annotations

import torch

from .latents import LatentLayout


def level_grids(layout: LatentLayout, buffer: torch.Tensor) -> list[torch.Tensor]:
    """Per level, a [channels, h, w] tensor gathered from the flat buffer."""
    c = layout.arch.latent_channels
    grids = layout.all_grids(buffer)
    return [torch.stack(grids[k:k + c]) for k in range(0, len(grids), c)]


def render(layout: LatentLayout, upsampling, synthesis, buffer: torch.Tensor) -> torch.Tensor:
    """Float image [1, C, H, W] (unclamped) from a flat latent buffer."""
    return synthesis(upsampling(level_grids(layout, buffer)))
