"""The shared dither of `--latent-coding uq` (universal quantization of the latents).

With rounding, the synthesis is trained on noise but decodes rounded latents: a train/test
mismatch. With universal quantization (channel_sim/uq.py; Agustsson & Theis 2020) encoder and decoder
share a dither u per latent; the encoder sends k = round(y - u) and the decoder uses y^ = k + u.
Then y^ - y is uniform noise independent of y, which is exactly what training adds.

The dither is drawn from prng.py (bit-identical on every machine) and snapped to a 2^-MU_BITS
grid, u = j / 2^MU_BITS - 1/2 with j uniform in 0..2^MU_BITS-1, for two reasons:
- the Laplace location the coder uses for k is mu - u, and mu lives on that same grid, so the
  floats handed to constriction stay on the coding grid;
- contexts y^ = k + u are then dyadic with MU_BITS fractional bits, which the integer ARM
  multiplies exactly (int_arm.py).
The error y^ - y is then uniform up to 2^-MU_BITS granularity of u (which still leaves it
uniform on [-1/2, 1/2) when y has a continuous distribution).

The seed is part of the format (DITHER_SEED with prng.STREAM_DITHER); padding positions of the
latent buffer get no dither, so zero padding stays zero in every context.
"""
from __future__ import annotations

import numpy as np

from .. import prng
from .laplace import MU_BITS

DITHER_SEED = 0x1C0DEC


def latent_dither(valid_mask: np.ndarray) -> np.ndarray:
    """Float64 dither for a flat latent buffer: u in {-1/2, ..., 1/2 - 2^-MU_BITS} at valid
    positions (element j of the buffer uses PRNG row j), 0 at padding."""
    n = valid_mask.size
    u = prng.uniforms_centered(DITHER_SEED, prng.STREAM_DITHER, n)     # [-1/2, 1/2), 53 bits
    grid = float(1 << MU_BITS)
    u = np.floor((u + 0.5) * grid) / grid - 0.5                        # exact dyadic values
    return np.where(valid_mask, u, 0.0)

