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
    padded = np.empty(b + 2 * pad + 1, np.float64)
    even = np.empty(b, np.float64)
    odd = np.empty(b, np.float64)
    for p in range(n):
        for i in range(a):
            for c in range(b + 2 * pad + 1):
                padded[c] = x[p, i, min(max(c - pad, 0), b - 1)]
            for m in range(b):                    # phase 0: inputs m ..., phase 1: m + 1 ...
                s0 = 0.0
                s1 = 0.0
                for j in range(half):
                    s0 += taps[0, j] * padded[m + j]
                    s1 += taps[1, j] * padded[m + 1 + j]
                even[m] = s0
                odd[m] = s1
            row = out[p, i]
            for m in range(w // 2):
                row[2 * m] = _round_shift(even[m], inv_q, limit)
                row[2 * m + 1] = _round_shift(odd[m], inv_q, limit)
            if w % 2:
                row[w - 1] = _round_shift(even[w // 2], inv_q, limit)
    return out


@njit(cache=True)
def up2_cols(x, taps, inv_q, limit, out):
    """Vertical half of a x2 step: x [n, a, w] -> out [n, h, w] (h <= 2a), replicate padding."""
    n, a, w = x.shape
    h = out.shape[1]
    half = taps.shape[1]
    pad = half // 2
    acc = np.empty(w, np.float64)
    for p in range(n):
        for y in range(h):
            m, r = y >> 1, y & 1
            acc[:] = 0.0
            for j in range(half):
                row = min(max(m + r + j - pad, 0), a - 1)
                k = taps[r, j]
                src = x[p, row]
                for q in range(w):
                    acc[q] += k * src[q]
            dst = out[p, y]
            for q in range(w):
                dst[q] = _round_shift(acc[q], inv_q, limit)
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


BLOCK = 128          # pixels the fused 1x1 layers carry through every layer at once


@njit(cache=True)
def pointwise_layers(x, weights, inv_qs, biases, widths, limit):
    """fixed_point.pointwise fused: every 1x1 layer on a block of BLOCK pixels at a time, the
    hidden activations in a small buffer (no pass over the picture per layer and operation).
    x [widths[0], N]; weights, biases: the layers' n * m [out, in] and biases one after another;
    widths: [in, hidden..., out]."""
    n = x.shape[1]
    n_layers = widths.size - 1
    widest = 0
    for k in range(widths.size):
        widest = max(widest, widths[k])
    out = np.empty((widths[n_layers], n), np.float64)
    a = np.empty((widest, BLOCK), np.float64)
    b = np.empty((widest, BLOCK), np.float64)
    for start in range(0, n, BLOCK):
        m = min(BLOCK, n - start)
        for i in range(widths[0]):
            for p in range(m):
                a[i, p] = x[i, start + p]
        w_off = 0
        b_off = 0
        for k in range(n_layers):
            fan_in, fan_out = widths[k], widths[k + 1]
            inv_q = inv_qs[k]
            for o in range(fan_out):
                for p in range(m):
                    b[o, p] = 0.0
                for i in range(fan_in):
                    wv = weights[w_off + o * fan_in + i]
                    if wv != 0.0:
                        for p in range(m):
                            b[o, p] += wv * a[i, p]
                bias = biases[b_off + o]
                last = k == n_layers - 1
                for p in range(m):
                    v = min(max(np.floor(b[o, p] * inv_q + 0.5), -limit), limit) + bias
                    if not last and v < 0.0:
                        v = 0.0
                    b[o, p] = min(max(v, -limit), limit)
            w_off += fan_in * fan_out
            b_off += fan_out
            a, b = b, a
        for o in range(widths[n_layers]):
            for p in range(m):
                out[o, start + p] = a[o, p]
    return out
