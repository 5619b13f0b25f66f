"""The ARM in fixed point: the only way latent probabilities are computed at coding time.

Weights are integers w with a step m*2^-q; activations carry FRACTION_BITS fractional bits. Each
layer is an integer matmul followed by a floor shift, so the result is the same on every CPU, OS,
BLAS and thread count. The integers are held in float64 so the matmul can use BLAS: with
|activation| <= 2^28, |weight*m| <= 2^18 and at most 64 inputs, every partial sum is an integer
below 2^52, which float64 represents exactly, so the result is exact whatever order (or FMA) the
BLAS sums in. The outputs are then snapped to the coding grid: mu to 2^-MU_BITS and log_scale to
an index of laplace.SCALES.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .laplace import (LATENT_MAX, LOG_SCALE_MIN, LOG_SCALE_STEPS_PER_NAT, MU_BITS, N_SCALES,
                      WEIGHT_MAX)
from .weights import FRACTION_BITS, step_parts

F = FRACTION_BITS
ACTIVATION_LIMIT = float(1 << (F + 12))    # |real activation| <= 4096
MAX_FAN_IN = 64
assert ACTIVATION_LIMIT * WEIGHT_MAX * 8 * MAX_FAN_IN < 2.0 ** 53
# Inter-grid features (arch.ifce_*) enter the first layer as fixed point beside the latents, and
# are clipped tighter than hidden activations (|real feature| <= 64, the latents' own range) so
# that the first layer stays exact in the worst case: dithered latents (2^-MU_BITS units) next to
# features, every weight at its largest.
FEATURE_LIMIT = float(1 << (F + 6))
MAX_CONTEXT, MAX_FEATURES, MAX_SOURCES = 24, 8, 14      # arch.py's bounds
assert ((LATENT_MAX + 1) * 2 ** MU_BITS * WEIGHT_MAX * 8 * 2 ** F * MAX_CONTEXT
        + FEATURE_LIMIT * WEIGHT_MAX * 8 * 2 ** MU_BITS * MAX_FEATURES < 2.0 ** 53)
assert (LATENT_MAX + 1) * 2 ** MU_BITS * WEIGHT_MAX * 8 * 2 ** F * MAX_SOURCES < 2.0 ** 53

_MU_SHIFT = 2.0 ** (F - MU_BITS)
_MU_HALF = 2.0 ** (F - MU_BITS - 1)
_SCALE_SHIFT = 2.0 ** F / LOG_SCALE_STEPS_PER_NAT
_SCALE_OFFSET = -LOG_SCALE_MIN * 2.0 ** F + _SCALE_SHIFT / 2
_OUT_LO = np.array([-float(LATENT_MAX << MU_BITS), 0.0])
_OUT_HI = np.array([float(LATENT_MAX << MU_BITS), float(N_SCALES - 1)])


@dataclass
class IntLayer:
    weight: np.ndarray      # [out, in] integers
    bias: np.ndarray        # [out] integers
    weight_step: int        # step index
    bias_step: int

    def fixed_point(self):
        """(w*m as float64 [in, out], 2^-q, bias in fixed point): all exact dyadic values."""
        mw, qw = step_parts(self.weight_step)
        mb, qb = step_parts(self.bias_step)
        if np.abs(self.weight).max(initial=0) > WEIGHT_MAX or self.weight.shape[1] > MAX_FAN_IN:
            raise ValueError("ARM layer outside the exact fixed-point range")
        w = (self.weight.astype(np.float64) * mw).T.copy()
        return w, 2.0 ** -qw, self.bias.astype(np.float64) * mb * 2.0 ** (F - qb)


class IntArm:
    """Layer k computes  a_k = floor(a_{k-1} @ (w*m) * 2^-q) + bias_fp  (then ReLU, capped).

    Scaling by 2^-q is folded into the weights (a power of two: exact), and the last layer's
    output mapping to the coding grid, floor((a + c) / 2^e), is folded into its weights and bias
    (floor(floor(x)/n) == floor(x/n) for integer n). Every matmul is then exact; the single bias
    addition after it rounds at most once, deterministically (IEEE), before the floor.

    With inter-grid features (ifce: one layer per level, [features, sources]) the first layer's
    inputs are the spatial context (latents) then the features of that latent's level, each
    floor(sources @ (w*m) * 2^-q * 2^F + bias_fp) clipped to +-FEATURE_LIMIT: fixed point, so
    their first-layer weights are not scaled by 2^F, and that layer's output is floored.
    Latents of other levels (and side grids) get features 0.
    """

    def __init__(self, layers: list[IntLayer], fractional_inputs: bool = False,
                 ifce: list[IntLayer] = ()):
        """fractional_inputs: contexts are dithered latents k + u, multiples of 2^-MU_BITS
        (entropy/dither.py) rather than integers; the first layer's products are still exact
        (|k + u| * 2^MU_BITS <= 2^14 leaves ample room below 2^53) but its output is no longer
        a whole number of fixed-point units, so it is floored like every other layer's."""
        self.features = ifce[0].weight.shape[0] if len(ifce) else 0
        self.spatial = layers[0].weight.shape[1] - self.features
        self._floor_first = fractional_inputs or self.features > 0
        self.ifce = []
        for layer in ifce:
            w, inv_q, bias = layer.fixed_point()
            if layer.weight.shape[0] != self.features:
                raise ValueError("inter-grid feature layers differ in width")
            self.ifce.append((w * (inv_q * 2.0 ** F), bias))
        self.layers = []
        n = len(layers)
        for k, layer in enumerate(layers):
            w, inv_q, bias = layer.fixed_point()
            w = w * inv_q
            if k == 0:                  # the first layer sees integer latents, not fixed point
                w[:self.spatial] *= 2.0 ** F
            if k == n - 1:               # fold the (mu, log-scale) -> grid mapping
                post = np.array([1.0 / _MU_SHIFT, 1.0 / _SCALE_SHIFT])
                shift = np.array([_MU_HALF, _SCALE_OFFSET])
                w, bias = w * post, (bias + shift) * post
            self.layers.append((w, bias))
        self._hidden, self._last = self.layers[:-1], self.layers[-1]

    def packed(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(weights, biases, widths) for the compiled decoder (entropy/compiled.py): every
        layer's [in, out] fixed-point weights flattened one after another, the biases likewise,
        and the widths [inputs, hidden..., 2]. The same values raw() multiplies."""
        weights = np.concatenate([w.ravel() for w, _ in self.layers])
        biases = np.concatenate([b.ravel() for _, b in self.layers])
        widths = [self.layers[0][0].shape[0]] + [w.shape[1] for w, _ in self.layers]
        return weights, biases, np.asarray(widths, np.int64)

    def packed_ifce(self) -> tuple[np.ndarray, np.ndarray]:
        """(weights [levels, sources, features], biases [levels, features]) of the inter-grid
        feature layers for the compiled decoder, zero past a level's own sources: the values
        features() multiplies."""
        n_sources = max((w.shape[0] for w, _ in self.ifce), default=0)
        weights = np.zeros((len(self.ifce), n_sources, self.features))
        biases = np.zeros((len(self.ifce), self.features))
        for level, (w, b) in enumerate(self.ifce):
            weights[level, :w.shape[0]] = w
            biases[level] = b
        return weights, biases

    def features_of(self, sources: np.ndarray, levels: np.ndarray) -> np.ndarray:
        """sources: [n, S] coarser co-located latents (zero past a level's own); levels: [n]
        each row's level -> [n, features] fixed point (zero for levels without features)."""
        out = np.zeros((len(levels), self.features))
        for level, (w, b) in enumerate(self.ifce):
            rows = np.flatnonzero(levels == level)
            if rows.size:
                x = sources[rows, :w.shape[0]].astype(np.float64) @ w
                x += b
                np.floor(x, out=x)
                out[rows] = np.clip(x, -FEATURE_LIMIT, FEATURE_LIMIT)
        return out

    def raw(self, context: np.ndarray, levels: np.ndarray | None = None
            ) -> tuple[np.ndarray, np.ndarray]:
        """context: [n, N] integer latents (float64 in the decoder's hot loop): the spatial
        context, then with features the sources (LatentLayout.ctx_idx), whose rows' levels
        (LatentLayout.latent_levels) say which feature map -> (mu in latent units (a multiple
        of 2^-MU_BITS), scale index), both float64."""
        x = context.astype(np.float64, copy=False)
        if self.features:
            x = np.concatenate([x[:, :self.spatial],
                                self.features_of(x[:, self.spatial:], levels)], axis=1)
        for k, (w, bias) in enumerate(self._hidden):
            x = x @ w
            x += bias
            if k or self._floor_first:   # layer 0 of integer latents is already integer
                np.floor(x, out=x)
            np.clip(x, 0.0, ACTIVATION_LIMIT, out=x)       # ReLU, bounded (one pass)
        w, bias = self._last
        x = x @ w
        x += bias
        np.floor(x, out=x)
        np.maximum(x, _OUT_LO, out=x)
        np.minimum(x, _OUT_HI, out=x)
        return x[:, 0] * (1.0 / (1 << MU_BITS)), x[:, 1]

    def __call__(self, context: np.ndarray, levels: np.ndarray | None = None
                 ) -> tuple[np.ndarray, np.ndarray]:
        """context: [n, N] int latents (raw) -> (mu in 2^-MU_BITS units, scale index), int64."""
        mu, idx = self.raw(context, levels)
        return (mu * (1 << MU_BITS)).astype(np.int64), idx.astype(np.int64)
