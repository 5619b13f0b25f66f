"""The coordinate network of the variational mode, shared by encoder and decoder (no training code).

A pixel's input is its positional encoding (x, y and `n_freqs` sine/cosine bands of each) plus one
value per latent grid, bilinearly upsampled from a grid at 1/2^level resolution (a learned
low-resolution positional latent, as in RECOMBINER). An MLP with `layers` hidden layers of width
`hidden` maps that to the colour channels (+0.5, so an all-zero network renders mid-grey).

Every trainable number lives in one flat weight vector, in this order (row-major each):

    grid of grid_levels[0], grid of grid_levels[1], ..., layer 0 weight [out, in], layer 0 bias,
    layer 1 weight, layer 1 bias, ..., output layer weight, output layer bias

Each of those pieces is one *group*; the prior is one zero-mean Gaussian per group. `render`
turns a flat vector into an image, for the fit (differentiable) and for the decoder alike.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import InrcodecError

ACTIVATIONS = ("gelu", "sine", "relu")
MAX_GRID_LEVEL = 10
MAX_GRIDS = 8
MAX_FREQS = 16
MAX_HIDDEN = 256
MAX_LAYERS = 8


@dataclass(frozen=True)
class RecArch:
    grid_levels: tuple[int, ...] = (1, 2, 3, 4)    # one latent grid per level, at 1/2^level resolution
    n_freqs: int = 4                            # positional-encoding bands per coordinate
    hidden: int = 24
    layers: int = 2                             # hidden layers
    activation: str = "gelu"

    def __post_init__(self):
        if not (0 <= len(self.grid_levels) <= MAX_GRIDS
                and all(0 <= lv <= MAX_GRID_LEVEL for lv in self.grid_levels)):
            raise InrcodecError(f"grid levels must be at most {MAX_GRIDS} values in 0..{MAX_GRID_LEVEL}")
        if not 0 <= self.n_freqs <= MAX_FREQS:
            raise InrcodecError(f"n_freqs must be in 0..{MAX_FREQS}")
        if not (1 <= self.hidden <= MAX_HIDDEN and 1 <= self.layers <= MAX_LAYERS):
            raise InrcodecError(f"hidden must be in 1..{MAX_HIDDEN} and layers in 1..{MAX_LAYERS}")
        if self.activation not in ACTIVATIONS:
            raise InrcodecError(f"activation must be one of {', '.join(ACTIVATIONS)}")

    def to_fields(self) -> list[int]:
        return [len(self.grid_levels), *self.grid_levels, self.n_freqs, self.hidden, self.layers,
                ACTIVATIONS.index(self.activation)]

    @classmethod
    def from_fields(cls, read) -> "RecArch":
        """Read the fields back with `read()` (one unsigned integer per call)."""
        n = read()
        if n > MAX_GRIDS:
            raise InrcodecError("corrupt header: too many latent grids")
        levels = tuple(read() for _ in range(n))
        n_freqs, hidden, layers, act = read(), read(), read(), read()
        if act >= len(ACTIVATIONS):
            raise InrcodecError("corrupt header: unknown activation")
        try:
            return cls(levels, n_freqs, hidden, layers, ACTIVATIONS[act])
        except InrcodecError as exc:
            raise InrcodecError(f"corrupt header: {exc}") from None

    def describe(self) -> dict:
        return {"grid_levels": list(self.grid_levels), "n_freqs": self.n_freqs,
                "hidden": self.hidden, "layers": self.layers, "activation": self.activation}


def grid_size(level: int, height: int, width: int) -> tuple[int, int]:
    return math.ceil(height / 2 ** level), math.ceil(width / 2 ** level)


def input_dim(arch: RecArch) -> int:
    return 2 + 4 * arch.n_freqs + len(arch.grid_levels)


def layer_dims(arch: RecArch, channels: int) -> list[int]:
    return [input_dim(arch)] + [arch.hidden] * arch.layers + [channels]


def groups(arch: RecArch, height: int, width: int, channels: int) -> list[tuple[str, tuple[int, ...]]]:
    """(name, shape) of every group, in flat-vector order."""
    out = [(f"grid{lv}", grid_size(lv, height, width)) for lv in arch.grid_levels]
    dims = layer_dims(arch, channels)
    for k in range(len(dims) - 1):
        out += [(f"layer{k}.weight", (dims[k + 1], dims[k])), (f"layer{k}.bias", (dims[k + 1],))]
    return out


def group_sizes(arch: RecArch, height: int, width: int, channels: int) -> list[int]:
    return [int(np.prod(shape)) for _, shape in groups(arch, height, width, channels)]


def n_weights(arch: RecArch, height: int, width: int, channels: int) -> int:
    return sum(group_sizes(arch, height, width, channels))


def group_index(arch: RecArch, height: int, width: int, channels: int) -> np.ndarray:
    """The group of every entry of the flat vector (int64 [n])."""
    sizes = group_sizes(arch, height, width, channels)
    return np.repeat(np.arange(len(sizes)), sizes)


def positional_encoding(arch: RecArch, height: int, width: int) -> torch.Tensor:
    """[H*W, 2 + 4*n_freqs] float32: pixel centres in [-1, 1], then sin/cos(pi 2^k x), k < n_freqs."""
    ys = (torch.arange(height, dtype=torch.float64) + 0.5) / height * 2 - 1
    xs = (torch.arange(width, dtype=torch.float64) + 0.5) / width * 2 - 1
    yy, xx = torch.meshgrid(ys, xs, indexing="ij")
    coords = torch.stack([xx, yy], -1).reshape(-1, 2)
    feats = [coords]
    for k in range(arch.n_freqs):
        feats += [torch.sin(math.pi * 2 ** k * coords), torch.cos(math.pi * 2 ** k * coords)]
    return torch.cat(feats, -1).float()


def _activation(name: str, x: torch.Tensor) -> torch.Tensor:
    if name == "gelu":
        return F.gelu(x)
    if name == "sine":
        return torch.sin(x)
    return torch.relu(x)


def render(arch: RecArch, weights: torch.Tensor, height: int, width: int, channels: int,
           encoding: torch.Tensor | None = None) -> torch.Tensor:
    """Flat weights [n] -> image [H, W, C] (float, not clamped). Differentiable in `weights`;
    `encoding` is positional_encoding(arch, H, W), passed in to reuse it across calls."""
    shapes = groups(arch, height, width, channels)
    if weights.ndim != 1 or weights.numel() != sum(int(np.prod(s)) for _, s in shapes):
        raise ValueError("weight vector does not match the architecture")
    if encoding is None:
        encoding = positional_encoding(arch, height, width)
    pieces, offset = [], 0
    for _, shape in shapes:
        size = int(np.prod(shape))
        pieces.append(weights[offset:offset + size].reshape(shape))
        offset += size
    inputs = [encoding]
    for grid in pieces[:len(arch.grid_levels)]:
        up = F.interpolate(grid[None, None], size=(height, width), mode="bilinear",
                           align_corners=False)
        inputs.append(up.reshape(-1, 1))
    x = torch.cat(inputs, -1)
    layers = pieces[len(arch.grid_levels):]
    for k in range(0, len(layers), 2):
        x = x @ layers[k].T + layers[k + 1]
        if k + 2 < len(layers):
            x = _activation(arch.activation, x)
    return (x + 0.5).reshape(height, width, channels)


def macs_per_pixel(arch: RecArch, channels: int) -> int:
    """Multiply-accumulates per pixel of the MLP (plus 4 per bilinear grid sample)."""
    dims = layer_dims(arch, channels)
    return sum(dims[k] * dims[k + 1] for k in range(len(dims) - 1)) + 4 * len(arch.grid_levels)
