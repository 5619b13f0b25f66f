"""Known-answer tests for the Bjøntegaard-delta helpers in benchmarks/bdrate.py."""

import math
import warnings

import numpy as np
import pytest

from benchmarks.bdrate import BDUndefined, BDUndefinedWarning, bd_psnr, bd_rate

# A realistic, deliberately non-linear anchor curve (Cool-chic-like Kodak points).
RATE = np.array([0.084, 0.219, 0.482, 0.759, 1.357])
PSNR = np.array([27.44, 30.86, 34.52, 37.25, 41.17])


def test_scaled_rates_give_exact_bd_rate():
    # Scaling every rate by k at identical PSNRs shifts log-rate by log(k) everywhere,
    # so the answer is exactly (k - 1) * 100 whatever the interpolant.
    assert bd_rate(RATE, PSNR, RATE * 0.8, PSNR) == pytest.approx(-20.0, abs=1e-9)
    assert bd_rate(RATE, PSNR, RATE * 1.25, PSNR) == pytest.approx(25.0, abs=1e-9)


def test_swapping_anchor_and_test_inverts_ratio():
    assert bd_rate(RATE * 0.8, PSNR, RATE, PSNR) == pytest.approx(25.0, abs=1e-9)


def test_identical_curves_are_zero():
    assert bd_rate(RATE, PSNR, RATE, PSNR) == pytest.approx(0.0, abs=1e-12)
    assert bd_psnr(RATE, PSNR, RATE, PSNR) == pytest.approx(0.0, abs=1e-12)


def test_bd_psnr_of_shifted_curve():
    assert bd_psnr(RATE, PSNR, RATE, PSNR + 1.0) == pytest.approx(1.0, abs=1e-9)
    assert bd_psnr(RATE, PSNR, RATE, PSNR - 0.5) == pytest.approx(-0.5, abs=1e-9)


def test_different_sample_points_on_a_straight_line():
    # log-rate linear in PSNR: PCHIP reproduces a line exactly, so curves sampled at
    # different PSNRs still give the exact answer over their (partial) overlap.
    def rate_at(p, k=1.0):
        return k * np.exp(-4.0 + 0.15 * np.asarray(p))

    pa = np.array([28.0, 31.0, 34.0, 37.0])
    pt = np.array([29.0, 30.5, 33.0, 36.0, 39.0])
    assert bd_rate(rate_at(pa), pa, rate_at(pt, 0.8), pt) == pytest.approx(-20.0, abs=1e-9)
    # Same line seen as PSNR(log-rate): a 0.8x rate shift is a PSNR gain of -log(0.8)/0.15.
    expected_db = -math.log(0.8) / 0.15
    assert bd_psnr(rate_at(pa), pa, rate_at(pt, 0.8), pt) == pytest.approx(expected_db, abs=1e-9)


def test_unsorted_input_gives_same_result():
    rng = np.random.default_rng(0)
    i, j = rng.permutation(5), rng.permutation(5)
    test_rate = RATE * np.array([0.7, 0.8, 0.85, 0.9, 0.95])  # non-constant ratio
    test_psnr = PSNR + np.array([0.1, 0.0, -0.2, 0.3, 0.05])
    ref = bd_rate(RATE, PSNR, test_rate, test_psnr)
    assert -30.0 < ref < -5.0
    assert bd_rate(RATE[i], PSNR[i], test_rate[j], test_psnr[j]) == pytest.approx(ref, abs=1e-12)
    ref_db = bd_psnr(RATE, PSNR, test_rate, test_psnr)
    assert bd_psnr(RATE[i], PSNR[i], test_rate[j], test_psnr[j]) == pytest.approx(ref_db, abs=1e-12)


def test_duplicate_psnr_keeps_cheapest_point():
    # An extra, dominated point (same PSNR, more bits) must not change the result.
    rate_dup = np.append(RATE, RATE[2] * 1.5)
    psnr_dup = np.append(PSNR, PSNR[2])
    expected = bd_rate(RATE, PSNR, RATE * 0.8, PSNR)
    assert bd_rate(rate_dup, psnr_dup, RATE * 0.8, PSNR) == pytest.approx(expected, abs=1e-12)
    assert bd_rate(RATE, PSNR, rate_dup * 0.8, psnr_dup) == pytest.approx(expected, abs=1e-12)


def test_no_overlap_returns_nan_with_reason():
    with pytest.warns(BDUndefinedWarning, match="no overlap"):
        v = bd_rate([0.1, 0.2, 0.4], [28.0, 30.0, 32.0], [0.5, 0.8, 1.2], [33.0, 35.0, 37.0])
    assert math.isnan(v)
    with pytest.raises(BDUndefined, match="no overlap"):
        bd_rate([0.1, 0.2], [28.0, 30.0], [0.5, 0.8], [33.0, 35.0], on_error="raise")
    with pytest.raises(BDUndefined, match="no overlap"):
        bd_psnr([0.1, 0.2], [28.0, 30.0], [0.5, 0.8], [33.0, 35.0], on_error="raise")


def test_touching_ranges_are_no_overlap():
    with pytest.raises(BDUndefined, match="no overlap"):
        bd_rate([0.1, 0.2], [28.0, 30.0], [0.2, 0.4], [30.0, 32.0], on_error="raise")


@pytest.mark.parametrize(
    "rate, psnr",
    [
        ([0.5], [30.0]),  # one point
        ([0.5, 0.9], [30.0, 30.0]),  # two points, one distinct PSNR
        ([], []),
    ],
)
def test_too_few_points(rate, psnr):
    with pytest.raises(BDUndefined, match="at least 2"):
        bd_rate(rate, psnr, RATE, PSNR, on_error="raise")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", BDUndefinedWarning)
        assert math.isnan(bd_rate(RATE, PSNR, rate, psnr))


def test_nonpositive_rate_is_rejected():
    with pytest.raises(BDUndefined, match="> 0"):
        bd_rate([0.0, 0.2, 0.4], [28.0, 30.0, 32.0], RATE, PSNR, on_error="raise")
