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


HYPER_FROM = 4   # part of the format: side grid i is 1/2^(HYPER_FROM + i) of the picture


def grid_scales(arch: Architecture) -> list[int]:
    """log2 of each grid's downscaling, in grid order: the rendered levels (level-major, then
    channel), then the side grids (arch.hyper_grids, likewise)."""
    levels = list(range(arch.n_levels)) + [HYPER_FROM + i for i in range(arch.hyper_grids)]
    return [s for s in levels for _ in range(arch.latent_channels)]


def grid_sizes(arch: Architecture, height: int, width: int) -> list[tuple[int, int]]:
    """(h, w) of each grid, in grid order (grid_scales): ceil(H / 2^scale)."""
    return [(-(-height // 2 ** s), -(-width // 2 ** s)) for s in grid_scales(arch)]


TILE_ROWS, TILE_COLS = 256, 256  # part of the format: contexts never cross a tile edge
ZERO_SLOT = 0                    # a buffer position that is always padding (the first block's
                                 # top-left corner): what a missing coarser context reads


@dataclass(frozen=True)
class Block:
    """One tile of one grid, stored as its own zero-padded block of the flat buffer."""
    offset: int   # start of the padded block
    row0: int     # where the tile sits in its grid
    col0: int
    h: int
    w: int
    stride: int   # row pitch, the same for every block (see LatentLayout)

    @property
    def padded_size(self) -> int:
        return (self.h + PAD) * self.stride

    def first(self) -> int:
        """Flat index of the tile's latent (0, 0)."""
        return self.offset + PAD * self.stride + PAD


class TorchPositions:
    """For a layout with `pos_idx`: that index as a torch tensor, made once per device (the
    decoder and the fit gather the latents from a buffer with it)."""

    def torch_pos_idx(self, device):
        import torch
        cache = self.__dict__.setdefault("_torch_pos", {})
        if device not in cache:
            cache[device] = torch.from_numpy(self.pos_idx).to(device)
        return cache[device]


class LatentLayout(TorchPositions):
    """Every grid is cut into tiles of at most TILE_ROWS x TILE_COLS latents, and every tile is a
    separately zero-padded block of one flat buffer, all with the same row pitch:

    - a context offset (dy, dx) is one flat delta for every latent, so contexts are `pos + deltas`
      (the decoder computes them on the fly, nothing per latent is stored);
    - tiles do not see each other, so all tiles of all grids decode in the same wavefront: about
      TILE_COLS + slope * TILE_ROWS steps whatever the image size (~1000 for `medium`; a
      768x512 image then needs ~1000 steps of ~500 latents instead of ~2300 steps of ~200). The
      price is the context lost on tile edges: none up to 256x256 pixels, 1.3-1.9 % of the
      latents (by preset) at 768x512. Format 8's 64x192 tiles cut 4.5 % at 256x256, which cost
      1.4 % of the RD cost on every screened point (docs/tuning.md); the compiled decoder's time
      barely depends on the step count (768x512 `medium`: 74.6 ms with 64x192 tiles, 75.4 with
      256x256, 76.5 with one tile per grid).

    With arch.ifce_levels the ARM of those levels' latents also reads features of the co-located
    latents of every coarser grid, side grids included (source_idx): coarse grids then decode
    ahead of fine ones (level_delays), still all in one wavefront. Side grids (arch.hyper_grids)
    follow the rendered levels in grid order.
    """

    def __init__(self, arch: Architecture, height: int, width: int):
        self.arch, self.height, self.width = arch, height, width
        self.offsets = context_offsets(arch.arm_context)
        self.slope = wavefront_slope(self.offsets)
        self.grid_shapes = grid_sizes(arch, height, width)
        self.stride = min(TILE_COLS, width) + 2 * PAD
        self.deltas = np.array([dy * self.stride + dx for dy, dx in self.offsets], dtype=np.int64)
        self.blocks: list[list[Block]] = []       # per grid, tiles in raster order
        offset = 0
        for h, w in self.grid_shapes:
            tiles = []
            for r in range(0, h, TILE_ROWS):
                for c in range(0, w, TILE_COLS):
                    b = Block(offset, r, c, min(TILE_ROWS, h - r), min(TILE_COLS, w - c),
                              self.stride)
                    tiles.append(b)
                    offset += b.padded_size
            self.blocks.append(tiles)
        self.buffer_size = offset + PAD   # the last block's right-hand padding

    @property
    def n_latents(self) -> int:
        return sum(h * w for h, w in self.grid_shapes)

    @cached_property
    def _grid_maps(self) -> list[tuple[np.ndarray, np.ndarray]]:
        """Per grid, [h, w] maps of (flat buffer index, wavefront step within the tile)."""
        maps = []
        for (h, w), tiles in zip(self.grid_shapes, self.blocks):
            p = np.empty((h, w), np.int64)
            t = np.empty((h, w), np.int64)
            for b in tiles:
                i, j = np.arange(b.h)[:, None], np.arange(b.w)[None, :]
                p[b.row0:b.row0 + b.h, b.col0:b.col0 + b.w] = b.first() + i * b.stride + j
                t[b.row0:b.row0 + b.h, b.col0:b.col0 + b.w] = j + self.slope * i
            maps.append((p, t))
        return maps

    @property
    def n_grid_levels(self) -> int:
        """Levels in grid order: the rendered ones, then one per side grid."""
        return self.arch.n_levels + self.arch.hyper_grids

    def source_shifts(self, grid: int) -> list[tuple[int, int]]:
        """(coarser grid, d) for each grid that a latent of `grid` reads an inter-grid source
        from, in source order: when its level is below arch.ifce_levels, every coarser grid of
        the same channel (rendered levels, then side grids), latent (i, j) reading
        (i >> d, j >> d) of the grid 2^d times coarser (nearest upsampling). The one rule the
        fit, the layout's indices and the compiled decoder's geometry all use."""
        c = self.arch.latent_channels
        level = grid // c
        if level >= self.arch.ifce_levels:
            return []
        scales = grid_scales(self.arch)
        return [(m * c + grid % c, scales[m * c] - scales[grid])
                for m in range(level + 1, self.n_grid_levels)]

    def _sources(self, grid: int) -> list[tuple[int, np.ndarray, np.ndarray]]:
        """source_shifts with the (rows, cols) each latent of `grid` reads there."""
        h, w = self.grid_shapes[grid]
        return [(source, np.arange(h)[:, None] >> d, np.arange(w)[None, :] >> d)
                for source, d in self.source_shifts(grid)]

    @property
    def n_sources(self) -> int:
        """Width of source_idx: the most coarser grids any latent reads (0 without features)."""
        return self.arch.ifce_sources(0) if self.arch.ifce_levels else 0

    @cached_property
    def level_delays(self) -> list[int]:
        """Wavefront delay of each level (n_grid_levels): 0 for side grids and for levels that
        read no coarser grid, and for a level with inter-grid features the smallest delay that
        puts every coarser latent it reads in an earlier step. Tiles do not line up across
        levels (one tile of grid l+1 covers 2x2 tiles of grid l), so at 768x512 the finer
        levels wait ~100-200 steps each.

        A latent's step in its tile is j % TILE_COLS + slope * (i % TILE_ROWS) (+ its delay), so
        the step difference to a source at (i >> d, j >> d) is a function of j plus one of i,
        and its maximum is the sum of two maxima over one row and one column: no per-latent
        map (a claimed 8192x8192 picture costs nothing here)."""
        c = self.arch.latent_channels
        delays = [0] * self.n_grid_levels
        for level in range(self.arch.ifce_levels - 1, -1, -1):
            grid = level * c                    # every channel of a level has the same shape
            h, w = self.grid_shapes[grid]
            i, j = np.arange(h), np.arange(w)
            need = 0
            for source, d in self.source_shifts(grid):
                col = int(((j >> d) % TILE_COLS - j % TILE_COLS).max())
                row = int(((i >> d) % TILE_ROWS - i % TILE_ROWS).max())
                need = max(need, delays[source // c] + col + self.slope * row + 1)
            delays[level] = need
        return delays

    @cached_property
    def _grid_coords(self) -> tuple[np.ndarray, np.ndarray]:
        """(flat buffer index, wavefront step) of every latent, grid by grid in raster order."""
        c = self.arch.latent_channels
        pos = [p.ravel() for p, _ in self._grid_maps]
        step = [t.ravel() + self.level_delays[k // c] for k, (_, t) in enumerate(self._grid_maps)]
        return np.concatenate(pos), np.concatenate(step)

    @cached_property
    def source_idx(self) -> np.ndarray:
        """[n_latents, n_sources] flat indices of each latent's coarser co-located latents
        (pos_idx order; rendered levels nearest first, then side grids); ZERO_SLOT, a padding
        position, past a level's own sources and for latents without features."""
        out = np.full((self.n_latents, self.n_sources), ZERO_SLOT, np.int64)
        starts = self._grid_starts
        for grid in range(len(self.grid_shapes)):
            for col, (source, rows, cols) in enumerate(self._sources(grid)):
                out[starts[grid]:starts[grid + 1], col] = self._grid_maps[source][0][rows, cols].ravel()
        return out

    @cached_property
    def latent_levels(self) -> np.ndarray:
        """[n_latents] level of each latent's grid (pos_idx order; side grids n_levels + i):
        which inter-grid feature map, if any, its ARM input uses."""
        c = self.arch.latent_channels
        sizes = np.diff(self._grid_starts)
        return np.repeat(np.arange(len(sizes)) // c, sizes).astype(np.int64)

    @property
    def pos_idx(self) -> np.ndarray:
        """Flat buffer index of every latent, grid by grid in raster order."""
        return self._grid_coords[0]

    def grids_from_values(self, values, side_grids: bool = False) -> list:
        """Per rendered level (and with side_grids, per side grid after them), a torch
        [channels, h, w] view of the latents in pos_idx order: that order is grid by grid in
        raster order, so each level is one contiguous run (no copy; under autograd the
        backward is one concatenation)."""
        c = self.arch.latent_channels
        starts = self._grid_starts
        sizes = [starts[k + c] - starts[k] for k in range(0, len(self.grid_shapes), c)]
        levels = [part.view(c, h, w)
                  for part, (h, w) in zip(values.split(sizes), self.grid_shapes[::c])]
        return levels if side_grids else levels[:self.arch.n_levels]

    def grids_from_buffer(self, buffer) -> list:
        """Per level, a float32 torch [channels, h, w] copy of the latents of a flat buffer (torch,
        any float dtype): tile by tile, one strided copy each (~50 at 768x512), so decoding needs
        no per-latent index (pos_idx). Same values as grids_from_values(buffer[pos_idx])."""
        import torch
        c = self.arch.latent_channels
        levels = []
        for level in range(self.arch.n_levels):
            h, w = self.grid_shapes[level * c]
            out = torch.empty(c, h, w, dtype=torch.float32, device=buffer.device)
            for ch in range(c):
                for b in self.blocks[level * c + ch]:
                    tile = buffer.as_strided((b.h, b.w), (b.stride, 1),
                                             buffer.storage_offset() + b.first())
                    out[ch, b.row0:b.row0 + b.h, b.col0:b.col0 + b.w].copy_(tile)
            levels.append(out)
        return levels

    def grids_from_buffer_np(self, buffer: np.ndarray) -> list[np.ndarray]:
        """grids_from_buffer in numpy: per level, a float64 [channels, h, w] copy of the latents
        of a flat buffer, tile by tile."""
        c = self.arch.latent_channels
        levels = []
        for level in range(self.arch.n_levels):
            h, w = self.grid_shapes[level * c]
            out = np.empty((c, h, w), np.float64)
            for ch in range(c):
                for b in self.blocks[level * c + ch]:
                    tile = np.lib.stride_tricks.as_strided(
                        buffer[b.first():], (b.h, b.w), (b.stride * buffer.itemsize, buffer.itemsize))
                    out[ch, b.row0:b.row0 + b.h, b.col0:b.col0 + b.w] = tile
            levels.append(out)
        return levels

    @cached_property
    def ctx_idx(self) -> np.ndarray:
        """[n_latents, arm_context + n_sources] flat indices of what each latent's ARM reads: its
        causal neighbours, then the coarser co-located latents its features map (source_idx)."""
        spatial = self.pos_idx[:, None] + self.deltas[None, :]
        if not self.n_sources:
            return spatial
        return np.concatenate([spatial, self.source_idx], axis=1)

    @cached_property
    def wavefront(self) -> tuple[np.ndarray, np.ndarray]:
        """(order, bounds): latents in coding order, and where each wavefront step starts.

        Step t holds every latent with j + slope*i + level_delays[level] == t (tile coordinates)
        in every tile of every grid, in grid-raster order within the step (a stable sort of the
        step numbers). Encoder and decoder both use this order.
        """
        t = self._grid_coords[1]
        # the same stable order; on 16-bit keys numpy sorts by radix (2.5x faster on 22M latents)
        order = np.argsort(t.astype(np.uint16) if t.max(initial=0) < 1 << 16 else t, kind="stable")
        counts = np.bincount(t)
        bounds = np.concatenate([[0], np.cumsum(counts[counts > 0])])
        return order.astype(np.int64), bounds.astype(np.int64)

    @cached_property
    def _grid_starts(self) -> list[int]:
        return np.concatenate([[0], np.cumsum([h * w for h, w in self.grid_shapes])]).tolist()

    def valid_mask(self) -> np.ndarray:
        m = np.zeros(self.buffer_size, dtype=bool)
        m[self.pos_idx] = True
        return m
