"""The decoder's upsampling and synthesis in fixed point: every decoded byte follows from the file
alone, on any CPU, BLAS, OS and thread count.

Numbers. An activation v is the integer V = round(v * 2^F), F = FRACTION_BITS, held in float64.
A weight is its coded integer n times its group's step m * 2^-q (entropy/weights.py), so a
linear map sums n * m * V: products and sums of integers, each below 2^53 (the bounds below), so
float64 holds every one exactly and the sum is the same whatever order BLAS, numba or the CPU's
fused multiply-add take it in. Each map then rescales by 2^-q, a power of two (exact), and rounds
half up: floor(S * 2^-q + 1/2), exact in float64. Biases are n * m * 2^(F - q), integers since
q <= 16 = F. Activations are clamped to +-ACTIVATION_LIMIT (|v| <= 4096) after every map.

    upsampling  per x2 step and axis (horizontal, then vertical): replicate padding, the phase's
                taps/2 products, one rounding; the coarsest grid first, each finer grid stacked
                on top, as Upsampling.forward
    synthesis   1x1 layers: one rounding each, then the bias, then ReLU (not after the last);
                3x3 residual layers: x + round(conv3x3(ReLU(x))) + bias, replicate padding
    output      uint8 = clamp(floor((V * 255 + 2^(F-1)) / 2^F), 0, 255)

This module imports no torch: the decoder renders with numpy, or with compiled=True the upsampling
and the 3x3 convolutions in numba (fixed_point_compiled.py, the same values), where numba is
loaded (entropy/engine.py decides, as for the latents).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..entropy.laplace import WEIGHT_MAX
from ..entropy.weights import step_parts

FRACTION_BITS = 16
ONE = float(1 << FRACTION_BITS)
ACTIVATION_LIMIT = float(1 << (FRACTION_BITS + 12))     # |v| <= 4096
MAX_FAN_IN = 96                                          # arch.py: widths <= 96, 3x3 fan-in 9*C
assert ACTIVATION_LIMIT * WEIGHT_MAX * 8 * MAX_FAN_IN < 2.0 ** 53


def _round_shift(s: np.ndarray, inv_q: float, out: np.ndarray | None = None) -> np.ndarray:
    """floor(s * 2^-q + 1/2), clamped to the activation range (exact: s * 2^-q is a scaling by a
    power of two)."""
    out = np.multiply(s, inv_q, out=out)
    out += 0.5
    np.floor(out, out=out)
    return np.clip(out, -ACTIVATION_LIMIT, ACTIVATION_LIMIT, out=out)


@dataclass
class FixedMap:
    """A coded weight tensor as the fixed-point maps use it: weight = n * m (exact float64
    integers), inv_q = 2^-q; bias (if any) = n_b * m_b * 2^(F - q_b)."""
    weight: np.ndarray
    inv_q: float
    bias: np.ndarray | None = None

    @classmethod
    def of(cls, ints: np.ndarray, step: int, bias_ints: np.ndarray | None = None,
           bias_step: int | None = None) -> "FixedMap":
        m, q = step_parts(step)
        bias = None
        if bias_ints is not None:
            mb, qb = step_parts(bias_step)
            bias = np.asarray(bias_ints, np.float64) * (mb * 2.0 ** (FRACTION_BITS - qb))
        return cls(np.asarray(ints, np.float64) * m, 2.0 ** -q, bias)


# ------------------------------------------------------------------------------------ upsampling

def phase_taps(half_kernel: np.ndarray, taps: int) -> np.ndarray:
    """[2, taps/2]: phase r's taps (kernel = half + flipped half), in the order the x2 step
    multiplies the padded inputs m + r, m + r + 1, ... for output 2m + r (Upsampling.phase_taps
    written in numpy)."""
    kernel = np.concatenate([half_kernel, half_kernel[::-1]])
    crop = taps // 2 - 1 + 2 * (taps // 4)
    reversed_taps = kernel[::-1][taps - 1 - crop:]
    return np.stack([reversed_taps[r::2][:taps // 2] for r in (0, 1)])


def up2_axis(x: np.ndarray, taps: np.ndarray, inv_q: float, size: int, axis: int) -> np.ndarray:
    """One axis of a fixed-point x2 step: x [..., a, ...] -> [..., size, ...] (size <= 2a) with
    replicate padding of taps/4 and phase r's taps `taps[r]` (n * m), one rounding per sample."""
    half = taps.shape[1]
    pad = half // 2
    a = x.shape[axis]
    idx = np.clip(np.arange(-pad, a + pad), 0, a - 1)
    xp = np.take(x, idx, axis=axis)
    shape = list(x.shape)
    shape[axis] = 2 * a
    out = np.empty(shape, np.float64)
    for r in (0, 1):
        acc = np.zeros_like(np.take(xp, np.arange(a), axis=axis))
        for j in range(half):
            acc += taps[r, j] * np.take(xp, np.arange(r + j, r + j + a), axis=axis)
        index = [slice(None)] * x.ndim
        index[axis] = slice(r, None, 2)
        out[tuple(index)] = _round_shift(acc, inv_q)
    index = [slice(None)] * x.ndim
    index[axis] = slice(0, size)
    return out[tuple(index)]


def upsample(grids: list[np.ndarray], half_kernel: FixedMap, taps: int,
             compiled: bool = False) -> np.ndarray:
    """grids: per level, fixed-point [C, h_l, w_l], finest first -> [levels * C, H, W]: the
    coarsest grid upsampled x2, the next grid stacked on top, upsampled again, ...
    compiled: each step in fixed_point_compiled.py (numba; the same values)."""
    if len(grids) == 1:
        return grids[0].copy()
    phase = np.ascontiguousarray(phase_taps(half_kernel.weight, taps))
    c = grids[0].shape[0]
    height, width = grids[0].shape[-2:]
    out = np.empty((len(grids) * c, height, width), np.float64)   # the last step writes here
    out[:c] = grids[0]
    if compiled:
        from . import fixed_point_compiled as nb
        nb.up2_cols(last_step_rows(grids, half_kernel, taps), phase, half_kernel.inv_q,
                    ACTIVATION_LIMIT, out[c:])
        return out
    x = grids[-1]
    for k in range(len(grids) - 2, -1, -1):
        g = grids[k]
        h, w = g.shape[-2:]
        dst = out[c:] if k == 0 else np.empty((x.shape[0], h, w), np.float64)
        dst[...] = up2_axis(up2_axis(x, phase, half_kernel.inv_q, w, axis=2), phase,
                            half_kernel.inv_q, h, axis=1)
        if k:
            x = np.concatenate([g, dst])
    return out


def last_step_rows(grids: list[np.ndarray], half_kernel: FixedMap, taps: int) -> np.ndarray:
    """Compiled, every x2 step of upsample but the last one's vertical half (at least two
    grids): the coarser planes at the finest grid's width and half its height, which up2_cols,
    or upsampled_synthesis_bytes band by band, finishes."""
    from . import fixed_point_compiled as nb
    phase = np.ascontiguousarray(phase_taps(half_kernel.weight, taps))
    x = grids[-1]
    for k in range(len(grids) - 2, -1, -1):
        g = grids[k]
        h, w = g.shape[-2:]
        rows = nb.up2_rows(np.ascontiguousarray(x), phase, half_kernel.inv_q, ACTIVATION_LIMIT, w)
        if k == 0:
            return rows
        dst = np.empty((x.shape[0], h, w), np.float64)
        nb.up2_cols(rows, phase, half_kernel.inv_q, ACTIVATION_LIMIT, dst)
        x = np.concatenate([g, dst])
    raise ValueError("last_step_rows needs two grids or more")


# ------------------------------------------------------------------------------------- synthesis

PIXEL_CHUNK = 16384        # pixels per block of the 1x1 layers: the hidden activations stay in cache


def pointwise(x: np.ndarray, layers: list[FixedMap]) -> np.ndarray:
    """1x1 layers on [planes, N] -> [out, N]: round, bias, ReLU between layers (not after the
    last), in blocks of pixels."""
    n = x.shape[1]
    out = np.empty((layers[-1].weight.shape[0], n), np.float64)
    last = len(layers) - 1
    for start in range(0, n, PIXEL_CHUNK):
        y = x[:, start:start + PIXEL_CHUNK]
        for k, layer in enumerate(layers):
            y = _round_shift(layer.weight @ y, layer.inv_q)
            y += layer.bias[:, None]
            if k < last:
                np.maximum(y, 0.0, out=y)
            np.clip(y, -ACTIVATION_LIMIT, ACTIVATION_LIMIT, out=y)
        out[:, start:start + PIXEL_CHUNK] = y
    return out


def residual3x3(x: np.ndarray, layer: FixedMap) -> np.ndarray:
    """x + round(conv3x3(ReLU(x))) + bias on [C, H, W], replicate padding."""
    c, h, w = x.shape
    r = np.maximum(x, 0.0)
    rp = np.pad(r, ((0, 0), (1, 1), (1, 1)), mode="edge")
    weight = layer.weight.reshape(c, c, 3, 3)
    out = np.empty_like(x)
    for o in range(c):
        acc = np.zeros((h, w), np.float64)
        for i in range(c):
            for dy in range(3):
                for dx in range(3):
                    acc += weight[o, i, dy, dx] * rp[i, dy:dy + h, dx:dx + w]
        out[o] = _round_shift(acc, layer.inv_q)
    out += layer.bias[:, None, None]
    out += x
    return np.clip(out, -ACTIVATION_LIMIT, ACTIVATION_LIMIT, out=out)


def to_uint8(x: np.ndarray) -> np.ndarray:
    """Fixed-point [C, H, W] in [0, 1] -> uint8 [H, W, C]: round(255 v), clamped."""
    y = np.floor((x * 255.0 + ONE / 2) / ONE)
    return np.clip(y, 0, 255).astype(np.uint8).transpose(1, 2, 0).copy()


# ------------------------------------------------------------------------------------- a picture

@dataclass
class FixedNetworks:
    """The upsampling and synthesis of one file, as fixed-point maps, from the coded integers
    {(module, tensor name): ints} and steps {(module, group): (step, scale)} of model.params'
    table (coded_groups): a weight tensor's group is its own name, every bias is in "bias"."""
    half_kernel: FixedMap
    taps: int
    pointwise: list[FixedMap]
    residual: list[FixedMap]

    @classmethod
    def from_coded(cls, arch, ints: dict, quant: dict) -> "FixedNetworks":
        def fixed(name: str, bias: str | None) -> FixedMap:
            return FixedMap.of(ints[("synthesis", name)], quant[("synthesis", name)][0],
                               None if bias is None else ints[("synthesis", bias)],
                               quant[("synthesis", "bias")][0])
        n_point = len(arch.synthesis_hidden) + 1
        pointwise = [fixed(f"pointwise.{k}.weight", f"pointwise.{k}.bias") for k in range(n_point)]
        for layer in pointwise:
            layer.weight = layer.weight.reshape(layer.weight.shape[0], -1)
        residual = [fixed(f"residual.{k}.weight", f"residual.{k}.bias")
                    for k in range(arch.synthesis_residual)]
        half = FixedMap.of(ints[("upsampling", "half_kernel")],
                           quant[("upsampling", "half_kernel")][0])
        return cls(half, arch.upsampling_taps, pointwise, residual)

    def packed_pointwise(self):
        """(weights, 2^-q per layer, biases, widths) of the 1x1 layers, flat, for the compiled
        loop (fixed_point_compiled.pointwise_layers)."""
        layers = self.pointwise
        weights = np.concatenate([layer.weight.ravel() for layer in layers])
        biases = np.concatenate([layer.bias for layer in layers])
        widths = np.array([layers[0].weight.shape[1], *(layer.weight.shape[0] for layer in layers)],
                          np.int64)
        return weights, np.array([layer.inv_q for layer in layers]), biases, widths

    def packed_residual(self, channels: int):
        """(weights [R, C, C, 3, 3], 2^-q [R], biases [R, C]) of the 3x3 residual layers, for
        the compiled synthesis (fixed_point_compiled.synthesis_bytes)."""
        c, layers = channels, self.residual
        weights = np.zeros((len(layers), c, c, 3, 3))
        biases = np.zeros((len(layers), c))
        for k, layer in enumerate(layers):
            weights[k] = layer.weight.reshape(c, c, 3, 3)
            biases[k] = layer.bias
        return weights, np.array([layer.inv_q for layer in layers], np.float64), biases

    def packed_synthesis(self) -> tuple:
        """packed_pointwise then packed_residual: the compiled synthesis' network arguments."""
        pointwise = self.packed_pointwise()
        return (*pointwise, *self.packed_residual(int(pointwise[3][-1])))


def fixed_grids(layout, buffer: np.ndarray) -> list[np.ndarray]:
    """Per level, fixed-point [C, h, w] grids of a float64 latent buffer (symbols, or symbols plus
    the dither: multiples of 2^-8, so times 2^F is exact)."""
    return [g * ONE for g in layout.grids_from_buffer_np(buffer)]


def synthesise(planes: np.ndarray, networks: FixedNetworks) -> np.ndarray:
    """Fixed-point [planes, H, W] -> [C, H, W], layer by layer in numpy: the definition the
    compiled synthesis (fixed_point_compiled.synthesis_bytes) is tested against."""
    p, h, w = planes.shape
    x = pointwise(planes.reshape(p, h * w), networks.pointwise).reshape(-1, h, w)
    for layer in networks.residual:
        x = residual3x3(x, layer)
    return x


def planes_of(layout, networks: FixedNetworks, buffer: np.ndarray,
              compiled: bool = False) -> np.ndarray:
    """The synthesis' input: [planes, H, W] for a picture; for a video group (video/layout.py),
    [T, planes, H, W], every frame's grids upsampled together (frame-major channels, as the fit
    does)."""
    if not hasattr(layout, "frames"):
        return upsample(fixed_grids(layout, buffer), networks.half_kernel, networks.taps, compiled)
    t, c, levels = layout.frames, layout.arch.latent_channels, layout.arch.n_levels
    size = layout.frame_stride
    per_frame = [fixed_grids(layout.frame, buffer[layout.frame_start(f):layout.frame_start(f) + size])
                 for f in range(t)]
    grids = [np.concatenate([frame[k] for frame in per_frame]) for k in range(levels)]
    planes = upsample(grids, networks.half_kernel, networks.taps, compiled)
    h, w = planes.shape[-2:]
    return planes.reshape(levels, t, c, h, w).transpose(1, 0, 2, 3, 4).reshape(t, levels * c, h, w)


def pixels_of(planes: np.ndarray, networks: FixedNetworks, compiled: bool = False) -> np.ndarray:
    """uint8 [H, W, C] (a picture's planes) or [T, H, W, C] (a video group's) from planes_of.
    compiled: the synthesis and byte conversion fused band by band (numba; the same bytes)."""
    if compiled:
        from . import fixed_point_compiled as nb
        packed = networks.packed_synthesis()
        convert = lambda x: nb.synthesis_bytes(np.ascontiguousarray(x), *packed, ACTIVATION_LIMIT,
                                               ONE)
    else:
        convert = lambda x: to_uint8(synthesise(x, networks))
    if planes.ndim == 3:
        return convert(planes)
    return np.stack([convert(frame) for frame in planes])


def render(layout, networks: FixedNetworks, buffer: np.ndarray, compiled: bool = False) -> np.ndarray:
    """uint8 pixels from a decoded latent buffer: [H, W, C] for a picture, [T, H, W, C] for a
    video group. compiled, for a picture: the last x2 step's vertical half is done band by band
    inside the synthesis (fixed_point_compiled.upsampled_synthesis_bytes), so the full-size
    planes are never written out; the same bytes."""
    if compiled and not hasattr(layout, "frames") and layout.arch.n_levels > 1:
        from . import fixed_point_compiled as nb
        grids = fixed_grids(layout, buffer)
        phase = np.ascontiguousarray(phase_taps(networks.half_kernel.weight, networks.taps))
        return nb.upsampled_synthesis_bytes(
            np.ascontiguousarray(grids[0]), last_step_rows(grids, networks.half_kernel, networks.taps),
            phase, networks.half_kernel.inv_q, *networks.packed_synthesis(), ACTIVATION_LIMIT, ONE)
    return pixels_of(planes_of(layout, networks, buffer, compiled), networks, compiled)
