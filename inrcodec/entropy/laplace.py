"""The discretised Laplace used for latents and weights, defined in integers.

Every coded symbol's probability is an integer out of 2^24 (the range coder's precision) that
follows from integer arithmetic alone, so encoder and decoder agree on every machine without
calling exp() (whose last bit differs between C libraries) while coding.

The model. Symbols s in [lo, hi] (latents: +-LATENT_MAX; weights: +-WEIGHT_MAX). The cumulative
below s is  C(s) = G(s - 1/2) + (s - lo)  for lo < s <= hi, C(lo) = 0, C(hi + 1) = 2^24, so
every symbol has probability at least 1 (as constriction's leaky quantizer). G, the Laplace CDF
in integer units of FREE = 2^24 - (alphabet size), at distance e = x - loc (an integer number of
`units`: 2^-MU_BITS for latents, 1/2 for weights):
    G = T(-e) if e < 0,   FREE - T(e) otherwise,
    T(m) = (HI[m >> 8] * LO[m & 255]) >> 31,
the tail FREE/2 * r^m as a product of two table entries, r = exp(-unit / scale):
    LO[f] = r^f in Q31, by the recursion LO[f] = (LO[f-1] * R) >> 31, LO[0] = 2^31;
    HI[n] = floor(FREE/2) * (r^256)^n, by HI[n] = (HI[n-1] * R256) >> 31, R256 = (LO[255]*R) >> 31.
R = round(2^31 exp(-unit / scale)) is the only transcendental value, one per scale, computed in
Python's `decimal` (correctly rounded, the same on every platform) when this module loads. Floors
only shrink, so T never increases with m and every symbol's probability is >= 1 (tested
exhaustively).

Latent scales: exp(LOG_SCALE_MIN + k/16) rounded to 2^-12 (SCALES[k]); weight scales 2^(j/4)
rounded to 2^-8 (WEIGHT_SCALES[j]), also computed in `decimal`.

Training uses the continuous model (laplace_bits_np, floats); the code lengths the encoder's
step search compares come from the integer model (latent_symbol_bits, weight_bits).
"""
from __future__ import annotations

import decimal
import functools

import numpy as np

LATENT_MAX = 63                     # latents are clamped to [-LATENT_MAX, LATENT_MAX]
MU_BITS = 8                         # mu grid 2^-8
LOG_SCALE_MIN, LOG_SCALE_MAX = -4.0, 4.5
LOG_SCALE_STEPS_PER_NAT = 16        # log-scale grid 1/16 nat
N_SCALES = int((LOG_SCALE_MAX - LOG_SCALE_MIN) * LOG_SCALE_STEPS_PER_NAT) + 1
N_WEIGHT_SCALES = 64
WEIGHT_MAX = 2 ** 15 - 1

PRECISION = 24                      # constriction's probability precision
TOTAL = 1 << PRECISION
TAIL_BITS = 31                      # Q format of the LO table and of R
LATENT_ALPHABET = 2 * LATENT_MAX + 1
WEIGHT_ALPHABET = 2 * WEIGHT_MAX + 1
LATENT_FREE = TOTAL - LATENT_ALPHABET
WEIGHT_FREE = TOTAL - WEIGHT_ALPHABET
LATENT_UNITS_PER_SYMBOL = 1 << MU_BITS   # latent distances in units of 2^-MU_BITS
WEIGHT_UNITS_PER_SYMBOL = 2              # weight distances in half units


def _decimal_constants():
    """(latent scales, weight scales, latent R, weight R), every value correctly rounded."""
    ctx = decimal.Context(prec=40, rounding=decimal.ROUND_HALF_EVEN)
    D = decimal.Decimal

    def rounded(x, grid: int) -> decimal.Decimal:
        return ctx.divide(ctx.multiply(x, grid).to_integral_value(context=ctx), grid)

    def ratio(unit: decimal.Decimal, scale: decimal.Decimal) -> int:
        r = ctx.exp(ctx.minus(ctx.divide(unit, scale)))
        return int(ctx.multiply(r, 1 << TAIL_BITS).to_integral_value(context=ctx))

    scales = [rounded(ctx.exp(ctx.add(D(LOG_SCALE_MIN), ctx.divide(k, LOG_SCALE_STEPS_PER_NAT))),
                      4096) for k in range(N_SCALES)]
    w_scales = [rounded(ctx.power(D(2), ctx.divide(j, 4)), 256) for j in range(N_WEIGHT_SCALES)]
    latent_r = [ratio(D(1) / LATENT_UNITS_PER_SYMBOL, b) for b in scales]
    weight_r = [ratio(D(1) / WEIGHT_UNITS_PER_SYMBOL, b) for b in w_scales]
    return scales, w_scales, latent_r, weight_r


def _tail_tables(ratios: list[int], n_hi: int, free: int) -> tuple[np.ndarray, np.ndarray]:
    """(HI [scales, n_hi], LO [scales, 256]) int64, by the integer recursions of the docstring."""
    r = np.asarray(ratios, np.int64)
    lo = np.empty((len(r), 256), np.int64)
    lo[:, 0] = 1 << TAIL_BITS
    for f in range(1, 256):
        lo[:, f] = (lo[:, f - 1] * r) >> TAIL_BITS
    r256 = (lo[:, 255] * r) >> TAIL_BITS
    hi = np.empty((len(r), n_hi), np.int64)
    hi[:, 0] = free // 2
    for n in range(1, n_hi):
        hi[:, n] = (hi[:, n - 1] * r256) >> TAIL_BITS
    return hi, lo


_scales, _w_scales, LATENT_R, WEIGHT_R = _decimal_constants()
SCALES = np.array([float(b) for b in _scales])              # exact: multiples of 2^-12
WEIGHT_SCALES = np.array([float(b) for b in _w_scales])     # exact: multiples of 2^-8
# The largest distances: latents |x - loc| <= (LATENT_MAX - 1/2) + (LATENT_MAX + 1/2) symbols
# (a dithered location reaches LATENT_MAX + 1/2); weights |x| <= WEIGHT_MAX - 1/2
MAX_LATENT_DISTANCE = 2 * LATENT_MAX * LATENT_UNITS_PER_SYMBOL
MAX_WEIGHT_DISTANCE = 2 * WEIGHT_MAX - 1
LATENT_HI, LATENT_LO = _tail_tables(LATENT_R, (MAX_LATENT_DISTANCE >> 8) + 1, LATENT_FREE)
WEIGHT_HI, WEIGHT_LO = _tail_tables(WEIGHT_R, (MAX_WEIGHT_DISTANCE >> 8) + 1, WEIGHT_FREE)
del _scales, _w_scales


def _free_cdf(e: np.ndarray, k, hi: np.ndarray, lo: np.ndarray, free: int) -> np.ndarray:
    """G at integer distances e (any shape; k broadcast against it), int64 in [0, free].
    Distances beyond the table (none a valid location produces) count as its last entry."""
    m = np.minimum(np.abs(e), hi.shape[1] * 256 - 1)
    tail = (hi[k, m >> 8] * lo[k, m & 255]) >> TAIL_BITS
    return np.where(e < 0, tail, free - tail)


# The two models' constants: (units per symbol, largest symbol, tail tables HI and LO, FREE)
_LATENT_MODEL = (LATENT_UNITS_PER_SYMBOL, LATENT_MAX, LATENT_HI, LATENT_LO, LATENT_FREE)
_WEIGHT_MODEL = (WEIGHT_UNITS_PER_SYMBOL, WEIGHT_MAX, WEIGHT_HI, WEIGHT_LO, WEIGHT_FREE)


def _cumulative(s: np.ndarray, loc_units, k, model) -> np.ndarray:
    """C(s) for symbols s in [-max, max + 1] (broadcast with loc_units and k): int64 in
    [0, TOTAL]."""
    units, top, hi, lo, free = model
    s = np.asarray(s, np.int64)
    e = s * units - units // 2 - loc_units
    inner = _free_cdf(e, k, hi, lo, free) + (s + top)
    return np.where(s <= -top, 0, np.where(s > top, TOTAL, inner))


def _bits(s: np.ndarray, loc_units, k, model) -> np.ndarray:
    """Code length in bits of each symbol: what the coder spends, up to its final state."""
    p = _cumulative(s + 1, loc_units, k, model) - _cumulative(s, loc_units, k, model)
    return PRECISION - np.log2(p)


def _frequencies(loc_units: np.ndarray, k: np.ndarray, model) -> np.ndarray:
    """[n, alphabet] float64 integers f with f + 1 = each symbol's probability out of 2^24,
    summing to FREE per row (loc_units, k: [n]): the form constriction's
    Categorical(perfect=False) turns into exactly these probabilities (its cumulative is
    floor(sum * FREE / FREE) + index)."""
    units, top, hi, lo, free = model
    x = np.arange(-top + 1, top + 1, dtype=np.int64) * units - units // 2
    return _differences(_free_cdf(x[None, :] - loc_units[:, None], k[:, None], hi, lo, free), free)


def _differences(g: np.ndarray, free: int) -> np.ndarray:
    """[n, m + 1] float64 frequencies from G at a row's m inner edges [n, m]: G(first) - 0, the
    steps between edges, FREE - G(last)."""
    out = np.empty((g.shape[0], g.shape[1] + 1), np.float64)
    out[:, 0] = g[:, 0]
    np.subtract(g[:, 1:], g[:, :-1], out=out[:, 1:-1], casting="unsafe")
    out[:, -1] = free - g[:, -1]
    return out


def latent_cumulative(s: np.ndarray, loc_units: np.ndarray, k: np.ndarray) -> np.ndarray:
    """C(s) for symbols s in [-LATENT_MAX, LATENT_MAX + 1] (broadcast with loc_units, the
    location in 2^-MU_BITS units, and k, the scale index): int64 in [0, TOTAL]."""
    return _cumulative(s, loc_units, k, _LATENT_MODEL)


def latent_symbol_bits(symbols: np.ndarray, loc_units: np.ndarray, k: np.ndarray) -> np.ndarray:
    """Code length in bits of each symbol under the integer model (what the coder spends, up to
    its few bits of final state)."""
    return _bits(symbols, loc_units, k, _LATENT_MODEL)


def latent_frequencies(loc_units: np.ndarray, k: np.ndarray) -> np.ndarray:
    """[n, LATENT_ALPHABET] frequencies (_frequencies) of n latents' models: the same values,
    by _latent_rows where every distance lies inside the tables (any valid location's do)."""
    loc_units, k = np.asarray(loc_units, np.int64), np.asarray(k, np.int64)
    rows = _latent_rows(loc_units, k)
    return _frequencies(loc_units, k, _LATENT_MODEL) if rows is None else rows


@functools.cache
def _latent_windows() -> np.ndarray:
    """HI's entries in the order one latent row reads them: [scale, c, D + n_hi] = HI[k, D]
    for D >= 0 and HI[k, -D - c] for D < 0 (c = 1 where the distance has a fractional part), as
    sliding windows of 2 * LATENT_MAX entries (a view: 560 kB in all)."""
    n_hi = LATENT_HI.shape[1]
    d = np.arange(-n_hi, n_hi)
    combined = np.empty((LATENT_HI.shape[0], 2, 2 * n_hi), np.int64)
    for c in (0, 1):
        combined[:, c] = LATENT_HI[:, np.where(d >= 0, d, np.clip(-d - c, 0, n_hi - 1))]
    return np.lib.stride_tricks.sliding_window_view(combined, 2 * LATENT_MAX, axis=2)


def _latent_rows(loc_units: np.ndarray, k: np.ndarray) -> np.ndarray | None:
    """_frequencies of the latent model without a table lookup per symbol: the distances of one
    row, e_j = a + 256 j (a = x_0 - loc), share their low 8 bits, so each side of the location
    multiplies one LO entry, and their HI indices are a run: a copied window of
    _latent_windows. ~2.6x faster (the numpy decoder and the encoder build one row per latent).
    None where a distance passes the tables' end (no valid location's does), for the general
    form."""
    n_x, n_hi = 2 * LATENT_MAX, LATENT_HI.shape[1]
    a = (-LATENT_MAX + 1) * LATENT_UNITS_PER_SYMBOL - LATENT_UNITS_PER_SYMBOL // 2 - loc_units
    d0 = a >> 8                                # e_j = 256 (d0 + j) + (a & 255)
    last = n_hi * 256 - 1
    if a.size and (np.abs(a).max() > last or np.abs(a + 256 * (n_x - 1)).max() > last):
        return None
    frac = a & 255
    hi = _latent_windows()[k, (frac != 0).astype(np.int64), d0 + n_hi]
    neg = np.arange(n_x)[None, :] < -d0[:, None]              # e_j < 0
    tail = hi * np.where(neg, LATENT_LO[k, (-a) & 255][:, None], LATENT_LO[k, frac][:, None])
    tail >>= TAIL_BITS
    return _differences(np.where(neg, tail, LATENT_FREE - tail), LATENT_FREE)


def weight_cumulative(s: np.ndarray, j) -> np.ndarray:
    """C(s) of the zero-mean weight model with scale index j, s in [-WEIGHT_MAX, WEIGHT_MAX + 1]."""
    return _cumulative(s, 0, j, _WEIGHT_MODEL)


def weight_frequencies(j: int) -> np.ndarray:
    """[WEIGHT_ALPHABET] frequencies (_frequencies) of the weight model with scale index j."""
    return _frequencies(np.zeros(1, np.int64), np.array([j], np.int64), _WEIGHT_MODEL)[0]


def weight_bits(ints: np.ndarray, j) -> np.ndarray:
    """Code length in bits of each integer weight under scale index j (broadcast)."""
    return _bits(ints, 0, j, _WEIGHT_MODEL)


def best_weight_scale_index(w_int: np.ndarray) -> int:
    """Scale index minimising the code length of these integer weights."""
    if w_int.size == 0:
        return 0
    values, counts = np.unique(np.asarray(w_int, np.int64), return_counts=True)
    bits = weight_bits(values[None, :], np.arange(N_WEIGHT_SCALES)[:, None]) @ counts
    return int(np.argmin(bits))


def laplace_bits_np(x: np.ndarray, mu: np.ndarray, scale: np.ndarray) -> np.ndarray:
    """-log2 P(x) for integer x under a continuous Laplace(mu, scale) integrated over
    [x-1/2, x+1/2]: the float estimate (training summaries, tests), not the coding model."""
    hi = _laplace_cdf(x + 0.5 - mu, scale)
    lo = _laplace_cdf(x - 0.5 - mu, scale)
    return -np.log2(np.maximum(hi - lo, 2.0 ** -24))


def _laplace_cdf(z, scale):
    tail = 0.5 * np.exp(-np.abs(z) / scale)
    return np.where(z < 0, tail, 1.0 - tail)
