"""Bjøntegaard-delta metrics (BD-rate, BD-PSNR) between two rate-distortion curves.

Follows the usual procedure (VCEG-M33, with the piecewise-cubic variant used by current
JVET/AOM tooling): fit log-rate as a function of PSNR (BD-rate) or PSNR as a function of
log-rate (BD-PSNR) for each curve with a monotone piecewise-cubic Hermite interpolant
(PCHIP), integrate both over the overlapping interval only, and compare the mean values.
PCHIP is used instead of the original single cubic polynomial because it never overshoots
between points, so a few well-spaced points cannot produce a wild curve.

Undefined cases (fewer than two distinct points, non-positive rates, non-finite values,
no overlap) return ``nan`` and emit a ``BDUndefinedWarning`` carrying the reason, or raise
``BDUndefined`` with ``on_error="raise"``.

A data set's curve is built from per-image points by :func:`aggregate_curve`, one point per
rate parameter (lambda or quality), in one of two conventions (:data:`AGGREGATIONS`):

- ``"psnr"``: the mean of the per-image PSNRs (the usual convention of learned-codec papers);
- ``"mse"``: the PSNR of the mean MSE (Cool-chic's published convention: its docs average MSE
  over the data set, weighted by pixels). It is never above the mean PSNR (Jensen) and weighs
  the hard images' losses more.

Rate is the mean bpp in both, pixel-weighted when weights are given (total bits / total
pixels). tests/test_bdrate.py checks the ``"mse"`` convention with pixel weights plus
:func:`bd_rate` against eight BD-rates Cool-chic published between two of its own versions,
from its per-image result files (all within 0.06 points; mean-of-PSNR misses all eight).
"""

from __future__ import annotations

import math
import warnings
from typing import Sequence

import numpy as np
from scipy.interpolate import PchipInterpolator


class BDUndefined(ValueError):
    """The BD metric cannot be computed for these curves (message gives the reason)."""


class BDUndefinedWarning(UserWarning):
    pass


def _curve(x: Sequence[float], y: Sequence[float], which: str, keep: str):
    """Sort by x, merge duplicate x values (keeping the min or max y), validate."""
    x = np.asarray(x, dtype=np.float64).ravel()
    y = np.asarray(y, dtype=np.float64).ravel()
    if x.shape != y.shape:
        raise BDUndefined(f"{which}: {x.size} x-values but {y.size} y-values")
    if not (np.all(np.isfinite(x)) and np.all(np.isfinite(y))):
        raise BDUndefined(f"{which}: non-finite rate or PSNR values")
    order = np.lexsort((y, x))  # by x, then y
    x, y = x[order], y[order]
    ux, start = np.unique(x, return_index=True)
    reduce = np.minimum if keep == "min" else np.maximum
    uy = reduce.reduceat(y, start) if y.size else y
    if ux.size < 2:
        raise BDUndefined(f"{which}: need at least 2 points with distinct abscissae, got {ux.size}")
    return ux, uy


def _log_rates(rate: Sequence[float], which: str) -> np.ndarray:
    r = np.asarray(rate, dtype=np.float64).ravel()
    if not np.all(np.isfinite(r)):
        raise BDUndefined(f"{which}: non-finite rate or PSNR values")
    if np.any(r <= 0):
        raise BDUndefined(f"{which}: rates must be > 0 to take their logarithm")
    return np.log(r)


def _mean_gap(xa, ya, xt, yt, what: str) -> float:
    """Mean of (test - anchor) interpolants over the common x interval."""
    lo, hi = max(xa[0], xt[0]), min(xa[-1], xt[-1])
    if not hi > lo:
        raise BDUndefined(
            f"no overlap in {what}: anchor spans [{xa[0]:.4g}, {xa[-1]:.4g}], "
            f"test spans [{xt[0]:.4g}, {xt[-1]:.4g}]"
        )
    ia = PchipInterpolator(xa, ya).integrate(lo, hi)
    it = PchipInterpolator(xt, yt).integrate(lo, hi)
    return float((it - ia) / (hi - lo))


def _undefined(err: BDUndefined, on_error: str) -> float:
    if on_error == "raise":
        raise err
    warnings.warn(str(err), BDUndefinedWarning, stacklevel=3)
    return math.nan


def bd_rate(rate_anchor, psnr_anchor, rate_test, psnr_test, on_error: str = "nan") -> float:
    """Average rate difference of test vs anchor at equal PSNR, in percent.

    Negative means the test codec needs fewer bits. Rates may be bpp or bytes (any positive
    unit, the same for both curves). Points may be given in any order; duplicate PSNRs keep
    the cheapest rate. ``on_error``: "nan" (warn, return nan) or "raise".
    """
    try:
        pa, la = _curve(psnr_anchor, _log_rates(rate_anchor, "anchor"), "anchor", keep="min")
        pt, lt = _curve(psnr_test, _log_rates(rate_test, "test"), "test", keep="min")
        gap = _mean_gap(pa, la, pt, lt, "PSNR")
    except BDUndefined as e:
        return _undefined(e, on_error)
    return (math.exp(gap) - 1.0) * 100.0


AGGREGATIONS = {"psnr": "mean of per-image PSNR", "mse": "PSNR of mean MSE"}


def aggregate_curve(param, rate, psnr, how: str = "psnr", weight=None):
    """One data-set point per distinct ``param`` from per-image (param, rate, PSNR) points.

    ``weight``: per-image pixel counts (None: all equal). Rate is the weighted mean rate (for
    bpp: total bits over total pixels); PSNR is the weighted mean of the PSNRs (``how="psnr"``)
    or the PSNR of the weighted mean MSE (``how="mse"``): -10 log10(mean 10^(-PSNR/10)), which
    does not depend on the peak value as long as all PSNRs share one; a lossless image
    (infinite PSNR) counts as MSE 0. Returns arrays (params, rates, psnrs) sorted by param.
    The caller picks the images: give both curves of a comparison the same ones.
    """
    if how not in AGGREGATIONS:
        raise ValueError(f"how must be one of {sorted(AGGREGATIONS)}, got {how!r}")
    params = list(param)
    rate = np.asarray(rate, dtype=np.float64).ravel()
    psnr = np.asarray(psnr, dtype=np.float64).ravel()
    w = np.ones(rate.shape) if weight is None else np.asarray(weight, dtype=np.float64).ravel()
    if not (len(params) == rate.size == psnr.size == w.size):
        raise ValueError("param, rate, psnr and weight must have the same length")
    keys = sorted(set(params))
    out_r, out_p = [], []
    for k in keys:
        sel = np.array([p == k for p in params], dtype=bool)
        ws = w[sel] / w[sel].sum()
        out_r.append(float(np.sum(ws * rate[sel])))
        if how == "psnr":
            out_p.append(float(np.sum(ws * psnr[sel])))
        else:
            mean_mse = np.sum(ws * np.power(10.0, -psnr[sel] / 10.0))   # in units of peak^2
            with np.errstate(divide="ignore"):
                out_p.append(float(-10.0 * np.log10(mean_mse)))
    return np.array(keys), np.array(out_r), np.array(out_p)


def bd_psnr(rate_anchor, psnr_anchor, rate_test, psnr_test, on_error: str = "nan") -> float:
    """Average PSNR difference (dB) of test vs anchor at equal rate; positive = test better.

    Duplicate rates keep the highest PSNR. ``on_error`` as in :func:`bd_rate`.
    """
    try:
        la, pa = _curve(_log_rates(rate_anchor, "anchor"), psnr_anchor, "anchor", keep="max")
        lt, pt = _curve(_log_rates(rate_test, "test"), psnr_test, "test", keep="max")
        return _mean_gap(la, pa, lt, pt, "log-rate")
    except BDUndefined as e:
        return _undefined(e, on_error)
