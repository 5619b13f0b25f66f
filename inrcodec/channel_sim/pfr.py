"""Channel simulation of a Gaussian block by the Poisson functional representation (PFR).

Encoder and decoder share a seed, hence an endless list of candidates x_1, x_2, ... drawn from the
prior P (prng.py) and, for the encoder only, Poisson arrival times T_1 < T_2 < ... (cumulative
Exp(1) sums). The encoder sends the index K = argmin_i T_i / w_i with w_i = q(x_i)/p(x_i); the
decoder regenerates x_K alone. Over seeds, x_K is an exact sample of Q (Li & El Gamal 2018; Theis
& Yosri 2022), and the search is deterministic given the seed, so the encoder needs no other
randomness.

Code length. Li & El Gamal bound the (1-based) index: E[log2 K] <= KL + log2(e)/e + 1
(= KL + 1.53 bits), KL = KL(Q||P) in bits. index.py turns that into a code of at most
KL + log2(KL + 1) + 4.2 bits on average (measured: about KL + 0.5 to KL + 2.5 for KL 2 to 16).

Stopping. Since T only grows, no candidate after i can beat the best so far once
T_i / sup(w) exceeds it; for Gaussians sup(w) is finite when every sigma_q < sigma_p, and then the
search stops early and the sample is exact. Otherwise (or if that comes later) it stops after
N = ceil(2^(KL + margin_bits)) candidates: the result is then Q only up to the small chance that
the untruncated winner lies beyond N (about the chance that log2 w(x) > KL + margin under Q). The
truncated index is never larger than the exact one, so the code-length bound still holds; the
margin costs encoder time only, not bits.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .. import prng
from .gaussians import check_gaussians, kl_gaussian_bits, max_log_ratio, positive_finite

DEFAULT_MARGIN_BITS = 4.0
MAX_CANDIDATES = 1 << 32          # ~2^32 x dim normals is hours of numpy: split the block instead
_CHUNK_ELEMENTS = 1 << 16         # largest candidates x dim chunk (cache-sized); results do not
                                  # depend on it: arrivals are summed sequentially across chunks


@dataclass
class PfrResult:
    index: int                    # 0-based candidate index sent to the decoder
    sample: np.ndarray            # mu_p + sigma_p * z_index, bit-identical to decode_gaussian's
    searched: int                 # candidates generated
    exact: bool                   # stopped because no later candidate could win (not by the budget)
    kl_bits: float


def candidate_budget(kl_bits: float, margin_bits: float) -> int:
    """N = ceil(2^(kl_bits + margin_bits)), at least 1."""
    return max(1, math.ceil(2.0 ** (kl_bits + margin_bits)))


def candidate_chunks(seed: int, dim: int, limit: int, first_chunk: int, max_chunk: int):
    """Yield (start, z [n, dim] candidate normals, arrival times [n]) for candidates start ...
    start + n - 1, in chunks doubling from first_chunk up to max_chunk, until `limit` candidates.
    The arrival times are sequential sums of Exp(1), so they do not depend on the chunking; the
    caller may stop at any chunk. Shared by the PFR and GPRS searches."""
    t_last, start, chunk = 0.0, 0, first_chunk
    while start < limit:
        rows = np.arange(start, min(limit, start + chunk), dtype=np.uint64)
        z = prng.normals(seed, prng.STREAM_CANDIDATES, rows, dim)
        arrivals = np.cumsum(np.concatenate(([t_last], prng.exponentials(seed, prng.STREAM_ARRIVALS, rows))))[1:]
        t_last = float(arrivals[-1])
        yield start, z, arrivals
        start, chunk = start + rows.size, min(2 * chunk, max_chunk)


def simulate_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, margin_bits: float = DEFAULT_MARGIN_BITS,
                      max_candidates: int = MAX_CANDIDATES) -> PfrResult:
    """PFR search over candidates 0, 1, ... of `seed` (see the module docstring)."""
    mu_q, sigma_q, mu_p, sigma_p = check_gaussians(mu_q, sigma_q, mu_p, sigma_p)
    seed = prng.check_seed(seed)
    margin_bits = positive_finite("margin_bits", margin_bits, allow_zero=True)
    kl = kl_gaussian_bits(mu_q, sigma_q, mu_p, sigma_p)
    budget = candidate_budget(kl, margin_bits)
    if budget > max_candidates:
        raise ValueError(f"block KL {kl:.1f} bits (+{margin_bits} margin) needs {budget} candidates, over "
                         f"the limit {max_candidates}: split it (split_blocks) or lower the margin")
    dim = mu_q.size
    log_w_max = max_log_ratio(mu_q, sigma_q, mu_p, sigma_p)
    # ln w(x) for x = mu_p + sigma_p z:  sum ln(sp/sq) - ((a + b z)^2 - z^2)/2
    a, b = (mu_p - mu_q) / sigma_q, sigma_p / sigma_q
    log_ratio = float(np.sum(np.log(sigma_p / sigma_q)))
    max_chunk = max(16, _CHUNK_ELEMENTS // dim)
    best, best_i, best_z, searched, exact = math.inf, -1, None, 0, False
    # small first chunks: early stops come early
    for start, z, arrivals in candidate_chunks(seed, dim, budget, min(256, max_chunk), max_chunk):
        az = a + b * z
        log_w = log_ratio - 0.5 * np.sum(az * az - z * z, axis=1)
        score = prng.log_portable(np.maximum(arrivals, 1e-300)) - log_w
        j = int(np.argmin(score))
        searched += z.shape[0]
        if score[j] < best:
            best, best_i, best_z = float(score[j]), start + j, z[j]
        if math.log(float(arrivals[-1])) - log_w_max >= best:
            exact = True
            break
    return PfrResult(best_i, mu_p + sigma_p * best_z, searched, exact, kl)


def encode_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, margin_bits: float = DEFAULT_MARGIN_BITS):
    """(index, sample): the candidate index to send and the sample the decoder will rebuild.

    mu_p/sigma_p must be bit-identical on both sides (e.g. decoded or quantized prior parameters).
    """
    r = simulate_gaussian(mu_q, sigma_q, mu_p, sigma_p, seed, margin_bits)
    return r.index, r.sample


def decode_gaussian(index, mu_p, sigma_p, seed) -> np.ndarray:
    """Candidate #index of `seed`: mu_p + sigma_p * z, O(dim) work whatever the index."""
    mu_p, sigma_p = check_gaussians(mu_p=mu_p, sigma_p=sigma_p)
    seed = prng.check_seed(seed)
    index = prng.check_int("index", index, 0, prng.MASK64, "2^64)")
    z = prng.normals(seed, prng.STREAM_CANDIDATES, np.array([index], dtype=np.uint64), mu_p.size)[0]
    return mu_p + sigma_p * z
