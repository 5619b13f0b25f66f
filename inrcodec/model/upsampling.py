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

_TAPS_CACHE: dict = {}


def _axis_taps(taps: int, a: int, h: int, device, dtype) -> torch.Tensor:
    """[h * a, taps] constant: column t is Upsampling.up2 along one axis (length a -> h) with a
    one-hot kernel at tap t, written out as an [h, a] matrix (see Upsampling.axis_matrix)."""
    key = (taps, a, h, str(device), dtype)
    if key not in _TAPS_CACHE:
        if len(_TAPS_CACHE) > 24:        # a few image sizes' worth (2 per level below the top)
            _TAPS_CACHE.clear()
        up, pad = Upsampling(taps), taps // 4
        with torch.no_grad():
            eye = torch.eye(a, dtype=torch.float64)
            padded = torch.cat([eye[:1]] * pad + [eye] + [eye[-1:]] * pad).view(1, 1, -1, a)
            columns = [up._up_axis(padded, one_hot, a, dim=2)[0, 0, :h].reshape(-1)
                       for one_hot in torch.eye(taps, dtype=torch.float64)]
        _TAPS_CACHE[key] = torch.stack(columns, 1).to(device=device, dtype=dtype)
    return _TAPS_CACHE[key]


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
        `reference_up2` is that definition (tests/test_model.py checks they agree). Without
        autograd the same sums are written out term by term (_up_axis_sums)."""
        pad = self.taps // 4
        x = replicate_pad(x, pad)
        up_axis = self._up_axis if torch.is_grad_enabled() else self._up_axis_sums
        x = up_axis(x, kernel, x.shape[-1] - 2 * pad, dim=3)
        x = up_axis(x, kernel, x.shape[-2] - 2 * pad, dim=2)
        return x[:, :, :h, :w]

    def phase_taps(self, kernel: torch.Tensor) -> torch.Tensor:
        """[2, taps/2]: phase r's taps, in the order _up_axis multiplies shifts r, r + 1, ..."""
        reversed_taps = kernel.flip(0)[self.taps - 1 - self.crop:]    # [crop, crop - 1, ..., 0]
        return torch.stack([reversed_taps[r::2][:self.taps // 2] for r in (0, 1)])

    def _up_axis_sums(self, xp: torch.Tensor, kernel: torch.Tensor, a: int, dim: int) -> torch.Tensor:
        """_up_axis without autograd: each output sample is ((x0 * k0 + x1 * k1) + x2 * k2) +
        x3 * k3, written into the interleaved output's phases directly (no stack of shifted
        copies; faster for the fit's renders without autograd)."""
        half = self.taps // 2
        shape = list(xp.shape)
        shape[dim] = 2 * a
        out = xp.new_empty(shape)
        for r, taps in enumerate(self.phase_taps(kernel).tolist()):
            phase = out.narrow(dim, r, 2 * a - r)[(slice(None),) * dim + (slice(None, None, 2),)]
            torch.mul(xp.narrow(dim, r, a), taps[0], out=phase)
            for j in range(1, half):
                phase.add_(xp.narrow(dim, r + j, a) * taps[j])
        return out

    def _up_axis(self, xp: torch.Tensor, kernel: torch.Tensor, a: int, dim: int) -> torch.Tensor:
        """Along `dim` (replicate-padded, length a + 2*pad) -> length 2a. Phase r takes kernel
        taps crop - r, crop - r - 2, ... (tap j lands on output 2m + r from input m + s when
        j = r + crop - 2s)."""
        half = self.taps // 2
        shifted = torch.stack([xp.narrow(dim, s, a) for s in range(half + 1)], 0)
        flat = shifted.reshape(half + 1, -1)
        taps = self.phase_taps(kernel)
        phases = [taps[r:r + 1] @ flat[r:r + half] for r in (0, 1)]
        shape = shifted.shape[1:]
        return torch.stack([p.view(shape) for p in phases], dim + 1).flatten(dim, dim + 1)

    def reference_up2(self, x: torch.Tensor, h: int, w: int, kernel: torch.Tensor) -> torch.Tensor:
        """The definition: replicate pad, then separable stride-2 conv_transpose2d."""
        x = replicate_pad(x, self.taps // 4)
        crop = self.crop
        x = F.conv_transpose2d(x, kernel.view(1, 1, 1, -1), stride=(1, 2), padding=(0, crop))
        x = F.conv_transpose2d(x, kernel.view(1, 1, -1, 1), stride=(2, 1), padding=(crop, 0))
        return x[:, :, :h, :w]

    def axis_matrix(self, a: int, h: int, kernel: torch.Tensor) -> torch.Tensor:
        """[h, a]: up2 along one axis (replicate pad, x2, crop to h) as a matrix. It is linear
        in the kernel, A = sum_t kernel[t] * T_t, with T_t the map for a one-hot kernel: one
        small matmul from a cached constant instead of rebuilding the map every step."""
        taps = _axis_taps(self.taps, a, h, kernel.device, kernel.dtype)
        return (taps @ kernel).view(h, a)

    # Largest output side for which the fit uses the matrix form (see forward_matrices): its
    # MACs per output grow with the image (about H/3 + W for every level together, against a
    # few for the polyphase form).
    MATRIX_MAX_SIDE = 1024

    def forward_matrices(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """Same result as the polyphase forward, as two matrix products per level: the x2 steps
        from level k to full size compose into one [H, h_k] and one [W, w_k] matrix, so level
        k is Mh @ grid @ Mw^T. Many more MACs than the polyphase form, but a handful of large
        kernels instead of ~15 small ones per level, and a backward of matmuls instead of
        slice and stack backwards: several times faster for the fit (forward + backward)."""
        kernel = self.kernel()
        planes = [grids[0]]
        mh = mw = None
        for finer, g in zip(grids[:-1], grids[1:]):
            ah = self.axis_matrix(g.shape[-2], finer.shape[-2], kernel)
            aw = self.axis_matrix(g.shape[-1], finer.shape[-1], kernel)
            mh, mw = (ah, aw) if mh is None else (mh @ ah, mw @ aw)
            planes.append(mh @ g @ mw.T)
        return torch.cat(planes).unsqueeze(0)

    def forward(self, grids: list[torch.Tensor]) -> torch.Tensor:
        """grids: per level [C, h_l, w_l], finest first. Returns [1, levels*C, H, W].

        Under autograd (fitting) the matrix form, which is faster forward + backward; without
        it the polyphase form, whose MACs are the ones `complexity` reports. The decoder's own
        definition is the fixed-point form of model/fixed_point.py."""
        if (torch.is_grad_enabled() and len(grids) > 1
                and max(grids[0].shape[-2:]) <= self.MATRIX_MAX_SIDE):
            return self.forward_matrices(grids)
        kernel = self.kernel()
        x = grids[-1].unsqueeze(1)
        for g in reversed(grids[:-1]):
            x = self.up2(x, g.shape[-2], g.shape[-1], kernel)
            x = torch.cat([g.unsqueeze(1), x], dim=0)
        return x.transpose(0, 1)
