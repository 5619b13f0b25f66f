"""The latent decoder's inner loop, compiled: wavefront order, context gather, integer ARM and a
range decoder for constriction's quantized Laplace, per latent, with no Python in between.

Why: decoded step by step in numpy, a 768x512 `medium` file spent ~170 ms in ~400 steps of
Python, BLAS calls on 1300-row matrices and one constriction call per step (~0.24 us a symbol,
most of it building each symbol's model). The same arithmetic in one compiled loop costs a few
tens of ns a latent. numba compiles it on first use and caches the machine code on disk
(`cache=True`), so later processes only load it.

Bit-exact with the numpy reference (coder.decode_latents_reference), by construction:
- ARM: the same fixed-point float64 values (IntArm.packed). Every product and partial sum of a
  layer is an exactly representable dyadic value (int_arm.py), so summing in another order
  gives the same value; then one bias addition (one IEEE rounding, as numpy's), floor, clip.
- Coder: constriction's RangeDecoder<u32, u64> with 24-bit probabilities, re-implemented, over
  the integer Laplace of laplace.py: each cumulative is two table reads, a product and a shift
  (no exp), and the state updates are constriction's. Which symbol a quantile falls in does
  not depend on how it is searched for. tests/test_compiled.py decodes constriction's own
  streams (coded with the same integer probabilities) over the whole alphabet and all scales,
  and garbage streams, and compares every symbol.
Besides what constriction does, the decoder counts words read past the end of the section: a
valid stream reads at most one more than it holds plus the zero words the writer dropped, so a
section that runs dry early is refused at once instead of after decoding every claimed latent.
"""
from __future__ import annotations

import math
import zlib

import numpy as np
from numba import njit

from .dither import DITHER_SEED
from .int_arm import ACTIVATION_LIMIT, FEATURE_LIMIT, _OUT_HI, _OUT_LO
from .laplace import (LATENT_FREE, LATENT_HI, LATENT_LO, LATENT_MAX, LATENT_UNITS_PER_SYMBOL,
                      MU_BITS, TAIL_BITS, TOTAL, WEIGHT_FREE, WEIGHT_HI, WEIGHT_LO, WEIGHT_MAX,
                      WEIGHT_R, WEIGHT_UNITS_PER_SYMBOL)
from ..model.latents import PAD, TILE_COLS, TILE_ROWS
from .. import prng
from .sections import MAX_DROPPED_ZERO_WORDS

_TOTAL = TOTAL                                     # constriction's 24-bit probability precision
_MIN, _MAX = -LATENT_MAX, LATENT_MAX
_HALF_SYMBOL = LATENT_UNITS_PER_SYMBOL // 2
_LAST_DISTANCE = LATENT_HI.shape[1] * 256 - 1
_WEIGHT_LAST_DISTANCE = WEIGHT_HI.shape[1] * 256 - 1
_MU_LO, _MU_HI, _K_LO, _K_HI = float(_OUT_LO[0]), float(_OUT_HI[0]), float(_OUT_LO[1]), float(_OUT_HI[1])
_MU_UNIT = 1.0 / (1 << MU_BITS)
_LIMIT = float(ACTIVATION_LIMIT)
_FEATURE_LIMIT = float(FEATURE_LIMIT)
_PAD = PAD

# Words read past the end that a valid section can need: one (a seal of one word) plus the zero
# words the writer may drop (sections.MAX_DROPPED_ZERO_WORDS; decode.SECTION_SLACK_BITS allows
# for them too).
MAX_WORDS_PAST_END = 1 + MAX_DROPPED_ZERO_WORDS

# numba's on-disk cache is keyed on this file alone: the constants it imports from other files
# are frozen into the cached machine code, and a change to one of them would not recompile it.
# Their fingerprint is written here, so such a change fails this import (decoding falls back to
# the reference, tests/test_compiled.py fails) until this line is updated, which recompiles.
_IMPORTED = (LATENT_MAX, MU_BITS, LATENT_HI.tolist(), LATENT_LO.tolist(), LATENT_FREE,
             LATENT_UNITS_PER_SYMBOL, TAIL_BITS, TOTAL, ACTIVATION_LIMIT, _OUT_LO.tolist(),
             _OUT_HI.tolist(), TILE_ROWS, TILE_COLS, DITHER_SEED, prng.STREAM_DITHER,
             prng.GAMMA_ROW, prng.GAMMA_WORD, prng.M1, prng.M2, prng.MASK64,
             prng.stream_key(DITHER_SEED, prng.STREAM_DITHER), MAX_DROPPED_ZERO_WORDS,
             WEIGHT_R, WEIGHT_HI.shape, WEIGHT_FREE, WEIGHT_MAX, WEIGHT_UNITS_PER_SYMBOL,
             FEATURE_LIMIT, PAD)
IMPORTED_FINGERPRINT = 0x219700e4
if zlib.crc32(repr(_IMPORTED).encode()) != IMPORTED_FINGERPRINT:
    raise ImportError("entropy/compiled.py: constants it imports changed since it was last "
                      "compiled; update IMPORTED_FINGERPRINT to "
                      f"{zlib.crc32(repr(_IMPORTED).encode()):#010x}")

OK, TOO_SHORT, INVALID, LEFT_OVER, BAD_END = 0, 1, 2, 3, 4
STATUS_MESSAGES = {TOO_SHORT: "the latent section ends before its last latent",
                   INVALID: "invalid range-coder state",
                   LEFT_OVER: "data left over after the last symbol",
                   BAD_END: "the latent section does not end with its last latent "
                            "(truncated or corrupt)"}

_U32 = np.uint64(32)
_U24 = np.uint64(24)
_WORD_BOUND = np.uint64(1 << 32)
_U_TOTAL = np.uint64(_TOTAL)
_MAX_DIFFERENCE = np.uint64((1 << 33) - 1)
_RANGE_START = np.uint64(0xFFFFFFFFFFFFFFFF)


# the dither's PRNG (prng.py): row p of stream STREAM_DITHER under DITHER_SEED, word 0
_DITHER_ROW_BASE = np.uint64((prng.stream_key(DITHER_SEED, prng.STREAM_DITHER) + prng.GAMMA_ROW)
                             & prng.MASK64)
_GAMMA_ROW, _GAMMA_WORD = np.uint64(prng.GAMMA_ROW), np.uint64(prng.GAMMA_WORD)
_MIX1, _MIX2 = np.uint64(prng.M1), np.uint64(prng.M2)
_DITHER_SHIFT = np.uint64(64 - MU_BITS)


@njit(cache=True, inline="always")
def _mix(z):
    z ^= z >> np.uint64(30)
    z *= _MIX1
    z ^= z >> np.uint64(27)
    z *= _MIX2
    return z ^ (z >> np.uint64(31))


@njit(cache=True, inline="always")
def _dither_units_at(p):
    """dither.latent_dither's value at buffer position p in 2^-MU_BITS units, an integer in
    [-2^(MU_BITS-1), 2^(MU_BITS-1)), computed where it is used (a claimed size then costs no
    dither array). There u = floor((top 53 bits * 2^-53) * 2^MU_BITS) / 2^MU_BITS - 1/2, every
    step exact: the top MU_BITS bits of the word, less half a symbol."""
    w = _mix(_mix(np.uint64(p) * _GAMMA_ROW + _DITHER_ROW_BASE) + _GAMMA_WORD)
    return np.int64(w >> _DITHER_SHIFT) - _HALF_SYMBOL


@njit(cache=True, inline="always")
def _cumulative(s, loc, k):
    """Left cumulative (out of 2^24) of symbol s under location loc (2^-MU_BITS units) and scale
    index k: laplace.latent_cumulative. s = _MAX + 1 gives the total."""
    if s <= _MIN:
        return np.int64(0)
    if s > _MAX:
        return np.int64(_TOTAL)
    e = s * LATENT_UNITS_PER_SYMBOL - _HALF_SYMBOL - loc
    m = min(abs(e), _LAST_DISTANCE)
    tail = (LATENT_HI[k, m >> 8] * LATENT_LO[k, m & 255]) >> TAIL_BITS
    g = tail if e < 0 else LATENT_FREE - tail
    return g + (s - _MIN)


@njit(cache=True, inline="always")
def _decode_symbol(state, cursor, words, loc, k):
    """One symbol on _MIN.._MAX under location loc (2^-MU_BITS units) and scale index k; state =
    [lower, range, point] (uint64), cursor = [next word, words read past the end]. Returns the
    symbol, or _MAX + 1 on an invalid state."""
    lower, rng, point = state[0], state[1], state[2]
    scale = rng >> _U24
    quantile = (point - lower) // scale
    if quantile >= _U_TOTAL:
        return _MAX + 1
    q = np.int64(quantile)
    # the symbol s with C(s) <= q < C(s + 1): gallop from the nearest symbol to loc, whose
    # neighbourhood holds most of the mass, then bisect; C(_MIN) = 0 and C(_MAX + 1) = 2^24
    # bound every search
    s0 = min(max((loc + _HALF_SYMBOL) >> MU_BITS, _MIN), _MAX)
    c0 = _cumulative(s0, loc, k)
    step = 1
    if c0 <= q:
        lo, c_lo = s0, c0
        while True:
            hi = lo + step
            if hi > _MAX:
                hi, c_hi = _MAX + 1, np.int64(_TOTAL)
                break
            c_hi = _cumulative(hi, loc, k)
            if c_hi > q:
                break
            lo, c_lo = hi, c_hi
            step *= 2
    else:
        hi, c_hi = s0, c0
        while True:
            lo = hi - step
            if lo <= _MIN:
                lo, c_lo = _MIN, np.int64(0)
                break
            c_lo = _cumulative(lo, loc, k)
            if c_lo <= q:
                break
            hi, c_hi = lo, c_lo
            step *= 2
    while hi - lo > 1:
        mid = (lo + hi) >> 1
        c = _cumulative(mid, loc, k)
        if c <= q:
            lo, c_lo = mid, c
        else:
            hi, c_hi = mid, c
    _advance(state, cursor, words, lower, scale, point, c_lo, c_hi)
    return lo


@njit(cache=True, inline="always")
def _advance(state, cursor, words, lower, scale, point, c_lo, c_hi):
    """The range decoder's state after the symbol whose cumulatives are [c_lo, c_hi): the new
    range, and a word shifted in when it falls under 2^32 (zeros past the end, counted)."""
    lower = lower + scale * np.uint64(c_lo)
    rng = scale * np.uint64(c_hi - c_lo)
    if rng < _WORD_BOUND:
        lower = lower << _U32
        rng = rng << _U32
        point = point << _U32
        i = cursor[0]
        if i < words.size:
            point = point | np.uint64(words[i])
        else:
            cursor[1] += 1
        cursor[0] = i + 1
    state[0], state[1], state[2] = lower, rng, point


@njit(cache=True, inline="always")
def _weight_cumulative(s, j):
    """Left cumulative (out of 2^24) of integer weight s under the zero-mean weight model with
    scale index j: laplace.weight_cumulative. s = WEIGHT_MAX + 1 gives the total."""
    if s <= -WEIGHT_MAX:
        return np.int64(0)
    if s > WEIGHT_MAX:
        return np.int64(_TOTAL)
    e = s * WEIGHT_UNITS_PER_SYMBOL - WEIGHT_UNITS_PER_SYMBOL // 2
    m = min(abs(e), _WEIGHT_LAST_DISTANCE)
    tail = (WEIGHT_HI[j, m >> 8] * WEIGHT_LO[j, m & 255]) >> TAIL_BITS
    g = tail if e < 0 else WEIGHT_FREE - tail
    return g + (s + WEIGHT_MAX)


@njit(cache=True)
def decode_weights(words, counts, scale_indices, out):
    """out: counts[g] integer weights of each group g in turn, under scale index
    scale_indices[g] (coder.decode_weight_groups, whose constriction decode this is, symbol for
    symbol: the same stream, the same integer model). A bisection per weight: they are few.
    Returns (status, weights decoded); words past the end read as zeros, as constriction's."""
    state = np.zeros(3, np.uint64)
    cursor = np.zeros(2, np.int64)
    _start(words, state, cursor)
    n = 0
    for g in range(counts.size):
        j = scale_indices[g]
        for _ in range(counts[g]):
            lower, rng, point = state[0], state[1], state[2]
            scale = rng >> _U24
            quantile = (point - lower) // scale
            if quantile >= _U_TOTAL:
                return INVALID, n
            q = np.int64(quantile)
            lo, hi = -WEIGHT_MAX, WEIGHT_MAX + 1        # C(lo) <= q < C(hi)
            c_lo, c_hi = np.int64(0), np.int64(_TOTAL)
            while hi - lo > 1:
                mid = (lo + hi) >> 1
                c = _weight_cumulative(mid, j)
                if c <= q:
                    lo, c_lo = mid, c
                else:
                    hi, c_hi = mid, c
            _advance(state, cursor, words, lower, scale, point, c_lo, c_hi)
            out[n] = lo
            n += 1
    return _finish(words, state, cursor), n


@njit(cache=True, inline="always")
def _start(words, state, cursor):
    """Load the first two words (zeros past the end), as constriction does."""
    point = np.uint64(0)
    for i in range(2):
        point = point << _U32
        if i < words.size:
            point = point | np.uint64(words[i])
        else:
            cursor[1] += 1
    state[0], state[1], state[2] = np.uint64(0), _RANGE_START, point
    cursor[0] = 2


@njit(cache=True, inline="always")
def _finish(words, state, cursor):
    """constriction's maybe_exhausted(): every word read (else LEFT_OVER) and the point inside
    the last range (else BAD_END: typically a stream cut by a few words, whose zero-filled tail
    still decoded to some symbols)."""
    if cursor[0] < words.size:
        return LEFT_OVER
    if state[1] != _RANGE_START and (state[2] - state[0]) >= _MAX_DIFFERENCE:
        return BAD_END
    return OK


@njit(cache=True)
def decode_laplace(words, locs, scale_indices, out):
    """out[i] = the i-th symbol under the integer Laplace with location locs[i] (int64, 2^-MU_BITS
    units) and scale index scale_indices[i]: the bare coder, for testing it against constriction
    on the same streams. Returns (status, symbols decoded, words read past the end)."""
    state = np.zeros(3, np.uint64)
    cursor = np.zeros(2, np.int64)
    _start(words, state, cursor)
    for i in range(locs.size):
        s = _decode_symbol(state, cursor, words, locs[i], scale_indices[i])
        if s > _MAX:
            return INVALID, i, cursor[1]
        out[i] = s
    return _finish(words, state, cursor), locs.size, cursor[1]


CHUNK = 256     # latents per ARM batch: the [MAX_WIDTH, CHUNK] float64 activations stay in L1/L2
MAX_WIDTH = 64  # widest ARM layer the scratch holds (arch.py allows hidden widths up to 64; inputs:
                # at most 24 + 8 features + 14 sources, or 24 + 25 previous-frame contexts in video)


@njit(cache=True, inline="always")
def _macs_4x4(dst, o, src, i, weights, w_off, n_out, m):
    """dst[o:o+4, :m] += the [4 in, 4 out] block of a layer's [in, out] weights applied to
    src[i:i+4, :m]. Four outputs and four inputs a pass, so each stored element carries 16
    products, not one: a pass one output at a time is bound by its stores (~1.5x slower on
    dense weights). Every sum is exact (int_arm.py), so this order gives the reference's values."""
    d0, d1, d2, d3 = dst[o], dst[o + 1], dst[o + 2], dst[o + 3]
    x0, x1, x2, x3 = src[i], src[i + 1], src[i + 2], src[i + 3]
    a = w_off + i * n_out + o
    b, c, e = a + n_out, a + 2 * n_out, a + 3 * n_out
    w00, w01, w02, w03 = weights[a], weights[a + 1], weights[a + 2], weights[a + 3]
    w10, w11, w12, w13 = weights[b], weights[b + 1], weights[b + 2], weights[b + 3]
    w20, w21, w22, w23 = weights[c], weights[c + 1], weights[c + 2], weights[c + 3]
    w30, w31, w32, w33 = weights[e], weights[e + 1], weights[e + 2], weights[e + 3]
    if (w00 == 0.0 and w01 == 0.0 and w02 == 0.0 and w03 == 0.0 and w10 == 0.0 and w11 == 0.0
            and w12 == 0.0 and w13 == 0.0 and w20 == 0.0 and w21 == 0.0 and w22 == 0.0
            and w23 == 0.0 and w30 == 0.0 and w31 == 0.0 and w32 == 0.0 and w33 == 0.0):
        return                      # a block RDOQ zeroed
    for r in range(m):
        v0, v1, v2, v3 = x0[r], x1[r], x2[r], x3[r]
        d0[r] += v0 * w00 + v1 * w10 + v2 * w20 + v3 * w30
        d1[r] += v0 * w01 + v1 * w11 + v2 * w21 + v3 * w31
        d2[r] += v0 * w02 + v1 * w12 + v2 * w22 + v3 * w32
        d3[r] += v0 * w03 + v1 * w13 + v2 * w23 + v3 * w33


@njit(cache=True)
def _arm_chunk(src, dst, m, weights, biases, widths):
    """The integer ARM (int_arm.IntArm.raw) on m contexts, stored transposed in src[:widths[0],
    :m] (so the inner loop runs over latents, in SIMD lanes); src and dst are scratch, swapped
    per layer. Returns the array whose rows 0 and 1 hold (mu in 2^-MU_BITS units, scale index)."""
    n_layers = widths.size - 1
    w_off = 0
    b_off = 0
    for k in range(n_layers):
        n_in = widths[k]
        n_out = widths[k + 1]
        last = k == n_layers - 1
        for o in range(n_out):
            row = dst[o]
            for r in range(m):
                row[r] = 0.0
        blocked_in = n_in - n_in % 4
        blocked_out = n_out - n_out % 4
        for o in range(0, blocked_out, 4):
            for i in range(0, blocked_in, 4):
                _macs_4x4(dst, o, src, i, weights, w_off, n_out, m)
        for o in range(n_out):           # what the 4x4 blocks left: the last inputs, outputs
            row = dst[o]
            for i in range(blocked_in if o < blocked_out else 0, n_in):
                w = weights[w_off + i * n_out + o]
                if w != 0.0:       # RDOQ zeros: adding x * 0 would change nothing
                    x = src[i]
                    for r in range(m):
                        row[r] += x[r] * w
        for o in range(n_out):
            row = dst[o]
            bias = biases[b_off + o]
            if not last:
                for r in range(m):
                    row[r] = min(max(math.floor(row[r] + bias), 0.0), _LIMIT)
            elif o == 0:
                for r in range(m):
                    row[r] = min(max(math.floor(row[r] + bias), _MU_LO), _MU_HI)
            else:
                for r in range(m):
                    row[r] = min(max(math.floor(row[r] + bias), _K_LO), _K_HI)
        w_off += n_in * n_out
        b_off += n_out
        src, dst = dst, src
    return src


@njit(cache=True)
def _features(src, grid_of, a, m, ifce_level, ifce_weights, ifce_biases):
    """Inter-grid features (int_arm.IntArm.features_of) of entries a .. a + m - 1 into src rows
    0.., from their sources in the rows after them: run by run of one grid (a step lists its
    latents grid by grid), so the inner loop runs over entries with one level's weights. Exact
    sums (int_arm.py), so the order gives the reference's values."""
    n_features = ifce_biases.shape[1]
    base = n_features
    n_sources = ifce_weights.shape[1]
    r0 = 0
    while r0 < m:
        g = grid_of[a + r0]
        r1 = r0 + 1
        while r1 < m and grid_of[a + r1] == g:
            r1 += 1
        level = ifce_level[g]
        for j in range(n_features):
            row = src[j]
            for r in range(r0, r1):
                row[r] = 0.0
            for c in range(n_sources):
                w = ifce_weights[level, c, j]
                if w != 0.0:
                    x = src[base + c]
                    for r in range(r0, r1):
                        row[r] += x[r] * w
            bias = ifce_biases[level, j]
            for r in range(r0, r1):
                row[r] = min(max(math.floor(row[r] + bias), -_FEATURE_LIMIT), _FEATURE_LIMIT)
        r0 = r1


@njit(cache=True)
def _block_features(lead_sources, lead_grid, lead_block, k, buffer, plane, src, ifce_level,
                    ifce_weights, ifce_biases):
    """The features of a step's k block leaders into plane[:, block], CHUNK at a time: their
    sources' values gathered into src (transposed), then _features. A 2x2 block of a grid reads
    the same sources (every source is at least 2x coarser), so its four latents share features;
    the leader, latent (2i, 2j), decodes first of the four (steps t, t + 1, t + slope, ...)."""
    n_sources = lead_sources.shape[1]
    n_features = ifce_biases.shape[1]
    for a in range(0, k, CHUNK):
        m = min(CHUNK, k - a)
        for r in range(m):
            for c in range(n_sources):
                q = lead_sources[a + r, c]
                src[n_features + c, r] = buffer[q] if q >= 0 else 0.0
        _features(src, lead_grid, a, m, ifce_level, ifce_weights, ifce_biases)
        for j in range(n_features):
            row = src[j]
            for r in range(m):
                plane[j, lead_block[a + r]] = row[r]


@njit(cache=True)
def _decode_chunk(positions, block_of, plane, a, m, buffer, dithered, deltas, src, dst, weights,
                  biases, widths, state, cursor, words):
    """Latents positions[a:a + m] of one wavefront step (their contexts are all decoded): gather
    the contexts (spatial, then the inter-grid features of the latent's block, plane[:,
    block_of[n]], or 0 where block_of[n] < 0), one batched ARM, then the symbols in order.
    Returns a status."""
    n_spatial = deltas.size
    n_features = plane.shape[0]
    for r in range(m):
        p = positions[a + r]
        for c in range(n_spatial):
            src[c, r] = buffer[p + deltas[c]]
        if n_features:
            block = block_of[a + r]
            for j in range(n_features):
                src[n_spatial + j, r] = plane[j, block] if block >= 0 else 0.0
    out = _arm_chunk(src, dst, m, weights, biases, widths)
    for r in range(m):
        p = positions[a + r]
        loc = np.int64(out[0, r])
        k = np.int64(out[1, r])
        if dithered:
            u = _dither_units_at(p)
            s = _decode_symbol(state, cursor, words, loc - u, k)
            buffer[p] = s + u * _MU_UNIT
        else:
            s = _decode_symbol(state, cursor, words, loc, k)
            buffer[p] = s
        if s > _MAX:
            return INVALID
        if cursor[1] > MAX_WORDS_PAST_END:
            return TOO_SHORT
    return OK


@njit(cache=True)
def _decode_step(positions, block_of, plane, n, buffer, dithered, deltas, src, dst, weights,
                 biases, widths, state, cursor, words):
    """positions[:n] (one wavefront step) in chunks of CHUNK."""
    for a in range(0, n, CHUNK):
        status = _decode_chunk(positions, block_of, plane, a, min(CHUNK, n - a), buffer,
                               dithered, deltas, src, dst, weights, biases, widths, state,
                               cursor, words)
        if status != OK:
            return status
    return OK


@njit(cache=True)
def decode_ordered(words, buffer, positions, bounds, deltas, dithered, weights, biases, widths):
    """Latents at `positions` (coding order; step t is positions[bounds[t]:bounds[t + 1]]),
    contexts `position + deltas`: any layout whose context is one set of deltas (video groups).
    Returns a status (OK, TOO_SHORT, ...)."""
    state = np.zeros(3, np.uint64)
    cursor = np.zeros(2, np.int64)
    src = np.zeros((MAX_WIDTH, CHUNK), np.float64)
    dst = np.zeros((MAX_WIDTH, CHUNK), np.float64)
    no_blocks = np.zeros(0, np.int64)
    no_plane = np.zeros((0, 0), np.float32)
    _start(words, state, cursor)
    for t in range(bounds.size - 1):
        step = positions[bounds[t]:bounds[t + 1]]
        status = _decode_step(step, no_blocks, no_plane, step.size, buffer, dithered, deltas, src,
                              dst, weights, biases, widths, state, cursor, words)
        if status != OK:
            return status
    return _finish(words, state, cursor)


@njit(cache=True, inline="always")
def _flat(g, r, c, tile_first, grid_tile0, grid_tiles_across, stride):
    """Buffer position of latent (r, c) of grid g (model/latents.py's blocks)."""
    tile = grid_tile0[g] + (r // TILE_ROWS) * grid_tiles_across[g] + c // TILE_COLS
    return tile_first[tile] + (r % TILE_ROWS) * stride + c % TILE_COLS


@njit(cache=True)
def decode_image(words, buffer, dithered, weights, biases, widths, ifce_weights, ifce_biases,
                 deltas, slope, stride, n_steps, grid_h, grid_w, grid_delay, grid_tile0,
                 grid_tiles_across, tile_first, source_grid, source_shift, ifce_level):
    """Every latent of an image layout in its wavefront order (LatentLayout.wavefront), generated
    step by step: step t, then grid, then grid row, then column, each latent of a tile at
    j + slope * i + delay == t. Nothing per latent is built before decoding; memory is the
    buffer, one step's positions and, with inter-grid features, one column of features per 2x2
    block of the grids that have them (float32: exact, |feature| <= 2^22). source_grid[g, s]: the
    coarser grid that grid g's s-th inter-grid source reads (-1: none, the source is 0), at
    (r >> source_shift[g, s], c >> source_shift[g, s]); ifce_level[g]: its feature map (-1:
    none; weights [levels, sources, features], IntArm.packed_ifce). Returns a status."""
    state = np.zeros(3, np.uint64)
    cursor = np.zeros(2, np.int64)
    src = np.zeros((MAX_WIDTH, CHUNK), np.float64)
    dst = np.zeros((MAX_WIDTH, CHUNK), np.float64)
    capacity = tile_first.size * TILE_ROWS          # a tile holds at most one latent per row in a step
    positions = np.empty(capacity, np.int64)
    block_of = np.empty(capacity, np.int64)
    n_sources = source_grid.shape[1]
    n_features = ifce_biases.shape[1]
    block_base = np.full(grid_h.size, -1, np.int64)
    n_blocks = 0
    for g in range(grid_h.size):
        if ifce_level[g] >= 0:
            block_base[g] = n_blocks
            n_blocks += ((grid_h[g] + 1) // 2) * ((grid_w[g] + 1) // 2)
    plane = np.zeros((n_features, n_blocks), np.float32)
    lead_sources = np.empty((capacity if n_sources else 0, n_sources), np.int64)
    lead_grid = np.empty(capacity if n_sources else 0, np.int64)
    lead_block = np.empty(capacity if n_sources else 0, np.int64)
    row_base = np.empty(n_sources, np.int64)        # per source, for the current row:
    tile_pitch = np.empty(n_sources, np.int64)      # its row's start and tile-to-tile distance
    _start(words, state, cursor)
    for t in range(n_steps):
        n = 0
        k = 0
        for g in range(grid_h.size):
            d = t - grid_delay[g]
            if d < 0:
                continue
            h, w = grid_h[g], grid_w[g]
            reach = d - (TILE_COLS - 1)
            i_lo = 0 if reach <= 0 else (reach + slope - 1) // slope
            i_hi = min(TILE_ROWS - 1, d // slope)
            has_features = ifce_level[g] >= 0
            blocks_across = (w + 1) // 2
            for r0 in range(0, h, TILE_ROWS):
                for i in range(i_lo, i_hi + 1):
                    r = r0 + i
                    if r >= h:
                        break
                    leads = has_features and (r & 1) == 0
                    if leads:
                        for m in range(n_sources):
                            sg = source_grid[g, m]
                            if sg < 0:
                                continue
                            rs = r >> source_shift[g, m]
                            tile_row = rs // TILE_ROWS
                            row_base[m] = (tile_first[grid_tile0[sg] + tile_row * grid_tiles_across[sg]]
                                           + (rs % TILE_ROWS) * stride)
                            tile_pitch[m] = (min(TILE_ROWS, grid_h[sg] - tile_row * TILE_ROWS)
                                             + _PAD) * stride
                    block_row = block_base[g] + (r >> 1) * blocks_across
                    for c in range(d - slope * i, w, TILE_COLS):
                        positions[n] = _flat(g, r, c, tile_first, grid_tile0, grid_tiles_across,
                                             stride)
                        if has_features:
                            block = block_row + (c >> 1)
                            block_of[n] = block
                            if leads and (c & 1) == 0:
                                for m in range(n_sources):
                                    if source_grid[g, m] < 0:
                                        lead_sources[k, m] = -1
                                    else:
                                        cs = c >> source_shift[g, m]
                                        lead_sources[k, m] = (row_base[m] + cs % TILE_COLS
                                                              + (cs // TILE_COLS) * tile_pitch[m])
                                lead_grid[k] = g
                                lead_block[k] = block
                                k += 1
                        else:
                            block_of[n] = -1
                        n += 1
        if k:
            _block_features(lead_sources, lead_grid, lead_block, k, buffer, plane, src,
                            ifce_level, ifce_weights, ifce_biases)
        status = _decode_step(positions, block_of, plane, n, buffer, dithered, deltas, src, dst,
                              weights, biases, widths, state, cursor, words)
        if status != OK:
            return status
    return _finish(words, state, cursor)


def image_geometry(layout) -> dict:
    """decode_image's layout arguments from a LatentLayout: per grid its size, wavefront delay,
    tiles and inter-grid sources; no per-latent arrays (cheap for any claimed size)."""
    arch = layout.arch
    grids = len(layout.grid_shapes)
    tile_first, tile0, across = [], [], []
    for tiles in layout.blocks:
        tile0.append(len(tile_first))
        across.append(len({b.col0 for b in tiles}))
        tile_first += [b.first() for b in tiles]
    c = arch.latent_channels
    grid_delay = [layout.level_delays[g // c] for g in range(grids)]
    source_grid = np.full((grids, layout.n_sources), -1, np.int64)
    source_shift = np.zeros((grids, layout.n_sources), np.int64)
    ifce_level = np.full(grids, -1, np.int64)
    for g in range(grids):
        if g // c < arch.ifce_levels:
            ifce_level[g] = g // c
            for m, (source, d) in enumerate(layout.source_shifts(g)):
                source_grid[g, m], source_shift[g, m] = source, d
    n_steps = 0
    for (h, w), delay in zip(layout.grid_shapes, grid_delay):
        n_steps = max(n_steps, delay + min(TILE_COLS, w) - 1 + layout.slope * (min(TILE_ROWS, h) - 1) + 1)
    i64 = lambda v: np.asarray(v, np.int64)
    return dict(deltas=i64(layout.deltas), slope=int(layout.slope), stride=int(layout.stride),
                n_steps=int(n_steps), grid_h=i64([h for h, _ in layout.grid_shapes]),
                grid_w=i64([w for _, w in layout.grid_shapes]), grid_delay=i64(grid_delay),
                grid_tile0=i64(tile0), grid_tiles_across=i64(across), tile_first=i64(tile_first),
                source_grid=source_grid, source_shift=source_shift, ifce_level=ifce_level)
