"""Upsampling of the coarser grids to full resolution.

One learned symmetric separable x2 kernel (half-pixel aligned transposed convolution, initialised
as bicubic for 8 taps or bilinear for 4), applied level by level from the coarsest grid: upsample,
crop to the next grid's size (odd sizes are fine), stack that grid on top, repeat.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .padding import replicate_pad


def _cubic(d: float, a: float = -0.5) -> float:
    d = abs(d)
    if d <= 1:
        return (a + 2) * d ** 3 - (a + 3) * d ** 2 + 1
    return a * d ** 3 - 5 * a * d ** 2 + 8 * a * d - 4 * a


def initial_half_kernel(taps: int) -> list[float]:
    """Outer-to-centre half of the symmetric kernel."""
    if taps == 8:
        return [_cubic(1.75), _cubic(1.25), _cubic(0.75), _cubic(0.25)]
    return [0.25, 0.75]


class Upsampling(nn.Module):
    def __init__(self, taps: int):
        super().__init__()
        self.taps = taps
        self.half_kernel = nn.Parameter(torch.tensor(initial_half_kernel(taps)))

    @property
    def crop(self) -> int:
        """Transposed-convolution padding that aligns the x2 output half a pixel off the input."""
        return self.taps // 2 - 1 + 2 * (self.taps // 4)

    def kernel(self) -> torch.Tensor:
        return torch.cat([self.half_kernel, self.half_kernel.flip(0)])

    def up2(self, x: torch.Tensor, h: int, w: int, kernel: torch.Tensor) -> torch.Tensor:
        """x: [n, 1, a, b] -> [n, 1, h, w] with h <= 2a, w <= 2b.

        A half-pixel aligned x2 transposed convolution in polyphase form: output 2m + r is a
        taps/2-term weighted sum of the padded inputs m + r ... m + r + taps/2 - 1, so each axis
        is a stack of shifted copies and one [1, taps/2] @ [taps/2, everything] product per
        phase, then an interleave. On CPU this is ~3x faster (forward + backward) than the
        1-channel conv_transpose2d it replaces, which oneDNN runs poorly for such thin maps;
        `reference_up2` is that definition (tests/test_model.py checks they agree)."""
        pad = self.taps // 4
        x = replicate_pad(x, pad)
        x = self._up_axis(x, kernel, x.shape[-1] - 2 * pad, dim=3)
        x = self._up_axis(x, kernel, x.shape[-2] - 2 * pad, dim=2)
        return x[:, :, :h, :w]

    def _up_axis(self, xp: torch.Tensor, kernel: torch.Tensor, a: int, dim: int) -> torch.Tensor:
        """Along `dim` (replicate-padded, length a + 2*pad) -> length 2a. Phase r takes kernel
        taps crop - r, crop - r - 2, ... (tap j lands on output 2m + r from input m + s when
        j = r + crop - 2s)."""
        half, crop = self.taps // 2, self.crop
        shifted = torch.stack([xp.narrow(dim, s, a) for s in range(half + 1)], 0)
        flat = shifted.reshape(half + 1, -1)
        reversed_taps = kernel.flip(0)[self.taps - 1 - crop:]     # [crop, crop - 1, ..., 0]
        phases = [reversed_taps[r::2][:half].unsqueeze(0) @ flat[r:r + half] for r in (0, 1)]
        shape = shifted.shape[1:]
        return torch.stack([p.view(shape) for p in phases], dim + 1).flatten(dim, dim + 1)

    def reference_up2(self, x: torch.Tensor, h: int, w: int, kernel: torch.Tensor) -> torch.Tensor:
        """The definition: replicate pad, then separable stride-2 conv_transpose2d."""
        x = replicate_pad(x, self.taps // 4)
        crop = self.crop
        x = F.conv_transpose2d(x, kernel.view(1, 1, 1, -1), stride=(1, 2), padding=(0, crop))
        x = F.conv_transpose2d(x, kernel.view(1, 1, -1, 1), stride=(2, 1), padding=(crop, 0))
        return x[:, :, :h, :w]

    def forward(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """grids: per level [C, h_l, w_l], finest first. Returns [1, levels*C, H, W]."""
        kernel = self.kernel()
        x = grids[-1].unsqueeze(1)
        for g in reversed(grids[:-1]):
            x = self.up2(x, g.shape[-2], g.shape[-1], kernel)
            x = torch.cat([g.unsqueeze(1), x], dim=0)
        return x.transpose(0, 1)
