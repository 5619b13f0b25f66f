"""The discretised Laplace used for latents and weights, and its bit-exact parameter grid.

Training uses continuous (mu, log_scale). At coding time mu is rounded to a 2^-MU_BITS grid and
log_scale to an index into SCALES; both come from integer arithmetic (entropy/int_arm.py), so the
floats handed to constriction are identical on every machine. SCALES values are exp() rounded to a
2^-12 grid; test_entropy checks none sits near a rounding boundary, so every platform's exp()
yields the same table.
"""
from __future__ import annotations

import math

import numpy as np

LATENT_MAX = 63                     # latents are clamped to [-LATENT_MAX, LATENT_MAX]
MU_BITS = 8                         # mu grid 2^-8
LOG_SCALE_MIN, LOG_SCALE_MAX = -4.0, 4.5
LOG_SCALE_STEPS_PER_NAT = 16        # log-scale grid 1/16 nat
N_SCALES = int((LOG_SCALE_MAX - LOG_SCALE_MIN) * LOG_SCALE_STEPS_PER_NAT) + 1
SCALES = np.round(np.exp(LOG_SCALE_MIN + np.arange(N_SCALES) / LOG_SCALE_STEPS_PER_NAT)
                  * 4096.0) / 4096.0

# Network weights: integer weights coded with a zero-mean Laplace whose scale is 2^(k/4), 2^-8-rounded
WEIGHT_SCALES = np.round(2.0 ** (np.arange(64) / 4.0) * 256.0) / 256.0
WEIGHT_MAX = 2 ** 15 - 1


def laplace_bits_np(x: np.ndarray, mu: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """-log2 P(x) for integer x under a Laplace(mu, scale) integrated over [x-1/2, x+1/2]."""
    hi = _laplace_cdf(x + 0.5 - mu, scale)
    lo = _laplace_cdf(x - 0.5 - mu, scale)
    return -np.log2(np.maximum(hi - lo, 2.0 ** -24))


def _laplace_cdf(z, scale):
    tail = 0.5 * np.exp(-np.abs(z) / scale)
    return np.where(z < 0, tail, 1.0 - tail)


def best_weight_scale_index(w_int: np.ndarray) -> int:
    """Scale index minimising the ideal code length of these integer weights."""
    if w_int.size == 0:
        return 0
    x = w_int.astype(np.float64)[None, :]
    bits = laplace_bits_np(x, 0.0, WEIGHT_SCALES[:, None]).sum(axis=1)
    return int(np.argmin(bits))


assert math.isclose(SCALES[0], math.exp(LOG_SCALE_MIN), rel_tol=0.01)
