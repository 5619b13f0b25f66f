"""Greedy Poisson rejection sampling (inrcodec.channel_sim.gprs): exact rebuilds through pfr's decoder,
samples that follow Q (posteriors narrower, equal and wider than the prior), index code lengths
near the KL, the stretch function against an independent high-precision solution of its ODE, and
argument checks."""
from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import special, stats

from inrcodec import channel_sim
from inrcodec.channel_sim import gprs

N01 = (0.0, 1.0)
DEFAULT_TAIL = gprs.DEFAULT_MAX_TAIL_PROB


def q_with_kl(kl_bits: float, ratio: float):
    """1-D (mu_q, sigma_q, mu_p, sigma_p): P = N(0, 1), sigma_q = ratio, the mean that makes the KL."""
    d2 = 2 * kl_bits * math.log(2) - (ratio ** 2 - 1 - 2 * math.log(ratio))
    q = (math.sqrt(d2), ratio, 0.0, 1.0)
    assert channel_sim.kl_gaussian_bits(*q) == pytest.approx(kl_bits)
    return q


# ---------------------------------------------------------------- rebuilds and sampling
@pytest.mark.parametrize("mu_q,sigma_q,mu_p,sigma_p", [
    (1.0, 0.25, 0.0, 1.0),            # narrower than the prior: bounded q/p
    (-2.1, 0.6, 0.3, 1.7),            # narrower, negative shift, scaled prior
    (0.4, 1.0, -0.2, 1.0),            # equal widths: q/p unbounded on a half-line
    (-0.9, 2.0, 0.0, 2.0),            # equal widths, negative shift
    (0.5, 1.5, 0.0, 1.0),             # wider than the prior: q/p unbounded on both sides
    ([3.0], [2.6], [2.5], [2.0]),     # wider, length-1 arrays
    (0.7, 1.3, 0.7, 1.0),             # wider, same mean (vertex of q/p at the prior mean)
    (0.0, 1.0, 0.0, 1.0),             # Q == P
])
def test_decoder_rebuilds_the_encoder_sample_bit_for_bit(mu_q, sigma_q, mu_p, sigma_p):
    indices = []
    for seed in [0, 1, 7, 2 ** 40 + 3, 2 ** 64 - 1]:
        r = gprs.gprs_simulate_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, max_candidates=1 << 16)
        index, sample = gprs.gprs_encode_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, max_candidates=1 << 16)
        assert index == r.index and np.array_equal(sample, r.sample) and sample.shape == (1,)
        assert (r.searched == index + 1) if r.exact else (r.searched == 1 << 16 and index < r.searched)
        decoded = channel_sim.gprs_decode_gaussian(index, mu_p, sigma_p, seed)
        assert np.array_equal(decoded, sample)
        assert np.array_equal(channel_sim.decode_gaussian(index, mu_p, sigma_p, seed), sample)   # pfr's decoder
        assert not np.array_equal(channel_sim.gprs_decode_gaussian(index, mu_p, sigma_p, seed ^ 1), sample)
        indices.append(index)
    if np.isclose(np.ravel(sigma_q)[0], np.ravel(sigma_p)[0]) and np.isclose(np.ravel(mu_q)[0], np.ravel(mu_p)[0]):
        assert indices == [0] * 5                               # r = 1: the first candidate is taken
    else:
        assert max(indices) > 0


def test_search_does_not_depend_on_chunking(monkeypatch):
    q = (0.5, 1.5, 0.0, 1.0)
    results = [gprs.gprs_simulate_gaussian(*q, seed=s, max_candidates=5000, max_tail_prob=1.0) for s in range(40)]
    assert max(r.index for r in results) > 200
    monkeypatch.setattr(gprs, "_MAX_CHUNK", 64)
    for s, r in enumerate(results):
        again = gprs.gprs_simulate_gaussian(*q, seed=s, max_candidates=5000, max_tail_prob=1.0)
        assert again.index == r.index and again.exact == r.exact and np.array_equal(again.sample, r.sample)


@pytest.mark.parametrize("mu_q,sigma_q,cap", [(0.2, 2.0, 32), (0.7, 1.0, 64), (2.0, 0.5, 200)])
def test_max_candidates_fallback_is_decodable_and_as_rare_as_predicted(mu_q, sigma_q, cap):
    """Past the cap the PFR winner among the candidates seen is sent: a valid index, flagged
    inexact, about as often as tail_prob = P(T* > cap) = phi(sigma^-1(cap)) says."""
    runs = [gprs.gprs_simulate_gaussian(mu_q, sigma_q, *N01, seed, max_candidates=cap, max_tail_prob=1.0)
            for seed in range(1000)]
    for seed, r in enumerate(runs[:100]):
        assert 0 <= r.index < cap and np.array_equal(channel_sim.gprs_decode_gaussian(r.index, *N01, seed), r.sample)
        assert r.searched == (r.index + 1 if r.exact else cap)
    tail = runs[0].tail_prob
    capped = np.mean([not r.exact for r in runs])
    assert 0.003 < tail < 0.3 and capped == pytest.approx(tail, abs=4 * math.sqrt(tail / 1000) + 0.2 * tail)
    if tail > DEFAULT_TAIL:
        with pytest.raises(ValueError, match="would run past max_candidates"):
            gprs.gprs_encode_gaussian(mu_q, sigma_q, *N01, 0, max_candidates=cap)


def test_samples_follow_q_narrow_posterior():
    """P = N(0, 1), Q = N(1, 0.25^2): over 3000 seeds the sent samples pass a KS test against Q."""
    samples = np.array([gprs.gprs_encode_gaussian(1.0, 0.25, *N01, seed=s)[1][0] for s in range(3000)])
    assert stats.kstest(samples, "norm", args=(1.0, 0.25)).pvalue > 1e-3
    assert stats.kstest(samples, "norm", args=(1.02, 0.25)).pvalue < 1e-3        # the test has power


@pytest.mark.parametrize("mu_q,sigma_q,mu_p,sigma_p", [
    (0.5, 1.5, 0.0, 1.0),             # wider than the prior
    (-2.0, 2.6, -1.0, 2.0),           # wider (ratio 1.3), shifted and scaled prior
    (-0.7, 1.0, 0.0, 1.0),            # equal widths
])
def test_samples_follow_q_with_unbounded_ratio(mu_q, sigma_q, mu_p, sigma_p):
    runs = [gprs.gprs_simulate_gaussian(mu_q, sigma_q, mu_p, sigma_p, s, max_candidates=1 << 16) for s in range(1500)]
    samples = np.array([r.sample[0] for r in runs])
    assert stats.kstest(samples, "norm", args=(mu_q, sigma_q)).pvalue > 1e-3
    assert sum(not r.exact for r in runs) <= 15               # the heavy tail is cut rarely at 2^16


@pytest.mark.parametrize("kl_bits,ratio,n", [(2.0, 0.5, 1000), (5.0, 0.25, 600), (8.0, 0.1, 300), (8.0, 0.5, 200),
                                             (3.0, 1.0, 600), (1.0, 1.3, 600)])
def test_index_code_length_is_near_the_kl(kl_bits, ratio, n):
    q = q_with_kl(kl_bits, ratio)
    indices = [gprs.gprs_encode_gaussian(*q, seed=s, max_candidates=1 << 20)[0] for s in range(n)]
    log2_k = np.log2(np.array(indices, dtype=np.float64) + 1)
    bound = kl_bits + math.log2(kl_bits + 1)
    assert log2_k.mean() <= bound + 2
    # index.py's code with the margin recommended for GPRS indices
    bits = np.array([channel_sim.index_codelength_bits(i, kl_bits, gprs.INDEX_MARGIN_BITS) for i in indices])
    assert kl_bits - 3 <= bits.mean() <= bound + 4.2
    data = channel_sim.encode_indices(indices, kl_bits, gprs.INDEX_MARGIN_BITS)
    assert channel_sim.decode_indices(data, len(indices), kl_bits, gprs.INDEX_MARGIN_BITS) == indices
    if ratio < 1:      # q/p bounded: PFR's default margin fits as well (escapes past 2^ceil(KL + 4) rare)
        default = np.array([channel_sim.index_codelength_bits(i, kl_bits) for i in indices])
        assert default.mean() <= bound + 4.2


# ---------------------------------------------------------------- the stretch function
def reference_stretch(m, s, z):
    """sigma(r(z)) for P = N(0, 1), Q = N(m, s^2) straight from the definition, in 30-digit mpmath:
    int_0^h d eta / (w_Q(eta) - eta w_P(eta)), with w_P, w_Q from the roots of the quadratic ln r."""
    mpmath = pytest.importorskip("mpmath")
    mpmath.mp.dps = 30
    m, s, z = mpmath.mpf(m), mpmath.mpf(s), mpmath.mpf(z)
    a, b, c = (1 - 1 / s ** 2) / 2, m / s ** 2, -mpmath.log(s) - m ** 2 / (2 * s ** 2)

    def level_set(eta):
        l = mpmath.log(eta)
        if a == 0:
            return [((l - c) / b, mpmath.inf)]
        disc = b * b - 4 * a * (c - l)
        if disc <= 0:
            return [] if a < 0 else [(-mpmath.inf, mpmath.inf)]
        lo, hi = sorted([(-b - mpmath.sqrt(disc)) / (2 * a), (-b + mpmath.sqrt(disc)) / (2 * a)])
        return [(lo, hi)] if a < 0 else [(-mpmath.inf, lo), (hi, mpmath.inf)]

    def phi(eta):
        return sum(mpmath.ncdf((hi - m) / s) - mpmath.ncdf((lo - m) / s) - eta * (mpmath.ncdf(hi) - mpmath.ncdf(lo))
                   for lo, hi in level_set(eta))

    h = mpmath.exp(a * z * z + b * z + c)
    breaks = [0] + ([mpmath.exp(c - b * b / (4 * a))] if a > 0 else []) + [h]     # min r for s > 1
    return float(mpmath.quad(lambda eta: 1 / phi(eta), sorted(breaks)))


def stretch(x, m, s):
    return np.exp(gprs.gprs_log_stretch_at(x, m, s, 0.0, 1.0))


@pytest.mark.parametrize("m,s,zs", [(1.0, 0.25, [0.3, 0.93, 1.07, 1.5]), (2.0, 0.5, [0.5, 2.2, 2.9, 4.0]),
                                    (0.5, 1.5, [-2.3, 0.1, 1.7, 3.3]), (-0.7, 1.0, [-2.9, -0.4, 1.1])])
def test_stretch_function_matches_its_ode(m, s, zs):
    ours = stretch(zs, m, s)
    ref = np.array([reference_stretch(abs(m), s, math.copysign(1, m) * z) for z in zs])
    assert np.all(np.isfinite(ref)) and ref.min() > 1e-6
    np.testing.assert_allclose(ours, ref, rtol=1e-7)


@pytest.mark.parametrize("m,s", [(1.0, 0.25), (0.0, 0.5), (0.5, 1.5), (0.0, 2.0), (0.7, 1.0), (1.5, 0.999),
                                 (0.3, 0.02), (1.0, 1.0 + 1e-9), (0.4, 1.0 - 1e-9)])
def test_stretch_is_increasing_in_the_ratio_with_closed_form_ends(m, s):
    """sigma(r(x)) increases with r(x) (checked along a branch where r is monotone, plus the mirror
    symmetry of the level sets), and equals -ln(1 - h) where the level set holds all of P."""
    zstar = m / (1 - s * s) if s != 1 else -math.inf
    lo, hi = (-8.9, min(zstar, 8.9)) if s < 1 else (max(zstar, -8.9), 8.9)
    x = np.linspace(lo, hi, 20001)[:-1] if s < 1 else np.linspace(lo, hi, 20001)
    log_sig = gprs.gprs_log_stretch_at(x, m, s, 0.0, 1.0)
    assert np.all(np.diff(log_sig) > 0)                         # r increases with x on this branch
    if s != 1 and abs(zstar) < 4:                               # mirror images share their level
        xm = 2 * zstar - x
        inside = np.abs(xm) < 8.9
        np.testing.assert_allclose(gprs.gprs_log_stretch_at(xm[inside], m, s, 0.0, 1.0), log_sig[inside],
                                   rtol=1e-9, atol=1e-9)
    # closed form where the level set {r >= h} (near endpoint e) holds all of P but Phi(-8) = 6e-16:
    # there w_P = 1 at every level below h, phi = 1 - h, and sigma(h) = -ln(1 - h)
    log_h = stats.norm.logpdf(x, m, s) - stats.norm.logpdf(x)
    e = x if s < 1 or s == 1 else zstar + np.abs(x - zstar)
    ok = e <= -8.0
    if s > 1 and abs(zstar) < 8.9:              # the vertex: h = min r, its level set the whole line
        h_min = math.exp(-math.log(s) + m * m / (2 * (1 - s * s)))
        assert stretch([zstar], m, s)[0] == pytest.approx(-math.log1p(-h_min), rel=1e-12)
    else:
        assert ok.sum() > 100
    h = np.exp(log_h[ok])
    expected = np.where(h < 1e-12, log_h[ok] + h / 2, np.log(-np.log1p(-np.clip(h, 1e-12, 0.5))))
    np.testing.assert_allclose(log_sig[ok], expected, rtol=1e-9, atol=1e-8)


@pytest.mark.parametrize("m,s", [(0.8, 1.0), (1.0, 0.4)])
def test_accepted_point_has_density_q(m, s):
    """From sigma alone (no phi): the survival of the acceptance time, S(sigma(h)) = exp(-int w_P dsigma),
    must give int_0^sigma(r(x)) S(t) dt = r(x), i.e. the accepted point has density p r = q. Checked as
    Stieltjes sums over the level sets {r >= r(x)} = [x, inf) (s = 1) or [x, 2z* - x] (s < 1)."""
    zstar = m / (1 - s * s) if s < 1 else math.inf
    x = np.linspace(-8.5, min(zstar - 1e-3, 3.5), 40001)
    sig = stretch(x, m, s)
    w_p = special.ndtr(2 * zstar - x) - special.ndtr(x) if s < 1 else special.ndtr(-x)
    d_sig = np.diff(sig)
    w_mid = 0.5 * (w_p[1:] + w_p[:-1])
    log_surv = -np.concatenate([[sig[0]], sig[0] + np.cumsum(w_mid * d_sig)])   # w_P = 1 below x[0]
    surv = np.exp(log_surv)
    acc = np.concatenate([[1 - surv[0]], 1 - surv[0] + np.cumsum(0.5 * (surv[1:] + surv[:-1]) * d_sig)])
    r = np.exp(stats.norm.logpdf(x, m, s) - stats.norm.logpdf(x))
    sel = sig < 50
    np.testing.assert_allclose(acc[sel], r[sel], rtol=2e-4, atol=1e-12)
    if s < 1:       # acceptance by some time is certain: sigma -> inf at the top, where phi -> 0
        assert 1 - surv[-1] > 0.99


# ---------------------------------------------------------------- argument checks
@pytest.mark.parametrize("call,match", [
    (lambda: gprs.gprs_encode_gaussian([0.0, 1.0], [1.0, 1.0], [0.0, 0.0], [1.0, 1.0], 0), "1-D Gaussians only"),
    (lambda: gprs.gprs_encode_gaussian([[0.5]], [[1.0]], [[0.0]], [[1.0]], 0), "must be a 1-D array"),
    (lambda: gprs.gprs_encode_gaussian(0.0, -1.0, 0.0, 1.0, 0), "sigma_q must be positive"),
    (lambda: gprs.gprs_encode_gaussian(0.0, 1.0, 0.0, 0.0, 0), "sigma_p must be positive"),
    (lambda: gprs.gprs_encode_gaussian(np.nan, 1.0, 0.0, 1.0, 0), "mu_q contains non-finite"),
    (lambda: gprs.gprs_encode_gaussian([0.0, 1.0], [1.0], [0.0], [1.0], 0), "mismatched lengths"),
    (lambda: gprs.gprs_encode_gaussian([], [], [], [], 0), "empty block"),
    (lambda: gprs.gprs_encode_gaussian(0.0, 1.0, 0.0, 1.0, -1), "seed must be in"),
    (lambda: gprs.gprs_encode_gaussian(0.0, 1.0, 0.0, 1.0, 0.5), "seed must be an integer"),
    (lambda: gprs.gprs_encode_gaussian(0.0, 1.0, 0.0, 1.0, 0, max_candidates=0), "max_candidates must be in"),
    (lambda: gprs.gprs_encode_gaussian(0.0, 1.0, 0.0, 1.0, 0, max_candidates=2.5), "max_candidates must be an integer"),
    (lambda: gprs.gprs_encode_gaussian(0.0, 1.0, 0.0, 1.0, 0, max_candidates=True), "not a bool"),
    (lambda: gprs.gprs_encode_gaussian(30.0, 0.01, 0.0, 1.0, 0), "over max_candidates"),
    (lambda: gprs.gprs_encode_gaussian(3.0, 0.99, 0.0, 1.0, 0), "D_inf"),          # KL 6.5 bits, D_inf 326
    (lambda: gprs.gprs_encode_gaussian(1.0, 0.25, 0.0, 1.0, 0, max_candidates=5), "D_inf"),
    (lambda: gprs.gprs_encode_gaussian(0.0, 0.5, 0.0, 1.0, 0, max_candidates=4), "would run past"),
    (lambda: gprs.gprs_encode_gaussian(0.3, 1.0, 0.0, 1.0, 0, max_tail_prob=-0.1), "max_tail_prob"),
    (lambda: gprs.gprs_encode_gaussian(0.3, 1.0, 0.0, 1.0, 0, max_tail_prob=np.nan), "max_tail_prob"),
    (lambda: channel_sim.gprs_decode_gaussian(-1, 0.0, 1.0, 0), "index must be in"),
    (lambda: channel_sim.gprs_decode_gaussian(1.5, 0.0, 1.0, 0), "index must be an integer"),
    (lambda: channel_sim.gprs_decode_gaussian(0, [0.0, 1.0], [1.0, 1.0], 0), "1-D Gaussians only"),
    (lambda: channel_sim.gprs_decode_gaussian(0, 0.0, -1.0, 0), "sigma_p must be positive"),
    (lambda: gprs.gprs_log_stretch_at([9.5], 1.0, 0.5, 0.0, 1.0), "within"),
])
def test_bad_arguments_raise_clear_value_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call()
