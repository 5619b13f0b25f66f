"""Diagonal Gaussian pairs (posterior Q, prior P): argument checks, KL in bits, and blocking.

Channel simulation costs about KL(Q||P) bits per block but its runtime grows like 2^KL, so a long
vector is cut into blocks of bounded KL and each block is simulated on its own.
"""
from __future__ import annotations

import math

import numpy as np

_LOG2E = 1.0 / math.log(2.0)


def _as_vector(name: str, x) -> np.ndarray:
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim == 0:
        arr = arr.reshape(1)
    if arr.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise ValueError(f"{name} contains non-finite values")
    return arr


def positive_finite(name: str, value, allow_zero: bool = False) -> float:
    """A float that is finite and > 0 (>= 0 with allow_zero), or a ValueError naming it."""
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, got {value!r}") from None
    if isinstance(value, (bool, np.bool_)) or not math.isfinite(v) or v < 0 or (v == 0 and not allow_zero):
        raise ValueError(f"{name} must be a {'non-negative' if allow_zero else 'positive'} finite number, "
                         f"got {value!r}")
    return v


def check_gaussians(mu_q=None, sigma_q=None, mu_p=None, sigma_p=None):
    """Float64 1-D copies of the given parameters; ValueError on anything ill-formed.

    Parameters passed as None are skipped (the decoder has no Q). Scalars count as length 1.
    """
    named = {"mu_q": mu_q, "sigma_q": sigma_q, "mu_p": mu_p, "sigma_p": sigma_p}
    out = {k: _as_vector(k, v) for k, v in named.items() if v is not None}
    lengths = {k: v.size for k, v in out.items()}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"mismatched lengths: {lengths}")
    if any(n == 0 for n in lengths.values()):
        raise ValueError("empty block: at least one dimension is needed")
    for k in ("sigma_q", "sigma_p"):
        if k in out and not np.all(out[k] > 0):
            raise ValueError(f"{k} must be positive, got min {out[k].min()!r}")
    return tuple(out[k] for k in named if named[k] is not None)


def kl_gaussian_bits_per_dim(mu_q, sigma_q, mu_p, sigma_p) -> np.ndarray:
    """KL(N(mu_q, sigma_q^2) || N(mu_p, sigma_p^2)) of each dimension, in bits."""
    mu_q, sigma_q, mu_p, sigma_p = check_gaussians(mu_q, sigma_q, mu_p, sigma_p)
    r = sigma_q / sigma_p
    d = (mu_q - mu_p) / sigma_p
    # ln(1/r) + (r^2 - 1)/2 + d^2/2: exactly 0 when Q == P
    nats = 0.5 * (r * r - 1.0 - 2.0 * np.log(r)) + 0.5 * d * d
    return np.maximum(nats, 0.0) * _LOG2E


def kl_gaussian_bits(mu_q, sigma_q, mu_p, sigma_p) -> float:
    """KL(Q||P) in bits for diagonal Gaussians (sum over dimensions)."""
    return float(kl_gaussian_bits_per_dim(mu_q, sigma_q, mu_p, sigma_p).sum())


def max_log_ratio(mu_q, sigma_q, mu_p, sigma_p) -> float:
    """sup_x ln q(x)/p(x) in nats (checked arrays in); inf unless every sigma_q < sigma_p
    (or Q == P in that dimension). Lets the Poisson search stop as soon as no later
    candidate can win."""
    same = (sigma_q == sigma_p) & (mu_q == mu_p)
    if not np.all((sigma_q < sigma_p) | same):
        return math.inf
    narrow = ~same
    sq, sp, d = sigma_q[narrow], sigma_p[narrow], (mu_q - mu_p)[narrow]
    return float(np.sum(np.log(sp / sq) + d * d / (2.0 * (sp * sp - sq * sq))))


def split_blocks(mu_q, sigma_q, mu_p, sigma_p, kl_bits_per_block: float = 16.0) -> list[np.ndarray]:
    """Greedy split of the dimensions into contiguous blocks of at most `kl_bits_per_block` KL.

    Walks the dimensions in order, closing a block when the next dimension would push its KL over
    the budget. A single dimension whose own KL exceeds the budget gets a block to itself (it
    cannot be split; simulating it costs ~2^its KL candidates, so callers should keep per-weight
    KL small). Blocks are contiguous runs on purpose: the decoder cannot compute KLs (it has no Q),
    so the partition must be sent, and runs cost only their lengths. Returns index arrays that
    cover 0..n-1 exactly once, in order.
    """
    kl_bits_per_block = positive_finite("kl_bits_per_block", kl_bits_per_block)
    kl = kl_gaussian_bits_per_dim(mu_q, sigma_q, mu_p, sigma_p)
    blocks, start, acc = [], 0, 0.0
    for i, k in enumerate(kl.tolist()):
        if i > start and acc + k > kl_bits_per_block:
            blocks.append(np.arange(start, i))
            start, acc = i, 0.0
        acc += k
    blocks.append(np.arange(start, kl.size))
    return blocks
