"""The fixed-point upsampling and synthesis (model/fixed_point.py), compiled with numba: the same
values as the numpy forms, which stay the definition (tests/test_fixed_point.py compares them).

    up2_rows, up2_cols     one x2 step, per axis
    synthesis_bytes        the 1x1 layers, the 3x3 residual layers and the byte conversion, band
                           by band (what the decoder runs: the picture read once, written once)
    pointwise_layers, residual3x3   the same layers one at a time (their tests)

Written for LLVM's loop vectorizer: inner loops run over pixels, each writes one row and reads a
few (more rows written a pass need more runtime overlap checks than it makes, and the loop stays
scalar), and the hot 3x3 loop sits in a function of its own.

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
            if half == 4:      # the presets' 8 taps, unrolled: the loop over m vectorises
                e0, e1, e2, e3 = taps[0, 0], taps[0, 1], taps[0, 2], taps[0, 3]
                o0, o1, o2, o3 = taps[1, 0], taps[1, 1], taps[1, 2], taps[1, 3]
                for m in range(b):
                    v0, v1, v2 = padded[m], padded[m + 1], padded[m + 2]
                    v3, v4 = padded[m + 3], padded[m + 4]
                    even[m] = e0 * v0 + e1 * v1 + e2 * v2 + e3 * v3
                    odd[m] = o0 * v1 + o1 * v2 + o2 * v3 + o3 * v4
            else:
                for m in range(b):                # phase 0: inputs m ..., phase 1: m + 1 ...
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


@njit(cache=True, inline="always")
def _up2_col_row(dst, x, p, y, taps, inv_q, limit, acc):
    """Row y of plane p of a x2 step's vertical half (x [n, a, w] -> [n, h, w], replicate
    padding) into dst[:w]; acc: [w] scratch. The presets' 8 taps in one pass over the row (four
    source rows, one rounding), other tap counts through acc."""
    a, w = x.shape[1], x.shape[2]
    half = taps.shape[1]
    pad = half // 2
    m, r = y >> 1, y & 1
    if half == 4:
        k0, k1, k2, k3 = taps[r, 0], taps[r, 1], taps[r, 2], taps[r, 3]
        s0 = x[p, min(max(m + r - pad, 0), a - 1)]
        s1 = x[p, min(max(m + r + 1 - pad, 0), a - 1)]
        s2 = x[p, min(max(m + r + 2 - pad, 0), a - 1)]
        s3 = x[p, min(max(m + r + 3 - pad, 0), a - 1)]
        for q in range(w):
            dst[q] = _round_shift(k0 * s0[q] + k1 * s1[q] + k2 * s2[q] + k3 * s3[q], inv_q, limit)
        return
    for q in range(w):
        acc[q] = 0.0
    for j in range(half):
        k = taps[r, j]
        src = x[p, min(max(m + r + j - pad, 0), a - 1)]
        for q in range(w):
            acc[q] += k * src[q]
    for q in range(w):
        dst[q] = _round_shift(acc[q], inv_q, limit)


@njit(cache=True)
def up2_cols(x, taps, inv_q, limit, out):
    """Vertical half of a x2 step: x [n, a, w] -> out [n, h, w] (h <= 2a), replicate padding."""
    acc = np.empty(x.shape[2], np.float64)
    for p in range(x.shape[0]):
        for y in range(out.shape[1]):
            _up2_col_row(out[p, y], x, p, y, taps, inv_q, limit, acc)
    return out


@njit(cache=True)
def _taps9(acc, r0, r1, r2, w, first, k00, k01, k02, k10, k11, k12, k20, k21, k22):
    """acc[:w] = (first) or += one input channel's 3x3 taps over three padded rows. A function
    of its own (not inlined): LLVM vectorises the loop over its arguments, ~1.5x faster than
    the same loop inside the caller."""
    if first:
        for q in range(w):
            acc[q] = (k00 * r0[q] + k01 * r0[q + 1] + k02 * r0[q + 2]
                      + k10 * r1[q] + k11 * r1[q + 1] + k12 * r1[q + 2]
                      + k20 * r2[q] + k21 * r2[q + 1] + k22 * r2[q + 2])
    else:
        for q in range(w):
            acc[q] += (k00 * r0[q] + k01 * r0[q + 1] + k02 * r0[q + 2]
                       + k10 * r1[q] + k11 * r1[q + 1] + k12 * r1[q + 2]
                       + k20 * r2[q] + k21 * r2[q + 1] + k22 * r2[q + 2])


@njit(cache=True)
def _residual_out(dst, acc, src, w, inv_q, b, limit):
    """dst[:w] = clamp(round(acc) + b + src): the residual layer's output row."""
    for q in range(w):
        v = min(max(np.floor(acc[q] * inv_q + 0.5), -limit), limit) + b + src[q]
        dst[q] = min(max(v, -limit), limit)


@njit(cache=True)
def residual3x3(x, weight, inv_q, bias, limit):
    """x + round(conv3x3(ReLU(x))) + bias on [C, H, W], replicate padding (weight [C, C, 3, 3]).
    Per output row, one pass per input channel carrying its nine taps (nine products per load
    and store of the accumulator, not one), then one for the rounding."""
    c, h, w = x.shape
    rp = np.empty((c, h + 2, w + 2), np.float64)         # ReLU(x), replicate-padded
    for i in range(c):
        for y in range(h + 2):
            src = x[i, min(max(y - 1, 0), h - 1)]
            dst = rp[i, y]
            for q in range(w):
                v = src[q]
                dst[q + 1] = v if v > 0.0 else 0.0
            dst[0] = dst[1]
            dst[w + 1] = dst[w]
    out = np.empty_like(x)
    acc = np.empty(w, np.float64)
    for o in range(c):
        for y in range(h):
            for i in range(c):
                _taps9(acc, rp[i, y], rp[i, y + 1], rp[i, y + 2], w, i == 0,
                       weight[o, i, 0, 0], weight[o, i, 0, 1], weight[o, i, 0, 2],
                       weight[o, i, 1, 0], weight[o, i, 1, 1], weight[o, i, 1, 2],
                       weight[o, i, 2, 0], weight[o, i, 2, 1], weight[o, i, 2, 2])
            _residual_out(out[o, y], acc, x[o, y], w, inv_q, bias[o], limit)
    return out


BLOCK = 256          # pixels the fused 1x1 layers carry through every layer at once
FIRST, MIDDLE, ONLY, LAST = 0, 1, 2, 3     # _pass8's place among an output's passes


@njit(cache=True, inline="always")
def _pass8(d, x0, x1, x2, x3, x4, x5, x6, x7, m, w0, w1, w2, w3, w4, w5, w6, w7, place,
           inv_q, bias, floor_at, limit):
    """One pass of eight inputs into output row d[:m]: d = (FIRST) or += (MIDDLE) the eight
    products, or (ONLY, LAST) the same then the layer's rounding, bias and clamp (floor_at: 0
    for the ReLU between layers). One row written and at most eight read a pass, as 1-D rows:
    what LLVM vectorises (more rows written a pass need more runtime overlap checks than it
    makes, and the loop stays scalar, ~3x slower)."""
    if place == FIRST:
        for p in range(m):
            d[p] = (x0[p] * w0 + x1[p] * w1 + x2[p] * w2 + x3[p] * w3
                    + x4[p] * w4 + x5[p] * w5 + x6[p] * w6 + x7[p] * w7)
    elif place == MIDDLE:
        for p in range(m):
            d[p] += (x0[p] * w0 + x1[p] * w1 + x2[p] * w2 + x3[p] * w3
                     + x4[p] * w4 + x5[p] * w5 + x6[p] * w6 + x7[p] * w7)
    elif place == ONLY:
        for p in range(m):
            s = (x0[p] * w0 + x1[p] * w1 + x2[p] * w2 + x3[p] * w3
                 + x4[p] * w4 + x5[p] * w5 + x6[p] * w6 + x7[p] * w7)
            v = min(max(np.floor(s * inv_q + 0.5), -limit), limit) + bias
            d[p] = min(max(v, floor_at), limit)
    else:
        for p in range(m):
            s = d[p] + (x0[p] * w0 + x1[p] * w1 + x2[p] * w2 + x3[p] * w3
                        + x4[p] * w4 + x5[p] * w5 + x6[p] * w6 + x7[p] * w7)
            v = min(max(np.floor(s * inv_q + 0.5), -limit), limit) + bias
            d[p] = min(max(v, floor_at), limit)


@njit(cache=True)
def _plan_pointwise(weights, widths):
    """Each 1x1 output's passes, planned once per picture: rows (layer, output, first input,
    place) and their eight weights (zero past the layer's inputs). Blocks of eight zero weights
    (RDOQ's) get no pass; an output whose weights are all zero gets one pass of zeros, which
    rounds it (to its bias)."""
    n_layers = widths.size - 1
    n_plan = 0
    for k in range(n_layers):
        n_plan += widths[k + 1] * ((widths[k] + 7) // 8)
    plan = np.empty((n_plan, 4), np.int64)
    plan_w = np.zeros((n_plan, 8), np.float64)
    n_plan = 0
    w_off = 0
    for k in range(n_layers):
        fan_in, fan_out = widths[k], widths[k + 1]
        for o in range(fan_out):
            first_pass = n_plan
            for i in range(0, fan_in, 8):
                nonzero = False
                for j in range(min(8, fan_in - i)):
                    plan_w[n_plan, j] = weights[w_off + o * fan_in + i + j]
                    nonzero = nonzero or plan_w[n_plan, j] != 0.0
                if nonzero:
                    plan[n_plan, 0], plan[n_plan, 1], plan[n_plan, 2] = k, o, i
                    plan[n_plan, 3] = FIRST if n_plan == first_pass else MIDDLE
                    n_plan += 1
                else:
                    plan_w[n_plan, :] = 0.0
            if n_plan == first_pass:
                plan[n_plan, 0], plan[n_plan, 1], plan[n_plan, 2] = k, o, 0
                plan[n_plan, 3] = ONLY
                plan_w[n_plan, :] = 0.0
                n_plan += 1
            elif n_plan - first_pass == 1:
                plan[first_pass, 3] = ONLY
            else:
                plan[n_plan - 1, 3] = LAST
        w_off += fan_in * fan_out
    return plan[:n_plan], plan_w[:n_plan]


@njit(cache=True)
def _pointwise_block(src, y, c0, m, dst, dy, d0, plan, plan_w, widths, inv_qs, biases, limit,
                     hidden_a, hidden_b):
    """Every 1x1 layer on the m pixels src[:, y, c0:c0 + m] -> dst[:, dy, d0:d0 + m] (3-D C
    arrays: unit-stride rows), hidden layers in hidden_a/b [widest, 1, BLOCK]."""
    n_layers = widths.size - 1
    k_now = 0
    sy, sc = y, c0
    if n_layers > 1:
        out, oy, oc = hidden_a, 0, 0
    else:
        out, oy, oc = dst, dy, d0
    b_off = 0
    for t in range(plan.shape[0]):
        k, o, i, place = plan[t, 0], plan[t, 1], plan[t, 2], plan[t, 3]
        if k != k_now:                               # the next layer reads this one
            b_off += widths[k_now + 1]
            k_now = k
            src, sy, sc = out, oy, oc
            if k == n_layers - 1:
                out, oy, oc = dst, dy, d0
            else:
                out, oy, oc = (hidden_b if k % 2 else hidden_a), 0, 0
        top = widths[k] - 1
        _pass8(out[o, oy][oc:oc + m], src[i, sy][sc:], src[min(i + 1, top), sy][sc:],
               src[min(i + 2, top), sy][sc:], src[min(i + 3, top), sy][sc:],
               src[min(i + 4, top), sy][sc:], src[min(i + 5, top), sy][sc:],
               src[min(i + 6, top), sy][sc:], src[min(i + 7, top), sy][sc:], m,
               plan_w[t, 0], plan_w[t, 1], plan_w[t, 2], plan_w[t, 3], plan_w[t, 4],
               plan_w[t, 5], plan_w[t, 6], plan_w[t, 7], place, inv_qs[k],
               biases[b_off + o], -limit if k == n_layers - 1 else 0.0, limit)


@njit(cache=True)
def _hidden(widths):
    widest = 1
    for k in range(1, widths.size - 1):
        widest = max(widest, widths[k])
    return np.zeros((widest, 1, BLOCK), np.float64), np.zeros((widest, 1, BLOCK), np.float64)


@njit(cache=True)
def pointwise_layers(x, weights, inv_qs, biases, widths, limit):
    """fixed_point.pointwise: every 1x1 layer on a block of BLOCK pixels at a time, the hidden
    activations in a small buffer. x [widths[0], N]; weights, biases: the layers' n * m
    [out, in] and biases one after another; widths: [in, hidden..., out]. Per output, one pass
    per eight inputs (_pass8; a short last block repeats its last input with zero weights:
    exact zeros), the last pass rounding. Every sum is exact, so this order gives the numpy
    form's values."""
    n = x.shape[1]
    plan, plan_w = _plan_pointwise(weights, widths)
    hidden_a, hidden_b = _hidden(widths)
    src = np.ascontiguousarray(x).reshape(x.shape[0], 1, n)
    out = np.empty((widths[widths.size - 1], 1, n), np.float64)
    for start in range(0, n, BLOCK):
        _pointwise_block(src, 0, start, min(BLOCK, n - start), out, 0, start, plan, plan_w,
                         widths, inv_qs, biases, limit, hidden_a, hidden_b)
    return out.reshape(out.shape[0], n)


BAND = 16            # output rows the fused synthesis carries through every layer at once


@njit(cache=True)
def _synthesis_band(src, src_base, y0, y1, h, layers, rp, acc, img, plan, plan_w, widths, inv_qs,
                    biases, res_weights, res_inv_qs, res_biases, limit, one, hidden_a,
                    hidden_b):
    """Output rows y0..y1 of the synthesis and byte conversion into img; the 1x1 layers read
    picture row y at src[:, y - src_base] (rows y0 - R .. y1 + R within the picture, R the 3x3
    layers). layers, rp: band buffers whose row r holds picture row y0 - R + r."""
    w = img.shape[1]
    c = widths[widths.size - 1]
    n_res = res_weights.shape[0]
    base = y0 - n_res
    for y in range(max(0, y0 - n_res), min(h, y1 + n_res)):
        for start in range(0, w, BLOCK):
            _pointwise_block(src, y - src_base, start, min(BLOCK, w - start), layers[0],
                             y - base, start, plan, plan_w, widths, inv_qs, biases, limit,
                             hidden_a, hidden_b)
    for l in range(1, n_res + 1):
        reach = n_res - l                    # rows this layer's output needs beyond the band
        lo, hi = max(0, y0 - reach), min(h, y1 + reach)
        prev = layers[l - 1]
        for i in range(c):
            for y in range(max(0, lo - 1), min(h, hi + 1)):
                s_row = prev[i, y - base]
                d_row = rp[i, y - base]
                for q in range(w):
                    v = s_row[q]
                    d_row[q + 1] = v if v > 0.0 else 0.0
                d_row[0] = d_row[1]
                d_row[w + 1] = d_row[w]
        for o in range(c):
            for y in range(lo, hi):
                r0 = max(y - 1, 0) - base
                r2 = min(y + 1, h - 1) - base
                for i in range(c):
                    wt = res_weights[l - 1, o, i]
                    _taps9(acc, rp[i, r0], rp[i, y - base], rp[i, r2], w, i == 0,
                           wt[0, 0], wt[0, 1], wt[0, 2], wt[1, 0], wt[1, 1], wt[1, 2],
                           wt[2, 0], wt[2, 1], wt[2, 2])
                _residual_out(layers[l, o, y - base], acc, prev[o, y - base], w,
                              res_inv_qs[l - 1], res_biases[l - 1, o], limit)
    final = layers[n_res]
    inv = 1.0 / one
    for y in range(y0, y1):
        for ch in range(c):
            row = final[ch, y - base]
            dst = img[y, :, ch]
            for q in range(w):
                v = np.floor((row[q] * 255.0 + one / 2) * inv)
                dst[q] = np.uint8(min(max(v, 0.0), 255.0))


@njit(cache=True)
def synthesis_bytes(planes, weights, inv_qs, biases, widths, res_weights, res_inv_qs,
                    res_biases, limit, one):
    """The whole synthesis and the conversion to bytes, fixed_point.synthesise then to_uint8,
    band by band: planes [P, H, W] -> uint8 [H, W, C]. Each band of BAND rows goes through the
    1x1 layers (with R more rows each side for the R 3x3 layers; replicate padding at the
    picture's edges), each residual layer (one row fewer each side per layer) and the byte
    conversion while it is in cache: the picture is read once and written once, instead of
    ~10 passes over [C, H, W] float64 arrays (the synthesis was bound by memory traffic).
    res_weights [R, C, C, 3, 3], res_inv_qs [R], res_biases [R, C]. The same values as the
    layer-by-layer forms."""
    p, h, w = planes.shape
    c = widths[widths.size - 1]
    n_res = res_weights.shape[0]
    plan, plan_w = _plan_pointwise(weights, widths)
    hidden_a, hidden_b = _hidden(widths)
    rows = BAND + 2 * n_res
    layers = np.zeros((n_res + 1, c, rows, w), np.float64)
    rp = np.zeros((c, rows, w + 2), np.float64)     # a residual layer's ReLU'd, padded input
    acc = np.empty(w, np.float64)
    img = np.empty((h, w, c), np.uint8)
    for y0 in range(0, h, BAND):
        _synthesis_band(planes, 0, y0, min(h, y0 + BAND), h, layers, rp, acc, img, plan, plan_w,
                        widths, inv_qs, biases, res_weights, res_inv_qs, res_biases, limit, one,
                        hidden_a, hidden_b)
    return img


@njit(cache=True)
def upsampled_synthesis_bytes(finest, half_rows, taps, up_inv_q, weights, inv_qs, biases, widths,
                              res_weights, res_inv_qs, res_biases, limit, one):
    """synthesis_bytes on the planes that the last x2 step would make, without making them:
    finest [c, H, W] (the full-resolution grid) and half_rows [n, ceil(H/2), W] (the coarser
    planes after the last step's horizontal half, up2_rows); each band's rows of the vertical
    half (up2_cols' values) are computed into a band buffer next to the finest grid's, then go
    through the synthesis while in cache. The planes are [c + n, H, W]; the same bytes as
    up2_cols then synthesis_bytes, without writing and reading ~20 MB of float64 planes at
    768x512."""
    c0, h, w = finest.shape
    n = half_rows.shape[0]
    n_res = res_weights.shape[0]
    plan, plan_w = _plan_pointwise(weights, widths)
    hidden_a, hidden_b = _hidden(widths)
    c = widths[widths.size - 1]
    rows = BAND + 2 * n_res
    band = np.empty((c0 + n, rows, w), np.float64)  # the planes' rows y0 - R .. y1 + R
    layers = np.zeros((n_res + 1, c, rows, w), np.float64)
    rp = np.zeros((c, rows, w + 2), np.float64)
    acc = np.empty(w, np.float64)
    img = np.empty((h, w, c), np.uint8)
    for y0 in range(0, h, BAND):
        y1 = min(h, y0 + BAND)
        base = y0 - n_res
        for y in range(max(0, y0 - n_res), min(h, y1 + n_res)):
            for ch in range(c0):
                band[ch, y - base, :] = finest[ch, y]
            for p in range(n):
                _up2_col_row(band[c0 + p, y - base], half_rows, p, y, taps, up_inv_q, limit, acc)
        _synthesis_band(band, base, y0, y1, h, layers, rp, acc, img, plan, plan_w, widths, inv_qs,
                        biases, res_weights, res_inv_qs, res_biases, limit, one, hidden_a,
                        hidden_b)
    return img
