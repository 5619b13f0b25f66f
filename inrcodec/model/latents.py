"""Where every latent lives: one flat, zero-padded buffer holding all grids.

Fitting, encoding and decoding index latents through the same LatentLayout, so the causal context
of a latent and the order in which latents are coded (the wavefront) are identical on both sides by
construction. All grids sit in one buffer so the ARM context of every latent is a single gather.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from ..arch import Architecture

PAD = 3  # context reaches at most 3 rows up and 3 columns sideways (a 7x7 causal window)


def context_offsets(n: int) -> list[tuple[int, int]]:
    """The n causal neighbours (dy, dx) nearest the current latent, in a fixed order."""
    cands = [(dy, dx) for dy in range(-PAD, 1) for dx in range(-PAD, PAD + 1) if dy < 0 or dx < 0]
    cands.sort(key=lambda o: (o[0] ** 2 + o[1] ** 2, o[0], o[1]))
    return cands[:n]


def wavefront_slope(offsets: list[tuple[int, int]]) -> int:
    """Smallest integer s such that t = j + s*i decodes every neighbour before its latent."""
    s = 1
    for dy, dx in offsets:
        if dy < 0:
            s = max(s, math.floor(dx / -dy) + 1)
    return s


def grid_sizes(arch: Architecture, height: int, width: int) -> list[tuple[int, int]]:
    """(h, w) of each grid, level-major then channel: ceil(H / 2^level)."""
    sizes = []
    for level in range(arch.n_levels):
        f = 2 ** level
        sizes += [(-(-height // f), -(-width // f))] * arch.latent_channels
    return sizes


@dataclass(frozen=True)
class Grid:
    offset: int   # start of this grid's padded block in the flat buffer
    h: int
    w: int

    @property
    def stride(self) -> int:
        return self.w + 2 * PAD

    @property
    def padded_size(self) -> int:
        return (self.h + PAD) * self.stride

    def first(self) -> int:
        """Flat index of latent (0, 0)."""
        return self.offset + PAD * self.stride + PAD


class LatentLayout:
    def __init__(self, arch: Architecture, height: int, width: int):
        self.arch, self.height, self.width = arch, height, width
        self.offsets = context_offsets(arch.arm_context)
        self.slope = wavefront_slope(self.offsets)
        self.grids: list[Grid] = []
        offset = 0
        for h, w in grid_sizes(arch, height, width):
            g = Grid(offset, h, w)
            self.grids.append(g)
            offset += g.padded_size
        self.buffer_size = offset

    @property
    def n_latents(self) -> int:
        return sum(g.h * g.w for g in self.grids)

    @cached_property
    def pos_idx(self) -> np.ndarray:
        """Flat buffer index of every latent, grid by grid in raster order."""
        parts = []
        for g in self.grids:
            rows = g.first() + np.arange(g.h)[:, None] * g.stride
            parts.append((rows + np.arange(g.w)[None, :]).ravel())
        return np.concatenate(parts).astype(np.int64)

    @cached_property
    def ctx_idx(self) -> np.ndarray:
        """[n_latents, arm_context] flat indices of each latent's causal neighbours."""
        parts = []
        start = 0
        for g in self.grids:
            n = g.h * g.w
            delta = np.array([dy * g.stride + dx for dy, dx in self.offsets], dtype=np.int64)
            parts.append(self.pos_idx[start:start + n, None] + delta[None, :])
            start += n
        return np.concatenate(parts)

    @cached_property
    def wavefront(self) -> tuple[np.ndarray, np.ndarray]:
        """(order, bounds): latents in coding order, and where each wavefront step starts.

        Step t holds every latent with j + slope*i == t, across all grids (grids do not depend on
        each other, so they advance together). Encoder and decoder both use this order.
        """
        t_parts, g_parts, i_parts = [], [], []
        for gi, g in enumerate(self.grids):
            i, j = np.divmod(np.arange(g.h * g.w), g.w)
            t_parts.append(j + self.slope * i)
            g_parts.append(np.full(g.h * g.w, gi))
            i_parts.append(i)
        t = np.concatenate(t_parts)
        order = np.lexsort((np.concatenate(i_parts), np.concatenate(g_parts), t))
        t_sorted = t[order]
        bounds = np.flatnonzero(np.diff(t_sorted)) + 1
        bounds = np.concatenate([[0], bounds, [len(order)]])
        return order.astype(np.int64), bounds.astype(np.int64)

    def grid_view(self, buffer, index: int):
        """The (h, w) latents of grid `index` as a view into a flat buffer (numpy or torch)."""
        g = self.grids[index]
        block = buffer[g.offset:g.offset + g.padded_size].reshape(g.h + PAD, g.stride)
        return block[PAD:, PAD:PAD + g.w]

    def valid_mask(self) -> np.ndarray:
        m = np.zeros(self.buffer_size, dtype=bool)
        m[self.pos_idx] = True
        return m
