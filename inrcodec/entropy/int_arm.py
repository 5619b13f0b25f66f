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
_MU_MAX = float(LATENT_MAX << MU_BITS)


@dataclass
class IntLayer:
    weight: np.ndarray      # [out, in] integers
    bias: np.ndarray        # [out] integers
    weight_step: int        # step index
    bias_step: int

    def prepared(self):
        """(effective weight^T, 2^-q, fixed-point bias), integer-valued float64 arrays."""
        mw, qw = step_parts(self.weight_step)
        mb, qb = step_parts(self.bias_step)
        if np.abs(self.weight).max(initial=0) > WEIGHT_MAX or self.weight.shape[1] > MAX_FAN_IN:
            raise ValueError("ARM layer outside the exact fixed-point range")
        w_eff = (self.weight.astype(np.float64) * mw).T.copy()
        bias_fp = self.bias.astype(np.float64) * mb * 2.0 ** (F - qb)
        return w_eff, 2.0 ** -qw, bias_fp


class IntArm:
    def __init__(self, layers: list[IntLayer]):
        self.layers = [layer.prepared() for layer in layers]

    def raw(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """context: [n, N] integer latents (any dtype) -> integer-valued float64
        (mu in 2^-MU_BITS units, scale index). The decoder's hot loop calls this directly."""
        (w0, inv_q0, b0), rest = self.layers[0], self.layers[1:]
        # first layer: integer latents times 2^F, shifted by q <= F, stay integers: no floor needed
        x = context.astype(np.float64, copy=False) @ (w0 * (inv_q0 * 2.0 ** F))
        x += b0
        for w_eff, inv_q, bias_fp in rest:
            np.maximum(x, 0.0, out=x)                           # ReLU, bounded
            np.minimum(x, ACTIVATION_LIMIT, out=x)
            x = np.floor((x @ w_eff) * inv_q)
            x += bias_fp
        np.maximum(x, -ACTIVATION_LIMIT, out=x)
        np.minimum(x, ACTIVATION_LIMIT, out=x)
        mu = np.floor((x[:, 0] + _MU_HALF) * (1.0 / _MU_SHIFT))
        np.maximum(mu, -_MU_MAX, out=mu)
        np.minimum(mu, _MU_MAX, out=mu)
        idx = np.floor((x[:, 1] + _SCALE_OFFSET) * (1.0 / _SCALE_SHIFT))
        np.maximum(idx, 0.0, out=idx)
        np.minimum(idx, N_SCALES - 1, out=idx)
        return mu, idx

    def __call__(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """context: [n, N] int latents -> (mu in 2^-MU_BITS units, scale index), both int64."""
        mu, idx = self.raw(context)
        return mu.astype(np.int64), idx.astype(np.int64)
