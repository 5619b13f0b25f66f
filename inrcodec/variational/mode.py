"""The rec mode's entry in the mode table (modes.py): a variational network whose weights are
sent by relative-entropy coding."""
from __future__ import annotations

from .. import bitstream
from ..modes import Geometry, Mode


class RecMode(Mode):
    name = "rec"
    byte = bitstream.MODE_REC
    kind = "image"

    def parse(self, data):
        from .decode import parse
        return parse(data)

    def geometry(self, parsed) -> Geometry:
        h = parsed.header
        return Geometry(h.width, h.height, h.channels)

    def check_size(self, parsed, max_pixels):
        from .decode import check_size
        return check_size(parsed.header, max_pixels)

    def decode(self, parsed, max_pixels):
        from .decode import decode_parsed
        return decode_parsed(parsed, max_pixels)

    def info(self, parsed) -> dict:
        from . import model
        h = parsed.header
        return {
            "format_version": bitstream.FORMAT_VERSION,
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

    def encoder(self):
        from .encoder import encode_with_report
        return encode_with_report


MODE = RecMode()
