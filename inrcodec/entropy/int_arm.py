"""The ARM in int64 fixed point: the only way latent probabilities are computed at coding time.

Weights are integers w with a step m*2^-q; activations carry FRACTION_BITS fractional bits. Each
layer is an exact integer matmul followed by an arithmetic right shift (floor), so the result is
the same on every CPU, OS, NumPy build and thread count. The outputs are then snapped to the
coding grid: mu to 2^-MU_BITS and log_scale to an index of laplace.SCALES.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .laplace import (LATENT_MAX, LOG_SCALE_MIN, LOG_SCALE_STEPS_PER_NAT, MU_BITS, N_SCALES)
from .weights import FRACTION_BITS, step_parts

F = FRACTION_BITS
ACTIVATION_LIMIT = 1 << (F + 20)   # clamp keeps every product far inside int64


@dataclass
class IntLayer:
    weight: np.ndarray      # [out, in] int64
    bias: np.ndarray        # [out] int64
    weight_step: int        # step index
    bias_step: int

    def prepared(self):
        """(effective weight^T, weight shift, fixed-point bias): m folded into the integers."""
        mw, qw = step_parts(self.weight_step)
        mb, qb = step_parts(self.bias_step)
        w_eff = (self.weight * mw).T.copy()
        bias_fp = (self.bias * mb) << (F - qb)
        return w_eff, qw, bias_fp


class IntArm:
    def __init__(self, layers: list[IntLayer]):
        self.layers = [layer.prepared() for layer in layers]

    def __call__(self, context: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """context: [n, N] int latents -> (mu in 2^-MU_BITS units, scale index), both int64."""
        x = context.astype(np.int64) << F
        last = len(self.layers) - 1
        for k, (w_eff, qw, bias_fp) in enumerate(self.layers):
            x = ((x @ w_eff) >> qw) + bias_fp
            if k < last:
                np.clip(x, 0, ACTIVATION_LIMIT, out=x)          # ReLU, bounded
            else:
                np.clip(x, -ACTIVATION_LIMIT, ACTIVATION_LIMIT, out=x)
        mu_fp, log_scale_fp = x[:, 0], x[:, 1]
        mu = (mu_fp + (1 << (F - MU_BITS - 1))) >> (F - MU_BITS)
        np.clip(mu, -LATENT_MAX << MU_BITS, LATENT_MAX << MU_BITS, out=mu)
        # index = round((log_scale - LOG_SCALE_MIN) * steps_per_nat), all in fixed point
        shift = F - int(np.log2(LOG_SCALE_STEPS_PER_NAT))
        offset = int(-LOG_SCALE_MIN * (1 << F))
        idx = (log_scale_fp + offset + (1 << (shift - 1))) >> shift
        np.clip(idx, 0, N_SCALES - 1, out=idx)
        return mu, idx
