"""Encoder only: the trainable model of one group of frames.

It is the image FitModel (same quantization proxies, rate estimate and modules) over a
VideoLayout: latents of all frames in one buffer, an ARM whose context also covers the previous
frame, and one upsampling + synthesis shared by every frame of the group.
"""
from __future__ import annotations

import torch

from ..arch import Architecture
from ..fit.model import FitModel
from .layout import VideoLayout, render_frame_values


class VideoFitModel(FitModel):
    def __init__(self, arch: Architecture, temporal_context: int, frames: int, height: int,
                 width: int, channels: int):
        layout = VideoLayout(arch, temporal_context, frames, height, width)
        super().__init__(arch, height, width, channels, layout=layout)
        self.frames = frames

    @property
    def n_pixels(self) -> int:
        return self.frames * self.height * self.width

    def render_values(self, upsampling, synthesis, values: torch.Tensor) -> torch.Tensor:
        return render_frame_values(self.layout, upsampling, synthesis, values)
