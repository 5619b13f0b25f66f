"""Decoding a variational (`rec`) file: indices -> prior candidates -> weights -> render on CPU.

Imports nothing from fit.py: the decoder regenerates each block's sample from the shared seed
(inrcodec.rec.decode_gaussian, bit for bit), then evaluates the coordinate network once.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .. import bitstream
from ..errors import InrcodecError
from . import model
from .codec import RecHeader, read_indices, weights_from_indices

SECTION_NAMES = ("indices",)


@dataclass
class ParsedRec:
    header: RecHeader
    sections: dict[str, bytes]
    header_bytes: int
    total_bytes: int


def is_rec_data(data) -> bool:
    """Whether these bytes claim to be a rec-mode .inr (the full checks come with parsing)."""
    return bitstream.peek_mode(data) == bitstream.MODE_REC


def parse(data: bytes) -> ParsedRec:
    c = bitstream.unpack_as(data, bitstream.MODE_REC)
    header = RecHeader.from_bytes(c.header)
    if len(c.sections) != len(SECTION_NAMES):
        raise InrcodecError("corrupt inrcodec file: wrong number of sections")
    sections = dict(zip(SECTION_NAMES, c.sections))
    payload = sum(len(s) for s in c.sections)
    return ParsedRec(header, sections, len(data) - payload, len(data))


def decode_weights(parsed: ParsedRec) -> np.ndarray:
    """The flat float64 weight vector, exactly the samples the encoder chose."""
    h = parsed.header
    return weights_from_indices(h, read_indices(h, parsed.sections["indices"]))


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[H, W, C] float in [0, 1] -> uint8."""
    return (image.clamp(0, 1) * 255).round().to(torch.uint8).contiguous().numpy()


@torch.no_grad()
def render_weights(header: RecHeader, weights: np.ndarray) -> np.ndarray:
    w = torch.from_numpy(np.asarray(weights, dtype=np.float64)).to(torch.float32)
    return to_uint8(model.render(header.arch, w, header.height, header.width, header.channels))


def decode(data: bytes) -> np.ndarray:
    """Bytes of a rec-mode .inr file -> uint8 image [H, W, C]."""
    parsed = parse(data)
    return render_weights(parsed.header, decode_weights(parsed))


def info(data: bytes) -> dict:
    from ..bitstream import FORMAT_VERSION
    parsed = parse(data)
    h = parsed.header
    return {
        "format_version": FORMAT_VERSION,
        "mode": "rec",
        "width": h.width, "height": h.height, "channels": h.channels,
        "architecture": h.arch.describe(),
        "bytes": parsed.total_bytes,
        "bpp": 8.0 * parsed.total_bytes / (h.width * h.height),
        "sections": {"header+container": parsed.header_bytes,
                     **{k: len(v) for k, v in parsed.sections.items()}},
        "weights": h.n_weights,
        "blocks": h.n_blocks,
        "kl_bits_per_block": h.kl_bits,
        "seed": h.seed,
        "macs_per_pixel": model.macs_per_pixel(h.arch, h.channels),
    }
