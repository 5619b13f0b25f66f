"""Image-quality metrics shared by every benchmark, so all codecs are scored identically."""

from __future__ import annotations

import math

import numpy as np


def _check_pair(a: np.ndarray, b: np.ndarray) -> None:
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.dtype != np.uint8 or b.dtype != np.uint8:
        raise TypeError(f"expected uint8 images, got {a.dtype} and {b.dtype}")


def mse(a: np.ndarray, b: np.ndarray) -> float:
    """Mean squared error over all pixels and channels (in 8-bit code values)."""
    _check_pair(a, b)
    d = a.astype(np.float64) - b.astype(np.float64)
    return float(np.mean(d * d))


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """RGB PSNR in dB with peak 255, MSE pooled over all channels (the Kodak convention).

    Returns ``inf`` for identical images.
    """
    m = mse(a, b)
    if m == 0.0:
        return math.inf
    return 10.0 * math.log10(255.0 * 255.0 / m)


def bpp(nbytes: int, height: int, width: int) -> float:
    """Bits per pixel of a bitstream of ``nbytes`` bytes for an ``height`` x ``width`` image."""
    return 8.0 * nbytes / (height * width)
