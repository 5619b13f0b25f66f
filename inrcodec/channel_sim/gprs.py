"""Channel simulation of a 1-D Gaussian by greedy Poisson rejection sampling (GPRS; Flamich 2023).

Same shared randomness as pfr.py: candidates x_1, x_2, ... ~ P = N(mu_p, sigma_p^2) (candidate i is
mu_p + sigma_p * z_i, z_i the i-th normal of the candidate stream) and, for the encoder only,
Poisson arrival times T_1 < T_2 < ... (cumulative Exp(1) sums of the arrival stream). With
r = dQ/dP the encoder sends the first (0-based) index n with

    T_n <= sigma(r(x_n)),   sigma'(h) = 1 / (w_Q(h) - h w_P(h)),   sigma(0) = 0,

w_P(h) = P(r(X) >= h), w_Q(h) = Q(r(X) >= h) (the "stretch function" of GPRS). x_n is an exact
sample of Q. The decoder is pfr's: it regenerates candidate n from the index and the seed alone,
bit for bit, whichever of the two samplers chose it.

Why it works. phi(h) = w_Q(h) - h w_P(h) = E_P[(r - h)+] decreases from 1 to 0 on [0, sup r) with
phi' = -w_P. The accepted time T* then has P(T* > sigma(h)) = exp(-int_0^h w_P sigma') = phi(h),
and the accepted point has density p(x) int_0^{sigma(r(x))} P(T* > t) dt = p(x) int_0^{r(x)} dh
= q(x). Hence E[N] ~ E[T*] = int phi dsigma = sup r = exp(D_inf(Q||P)), and (Flamich 2023)
E[log2 N] <= KL + O(1) bits, H[N] <= KL + log2(KL + 1) + ~2 bits.

The stretch function for 1-D Gaussians. In standard units z = (x - mu_p)/sigma_p, P = N(0, 1),
Q = N(m, s^2) (m >= 0 after a reflection), ln r(z) = A z^2 + B z + C with A = (1 - 1/s^2)/2,
B = m/s^2, and vertex z* = m/(1 - s^2). A level set {r >= h} is
    s < 1:  an interval [e, 2z* - e]            (r bounded, sup r = exp(D_inf) at z*),
    s > 1:  the complement of (2z* - e, e)        (r unbounded; h <= min r is the whole line),
    s = 1:  a half-line [e, inf)                  (r unbounded),
so it is named by its near endpoint e, and w_P is a normal CDF expression. sigma is tabulated in e
(for s < 1 in v = e - ln(z* - e), which turns the 1/(z* - e) blow-up at the vertex into e^v):
phi(e) = int_{levels above e} w_P dh and sigma(e) = sigma(e_lo) + int_{e_lo}^e h'/phi are both
computed as cumulative sums of Gauss-Legendre panel integrals of positive integrands in log space
(no cancellation, no underflow, strictly monotone; phi inside a panel from a cubic Hermite fit of
ln phi with its exact slopes), and ln(sigma/h) is interpolated by a cubic Hermite spline with the
exact derivatives at the nodes: within ~1e-8 (relative) of a 30-digit solution of the ODE.
Candidates never leave |z| < 8.58 (Box-Muller on 53-bit uniforms), so the table only spans e in
[-9, 9]: below e = -9 the level set holds all but 1e-19 of P, so sigma(h) = -ln(1 - h) there to
that accuracy (and for s < 1 the table starts at h = e^-60 if that is higher: h <= sigma(h) <=
-ln(1 - h) at every level); above e = 9 the phi integral runs on to where P or Q has no mass.
Only the encoder evaluates sigma (scipy's ndtr, libm): the decoder needs none of it. Tables are
cached per standardized (|m|, s).

Stopping. The tables also give the tail of the search: P(T* > t) = phi(sigma^-1(t)) exactly, and
P(N > n) ~ P(T* > n) (within ~15% of the observed rate for n >= 32 in our checks; an overestimate
for smaller n). s < 1: E[N] = exp(D_inf), and P(T* > 16 E[N]) is about 2e-3 (1e-2 in some
cases). Note D_inf can be far above KL when s is near 1 (D_inf ~ KL / (1 - s^2) for a mean shift),
where GPRS is slow and pfr the better choice. s >= 1: sup r is infinite and so is E[N], with a
heavy tail: P(T* > t) tends to t^(-1/s^2) for s > 1, and for s = 1 approaches 1/t only slowly
(local exponent -0.6 to -0.75 over t = 1e3..1e9 at KL = 2 bits, where P(T* > 1e5) = 1.3e-3),
though E[log N] stays near KL. The search stops after max_candidates and then returns the PFR
winner among the candidates seen (exact=False), so the output law is off by at most
tail_prob = P(T* > max_candidates) in total variation; a block whose tail_prob exceeds
max_tail_prob (default 1e-2) is refused up front (ValueError: use pfr, or raise the limit). Prefer
pfr for posteriors as wide as the prior or wider.

Index coding. index.py's code (uniform bucket = bit length, then the low bits) fits GPRS indices
when given margin_bits = INDEX_MARGIN_BITS (8) on both sides: mean length within
KL + log2(KL + 1) + 4.2 bits in every case measured below. With pfr's default margin (4) an index
past 2^ceil(KL + 4) takes the ~24-bit escape, and GPRS indices get there more often than PFR's
(longer tail): still within that bound for s < 1, but up to 2.5 bits dearer (KL 8, s = 0.5), and
over it for s = 1 at small KL (KL 3: 9.5 bits > 9.2).

Cost. A stretch table takes 2-10 ms to build (cached per standardized pair, 256 pairs), a search
about 0.3 ms plus 0.2 us per candidate: per-weight posteriors that all differ pay the build each time.

Measured (1-D, P = N(0, 1), Q = N(m, s^2) with m set for the KL, seeds 0..2999, GPRS capped at
2^22 candidates with max_tail_prob=1 (tail_prob at the cap: 9e-5, 1e-3, 1.8e-2 for s = 1 and KL 2,
4, 8; < 1e-7 for s < 1); bits: mean index.py code length, PFR with its default margin, GPRS with
margin 4 / INDEX_MARGIN_BITS; log2: mean log2(index + 1); candidates: mean (median) drawn):

    KL   s     bits PFR | GPRS 4 / 8     log2 PFR | GPRS    candidates PFR | GPRS
     2  0.25    3.90    |  4.09 /  4.68     1.62  |  1.73        64 (64)   |      6 (3)
     4  0.25    6.04    |  6.37 /  6.72     3.42  |  3.57       256 (256)  |     29 (12)
     8  0.25   10.34    | 10.80 / 10.91     7.16  |  7.33       920 (768)  |    541 (195)
     2  0.5     4.04    |  4.61 /  4.88     1.75  |  1.91        64 (64)   |      9 (3)
     4  0.5     6.17    |  7.21 /  6.94     3.53  |  3.77       256 (256)  |     54 (14)
     8  0.5    10.37    | 12.70 / 11.23     7.19  |  7.58      2358 (1792) |   2236 (214)
     2  1.0     4.17    |  7.42 /  6.11     1.82  |  2.46        64 (64)   |   1721 (3)      1 capped
     4  1.0     5.88    | 10.42 /  8.51     3.21  |  4.23       256 (256)  |  11494 (11)     3 capped
     8  1.0     9.29    | 15.30 / 12.75     6.10  |  7.70      4096 (4096) | 112619 (164)   47 capped

PFR stops at its budget 2^(KL + 4) without proof of exactness in every s = 1 run and in 462 of the
3000 runs at KL 8, s = 0.5 (its sample is then approximate, and its index shorter than an exact
search's); GPRS is exact in all runs but the capped ones. GPRS draws far fewer candidates for the
typical block when s < 1 (median), a comparable or larger mean, and a huge mean at s = 1.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy import special
from scipy.interpolate import CubicHermiteSpline

from .. import prng
from .gaussians import check_gaussians, kl_gaussian_bits, positive_finite
from .pfr import candidate_chunks, decode_gaussian

INDEX_MARGIN_BITS = 8.0                   # margin_bits for index.py when it codes GPRS indices
DEFAULT_MAX_CANDIDATES = 1 << 24          # ~4 s of candidate generation; a cap, not a typical count
DEFAULT_MAX_TAIL_PROB = 1e-2              # refuse blocks more likely than this to reach the cap
# every candidate normal is below this in absolute value: sqrt(-2 ln 2^-53) (Box-Muller radius)
Z_CANDIDATE_MAX = math.sqrt(106.0 * math.log(2.0))
_E_EDGE = 9.0                             # table span in standard units (> Z_CANDIDATE_MAX)
_STEP = 0.025                             # table spacing in v (panels of 8-point Gauss-Legendre)
_TAIL_STEP = 0.25                         # panels beyond the table (phi's tail integral only)
_LOG_H_FLOOR = -60.0                      # below this level sigma(h) = h to 1e-26 (s < 1 tables start here)
_GL_T, _GL_W = np.polynomial.legendre.leggauss(8)
_LOG_GL_W = np.log(_GL_W)
_LOG_SQRT_2PI = 0.5 * math.log(2.0 * math.pi)
_MAX_CHUNK = 1 << 16


@dataclass
class GprsResult:
    index: int                    # 0-based candidate index sent to the decoder
    sample: np.ndarray            # mu_p + sigma_p * z_index, bit-identical to gprs_decode_gaussian's
    searched: int                 # candidates generated (index + 1 when exact)
    exact: bool                   # accepted by the GPRS rule (False: stopped by max_candidates)
    tail_prob: float              # ~P(an unbounded search would go past max_candidates)
    kl_bits: float


# --------------------------------------------------------------------------- the stretch function
def _log_normal_interval(lo, hi, half, center):
    """ln P(lo <= Z <= hi), Z ~ N(0, 1), accurate for tiny and far-out intervals (half = (hi-lo)/2)."""
    lo, hi, half, center = np.broadcast_arrays(*(np.asarray(a, dtype=np.float64) for a in (lo, hi, half, center)))
    out = np.empty(lo.shape)
    small = half * (np.abs(center) + half) < 0.5          # density varies by < e^1 across: quadrature
    if np.any(small):
        c, h = center[small][:, None], half[small][:, None]
        x = c + h * _GL_T
        with np.errstate(divide="ignore"):
            out[small] = np.log(half[small]) + special.logsumexp(_LOG_GL_W - 0.5 * x * x, axis=1) - _LOG_SQRT_2PI
    big = ~small
    if np.any(big):
        a, b = lo[big], hi[big]
        res = np.empty(a.shape)
        right, left = a >= 0, b <= 0
        mid = ~(right | left)
        la, lb = special.log_ndtr(-a[right]), special.log_ndtr(-b[right])      # upper tails
        res[right] = la + np.log1p(-np.exp(lb - la))
        la, lb = special.log_ndtr(a[left]), special.log_ndtr(b[left])          # lower tails
        res[left] = lb + np.log1p(-np.exp(la - lb))
        res[mid] = np.log1p(-(special.ndtr(a[mid]) + special.ndtr(-b[mid])))
        out[big] = res
    return out


class _Stretch:
    """ln sigma(r(z)) for standardized, reflected candidates z (P = N(0,1), Q = N(m, s^2), m >= 0)."""

    def __init__(self, m: float, s: float):
        self.m, self.s = m, s
        self.A = 0.5 * (s - 1.0) * (s + 1.0) / (s * s)
        self.B = m / (s * s)
        self.C = -math.log(s) - 0.5 * m * m / (s * s)
        self.kind = "narrow" if s < 1.0 else ("wide" if s > 1.0 else "equal")
        self.zstar = m / ((1.0 - s) * (1.0 + s)) if s != 1.0 else -math.inf
        self.singular = self.kind == "narrow" and self.zstar <= _E_EDGE + 1.0
        self._build()

    # ---- level sets named by their near endpoint e (y = |e - z*|), and the grid variable v
    def log_ratio(self, z):
        return (self.A * z + self.B) * z + self.C

    def _points(self, v):
        """(e, y, ln de/dv) at grid variable v."""
        v = np.asarray(v, dtype=np.float64)
        if self.singular:                  # v = e - ln(z* - e): solve y + ln y = z* - v, u = ln y
            c = self.zstar - v
            u = np.where(c > 1.0, np.log(np.maximum(c, 1.0)), c - 1.0)
            for _ in range(60):
                eu = np.exp(u)
                step = (eu + u - c) / (eu + 1.0)
                u = u - step
                if np.max(np.abs(step)) < 1e-15 * max(1.0, float(np.max(np.abs(u)))):
                    break
            y = np.exp(u)
            return self.zstar - y, y, np.log(y) - np.log1p(y)
        if self.kind == "narrow":
            return v, self.zstar - v, np.zeros_like(v)
        if self.kind == "wide":
            return v, v - self.zstar, np.zeros_like(v)
        return v, np.full_like(v, np.inf), np.zeros_like(v)

    def _log_wp(self, e, y):
        if self.kind == "narrow":
            return _log_normal_interval(e, self.zstar + y, y, self.zstar)
        if self.kind == "wide":
            return np.logaddexp(special.log_ndtr(2.0 * self.zstar - e), special.log_ndtr(-e))
        return special.log_ndtr(-e)

    def _log_slope(self, e, y):
        """ln |d ln h / de|."""
        with np.errstate(divide="ignore"):
            if self.kind == "equal":
                return np.full_like(e, math.log(self.B))
            return math.log(2.0 * abs(self.A)) + np.log(y)

    def _log_dh(self, v):
        """ln(dh/dv) and ln w_P at v."""
        e, y, log_dedv = self._points(v)
        return self.log_ratio(e) + self._log_slope(e, y) + log_dedv, self._log_wp(e, y)

    def _build(self):
        zstar = self.zstar
        if self.kind == "narrow":
            # start where h = e^-60 if that is above e = -9: sigma(h) is within [h, -ln(1 - h)] at any
            # level, so sigma = h to 1e-26 below, and the steep ln h ~ -y^2/s^2 needs no panels there
            y_lo = zstar + _E_EDGE
            log_h_max = self.C - self.B * self.B / (4.0 * self.A)
            if log_h_max > _LOG_H_FLOOR:
                y_lo = min(y_lo, math.sqrt((log_h_max - _LOG_H_FLOOR) / -self.A))
            v_lo = (zstar - y_lo) - math.log(y_lo) if self.singular else zstar - y_lo
        else:
            v_lo = max(zstar, -_E_EDGE)
        if self.singular:
            y_min = 1e-5 * min(self.s, 1.0 / (1.0 + zstar))
            v_top = (zstar - y_min) - math.log(y_min)
            v_end = v_top
        else:
            v_top = _E_EDGE
            if self.kind == "narrow":
                v_end = min(zstar, 50.0)
            else:
                v_end = max(_E_EDGE, self.m + 40.0 * self.s) + 1.0
        n_tab = max(8, math.ceil((v_top - v_lo) / _STEP))
        v = np.linspace(v_lo, v_top, n_tab + 1)
        if v_end > v_top:
            v = np.concatenate([v, np.linspace(v_top, v_end, max(1, math.ceil((v_end - v_top) / _TAIL_STEP)) + 1)[1:]])
        width = np.diff(v)
        log_half = np.log(0.5 * width)

        # phi at the nodes: sums of panel integrals of w_P h', from the top down
        x = v[:-1, None] + 0.5 * width[:, None] * (1.0 + _GL_T)
        log_dh, log_wp = self._log_dh(x)
        panels = special.logsumexp(log_dh + log_wp + _LOG_GL_W, axis=1) + log_half
        if self.singular:             # the bit above the table: y in [0, y_min], in y directly
            yy = 0.5 * y_min * (1.0 + _GL_T)
            ee = zstar - yy
            top = special.logsumexp(self._log_wp(ee, yy) + self.log_ratio(ee) + self._log_slope(ee, yy)
                                    + _LOG_GL_W) + math.log(0.5 * y_min)
        else:
            top = -np.inf
        log_phi = np.logaddexp.accumulate(np.concatenate([[top], panels[::-1]]))[::-1]

        # sigma: from the bottom anchor up. ln phi inside a panel: cubic Hermite between its nodes,
        # with the exact slopes d ln phi/dv = -w_P h'/phi (error ~ step^4, like the final spline's)
        t = n_tab
        log_dh_t = log_dh[:t]
        log_dh_n, log_wp_n = self._log_dh(v[:t + 1])
        with np.errstate(invalid="ignore"):
            dlog_phi = -np.exp(log_dh_n + log_wp_n - log_phi[:t + 1])
        dlog_phi[~np.isfinite(dlog_phi)] = 0.0
        u = 0.5 * (1.0 + _GL_T)                                                 # position in the panel
        h00, h01 = 2 * u ** 3 - 3 * u ** 2 + 1, 3 * u ** 2 - 2 * u ** 3        # Hermite basis
        h10, h11 = u ** 3 - 2 * u ** 2 + u, u ** 3 - u ** 2
        lp0, lp1 = log_phi[:t, None], log_phi[1:t + 1, None]
        lp0 = np.where(np.isfinite(lp0), lp0, lp1)
        log_phi_x = h00 * lp0 + h01 * lp1 + width[:t, None] * (h10 * dlog_phi[:t, None]
                                                               + h11 * dlog_phi[1:t + 1, None])
        sig_panels = special.logsumexp(log_dh_t - log_phi_x + _LOG_GL_W, axis=1) + log_half[:t]
        e0 = self._points(np.array([v_lo]))[0][0]
        if self.kind == "wide" and v_lo == zstar:
            log_h0 = self.C - self.B * self.B / (4.0 * self.A)          # ln min r
        else:
            log_h0 = float(self.log_ratio(e0))
        h0 = min(math.exp(log_h0), 1.0 - 2.0 ** -53)
        log_sig0 = log_h0 + h0 / 2.0 if h0 < 1e-8 else math.log(-math.log1p(-h0))
        log_sig = np.logaddexp.accumulate(np.concatenate([[log_sig0], sig_panels]))

        # interpolate ln(sigma/h), which is smooth where ln h itself varies fast (ln h ~ -y^2/s^2 in v)
        vt = v[:t + 1]
        e, y, log_dedv = self._points(vt)
        log_h = self.log_ratio(e)
        log_dlnh = self._log_slope(e, y) + log_dedv                           # ln d(ln h)/dv
        with np.errstate(over="ignore"):
            dlog_sig = np.exp(log_h + log_dlnh - log_phi[:t + 1] - log_sig)
        self.v_lo, self.v_top = v_lo, v_top
        self.nodes_v, self.nodes_log_sigma, self.nodes_log_phi = vt, log_sig, log_phi[:t + 1]
        excess, dexcess = log_sig - log_h, dlog_sig - np.exp(log_dlnh)
        self.top_slope = float(dexcess[-1])
        self._spline = CubicHermiteSpline(vt, excess, dexcess)

    # ---- evaluation
    def grid_variable(self, z):
        z = np.asarray(z, dtype=np.float64)
        if self.kind == "narrow":
            e = np.where(z <= self.zstar, z, 2.0 * self.zstar - z)
            if self.singular:
                with np.errstate(divide="ignore"):
                    return e - np.log(np.abs(z - self.zstar))
            return e
        if self.kind == "wide":
            return np.where(z >= self.zstar, z, 2.0 * self.zstar - z)
        return z

    def log_sigma(self, z):
        """ln sigma(r(z)) for standardized, reflected z with |z| < 9 (inf at the vertex of s < 1)."""
        z = np.asarray(z, dtype=np.float64)
        v = self.grid_variable(z)
        out = self._spline(np.clip(v, self.v_lo, self.v_top))
        above = v > self.v_top                 # only for s < 1, within 1e-5 of the vertex:
        if np.any(above):                      # sigma ~ c/(z* - e) there, ln sigma linear in v
            out = np.where(above, out + self.top_slope * (np.where(above, v, self.v_top) - self.v_top), out)
        return out + self.log_ratio(z)

    def tail_prob(self, t: float) -> float:
        """P(T* > t) = phi(sigma^-1(t)): the chance that GPRS accepts after time t (~ candidate t)."""
        log_t = math.log(t)
        ls, lp = self.nodes_log_sigma, self.nodes_log_phi
        i = int(np.searchsorted(ls, log_t))
        if i == 0:
            return 1.0
        if i == ls.size:              # past the table: s < 1 near the vertex, phi ~ y^3 ~ sigma^-3;
            if self.singular:         # elsewhere phi(top) bounds it (t is beyond every candidate)
                return math.exp(lp[-1] - 3.0 * (log_t - ls[-1]))
            return math.exp(lp[-1])
        f = (log_t - ls[i - 1]) / (ls[i] - ls[i - 1])
        return math.exp(lp[i - 1] + f * (lp[i] - lp[i - 1]))


@functools.lru_cache(maxsize=256)
def _stretch(m: float, s: float) -> _Stretch:
    return _Stretch(m, s)


def _standardize(mu_q, sigma_q, mu_p, sigma_p):
    m = float((mu_q[0] - mu_p[0]) / sigma_p[0])
    s = float(sigma_q[0] / sigma_p[0])
    return m, s


def _check_1d(arrays):
    n = arrays[0].size
    if n != 1:
        raise ValueError(f"GPRS here handles 1-D Gaussians only (one dimension per block), got a block of "
                         f"{n} dimensions: code each dimension on its own, or use encode_gaussian (PFR)")


def gprs_log_stretch_at(x, mu_q, sigma_q, mu_p, sigma_p) -> np.ndarray:
    """ln sigma(r(x)) at points x (|x - mu_p| < 9 sigma_p), r = dQ/dP: the log of the GPRS acceptance
    threshold on the arrival time (inf at the maximum of r when sigma_q < sigma_p, and when Q == P)."""
    mu_q, sigma_q, mu_p, sigma_p = check_gaussians(mu_q, sigma_q, mu_p, sigma_p)
    _check_1d((mu_q,))
    m, s = _standardize(mu_q, sigma_q, mu_p, sigma_p)
    z = (np.asarray(x, dtype=np.float64) - mu_p[0]) / sigma_p[0]
    if not np.all(np.abs(z) < _E_EDGE):
        raise ValueError(f"x must lie within {_E_EDGE:g} sigma_p of mu_p (the span of the table)")
    if m == 0.0 and s == 1.0:
        return np.full(z.shape, np.inf)
    return _stretch(abs(m), s).log_sigma(z if m >= 0 else -z)


# --------------------------------------------------------------------------- encoder / decoder
def _check_max_candidates(max_candidates) -> int:
    return prng.check_int("max_candidates", max_candidates, 1, 1 << 64, "2^64]")


def gprs_simulate_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, max_candidates: int = DEFAULT_MAX_CANDIDATES,
                           max_tail_prob: float = DEFAULT_MAX_TAIL_PROB) -> GprsResult:
    """GPRS search over candidates 0, 1, ... of `seed` (see the module docstring)."""
    mu_q, sigma_q, mu_p, sigma_p = check_gaussians(mu_q, sigma_q, mu_p, sigma_p)
    _check_1d((mu_q,))
    seed = prng.check_seed(seed)
    max_candidates = _check_max_candidates(max_candidates)
    max_tail_prob = positive_finite("max_tail_prob", max_tail_prob, allow_zero=True)
    kl = kl_gaussian_bits(mu_q, sigma_q, mu_p, sigma_p)
    m, s = _standardize(mu_q, sigma_q, mu_p, sigma_p)
    log_cap = math.log(max_candidates)
    if kl * math.log(2.0) > log_cap:
        raise ValueError(f"block KL {kl:.1f} bits needs about 2^KL candidates, over max_candidates = "
                         f"{max_candidates}: split the block or raise the limit")
    if s < 1.0:
        d_inf = -math.log(s) + 0.5 * m * m / ((1.0 - s) * (1.0 + s))       # ln sup q/p
        if d_inf > log_cap:
            raise ValueError(f"GPRS expects exp(D_inf) = 2^{d_inf / math.log(2.0):.1f} candidates here "
                             f"(KL {kl:.1f} bits), over max_candidates = {max_candidates}: use PFR "
                             "(encode_gaussian) or raise the limit")
    st = None if (m == 0.0 and s == 1.0) else _stretch(abs(m), s)
    tail = 0.0 if st is None else st.tail_prob(float(max_candidates))
    if tail > max_tail_prob:
        raise ValueError(f"GPRS would run past max_candidates = {max_candidates} with probability {tail:.2g} "
                         f"(over max_tail_prob = {max_tail_prob:g}; KL {kl:.1f} bits, sigma_q/sigma_p = {s:.3g}): "
                         "use PFR (encode_gaussian) or raise the limit")

    if st is None:                                     # Q == P: r = 1, sigma(1) = inf, take the first
        z = prng.normals(seed, prng.STREAM_CANDIDATES, np.zeros(1, dtype=np.uint64), 1)[0]
        return GprsResult(0, mu_p + sigma_p * z, 1, True, 0.0, kl)
    flip = -1.0 if m < 0 else 1.0
    best, best_i, best_z, searched = math.inf, -1, None, 0
    for start, z, arrivals in candidate_chunks(seed, 1, max_candidates, 64, _MAX_CHUNK):
        searched = start + z.shape[0]
        zr = flip * z[:, 0]
        with np.errstate(divide="ignore"):
            log_t = np.log(arrivals)
        accept = log_t <= st.log_sigma(zr)
        if accept.any():
            j = int(np.argmax(accept))
            return GprsResult(start + j, mu_p + sigma_p * z[j], start + j + 1, True, tail, kl)
        score = log_t - st.log_ratio(zr)               # PFR's rule, for the fallback only
        j = int(np.argmin(score))
        if score[j] < best:
            best, best_i, best_z = float(score[j]), start + j, z[j]
    return GprsResult(best_i, mu_p + sigma_p * best_z, searched, False, tail, kl)


def gprs_encode_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, max_candidates: int = DEFAULT_MAX_CANDIDATES,
                         max_tail_prob: float = DEFAULT_MAX_TAIL_PROB):
    """(index, sample) for a 1-D Gaussian posterior: the index to send and the sample the decoder rebuilds.

    mu_p/sigma_p must be bit-identical on both sides. Code the index with index.py and
    margin_bits=INDEX_MARGIN_BITS.
    """
    r = gprs_simulate_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, max_candidates, max_tail_prob)
    return r.index, r.sample


def gprs_decode_gaussian(index, mu_p, sigma_p, seed) -> np.ndarray:
    """Candidate #index of `seed`: mu_p + sigma_p * z (the same candidates as PFR's decoder)."""
    mu_p, sigma_p = check_gaussians(mu_p=mu_p, sigma_p=sigma_p)
    _check_1d((mu_p,))
    return decode_gaussian(index, mu_p, sigma_p, seed)
