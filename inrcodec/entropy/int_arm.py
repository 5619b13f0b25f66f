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
    """

    def __init__(self, layers: list[IntLayer], fractional_inputs: bool = False):
        """fractional_inputs: contexts are dithered latents k + u, multiples of 2^-MU_BITS
        (entropy/dither.py) rather than integers; the first layer's products are still exact
        (|k + u| * 2^MU_BITS <= 2^14 leaves ample room below 2^53) but its output is no longer
        a whole number of fixed-point units, so it is floored like every other layer's."""
        self._floor_first = fractional_inputs
        self.layers = []
        n = len(layers)
        for k, layer in enumerate(layers):
            w, inv_q, bias = layer.fixed_point()
            w = w * inv_q
            if k == 0:
                w = w * 2.0 ** F        # the first layer sees integer latents, not fixed point
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

    def raw(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """context: [n, N] integer latents (float64 in the decoder's hot loop) ->
        (mu in latent units (a multiple of 2^-MU_BITS), scale index), both float64."""
        x = context.astype(np.float64, copy=False)
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

    def __call__(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """context: [n, N] int latents -> (mu in 2^-MU_BITS units, scale index), both int64."""
        mu, idx = self.raw(context)
        return (mu * (1 << MU_BITS)).astype(np.int64), idx.astype(np.int64)
