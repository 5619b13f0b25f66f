"""Network weights as integers times a step, and their entropy coding.

Steps are m * 2^-q with m in {8,7,6,5}/8 (a roughly geometric grid, ratio ~0.85): every step is a
dyadic rational, so the integer ARM can apply it with an integer multiply and a shift, exactly.
"""
from __future__ import annotations

import numpy as np

from .laplace import WEIGHT_MAX

_MANTISSA = (8, 7, 6, 5)
N_STEPS = 53                 # step index 0 (= 1.0) ... 52 (= 8 * 2^-16 = 2^-13)
FRACTION_BITS = 16           # fixed-point activations carry 16 fractional bits; all q <= 16


def step_parts(index: int) -> tuple[int, int]:
    """(m, q): step = m * 2^-q exactly."""
    return _MANTISSA[index % 4], index // 4 + 3


def step_value(index: int) -> float:
    m, q = step_parts(index)
    return m / 2.0 ** q


def quantize(values: np.ndarray, index: int) -> np.ndarray:
    """Nearest integer multiples of the step, clipped to the codable range."""
    q = np.round(np.asarray(values, dtype=np.float64) / step_value(index))
    return np.clip(q, -WEIGHT_MAX, WEIGHT_MAX).astype(np.int64)


def dequantize(ints: np.ndarray, index: int) -> np.ndarray:
    return ints.astype(np.float64) * step_value(index)

