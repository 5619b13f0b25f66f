"""The .inr container: magic, format version, mode, a length-prefixed header, sections, CRC32.

    b"INR" | version u8 | mode u8 | varint len(header) | header | varint n | n x varint len |
    sections ... | CRC32 (u32 little-endian, over everything before it)

The container knows nothing about models; each mode (modes.py: image, video, rec) parses its own
header and checks its own section count. All sizes are LEB128 varints so a small image's header
costs a few dozen bytes. docs/format.md describes the whole format.
"""
from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass
from typing import Any, Callable

from .errors import InrcodecError

MAGIC = b"INR"
FORMAT_VERSION = 9      # 2: image header records the latent coding (rounding or dithered)
                        # 3: a quantization step and scale per weight tensor
                        # 4: architecture field arm_parents (coarser-grid ARM context)
                        # 5: upsampling and synthesis decoded in fixed point (model/fixed_point.py)
                        # 6: symbol probabilities from integer Laplace tables (entropy/laplace.py)
                        # 7: inter-grid features and side grids (arch ifce_*, hyper_grids)
                        #    replace arm_parents
                        # 8: an image header names a preset's architecture by its code alone
                        # 9: latent tiles of 256x256 (were 64x192): contexts cut less
# The container's mode byte; modes.py maps each to the code that reads it.
MODE_IMAGE = 0
MODE_VIDEO = 1          # a clip: one header, then a set of sections per group of frames
MODE_REC = 2            # variational: weights sent by relative-entropy coding (inrcodec/variational)
MODE_NAMES = {MODE_IMAGE: "image", MODE_VIDEO: "video", MODE_REC: "rec"}   # for messages
MAX_SECTIONS = 1 << 20  # a bound on what a container may list (each mode checks its exact count)
MAX_HEADER_BYTES = 1 << 26   # a video's header holds steps per group: ~20 bytes x 2^20 groups at most
MAX_FILE_BYTES = 1 << 40     # what a reader accepts a container to claim (memory is checked too)

# Pictures the format holds, in every mode: sides up to 32768 pixels, 2^27 pixels (~134 Mpx) in
# all; anything larger is refused from the header, before allocating.
MAX_SIDE = 1 << 15
MAX_PIXELS = 1 << 27


def check_picture_size(height: int, width: int) -> None:
    """Refuse a picture the format cannot hold (an encoder's first check)."""
    if height * width > MAX_PIXELS or max(height, width) > MAX_SIDE:
        raise InrcodecError(f"image of {width}x{height} is too large (the format holds at most "
                            f"{MAX_SIDE} pixels a side and {MAX_PIXELS} in all)")


def write_varint(value: int) -> bytes:
    if value < 0:
        raise ValueError("varints are unsigned")
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


class Reader:
    """Bounds-checked reads: any overrun is a truncated/corrupt file, never an IndexError."""

    def __init__(self, data: bytes, what: str = "bitstream"):
        self.data, self.pos, self.what = data, 0, what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise InrcodecError(f"truncated or corrupt {self.what}")
        chunk = self.data[self.pos:self.pos + n]
        self.pos += n
        return chunk

    def varint(self) -> int:
        value, shift = 0, 0
        while True:
            byte = self.take(1)[0]
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise InrcodecError(f"corrupt {self.what}: oversized integer")

    def at_end(self) -> bool:
        return self.pos == len(self.data)


@dataclass
class Container:
    version: int
    mode: int
    header: bytes
    sections: list[bytes]


def pack(mode: int, header: bytes, sections: list[bytes]) -> bytes:
    body = bytearray(MAGIC)
    body += bytes([FORMAT_VERSION, mode])
    body += write_varint(len(header)) + header
    body += write_varint(len(sections))
    for s in sections:
        body += write_varint(len(s))
    for s in sections:
        body += s
    return bytes(body) + struct.pack("<I", zlib.crc32(body))


def unpack(data: bytes) -> Container:
    if len(data) < len(MAGIC) or data[:len(MAGIC)] != MAGIC:
        raise InrcodecError("not an inrcodec file (bad magic bytes)")
    if len(data) < len(MAGIC) + 2 + 4:
        raise InrcodecError("truncated inrcodec file")
    version = data[len(MAGIC)]
    if version != FORMAT_VERSION:
        raise InrcodecError(f"unsupported format version {version} (this build reads {FORMAT_VERSION})")
    body, crc = data[:-4], struct.unpack("<I", data[-4:])[0]
    if zlib.crc32(body) != crc:
        raise InrcodecError("corrupt or truncated inrcodec file (CRC mismatch)")
    r = Reader(body)
    r.take(len(MAGIC) + 1)
    mode = r.take(1)[0]
    header = r.take(r.varint())
    n = r.varint()
    if n > MAX_SECTIONS or n > len(body):
        raise InrcodecError("corrupt inrcodec file: too many sections")
    lengths = [r.varint() for _ in range(n)]
    sections = [r.take(length) for length in lengths]
    if not r.at_end():
        raise InrcodecError("corrupt inrcodec file: trailing bytes")
    return Container(version, mode, header, sections)


class _Short(Exception):
    """The bytes end before the length fields do."""


def container_length(prefix: bytes) -> int | None:
    """The total length of the .inr file that starts with `prefix`, from the container's own
    length fields (so a reader knows where the file ends before reading it all), or None when
    `prefix` ends before those fields do. Bad magic bytes or version are errors at once."""
    n = len(MAGIC)
    if prefix[:n] != MAGIC[:len(prefix)]:
        raise InrcodecError("not an inrcodec file (bad magic bytes)")
    if len(prefix) > n and prefix[n] != FORMAT_VERSION:
        raise InrcodecError(f"unsupported format version {prefix[n]} (this build reads {FORMAT_VERSION})")
    pos = n + 2

    def varint() -> int:
        nonlocal pos
        value, shift = 0, 0
        while True:
            if pos >= len(prefix):
                raise _Short
            byte = prefix[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if not byte & 0x80:
                return value
            shift += 7
            if shift > 63:
                raise InrcodecError("corrupt inrcodec file: oversized integer")

    try:
        header = varint()
        if header > MAX_HEADER_BYTES:
            raise InrcodecError("corrupt inrcodec file: oversized header")
        pos += header
        count = varint()
        if count > MAX_SECTIONS:
            raise InrcodecError("corrupt inrcodec file: too many sections")
        total = sum(varint() for _ in range(count))
    except _Short:
        return None
    return pos + total + 4


def peek_mode(data) -> int | None:
    """The mode byte of bytes that start like an .inr file, else None: enough to pick the decoder
    (unpack does the real checks)."""
    n = len(MAGIC)
    if isinstance(data, (bytes, bytearray, memoryview)) and len(data) > n + 1 \
            and bytes(data[:n]) == MAGIC:
        return data[n + 1]
    return None


def unpack_as(data, mode: int, mode_name: str) -> Container:
    """unpack() for one mode's parser: bytes only, and a file of another mode is a clear error."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrcodecError("decode expects bytes")
    c = unpack(bytes(data))
    if c.mode != mode:
        found = MODE_NAMES.get(c.mode, f"another ({c.mode})")
        raise InrcodecError(f"this .inr file is in {found} mode, not {mode_name}: decode it with "
                            "`inrcodec decode` (Python: inrcodec.decode)")
    return c


@dataclass
class Parsed:
    """A file of a mode with one fixed set of named sections: its header, its sections."""
    header: Any
    sections: dict[str, bytes]
    header_bytes: int      # container + header: everything but the sections
    total_bytes: int


def parse_sections(data, mode: int, mode_name: str, read_header: Callable[[bytes], Any],
                   section_names: tuple[str, ...]) -> Parsed:
    """unpack_as, the mode's header read by read_header(bytes), and exactly len(section_names)
    sections, named."""
    c = unpack_as(data, mode, mode_name)
    header = read_header(c.header)
    if len(c.sections) != len(section_names):
        raise InrcodecError("corrupt inrcodec file: wrong number of sections")
    payload = sum(len(s) for s in c.sections)
    return Parsed(header, dict(zip(section_names, c.sections)), len(data) - payload, len(data))
