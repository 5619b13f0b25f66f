"""The fixed-point upsampling step and 3x3 residual layer (model/fixed_point.py), compiled with
numba: the same values as the numpy forms, which stay the definition (tests/test_fixed_point.py
compares them), in one pass over the output instead of a temporary per tap.

Exact for the same reason as the numpy forms: every product and partial sum is an integer below
2^53 held in float64, so neither the order of the sum nor a fused multiply-add changes a bit.
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _round_shift(s, inv_q, limit):
    v = np.floor(s * inv_q + 0.5)
    return min(max(v, -limit), limit)


@njit(cache=True)
def up2_rows(x, taps, inv_q, limit, w):
    """Horizontal half of a x2 step: x [n, a, b] -> [n, a, w] (w <= 2b), replicate padding."""
    n, a, b = x.shape
    half = taps.shape[1]
    pad = half // 2
    out = np.empty((n, a, w), np.float64)
    padded = np.empty(b + 2 * pad, np.float64)
    for p in range(n):
        for i in range(a):
            for c in range(b + 2 * pad):
                padded[c] = x[p, i, min(max(c - pad, 0), b - 1)]
            for q in range(w):
                m, r = q >> 1, q & 1
                s = 0.0
                for j in range(half):
                    s += taps[r, j] * padded[m + r + j]
                out[p, i, q] = _round_shift(s, inv_q, limit)
    return out


@njit(cache=True)
def up2_cols(x, taps, inv_q, limit, h):
    """Vertical half of a x2 step: x [n, a, w] -> [n, h, w] (h <= 2a), replicate padding."""
    n, a, w = x.shape
    half = taps.shape[1]
    pad = half // 2
    out = np.empty((n, h, w), np.float64)
    acc = np.empty(w, np.float64)
    for p in range(n):
        for y in range(h):
            m, r = y >> 1, y & 1
            acc[:] = 0.0
            for j in range(half):
                row = min(max(m + r + j - pad, 0), a - 1)
                k = taps[r, j]
                for q in range(w):
                    acc[q] += k * x[p, row, q]
            for q in range(w):
                out[p, y, q] = _round_shift(acc[q], inv_q, limit)
    return out


@njit(cache=True)
def residual3x3(x, weight, inv_q, bias, limit):
    """x + round(conv3x3(ReLU(x))) + bias on [C, H, W], replicate padding (weight [C, C, 3, 3])."""
    c, h, w = x.shape
    rp = np.empty((c, h + 2, w + 2), np.float64)
    for i in range(c):
        for y in range(h + 2):
            sy = min(max(y - 1, 0), h - 1)
            for q in range(w + 2):
                v = x[i, sy, min(max(q - 1, 0), w - 1)]
                rp[i, y, q] = v if v > 0.0 else 0.0
    out = np.empty_like(x)
    acc = np.empty(w, np.float64)
    for o in range(c):
        for y in range(h):
            acc[:] = 0.0
            for i in range(c):
                for dy in range(3):
                    row = rp[i, y + dy]
                    for dx in range(3):
                        k = weight[o, i, dy, dx]
                        for q in range(w):
                            acc[q] += k * row[q + dx]
            for q in range(w):
                v = _round_shift(acc[q], inv_q, limit) + bias[o] + x[o, y, q]
                out[o, y, q] = min(max(v, -limit), limit)
    return out
