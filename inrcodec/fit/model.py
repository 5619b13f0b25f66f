"""The trainable codec: latent buffer + float ARM + upsampling + synthesis, with quantization proxies.

Latents live in one flat padded buffer (model/latents.py), as the coder sends them; the forward
gathers the latents out of it, so the padding never receives a gradient and stays zero.
"""
from __future__ import annotations

import math

import numpy as np
import torch
from torch import nn

from ..arch import Architecture
from ..entropy.dither import latent_dither
from ..entropy.laplace import LATENT_MAX
from ..image.header import LATENT_CODINGS
from ..model.latents import LatentLayout
from ..model.params import build_modules
from ..model.render import render_values

LOG2 = math.log(2.0)
MIN_PROB = 2.0 ** -16   # a symbol never costs more than 16 bits in the training estimate


def soft_round(y: torch.Tensor, temperature: float) -> torch.Tensor:
    """Differentiable rounding (Agustsson & Theis 2020); -> round(y) as temperature -> 0."""
    m = torch.floor(y) + 0.5
    r = y - m
    return m + 0.5 * torch.tanh(r / temperature) / math.tanh(0.5 / temperature)


def laplace_bits(x: torch.Tensor, mu: torch.Tensor, log_scale: torch.Tensor) -> torch.Tensor:
    """-log2 of the Laplace mass on [x-1/2, x+1/2], written to avoid cancellation in the tails."""
    inv_s = torch.exp(-log_scale)
    d = (x - mu).abs()
    tail = 0.5 * torch.exp(-(d - 0.5).clamp_min(0) * inv_s) * (-torch.expm1(-inv_s))
    centre = 1 - 0.5 * (torch.exp(-(0.5 - d).clamp_min(0) * inv_s) + torch.exp(-(0.5 + d) * inv_s))
    p = torch.where(d >= 0.5, tail, centre)
    return -torch.log(p.clamp_min(MIN_PROB)) / LOG2


class LaplaceBits(torch.autograd.Function):
    """laplace_bits with a hand-written backward: the same values, and the gradient autograd
    would give, in about half the elementwise passes (the rate is one of the step's larger
    costs: every latent, every step). With a = exp(-log_scale), d = |x - mu|, e1 = exp(-|d - 1/2| a):
    tail (d >= 1/2) p = e1 (1 - exp(-a)) / 2, dlog p/dd = -a, dlog p/da = 1/2 - d + 1/expm1(a);
    centre p = 1 - (e1 + e2) / 2 with e2 = exp(-(d + 1/2) a), dp/dd = -a (e1 - e2) / 2,
    dp/da = ((1/2 - d) e1 + (1/2 + d) e2) / 2. Clamped probabilities get no gradient."""

    @staticmethod
    def forward(ctx, x, mu, log_scale):
        a = torch.exp(-log_scale)
        diff = x - mu
        d = diff.abs()
        tail = d >= 0.5
        e1 = torch.exp(-(d - 0.5).abs() * a)
        e2 = torch.exp(-(d + 0.5) * a)
        q = -torch.expm1(-a)
        p = torch.where(tail, 0.5 * e1 * q, 1 - 0.5 * (e1 + e2))
        ctx.save_for_backward(diff, a, e1, e2, q, p)
        return -torch.log(p.clamp_min(MIN_PROB)) / LOG2

    @staticmethod
    def backward(ctx, grad):
        diff, a, e1, e2, q, p = ctx.saved_tensors
        d = diff.abs()
        tail = d >= 0.5
        inv_p = 1 / p.clamp_min(MIN_PROB)      # p can be exactly 0 where it is clamped
        dlogp_dd = torch.where(tail, -a, -0.5 * a * (e1 - e2) * inv_p)
        dlogp_da = torch.where(tail, (0.5 - d) + (1 - q) / q,
                               0.5 * ((0.5 - d) * e1 + (0.5 + d) * e2) * inv_p)
        g = torch.where(p >= MIN_PROB, grad * (-1 / LOG2), 0.0)
        g_d = g * dlogp_dd * torch.sign(diff)
        return g_d, -g_d, -g * dlogp_da * a


def centred_noise(like: torch.Tensor, a: float = 1.0) -> torch.Tensor:
    """Noise on [-1/2, 1/2]: uniform for a = 1, else Kumaraswamy(a, b) - 1/2 with b chosen so its
    mode is at 0 (C3); a > 1 concentrates it near 0, so early fitting sees a gentler channel."""
    u = torch.rand_like(like)
    if a == 1.0:
        return u - 0.5
    b = (2.0 ** a * (a - 1.0) + 1.0) / a
    return (1.0 - (1.0 - u).pow(1.0 / b)).pow(1.0 / a) - 0.5


class RowGather(torch.autograd.Function):
    """out[r, i] = x[index[r, i]], with index n (= len(x)) reading a zero, where no row of the
    index repeats a source. Its backward is then a gather too: grad_x[j] = sum over rows r of
    flat_grad[inverse[r, j]], where inverse[r, j] = r * m + i if row r reads x[j] at column i,
    else R * m (a zero appended to the flattened [R, m] gradient).
    index_select's own backward is an index_add, serial on CPU: for the ARM's contexts
    (16 x 87k at 256x256) the gather-and-sum is ~3x faster."""

    @staticmethod
    def forward(ctx, x, index, inverse):
        ctx.save_for_backward(inverse)
        rows = index.shape[0]
        return torch.cat([x, x.new_zeros(1)]).index_select(0, index.view(-1)).view(rows, -1)

    @staticmethod
    def backward(ctx, grad):
        (inverse,) = ctx.saved_tensors
        flat = torch.cat([grad.reshape(-1), grad.new_zeros(1)])
        return flat.index_select(0, inverse.view(-1)).view(inverse.shape).sum(0), None, None


def gather_inverse(index: np.ndarray, n: int, dtype=np.int64) -> np.ndarray:
    """RowGather's inverse for an [R, m] index into n sources (n itself: the zero), row by row
    (memory O(R * n), no [R, m] temporaries); a row that repeats a source is an error, caught by
    reading the written positions back."""
    rows, m = index.shape
    inverse = np.full((rows, n), rows * m, dtype=dtype)
    for r in range(rows):
        reads = np.flatnonzero(index[r] < n)
        where = (r * m + reads).astype(dtype)
        inverse[r, index[r, reads]] = where
        if not np.array_equal(inverse[r, index[r, reads]], where):
            raise ValueError("a row of the index repeats a source")
    return inverse


class FitModel(nn.Module):
    def __init__(self, arch: Architecture, height: int, width: int, channels: int, layout=None,
                 latent_coding: str = "round"):
        """layout: a LatentLayout by default; video passes its own (inrcodec/video/layout.py),
        whose contexts are longer: the ARM's input width is the layout's number of deltas.

        latent_coding: "round" (C3-style: soft-rounding + noise while fitting, rounding at the
        end) or "uq" (universal quantization, entropy/dither.py: the decoder sees y + uniform
        noise exactly, so fitting adds plain uniform noise and the hard phase uses the real
        shared dither)."""
        super().__init__()
        if latent_coding not in LATENT_CODINGS:
            raise ValueError(f"unknown latent coding {latent_coding!r}")
        self.arch, self.height, self.width, self.channels = arch, height, width, channels
        self.layout = layout if layout is not None else LatentLayout(arch, height, width)
        self.latent = nn.Parameter(torch.zeros(self.layout.buffer_size))
        valid = self.layout.valid_mask()
        self.register_buffer("mask", torch.from_numpy(valid).float())
        # The forward works on the latents themselves, in pos_idx order (grid by grid, raster),
        # not on the padded buffer (~1.8x larger at 256x256): one gather at the start, then
        # every elementwise op on the latents only, and the grids are views of that vector. The
        # ARM's contexts index that vector too, padding reading one extra zero at its end;
        # they are gathered context-major ([K, n]) for the ARM's wide matmuls
        # (arm.forward_wide). Both gathers are RowGathers (a gather backward). Index tensors
        # stay out of the state dict (not copied when the fit keeps its best state).
        # int32 where it fits: half the memory (a video group's contexts hold 41 indices per
        # latent) and faster gathers.
        # Inter-grid features (arch.ifce_levels) read coarser grids through grids_from_values
        # (ifce_features), not through this index.
        pos = self.layout.pos_idx
        slot = np.full(self.layout.buffer_size, len(pos), dtype=np.int64)
        slot[pos] = np.arange(len(pos))
        n_spatial = len(self.layout.deltas)
        ctx_src = np.ascontiguousarray(slot[self.layout.ctx_idx[:, :n_spatial].T])   # [K, n]
        dtype = np.int32 if max(ctx_src.size, self.layout.buffer_size) < 2 ** 31 - 1 else np.int64
        for name, index in (("pos_rows", pos[None]), ("pos_inverse", slot[None]),
                            ("ctx_src", ctx_src),
                            ("ctx_inverse", gather_inverse(ctx_src, len(pos), dtype))):
            self.register_buffer(name, torch.from_numpy(index.astype(dtype, copy=False)),
                                 persistent=False)
        dither = latent_dither(valid) if latent_coding == "uq" else None
        self.register_buffer("dither", None if dither is None else torch.from_numpy(dither).float())
        self.register_buffer("dither_values", None if dither is None else self.dither[pos],
                             persistent=False)
        modules = build_modules(arch, channels, arm_inputs=len(ctx_src) + arch.ifce_features)
        self.arm, self.upsampling, self.synthesis = (
            modules["arm"], modules["upsampling"], modules["synthesis"])

    def latent_parameters(self) -> list[nn.Parameter]:
        """The coded latents (the optimizer's latent group): the buffer, and in a subclass any
        side grids it codes too."""
        return [self.latent]

    def network(self, name: str) -> nn.Module:
        return getattr(self, name)

    @property
    def n_pixels(self) -> int:
        """Pixels the rate is spread over (bpp = bits / n_pixels)."""
        return self.height * self.width

    def render_values(self, upsampling, synthesis, values: torch.Tensor) -> torch.Tensor:
        """Float output [N, C, H, W] (N = 1 for an image) from the latents in pos_idx order."""
        return render_values(self.layout, upsampling, synthesis, values)

    def quantized_latents(self, mode: str, temperature: float = 0.3, noise_a: float = 1.0,
                          noise_std: float = 0.0, rate_on_synthesis_values: bool = False):
        """(latents seen by the rate model, latents seen by the synthesis), in pos_idx order.

        The noise phase's proxy: soft = soft_round(y, T); noisy = soft + noise; the synthesis sees
        soft_round(noisy, T). noise: Gaussian N(0, noise_std^2) where noise_std > 0, else
        centred_noise with Kumaraswamy shape noise_a (1 = uniform). The rate model sees noisy,
        or with rate_on_synthesis_values the very values the synthesis sees (then the rate term
        is priced on the latents that make the picture, not on a wider cloud around them)."""
        y = RowGather.apply(self.latent, self.pos_rows, self.pos_inverse)[0]
        y = y.clamp(-LATENT_MAX, LATENT_MAX)
        if self.dither_values is not None:
            if mode == "noise":          # exactly the decoder's channel, in distribution
                noisy = y + (torch.rand_like(y) - 0.5)
                return noisy, noisy
            dithered = self._symbols(y, self.dither_values) + self.dither_values
            hard = y + (dithered - y).detach()
            return hard, hard
        if mode == "noise":
            soft = soft_round(y, temperature)
            noise = (torch.randn_like(y) * noise_std if noise_std > 0
                     else centred_noise(y, noise_a))
            noisy = soft + noise
            seen = soft_round(noisy, temperature)
            return (seen if rate_on_synthesis_values else noisy), seen
        hard = y + (torch.round(y) - y).detach()      # straight-through
        return hard, hard

    def rate_bits(self, values: torch.Tensor) -> torch.Tensor:
        """Bits of every latent (values in pos_idx order) under the float ARM."""
        ctx = RowGather.apply(values, self.ctx_src, self.ctx_inverse)
        if self.arch.ifce_levels:
            ctx = torch.cat([ctx, self.ifce_features(values)])
        mu, log_scale = self.arm.forward_wide(ctx)
        return LaplaceBits.apply(values, mu, log_scale).sum()

    def ifce_features(self, values: torch.Tensor) -> torch.Tensor:
        """[ifce_features, n] inter-grid features of every latent (pos_idx order): for a level
        below arch.ifce_levels, its linear map (arm.ifce) of the co-located latents of every
        coarser grid, side grids included (nearest upsampling: (i >> d, j >> d)); zero for the
        other levels and the side grids (int_arm.IntArm computes the same in fixed point)."""
        grids = self.layout.grids_from_values(values, side_grids=True)
        c = self.arch.latent_channels
        out = []
        for level, linear in enumerate(self.arm.ifce):
            _, h, w = grids[level].shape
            rows = torch.arange(h, device=values.device)
            cols = torch.arange(w, device=values.device)
            # every channel reads its own channel's grids at the same shifts (source_shifts)
            sources = [grids[source // c].index_select(1, rows >> d).index_select(2, cols >> d)
                       for source, d in self.layout.source_shifts(level * c)]
            stack = torch.stack(sources, dim=1).reshape(c, len(sources), h * w)
            # [channels, features, h*w], channel-major like the level's run of pos_idx
            feats = torch.matmul(linear.weight, stack) + linear.bias[:, None]
            out.append(feats.transpose(0, 1).reshape(linear.out_features, c * h * w))
        done = sum(f.shape[1] for f in out)
        out.append(values.new_zeros(self.arch.ifce_features, values.shape[0] - done))
        return torch.cat(out, dim=1)

    def forward(self, mode: str, temperature: float = 0.3, noise_a: float = 1.0,
                noise_std: float = 0.0, rate_on_synthesis_values: bool = False):
        """(image [1,C,H,W], total latent bits) under the given quantization proxy
        (quantized_latents)."""
        y_rate, y_syn = self.quantized_latents(mode, temperature, noise_a, noise_std,
                                               rate_on_synthesis_values)
        image = self.render_values(self.upsampling, self.synthesis, y_syn)
        return image, self.rate_bits(y_rate)

    @staticmethod
    def _symbols(y: torch.Tensor, dither: torch.Tensor | None) -> torch.Tensor:
        """Coded integers: round(y), or round(y - u) under universal quantization (clipped)."""
        if dither is None:
            return torch.round(y)
        return torch.round(y - dither).clamp(-LATENT_MAX, LATENT_MAX)

    def integer_latents(self) -> torch.Tensor:
        """The symbols the coder sends (int64 flat buffer, padding zero)."""
        with torch.no_grad():
            y = (self.latent * self.mask).clamp(-LATENT_MAX, LATENT_MAX)
            return self._symbols(y, self.dither).to(torch.int64)

    def latent_values(self, symbols: torch.Tensor) -> torch.Tensor:
        """What the decoder feeds the synthesis for these symbols: k, or k + u (float32)."""
        values = symbols.to(torch.float32)
        return values if self.dither is None else values + self.dither
