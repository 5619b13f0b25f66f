"""The decoder's upsampling x2 step (Upsampling.up2 without autograd), compiled with numba.

Why: in torch the polyphase step is a stack of shifted copies, a small product and an interleave,
memory traffic that costs a 768x512 `medium` decode ~15 ms; one loop over the output costs a few.

Bit-exact with the torch form (Upsampling._up_axis_sums): both compute each output sample as
((x0 * k0 + x1 * k1) + x2 * k2) + x3 * k3 in float32, every product and sum rounded by IEEE
rules (no fused multiply-add: numba does not contract without fastmath), horizontal pass first,
on the edge-replicated rows, then vertical. tests/test_model.py compares the two on odd sizes.
Loaded only where the compiled latent decoder is (numba is then imported already).
"""
from __future__ import annotations

import numpy as np
from numba import njit


@njit(cache=True)
def _horizontal(src, padded, half, pad, taps, dst):
    """dst[q] for q < dst.size: phase q & 1 of the row src, taps[phase, :half]."""
    b = src.size
    for c in range(b + 2 * pad):
        padded[c] = src[min(max(c - pad, 0), b - 1)]
    w = dst.size
    if half == 4:
        k00, k01, k02, k03 = taps[0, 0], taps[0, 1], taps[0, 2], taps[0, 3]
        k10, k11, k12, k13 = taps[1, 0], taps[1, 1], taps[1, 2], taps[1, 3]
        for m in range(w // 2):
            dst[2 * m] = ((padded[m] * k00 + padded[m + 1] * k01) + padded[m + 2] * k02) \
                + padded[m + 3] * k03
            dst[2 * m + 1] = ((padded[m + 1] * k10 + padded[m + 2] * k11) + padded[m + 3] * k12) \
                + padded[m + 4] * k13
        if w % 2:
            m = w // 2
            dst[w - 1] = ((padded[m] * k00 + padded[m + 1] * k01) + padded[m + 2] * k02) \
                + padded[m + 3] * k03
        return
    for q in range(w):
        m, r = q >> 1, q & 1
        s = padded[m + r] * taps[r, 0]
        for j in range(1, half):
            s = s + padded[m + r + j] * taps[r, j]
        dst[q] = s


@njit(cache=True)
def up2(x, taps, out):
    """x: float32 [n, a, b] planes -> out: float32 [n, h, w] (h <= 2a, w <= 2b), Upsampling.up2.
    taps: float32 [2, half], phase r's kernel taps in the order the sum takes them."""
    n, a, b = x.shape
    h, w = out.shape[1], out.shape[2]
    half = taps.shape[1]
    pad = half // 2
    rows = np.empty((a + 2 * pad, w), np.float32)      # one plane's horizontal pass, padded rows
    padded = np.empty(b + 2 * pad, np.float32)
    for p in range(n):
        for i in range(a):
            _horizontal(x[p, i], padded, half, pad, taps, rows[i + pad])
        for i in range(pad):                        # replicated edge rows
            rows[i, :] = rows[pad, :]
            rows[a + pad + i, :] = rows[a + pad - 1, :]
        for y in range(h):
            m, r = y >> 1, y & 1
            dst = out[p, y]
            first = rows[m + r]
            k = taps[r, 0]
            for q in range(w):
                dst[q] = first[q] * k
            for j in range(1, half):
                row = rows[m + r + j]
                k = taps[r, j]
                for q in range(w):
                    dst[q] = dst[q] + row[q] * k
