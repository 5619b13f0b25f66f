"""Relative-entropy coding (channel simulation): send a *sample* of a posterior Q for about
KL(Q||P) bits, given a prior P and a seed both sides share.

    (inrcodec/prng.py: the portable counter-based generator both sides draw candidates from)
    gaussians.py  diagonal Gaussian checks, KL in bits, splitting a vector into blocks
    pfr.py        Poisson functional representation: encode_gaussian / decode_gaussian
    gprs.py       greedy Poisson rejection sampling, 1-D: gprs_encode_gaussian / gprs_decode_gaussian
                  (imported on first use: its encoder needs scipy, which the decoder must not)
    index.py      entropy coding of the candidate index through constriction
    uq.py         universal (dithered) quantization: additive uniform noise, simulated exactly
"""
from .gaussians import kl_gaussian_bits, kl_gaussian_bits_per_dim, split_blocks
from .index import (decode_index, decode_indices, encode_index, encode_indices,
                    index_codelength_bits)
from .pfr import DEFAULT_MARGIN_BITS, PfrResult, decode_gaussian, encode_gaussian, simulate_gaussian
from ..prng import PRNG_VERSION
from .uq import dither, uq_decode, uq_encode

__all__ = [
    "PRNG_VERSION", "DEFAULT_MARGIN_BITS", "PfrResult",
    "encode_gaussian", "decode_gaussian", "simulate_gaussian",
    "gprs_encode_gaussian", "gprs_decode_gaussian",
    "encode_index", "decode_index", "encode_indices", "decode_indices", "index_codelength_bits",
    "kl_gaussian_bits", "kl_gaussian_bits_per_dim", "split_blocks",
    "dither", "uq_encode", "uq_decode",
]

_LAZY = {"gprs_encode_gaussian", "gprs_decode_gaussian"}


def __getattr__(name):
    """GPRS's stretch-function tables use scipy; load it only when someone asks for GPRS."""
    if name in _LAZY:
        from . import gprs
        return getattr(gprs, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
