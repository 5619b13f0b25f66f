"""Latent buffer -> image: gather the grids, upsample, synthesise. Shared by fit and decode."""
from __future__ import annotations

import torch

from .latents import LatentLayout


def level_grids(layout: LatentLayout, buffer: torch.Tensor) -> list[torch.Tensor]:
    """Per level, a [channels, h, w] tensor gathered from the flat buffer: one index_select of
    every latent, then views (LatentLayout.grids_from_values)."""
    return layout.grids_from_values(buffer.index_select(0, layout.torch_pos_idx(buffer.device)))


def render_values(layout: LatentLayout, upsampling, synthesis, values: torch.Tensor) -> torch.Tensor:
    """Float image [1, C, H, W] (unclamped) from the latents in pos_idx order."""
    return synthesis(upsampling(layout.grids_from_values(values)))


def render(layout: LatentLayout, upsampling, synthesis, buffer: torch.Tensor) -> torch.Tensor:
    """Float image [1, C, H, W] (unclamped) from a flat latent buffer."""
    return synthesis(upsampling(level_grids(layout, buffer)))
