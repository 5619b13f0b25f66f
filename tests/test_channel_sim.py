"""Relative-entropy coding (inrcodec.channel_sim): exact rebuilds, a pinned generator, samples that follow
Q, index code lengths near the KL, blocking, universal quantization and argument checks."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from inrcodec import channel_sim
from inrcodec.channel_sim import index as rec_index
from inrcodec import prng
from inrcodec.channel_sim import pfr

# ---------------------------------------------------------------- an independent reference PRNG
MASK = (1 << 64) - 1


def ref_mix(z: int) -> int:
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & MASK
    return z ^ (z >> 31)


def ref_word(seed: int, stream: int, row: int, word: int) -> int:
    """Pure-Python-int reimplementation of prng.words (the construction in its docstring)."""
    key = ref_mix((ref_mix(seed) + (stream + 1) * 0x9E3779B97F4A7C15) & MASK)
    r = ref_mix((key + (row + 1) * 0xD1B54A32D192ED03) & MASK)
    return ref_mix((r + (word + 1) * 0x8CB92BA72F3D8DD7) & MASK)


def ref_normal_pair(radius_word: int, angle_word: int):
    """Box-Muller with libm (math.log/cos/sin), for accuracy (not bit-exactness) checks."""
    u = ((radius_word >> 11) + 1) * 2.0 ** -53
    r = math.sqrt(-2.0 * math.log(u))
    theta = ((angle_word & ((1 << 52) - 1)) + 0.5) * 2.0 ** -52 * math.pi / 4
    x, y = math.cos(theta), math.sin(theta)
    if angle_word >> 61 & 1:
        x, y = y, x
    return r * (-x if angle_word >> 62 & 1 else x), r * (-y if angle_word >> 63 & 1 else y)


# (seed, stream, row, word) -> word, computed once by PRNG_VERSION 1; never change them
PINNED_WORDS = {
    (0, 0, 0, 0): 0xCE7E9C569C103F3F,
    (1, 0, 5, 3): 0x08BDB05F1CA4E50C,
    (2 ** 64 - 1, 2, 123456789, 0): 0x94054615769B8EA7,
    (20240501, 1, 2 ** 40 + 7, 1): 0x07C4282AA91189B0,
}
# normals of seed 7, candidates 0, 1 and 2^33, dim 3
PINNED_NORMALS = [
    ["0x1.5fb0a098df7f6p-3", "0x1.1ea78c80717c7p+0", "-0x1.c37793877df84p-3"],
    ["0x1.fe789e0868c14p-2", "0x1.c4f92f63331afp-3", "-0x1.546f674482d3bp-1"],
    ["0x1.431548eeb2e4cp-1", "-0x1.bc7b0b0aa98d0p-5", "0x1.fc7190595e0cdp-3"],
]


def test_prng_is_pinned_and_matches_an_integer_reference():
    assert channel_sim.PRNG_VERSION == 1
    for (seed, stream, row, word), expected in PINNED_WORDS.items():
        assert ref_word(seed, stream, row, word) == expected
        got = prng.words(seed, stream, np.array([row], dtype=np.uint64), word + 1)[0, word]
        assert int(got) == expected
    # a batch: every entry equals the reference, whatever rows sit beside it
    rows = np.array([0, 1, 2, 999, 2 ** 50, 2 ** 64 - 2], dtype=np.uint64)
    w = prng.words(42, 0, rows, 5)
    assert all(int(w[i, c]) == ref_word(42, 0, int(r), c) for i, r in enumerate(rows) for c in range(5))


def test_normals_are_pinned_bitwise_and_accurate():
    z = prng.normals(7, prng.STREAM_CANDIDATES, np.array([0, 1, 2 ** 33], dtype=np.uint64), 3)
    assert [[float(v).hex() for v in row] for row in z] == PINNED_NORMALS
    # our polynomial log/sin/cos track libm's Box-Muller to a few ulp
    rows = np.arange(2000, dtype=np.uint64)
    w = prng.words(3, 0, rows, 2)
    ours = np.stack(prng.normals_from_words(w[:, 0], w[:, 1]), axis=1)
    ref = np.array([ref_normal_pair(int(a), int(b)) for a, b in w])
    assert np.max(np.abs(ours - ref)) < 1e-14
    assert np.array_equal(prng.normals(3, 0, rows, 2), ours)


def test_portable_log_matches_libm():
    u = np.concatenate([np.random.default_rng(0).random(20000), [1.0, 2.0 ** -53, 0.5, 2 ** 0.5 / 2, 1e-300, 7.5e10]])
    assert np.max(np.abs(prng.log_portable(u) - np.log(u)) / np.maximum(1.0, np.abs(np.log(u)))) < 4e-16


# ---------------------------------------------------------------- channel simulation
def gaussian_with_kl(kl_bits: float, dim: int, ratio: float):
    """Q with sigma_q = ratio * sigma_p in every dim and the mean shift that makes the total KL."""
    per_dim = kl_bits * math.log(2) / dim
    d2 = 2 * per_dim - (ratio ** 2 - 1 - 2 * math.log(ratio))
    assert d2 >= 0
    mu_p = np.linspace(-0.5, 0.5, dim)
    sigma_p = np.linspace(0.5, 2.0, dim)
    q = (mu_p + math.sqrt(d2) * sigma_p, ratio * sigma_p, mu_p, sigma_p)
    assert channel_sim.kl_gaussian_bits(*q) == pytest.approx(kl_bits)
    return q


def random_block(rng, dim):
    mu_p, sigma_p = rng.normal(0, 1, dim), rng.uniform(0.2, 2.0, dim)
    sigma_q = sigma_p * rng.uniform(0.3, 1.3, dim)
    mu_q = mu_p + sigma_p * rng.normal(0, 0.7, dim)
    return mu_q, sigma_q, mu_p, sigma_p


def test_decoder_rebuilds_the_encoder_sample_bit_for_bit():
    rng = np.random.default_rng(5)
    indices = []
    for trial in range(12):
        dim = [1, 2, 3, 8, 25][trial % 5]
        mu_q, sigma_q, mu_p, sigma_p = random_block(rng, dim)
        if channel_sim.kl_gaussian_bits(mu_q, sigma_q, mu_p, sigma_p) > 9:
            continue
        seed = int(rng.integers(0, 2 ** 63)) * 2 + 1
        index, sample = channel_sim.encode_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed)
        indices.append(index)
        assert np.array_equal(channel_sim.decode_gaussian(index, mu_p, sigma_p, seed), sample)
        assert not np.array_equal(channel_sim.decode_gaussian(index, mu_p, sigma_p, seed + 1), sample)
    assert len(indices) >= 6 and max(indices) > 4     # not a degenerate always-0 search


def test_search_does_not_depend_on_chunking(monkeypatch):
    q = gaussian_with_kl(6.0, 3, 0.6)
    results = [channel_sim.simulate_gaussian(*q, seed=s) for s in range(5)]
    monkeypatch.setattr(pfr, "_CHUNK_ELEMENTS", 50)
    for s, r in enumerate(results):
        again = channel_sim.simulate_gaussian(*q, seed=s)
        assert again.index == r.index and np.array_equal(again.sample, r.sample)


def test_stops_early_only_when_exact():
    narrow = channel_sim.simulate_gaussian(*gaussian_with_kl(8.0, 1, 0.1), seed=3)   # sup q/p finite
    assert narrow.exact and narrow.searched < pfr.candidate_budget(narrow.kl_bits, pfr.DEFAULT_MARGIN_BITS)
    wide = channel_sim.simulate_gaussian(0.5, 2.0, 0.0, 1.0, seed=3)           # q/p unbounded
    assert not wide.exact and wide.searched == pfr.candidate_budget(wide.kl_bits, pfr.DEFAULT_MARGIN_BITS)
    assert channel_sim.decode_gaussian(2 ** 63, [0.0, 1.0], [1.0, 2.0], seed=1).shape == (2,)   # O(dim) at any index


def test_samples_follow_q():
    """P = N(0, 1), Q = N(1, 0.25^2): over 2000 seeds the sent samples pass a KS test against Q,
    while samples of P (candidate 0 of each seed) fail it."""
    seeds = range(2000)
    samples = np.array([channel_sim.encode_gaussian(1.0, 0.25, 0.0, 1.0, s)[1][0] for s in seeds])
    assert stats.kstest(samples, "norm", args=(1.0, 0.25)).pvalue > 1e-3
    from_p = np.array([channel_sim.decode_gaussian(0, 0.0, 1.0, s)[0] for s in seeds])
    assert stats.kstest(from_p, "norm", args=(0.0, 1.0)).pvalue > 1e-3
    assert stats.kstest(from_p, "norm", args=(1.0, 0.25)).pvalue < 1e-6


def test_samples_follow_q_in_several_dimensions():
    """A 3-D block with a truncated (non-exact) search: each coordinate still matches Q."""
    q = gaussian_with_kl(5.0, 3, 0.7)
    samples = np.array([channel_sim.encode_gaussian(*q, seed=s)[1] for s in range(600)])
    for j in range(3):
        assert stats.kstest(samples[:, j], "norm", args=(q[0][j], q[1][j])).pvalue > 1e-3


@pytest.mark.parametrize("kl_bits,dim,ratio,n", [(2.0, 1, 0.5, 800), (5.0, 1, 0.25, 500), (5.0, 4, 0.8, 300),
                                                 (8.0, 1, 0.1, 300)])
def test_index_code_length_is_near_the_kl(kl_bits, dim, ratio, n):
    q = gaussian_with_kl(kl_bits, dim, ratio)
    indices = [channel_sim.encode_gaussian(*q, seed=s)[0] for s in range(n)]
    bits = np.array([channel_sim.index_codelength_bits(i, kl_bits) for i in indices])
    # the documented bound, and the sharper one it comes from: E[log2 K] <= KL + 1.53 (Li &
    # El Gamal) plus log2(B + 1) for the bucket, B = ceil(KL + margin)
    assert bits.mean() <= kl_bits + math.log2(kl_bits + 1) + rec_index.BOUND_CONSTANT_BITS
    log2_k = np.log2(np.array(indices, dtype=np.float64) + 1)
    assert log2_k.mean() <= kl_bits + 1.53
    assert bits.mean() <= log2_k.mean() + math.log2(rec_index.max_bucket(kl_bits) + 1) + 0.01
    assert bits.mean() >= kl_bits - 3          # a sample of Q cannot come much cheaper here
    data = channel_sim.encode_indices(indices, kl_bits)
    assert channel_sim.decode_indices(data, len(indices), kl_bits) == indices
    assert abs(len(data) * 8 - bits.sum()) <= 0.01 * bits.sum() + 40   # what constriction spends


def test_index_code_roundtrips_any_uint64():
    indices = [0, 1, 2, 3, 4, 7, 8, 1000, 2 ** 16 - 1, 2 ** 16, 2 ** 17 + 5, 2 ** 33 + 1, 2 ** 63, 2 ** 64 - 1]
    kls = [0.0, 1.5, 16.0, 16.0, 3.0, 2.0, 40.0, 0.5, 9.0, 17.0, 12.0, 30.0, 64.0, 7.0]
    data = channel_sim.encode_indices(indices, kls)
    assert channel_sim.decode_indices(data, len(indices), kls) == indices
    assert channel_sim.index_codelength_bits(0, 0.0, margin_bits=0.0) < 1e-3    # one bucket: index 0 is free
    # beyond the budget's largest bucket: the escape costs ~24 bits, never fails
    assert channel_sim.index_codelength_bits(2 ** 30, 4.0) > 24 + 29


# ---------------------------------------------------------------- blocks and KL
def test_kl_matches_the_closed_form_and_a_monte_carlo_estimate():
    assert channel_sim.kl_gaussian_bits([0.3], [1.7], [0.3], [1.7]) == 0.0
    kl = channel_sim.kl_gaussian_bits([1.0, -2.0], [0.25, 3.0], [0.0, 0.0], [1.0, 2.0])
    rng = np.random.default_rng(0)
    x = rng.normal([1.0, -2.0], [0.25, 3.0], size=(200000, 2))
    mc = np.mean(np.sum(stats.norm.logpdf(x, [1.0, -2.0], [0.25, 3.0]) - stats.norm.logpdf(x, 0.0, [1.0, 2.0]), axis=1))
    assert kl == pytest.approx(mc / math.log(2), rel=0.02)


def test_split_blocks_bounds_kl_and_covers_every_index_once():
    rng = np.random.default_rng(2)
    n = 600
    mu_p, sigma_p = np.zeros(n), rng.uniform(0.5, 2.0, n)
    sigma_q = sigma_p * rng.uniform(0.4, 1.0, n)
    mu_q = sigma_p * rng.normal(0, 1.0, n)
    mu_q[[17, 18, 400]] = 40 * sigma_p[[17, 18, 400]]      # three dims far over any budget
    kl = channel_sim.kl_gaussian_bits_per_dim(mu_q, sigma_q, mu_p, sigma_p)
    blocks = channel_sim.split_blocks(mu_q, sigma_q, mu_p, sigma_p, kl_bits_per_block=16)
    assert np.array_equal(np.concatenate(blocks), np.arange(n))
    for i, block in enumerate(blocks):
        assert block.size >= 1 and np.all(np.diff(block) == 1)
        if kl[block].sum() > 16 + 1e-9:
            assert block.size == 1 and kl[block[0]] > 16
        if i + 1 < len(blocks):                         # greedy: the next dim would not have fitted
            assert kl[block].sum() + kl[blocks[i + 1][0]] > 16
    assert sum(b.size == 1 and kl[b[0]] > 16 for b in blocks) == 3
    assert 0.7 * 16 < np.median([kl[b].sum() for b in blocks]) <= 16
    assert len(channel_sim.split_blocks([0.0], [1.0], [0.0], [1.0])) == 1


# ---------------------------------------------------------------- universal quantization
def test_uq_error_is_uniform_and_independent_of_x():
    step = 0.3
    x = np.random.default_rng(1).normal(0, 3, 20000)
    k = channel_sim.uq_encode(x, step, seed=11)
    y = channel_sim.uq_decode(k, step, seed=11)
    err = y - x
    assert np.all(err >= -step / 2 - 1e-12) and np.all(err < step / 2 + 1e-12)
    assert stats.kstest(err / step, "uniform", args=(-0.5, 1.0)).pvalue > 1e-3
    # independence: the error does not track x's position within a quantization cell
    frac = x / step - np.floor(x / step)
    assert abs(stats.spearmanr(frac, err).statistic) < 0.05
    # a constant x: the error is still uniform (plain rounding would give a constant error)
    const = channel_sim.uq_decode(channel_sim.uq_encode(np.full(5000, 0.123), step, seed=4), step, seed=4) - 0.123
    assert stats.kstest(const / step, "uniform", args=(-0.5, 1.0)).pvalue > 1e-3
    assert stats.kstest(np.round(np.full(5000, 0.123) / step) * step - 0.123, "uniform",
                        args=(-step / 2, step)).pvalue < 1e-6     # negative control


def test_uq_decode_needs_the_same_seed():
    x = np.random.default_rng(2).normal(0, 1, (4, 5))
    k = channel_sim.uq_encode(x, 0.1, seed=3)
    assert np.array_equal(channel_sim.uq_decode(k, 0.1, seed=3), channel_sim.uq_decode(k.copy(), 0.1, seed=3))
    assert np.max(np.abs(channel_sim.uq_decode(k, 0.1, seed=3) - x)) <= 0.05 + 1e-12
    assert not np.array_equal(channel_sim.dither((4, 5), 3), channel_sim.dither((4, 5), 4))
    d = channel_sim.dither(100000, 9)
    assert d.min() >= -0.5 and d.max() < 0.5 and np.array_equal(d[:20], channel_sim.dither(20, 9))


# ---------------------------------------------------------------- argument checks
@pytest.mark.parametrize("call,match", [
    (lambda: channel_sim.encode_gaussian([0.0], [-1.0], [0.0], [1.0], 0), "sigma_q must be positive"),
    (lambda: channel_sim.encode_gaussian([0.0], [1.0], [0.0], [0.0], 0), "sigma_p must be positive"),
    (lambda: channel_sim.encode_gaussian([0.0, 1.0], [1.0], [0.0], [1.0], 0), "mismatched lengths"),
    (lambda: channel_sim.encode_gaussian([np.nan], [1.0], [0.0], [1.0], 0), "mu_q contains non-finite"),
    (lambda: channel_sim.encode_gaussian([0.0], [1.0], [0.0], [np.inf], 0), "sigma_p contains non-finite"),
    (lambda: channel_sim.encode_gaussian([[0.0]], [[1.0]], [[0.0]], [[1.0]], 0), "must be a 1-D array"),
    (lambda: channel_sim.encode_gaussian([], [], [], [], 0), "empty block"),
    (lambda: channel_sim.encode_gaussian([0.0], [1.0], [0.0], [1.0], -1), "seed must be in"),
    (lambda: channel_sim.encode_gaussian([0.0], [1.0], [0.0], [1.0], 2 ** 64), "seed must be in"),
    (lambda: channel_sim.encode_gaussian([0.0], [1.0], [0.0], [1.0], 1.5), "seed must be an integer"),
    (lambda: channel_sim.encode_gaussian([0.0], [1.0], [0.0], [1.0], 0, margin_bits=-1), "margin_bits"),
    (lambda: channel_sim.encode_gaussian([30.0], [0.01], [0.0], [1.0], 0), "split it"),
    (lambda: channel_sim.decode_gaussian(-1, [0.0], [1.0], 0), "index must be in"),
    (lambda: channel_sim.decode_gaussian(0, [0.0], [-2.0], 0), "sigma_p must be positive"),
    (lambda: channel_sim.decode_gaussian(0, [0.0, 1.0], [1.0], 0), "mismatched lengths"),
    (lambda: channel_sim.split_blocks([0.0], [1.0], [0.0], [1.0], kl_bits_per_block=0), "kl_bits_per_block"),
    (lambda: channel_sim.split_blocks([0.0], [1.0], [0.0], [1.0], kl_bits_per_block=np.nan), "kl_bits_per_block"),
    (lambda: channel_sim.kl_gaussian_bits([0.0], [1.0], [0.0, 0.0], [1.0, 1.0]), "mismatched lengths"),
    (lambda: channel_sim.index_codelength_bits(-3, 8.0), "index must be in"),
    (lambda: channel_sim.encode_indices([1, 2], [8.0]), "mismatched lengths"),
    (lambda: channel_sim.encode_indices([1], -2.0), "kl_bits"),
    (lambda: channel_sim.uq_encode([1.0, np.inf], 0.5, 0), "x contains non-finite"),
    (lambda: channel_sim.uq_encode([1.0], 0.0, 0), "step must be a positive"),
    (lambda: channel_sim.uq_encode([1e300], 1e-300, 0), "too large"),
    (lambda: channel_sim.uq_decode(np.array([0.5]), 0.5, 0), "integer array"),
    (lambda: channel_sim.dither((2, -1), 0), "non-negative"),
])
def test_bad_arguments_raise_clear_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
