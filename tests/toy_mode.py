"""A toy coding mode for tests/test_modes.py: raw pixels in one section. It is what adding a mode
takes (one module, one table entry), with nothing else in the package edited."""
from __future__ import annotations

import numpy as np

from inrcodec import bitstream
from inrcodec.errors import InrcodecError
from inrcodec.modes import Geometry, Mode

TOY_BYTE = 200


def pack(image: np.ndarray) -> bytes:
    h, w, c = image.shape
    header = b"".join(bitstream.write_varint(v) for v in (w, h, c))
    return bitstream.pack(TOY_BYTE, header, [np.ascontiguousarray(image, np.uint8).tobytes()])


class Parsed:
    def __init__(self, width, height, channels, pixels, total_bytes):
        self.width, self.height, self.channels = width, height, channels
        self.pixels, self.total_bytes = pixels, total_bytes


class ToyMode(Mode):
    name = "toy"
    byte = TOY_BYTE
    kind = "image"

    def parse(self, data):
        c = bitstream.unpack_as(data, TOY_BYTE, "toy")
        r = bitstream.Reader(c.header, "toy header")
        w, h, ch = r.varint(), r.varint(), r.varint()
        if len(c.sections) != 1 or len(c.sections[0]) != w * h * ch:
            raise InrcodecError("corrupt toy file")
        return Parsed(w, h, ch, c.sections[0], len(data))

    def geometry(self, parsed):
        return Geometry(parsed.width, parsed.height, parsed.channels)

    def check_size(self, parsed, max_pixels):
        if max_pixels is not None and parsed.width * parsed.height > max_pixels:
            raise InrcodecError("toy picture over --max-pixels")
        return parsed.width * parsed.height * parsed.channels

    def decode(self, parsed, max_pixels):
        self.check_size(parsed, max_pixels)
        return np.frombuffer(parsed.pixels, np.uint8).reshape(parsed.height, parsed.width,
                                                              parsed.channels).copy()

    def info(self, parsed):
        return {"format_version": bitstream.FORMAT_VERSION, "mode": "toy",
                "width": parsed.width, "height": parsed.height, "channels": parsed.channels,
                "bytes": parsed.total_bytes,
                "bpp": 8.0 * parsed.total_bytes / (parsed.width * parsed.height),
                "sections": {"pixels": len(parsed.pixels)}, "macs_per_pixel": 0.0,
                "raw": True}


MODE = ToyMode()
