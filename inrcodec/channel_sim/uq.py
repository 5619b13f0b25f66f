"""Universal (dithered) quantization: channel simulation of additive uniform noise.

Encoder and decoder share a seed, hence a dither u ~ U[-1/2, 1/2) per element (prng.py, so both
sides agree bit for bit on any machine). The encoder sends k = round(x/step - u); the decoder
outputs y = (k + u) * step. Then y - x is uniform on [-step/2, step/2) and independent of x
(Ziv 1985; Agustsson & Theis 2020), so training with additive uniform noise is exactly what the
decoder sees, not an approximation of rounding. The integers k are entropy-coded as usual.

(Ties: round() sends exact halves to even, which a continuous x hits with probability zero.)
"""
from __future__ import annotations

import numpy as np

from .. import prng
from .gaussians import positive_finite


def dither(shape, seed) -> np.ndarray:
    """Shared dither in [-1/2, 1/2) of the given shape (element j of the flattened array is row j)."""
    shape = (int(shape),) if np.ndim(shape) == 0 else tuple(int(s) for s in shape)
    if any(s < 0 for s in shape):
        raise ValueError(f"shape must be non-negative, got {shape}")
    n = int(np.prod(shape))
    return prng.uniforms_centered(prng.check_seed(seed), prng.STREAM_DITHER, n).reshape(shape)


def _finite(name: str, x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def uq_encode(x, step: float, seed) -> np.ndarray:
    """k = round(x/step - u) as int64, u = dither(x.shape, seed)."""
    x = _finite("x", x)
    step = positive_finite("step", step)
    with np.errstate(over="ignore"):
        v = x / step - dither(x.shape, seed)
    if v.size and not np.max(np.abs(v)) < 2.0 ** 53:
        raise ValueError("x/step too large to quantize (|x/step| must stay below 2^53)")
    return np.rint(v).astype(np.int64)


def uq_decode(ints, step: float, seed) -> np.ndarray:
    """y = (k + u) * step with the same dither: within step/2 of x, error uniform and independent."""
    ints = np.asarray(ints)
    if ints.dtype.kind not in "iu":
        raise ValueError(f"ints must be an integer array, got dtype {ints.dtype}")
    step = positive_finite("step", step)
    return (ints + dither(ints.shape, seed)) * step
