"""Where every latent of a group of frames lives, and the order the decoder reads them in.

The frames of a group are stacked in one flat buffer, each frame laid out exactly like an image
(model/latents.py: all grids, tiled, zero-padded, one row pitch), one after another at a fixed
`frame_stride`, after one all-zero frame that stands in for "the frame before the first":

    [ zero frame | frame 0 | frame 1 | ... | frame T-1 ]

So the ARM context of every latent is still `pos + deltas` with one set of deltas for all latents:
the image codec's causal neighbours in the current frame (dy*stride + dx), followed by the
co-located neighbourhood of the same grid in the previous frame (-frame_stride + dy*stride + dx).
Neighbours outside a tile read padding (zero) in both frames.

Wavefront: frame f's tile step is `j + s*i` as for an image, delayed by `f*D`, where D is the
smallest delay that puts every previous-frame context position earlier (D = 2s + 3 for the
default 5x5 previous-frame window): frames decode "diagonally in time", all of them in flight at once, and
each step is still one vectorised integer-ARM call and one constriction call.
"""
from __future__ import annotations

from functools import cached_property

import numpy as np

from ..arch import Architecture
from ..errors import InrcodecError
from ..model.latents import PAD, LatentLayout, TorchPositions
from ..options import VIDEO_GROUP

TEMPORAL_RADIUS = 2             # previous-frame neighbours come from a 5x5 window (<= PAD)
MAX_TEMPORAL_CONTEXT = (2 * TEMPORAL_RADIUS + 1) ** 2
DEFAULT_TEMPORAL_CONTEXT = 25   # the co-located 5x5 neighbourhood: it follows motion of up to
                                # 2 latents per frame (tried 0 / 9 / 25 on 8-frame clips at equal
                                # fitting steps: 25 had the lowest RD cost on both clips tried)
MAX_GROUP = int(VIDEO_GROUP.high)     # frames a group holds (options.py states it)


def temporal_offsets(n: int) -> list[tuple[int, int]]:
    """The n previous-frame positions (dy, dx) nearest the co-located latent, in a fixed order
    (the co-located latent first, then 4-neighbours, diagonals, ...)."""
    if not 0 <= n <= MAX_TEMPORAL_CONTEXT:
        raise InrcodecError(f"temporal context must be in 0..{MAX_TEMPORAL_CONTEXT}, got {n}")
    r = TEMPORAL_RADIUS
    cands = [(dy, dx) for dy in range(-r, r + 1) for dx in range(-r, r + 1)]
    cands.sort(key=lambda o: (o[0] ** 2 + o[1] ** 2, o[0], o[1]))
    return cands[:n]


def frame_delay(offsets: list[tuple[int, int]], slope: int) -> int:
    """Smallest D such that step t + D of frame f comes after every previous-frame context of
    the latent at step t: D > dx + slope*dy for every offset. 0 without temporal context."""
    if not offsets:
        return 0
    return max(1, max(dx + slope * dy for dy, dx in offsets) + 1)


class VideoLayout(TorchPositions):
    """Duck-types the parts of LatentLayout the coder and the fitter use (pos_idx, ctx_idx,
    deltas, wavefront, buffer_size, valid_mask, n_latents) for a stack of `frames` frames."""

    n_sources = 0      # no inter-grid features: the ARM reads spatial and temporal context

    def __init__(self, arch: Architecture, temporal_context: int, frames: int, height: int,
                 width: int):
        if not 1 <= frames <= MAX_GROUP:
            raise InrcodecError(f"a group holds 1..{MAX_GROUP} frames, got {frames}")
        assert TEMPORAL_RADIUS <= PAD
        if arch.ifce_levels or arch.hyper_grids:
            raise InrcodecError("video groups do not use inter-grid features or side grids")
        self.arch, self.frames, self.height, self.width = arch, frames, height, width
        self.temporal_context = temporal_context
        self.frame = LatentLayout(arch, height, width)
        self.frame_stride = self.frame.buffer_size
        self.stride = self.frame.stride
        self.temporal = temporal_offsets(temporal_context)
        self.delay = frame_delay(self.temporal, self.frame.slope)
        temporal_deltas = [-self.frame_stride + dy * self.stride + dx for dy, dx in self.temporal]
        self.deltas = np.concatenate([self.frame.deltas,
                                      np.array(temporal_deltas, dtype=np.int64)])
        self.buffer_size = (frames + 1) * self.frame_stride
        self.grid_shapes = self.frame.grid_shapes

    @property
    def n_latents(self) -> int:
        return self.frames * self.frame.n_latents

    def frame_start(self, f: int) -> int:
        """Offset of frame f's own (image-layout) buffer inside the group buffer."""
        return (f + 1) * self.frame_stride

    @cached_property
    def frame_pos(self) -> np.ndarray:
        """[frames, latents per frame] flat indices, each frame in the image layout's order."""
        starts = np.array([self.frame_start(f) for f in range(self.frames)], np.int64)
        return starts[:, None] + self.frame.pos_idx[None, :]

    @property
    def pos_idx(self) -> np.ndarray:
        """Flat index of every latent: frame by frame, then grid by grid in raster order."""
        return self.frame_pos.ravel()

    @cached_property
    def ctx_idx(self) -> np.ndarray:
        """[n_latents, spatial + temporal] flat indices of each latent's context."""
        return self.pos_idx[:, None] + self.deltas[None, :]

    @cached_property
    def steps(self) -> np.ndarray:
        """Wavefront step of every latent (pos_idx order)."""
        t = self.frame._grid_coords[1]
        return (t[None, :] + self.delay * np.arange(self.frames)[:, None]).ravel()

    @cached_property
    def wavefront(self) -> tuple[np.ndarray, np.ndarray]:
        """(order, bounds) as in LatentLayout.wavefront, over all frames of the group."""
        t = self.steps
        order = np.argsort(t, kind="stable")
        counts = np.bincount(t)
        bounds = np.concatenate([[0], np.cumsum(counts[counts > 0])])
        return order.astype(np.int64), bounds.astype(np.int64)

    def valid_mask(self) -> np.ndarray:
        m = np.zeros(self.buffer_size, dtype=bool)
        m[self.pos_idx] = True
        return m

    def grids_from_values(self, values) -> list:
        """Per level, a torch [frames * channels, h, w] tensor (frame-major) from the latents in
        pos_idx order (frame by frame, each in the image layout's order)."""
        import torch
        flat = values.view(self.frames, -1)                  # [frames, latents per frame]
        c = self.arch.latent_channels
        starts = self.frame._grid_starts
        out = []
        for k in range(0, len(self.grid_shapes), c):
            h, w = self.grid_shapes[k]
            grids = [flat[:, starts[k + i]:starts[k + i + 1]].reshape(self.frames, h, w)
                     for i in range(c)]
            out.append(torch.stack(grids, dim=1).reshape(self.frames * c, h, w))
        return out


def render_frame_values(layout: VideoLayout, upsampling, synthesis, values):
    """Float frames [T, C, H, W] (unclamped) from a group's latents in pos_idx order (the fit's
    forward). The upsampling runs once on every frame's grids; the synthesis once on the batch of
    frames."""
    grids = layout.grids_from_values(values)
    # [1, levels * T * c, H, W]; the fit passes functions of the grids alone as `upsampling`
    planes = upsampling(grids)
    levels, t, c = layout.arch.n_levels, layout.frames, layout.arch.latent_channels
    h, w = layout.height, layout.width
    planes = planes.reshape(levels, t, c, h, w).transpose(0, 1).reshape(t, levels * c, h, w)
    return synthesis(planes)
