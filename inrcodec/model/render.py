"""Latent buffer -> image: gather the latents, view them as grids, upsample, synthesise. Shared
by fit and decode."""
from __future__ import annotations

import torch

from .latents import LatentLayout


def render_values(layout: LatentLayout, upsampling, synthesis, values: torch.Tensor) -> torch.Tensor:
    """Float image [1, C, H, W] (unclamped) from the latents in pos_idx order."""
    return synthesis(upsampling(layout.grids_from_values(values)))


def render(layout: LatentLayout, upsampling, synthesis, buffer: torch.Tensor,
           compiled: bool = False) -> torch.Tensor:
    """Float image [1, C, H, W] (unclamped) from a flat latent buffer (the decoder's: any float
    dtype, no autograd). compiled: upsample with the numba loop (same values; numba loaded)."""
    grids = layout.grids_from_buffer(buffer)
    return synthesis(upsampling(grids, compiled=True) if compiled else upsampling(grids))
