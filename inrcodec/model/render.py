"""Latent buffer -> float image with the torch modules: gather the latents, view them as grids,
upsample, synthesise. The fit's forward (render_values), and the float form of the decoder that
tests/test_complexity.py counts multiplies on (render); the decoder itself renders in fixed point
(model/fixed_point.py)."""
from __future__ import annotations

import torch

from .latents import LatentLayout


def render_values(layout: LatentLayout, upsampling, synthesis, values: torch.Tensor) -> torch.Tensor:
    """Float image [1, C, H, W] (unclamped) from the latents in pos_idx order."""
    return synthesis(upsampling(layout.grids_from_values(values)))


def render(layout: LatentLayout, upsampling, synthesis, buffer: torch.Tensor) -> torch.Tensor:
    """Float image [1, C, H, W] (unclamped) from a flat latent buffer (any float dtype, no
    autograd)."""
    return synthesis(upsampling(layout.grids_from_buffer(buffer)))
