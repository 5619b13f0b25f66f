"""Memory the rec mode needs (limits.py's convention: peak resident bytes above the process's
baseline, measured with VmHWM on this code, one thread):

    rec decode, 1024x1024 RGB (default network): 482 B/px
    rec encode, 128x128 -> 256x256 RGB: ~116 MB + ~1670 B/px
"""
from __future__ import annotations

from ..bitstream import check_picture_size
from ..limits import DECODE_FIXED, OUTPUT_PER_PIXEL, MIB, check_encode
from .model import RecArch

_REC_FIT_FIXED, _REC_FIT_PER_PIXEL = 128 * MIB, 1800


def rec_decode_bytes(arch: RecArch, height: int, width: int, channels: int, n_weights: int) -> int:
    """Peak memory of decoding a rec-mode image: the positional encoding (built in float64), the
    MLP's activations, and per weight its coding order and sample."""
    enc = 2 + 4 * arch.n_freqs
    inputs = enc + len(arch.grid_levels)
    encoding = 32 + 20 * enc
    mlp = 4 * enc + 8 * len(arch.grid_levels) + 4 * inputs + 12 * arch.hidden + 8 * channels
    return int(DECODE_FIXED + height * width * (max(encoding, mlp) + OUTPUT_PER_PIXEL)
               + 64 * n_weights)


def rec_fit_bytes(height: int, width: int, channels: int = 3) -> int:
    return int(_REC_FIT_FIXED + _REC_FIT_PER_PIXEL * height * width)


def check_rec_encode(height: int, width: int, channels: int) -> int:
    check_picture_size(height, width)
    need = rec_fit_bytes(height, width, channels)
    check_encode(f"a {width}x{height} image in rec mode", need)
    return need
