"""Portable shared randomness: encoder and decoder must draw the *same* candidates on every machine.

Channel simulation only works if the decoder can rebuild candidate #i exactly, so the generator is
pinned here (`PRNG_VERSION`) rather than borrowed from numpy, whose `Generator` streams and
Box-Muller/ziggurat details are not a stable contract.

Counter-based, so any word costs O(1) and the decoder regenerates one candidate in O(dim):

    key  = mix(mix(seed) + (stream + 1) * GAMMA_STREAM)
    row  = mix(key + (i + 1) * GAMMA_ROW)              # i: candidate (or element) index
    word = mix(row + (c + 1) * GAMMA_WORD)             # c: word within the row

all mod 2^64, `mix` being the SplitMix64 finaliser (Stafford's Mix13).

Floats are bit-identical everywhere by construction, not by luck. A uniform is the top 53 bits of a
word (exact in a double). Normals use Box-Muller, but the logarithm, sine and cosine are our own
fixed polynomials evaluated with + - * / and sqrt only: IEEE 754 rounds those correctly on every
platform, whereas libm's log/cos may differ in the last ulp between machines and would then flip a
decoded candidate. (Rounding libm results to a coarse grid would only make a flip unlikely.) This
relies on numpy's elementwise float64 ops being IEEE operations, one rounding each (no fused
multiply-add across separate ufunc calls, no x87 extended precision), as on every platform numpy
supports today.
"""
from __future__ import annotations

import math
import operator

import numpy as np

PRNG_VERSION = 1

STREAM_CANDIDATES = 0      # candidate normals of channel simulation
STREAM_ARRIVALS = 1        # Poisson-process arrival times (encoder only)
STREAM_DITHER = 2          # universal-quantization dither

MASK64 = (1 << 64) - 1
M1, M2 = 0xBF58476D1CE4E5B9, 0x94D049BB133111EB
GAMMA_STREAM, GAMMA_ROW, GAMMA_WORD = 0x9E3779B97F4A7C15, 0xD1B54A32D192ED03, 0x8CB92BA72F3D8DD7

_U64 = np.uint64
_LN2 = 0.6931471805599453          # the double nearest ln 2, written out (not a libm call)
_QUARTER_PI = 0.7853981633974483   # the double nearest pi/4
_TWO_M53 = 2.0 ** -53


def check_int(name: str, value, lo: int, hi: int, hi_text: str) -> int:
    """value as an int in [lo, hi]; bools, floats and out-of-range values are caller errors (a
    seed or index silently wrapped or truncated would decode a different sample)."""
    if isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be an integer, not a bool")
    try:
        value = operator.index(value)
    except TypeError:
        raise ValueError(f"{name} must be an integer in [{lo}, {hi_text}, got {value!r}") from None
    if not lo <= value <= hi:
        raise ValueError(f"{name} must be in [{lo}, {hi_text}, got {value}")
    return value


def check_seed(seed) -> int:
    """Seeds are integers in [0, 2^64)."""
    return check_int("seed", seed, 0, MASK64, "2^64)")


def mix64_int(z: int) -> int:
    """SplitMix64 finaliser on a Python int (the scalar reference of `_mix`)."""
    z &= MASK64
    z = ((z ^ (z >> 30)) * M1) & MASK64
    z = ((z ^ (z >> 27)) * M2) & MASK64
    return z ^ (z >> 31)


def _mix(z: np.ndarray) -> np.ndarray:
    """SplitMix64 finaliser on a uint64 array (wrap-around multiplication, in place)."""
    z ^= z >> _U64(30)
    z *= _U64(M1)
    z ^= z >> _U64(27)
    z *= _U64(M2)
    z ^= z >> _U64(31)
    return z


def stream_key(seed: int, stream: int) -> int:
    return mix64_int(mix64_int(check_seed(seed)) + (stream + 1) * GAMMA_STREAM)


def words(seed: int, stream: int, rows, n_words: int) -> np.ndarray:
    """uint64 words [len(rows), n_words]: word c of row i of `stream` under `seed`."""
    rows = np.asarray(rows, dtype=_U64).reshape(-1)
    row = _mix(rows * _U64(GAMMA_ROW) + _U64((stream_key(seed, stream) + GAMMA_ROW) & MASK64))
    col = (np.arange(n_words, dtype=_U64) + _U64(1)) * _U64(GAMMA_WORD)
    return _mix(row[:, None] + col[None, :])


def uniform_open(w: np.ndarray) -> np.ndarray:
    """Uniform in (0, 1]: (top 53 bits + 1) * 2^-53, exact in float64."""
    return ((w >> _U64(11)) + _U64(1)).astype(np.float64) * _TWO_M53


def uniform_centered(w: np.ndarray) -> np.ndarray:
    """Uniform in [-1/2, 1/2): top 53 bits * 2^-53 - 1/2, exact in float64."""
    return (w >> _U64(11)).astype(np.float64) * _TWO_M53 - 0.5


# Series coefficients, each the correctly rounded double of an exact rational (Python's int/int).
_LOG_COEF = [1 / (2 * k + 1) for k in range(10)]             # atanh series: |s| <= 0.1716
_SIN_COEF = [(-1) ** k / math.factorial(2 * k + 1) for k in range(9)]    # Taylor on [0, pi/4]:
_COS_COEF = [(-1) ** k / math.factorial(2 * k) for k in range(9)]        # error < 1e-17


def _horner(coefs, x):
    acc = np.full_like(x, coefs[-1])
    for c in reversed(coefs[:-1]):
        acc *= x
        acc += c
    return acc


def log_portable(u: np.ndarray) -> np.ndarray:
    """Natural log of positive normal doubles from + - * / only (bit-identical everywhere).

    u = m * 2^e with m in [sqrt(1/2), sqrt(2)) read off the bit pattern (exact); ln m = 2 atanh(s),
    s = (m - 1)/(m + 1), by its series. Accurate to a few ulp, which is all a sampler needs.
    """
    bits = np.ascontiguousarray(u, dtype=np.float64).view(_U64)
    m = ((bits & _U64((1 << 52) - 1)) | _U64(1023 << 52)).view(np.float64)    # [1, 2)
    high = m >= 1.4142135623730951
    np.multiply(m, 0.5, out=m, where=high)
    e = (bits >> _U64(52)).astype(np.float64)
    e += high
    e -= 1023.0
    s = (m - 1.0) / (m + 1.0)
    return e * _LN2 + 2.0 * s * _horner(_LOG_COEF, s * s)


def _sin_cos(theta: np.ndarray):
    """sin and cos on [0, pi/4] by Taylor polynomials in theta^2."""
    t2 = theta * theta
    return theta * _horner(_SIN_COEF, t2), _horner(_COS_COEF, t2)


def normals_from_words(radius_words: np.ndarray, angle_words: np.ndarray):
    """Two independent standard normals per (radius word, angle word) pair: Box-Muller.

    The angle is uniform on the circle: a uniform theta in [0, pi/4) (52 bits) mapped by one of
    the 8 symmetries of the square (swap x/y, sign of x, sign of y: 3 more bits). That needs sin
    and cos only on [0, pi/4], where short Taylor polynomials are accurate to < 1e-17.
    """
    r = np.sqrt(-2.0 * log_portable(uniform_open(radius_words)))
    frac = (angle_words & _U64((1 << 52) - 1)).astype(np.float64) + 0.5
    sin, cos = _sin_cos(frac * (2.0 ** -52 * _QUARTER_PI))
    swap = (angle_words & _U64(1 << 61)) != 0
    x, y = cos, sin.copy()
    np.copyto(y, cos, where=swap)
    np.copyto(x, sin, where=swap)
    # the signs: xor bits 62 and 63 of the word into the sign bits (exact)
    x.view(_U64)[...] ^= (angle_words << _U64(1)) & _U64(1 << 63)
    y.view(_U64)[...] ^= angle_words & _U64(1 << 63)
    return r * x, r * y


def normals(seed: int, stream: int, rows, dim: int) -> np.ndarray:
    """Standard normals [len(rows), dim]; row i is the same whatever other rows are asked for.

    Normals 2k and 2k+1 of a row come from words 2k (radius) and 2k+1 (angle).
    """
    pairs = (dim + 1) // 2
    w = words(seed, stream, rows, 2 * pairs)
    a, b = normals_from_words(w[:, 0::2], w[:, 1::2])
    out = np.empty((w.shape[0], 2 * pairs))
    out[:, 0::2], out[:, 1::2] = a, b
    return out[:, :dim]


def exponentials(seed: int, stream: int, rows) -> np.ndarray:
    """Exp(1) variates, one per row: -ln u with u uniform in (0, 1]."""
    return -log_portable(uniform_open(words(seed, stream, rows, 1)[:, 0]))


def uniforms_centered(seed: int, stream: int, n: int) -> np.ndarray:
    """n uniforms in [-1/2, 1/2), element j from row j (word 0)."""
    return uniform_centered(words(seed, stream, np.arange(n, dtype=_U64), 1)[:, 0])
