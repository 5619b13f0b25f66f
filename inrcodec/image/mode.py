"""The image mode's entry in the mode table (modes.py)."""
from __future__ import annotations

from .. import bitstream
from ..modes import Geometry, Mode


class ImageMode(Mode):
    name = "image"
    byte = bitstream.MODE_IMAGE
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
        from ..complexity import macs_per_pixel
        h = parsed.header
        return {
            "format_version": bitstream.FORMAT_VERSION,
            "mode": "image",
            "width": h.width, "height": h.height, "channels": h.channels,
            "preset": h.preset or "custom",
            "latent_coding": h.latent_coding,
            "architecture": h.arch.describe(),
            "bytes": parsed.total_bytes,
            "bpp": 8.0 * parsed.total_bytes / (h.width * h.height),
            "sections": {"header+container": parsed.header_bytes,
                         **{k: len(v) for k, v in parsed.sections.items()}},
            "quantization_steps": {f"{m}.{g}": s for (m, g), (s, _) in h.quant.items()},
            "macs_per_pixel": macs_per_pixel(h.arch, h.height, h.width, h.channels)["total"],
        }

    def encoder(self):
        from .encoder import encode_with_report
        return encode_with_report


MODE = ImageMode()
