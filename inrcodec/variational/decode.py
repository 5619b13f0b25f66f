"""Decoding a variational (`rec`) file: indices -> prior candidates -> weights -> render on CPU.

Imports nothing from fit.py: the decoder regenerates each block's sample from the shared seed
(inrcodec.channel_sim.decode_gaussian, bit for bit), then evaluates the coordinate network once.
"""
from __future__ import annotations

import math

import numpy as np
import torch

from .. import bitstream
from ..errors import InrcodecError
from ..limits import (DEFAULT_MAX_PIXELS, check_picture_decode, is_memory_error,
                      memory_errors_reported, out_of_memory)
from . import model
from .codec import RecHeader, weights_from_indices
from .estimates import rec_decode_bytes

SECTION_NAMES = ("indices",)


ParsedRec = bitstream.Parsed       # .header: RecHeader


def is_rec_data(data) -> bool:
    """Whether these bytes claim to be a rec-mode .inr (the full checks come with parsing)."""
    return bitstream.peek_mode(data) == bitstream.MODE_REC


def parse(data: bytes) -> ParsedRec:
    return bitstream.parse_sections(data, bitstream.MODE_REC, "rec", RecHeader.from_bytes,
                                    SECTION_NAMES)


# Every index starts with its bucket (channel_sim/index.py), uniform over 0..B with B = ceil(kl + margin)
# >= 5: at least log2(B + 1) bits, less the range coder's 2^-24 probability quantization. The coded
# words carry at least that information, less a few words of final state and what the trailing
# zero words dropped on writing stood for (_SLACK_BITS): those stand for a run of index-0 blocks
# at the end (bucket 0 is the first symbol), which 128 bits' worth (~50 blocks) never is in a fit.
_SLACK_BITS = 128


def min_index_bits(kl_bits: int) -> float:
    """The fewest bits one block index can take under the index code of channel_sim/index.py."""
    from ..channel_sim.index import max_bucket
    return -math.log2(1.0 / (max_bucket(kl_bits) + 1) + 2.0 ** -20)


def read_indices(header: RecHeader, section: bytes) -> list[int]:
    """The n_blocks indices, with the image decoder's checks: a section too short to hold them is
    refused before decoding, and one with data after the last index is corrupt."""
    import constriction
    from ..channel_sim.index import decode_index
    need = header.n_blocks * min_index_bits(header.kl_bits)
    if 8 * len(section) + _SLACK_BITS < need:
        raise InrcodecError(f"corrupt index section: {len(section)} bytes cannot hold "
                            f"{header.n_blocks} block indices (at least {math.ceil(need / 8)} bytes)")
    try:
        padded = section + b"\0" * ((-len(section)) % 4)
        dec = constriction.stream.queue.RangeDecoder(np.frombuffer(padded, "<u4").copy())
        indices = [decode_index(dec, header.kl_bits) for _ in range(header.n_blocks)]
    except Exception as exc:  # constriction rejects garbage in its own ways
        if is_memory_error(exc):
            raise out_of_memory("decoding the block indices") from None
        raise InrcodecError(f"corrupt index section ({exc})") from None
    if not dec.maybe_exhausted():
        raise InrcodecError("corrupt index section (data left over after the last index)")
    return indices


def decode_weights(parsed: ParsedRec) -> np.ndarray:
    """The flat float64 weight vector, exactly the samples the encoder chose."""
    h = parsed.header
    return weights_from_indices(h, read_indices(h, parsed.sections["indices"]))


def decode_memory(header: RecHeader) -> int:
    """Estimated peak memory (bytes) of decoding this file (limits.py)."""
    return rec_decode_bytes(header.arch, header.height, header.width, header.channels,
                            header.n_weights)


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[H, W, C] float in [0, 1] -> uint8."""
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).contiguous().numpy()


@torch.no_grad()
def render_weights(header: RecHeader, weights: np.ndarray) -> np.ndarray:
    w = torch.from_numpy(np.asarray(weights, dtype=np.float64)).to(torch.float32)
    return to_uint8(model.render(header.arch, w, header.height, header.width, header.channels))


def check_size(header: RecHeader, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> int:
    """Refuse, before allocating, an image over max_pixels or beyond the memory available;
    returns the memory estimate."""
    return check_picture_decode(header.width, header.height, decode_memory(header), max_pixels)


def decode(data: bytes, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Bytes of a rec-mode .inr file -> uint8 image [H, W, C]; refused before any work if the
    image is over max_pixels or needs more memory than is available (as inrcodec.decode)."""
    return decode_parsed(parse(data), max_pixels)


def decode_parsed(parsed: ParsedRec, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    h = parsed.header
    need = check_size(h, max_pixels)
    with memory_errors_reported(f"decoding a {h.width}x{h.height} image", need):
        return render_weights(h, decode_weights(parsed))


def info(parsed: ParsedRec) -> dict:
    """What `inrcodec info --json` prints for a rec-mode file."""
    from ..modes import common_info
    h = parsed.header
    return {**common_info("rec", parsed, 1, {k: len(v) for k, v in parsed.sections.items()}),
            "architecture": h.arch.describe(),
            "weights": h.n_weights,
            "blocks": h.n_blocks,
            "kl_bits_per_block": h.kl_bits,
            "seed": h.seed,
            "macs_per_pixel": model.macs_per_pixel(h.arch, h.channels)}
