"""The coding modes of the .inr container, and the one table every dispatcher reads.

A file's mode byte (bitstream.py) picks its Mode here; `inrcodec.decode`, the command line's
decode / info / encode and decode-batch ask the Mode, never the byte. Adding a mode is one module
that subclasses Mode plus one entry in MODES (or `register` at run time); docs/design.md says how.

A Mode's methods import what they need when called, so reading this table loads no decoder.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Iterator

import numpy as np

from . import bitstream
from .errors import InrcodecError
from .limits import DEFAULT_MAX_PIXELS


@dataclass(frozen=True)
class Geometry:
    """What a file decodes to, from its header alone."""
    width: int
    height: int
    channels: int
    frames: int = 1                    # a picture is one frame
    fps: Fraction | None = None        # clips only


class Mode:
    """One coding mode. Subclasses set `name`, `byte` and `kind`, and implement the methods.

    kind "image": decodes to one picture uint8 [H, W, C], written as an image file;
    kind "video": decodes to frames uint8 [N, H, W, C], streamed group by group (`frames`)."""
    name: str = ""
    byte: int = -1
    kind: str = "image"

    def parse(self, data: bytes) -> Any:
        """The container and header checked (a corrupt file is an InrcodecError); no decoding."""
        raise NotImplementedError

    def geometry(self, parsed) -> Geometry:
        raise NotImplementedError

    def check_size(self, parsed, max_pixels: int | None) -> int:
        """Refuse, before anything large is allocated, a file over max_pixels pixels (per group of
        frames for a clip) or needing more memory than this process can get; returns the
        estimate in bytes."""
        raise NotImplementedError

    def decode(self, parsed, max_pixels: int | None) -> np.ndarray:
        """The whole picture (or clip), with check_size's refusals first."""
        raise NotImplementedError

    def frames(self, parsed, max_pixels: int | None) -> Iterator[np.ndarray]:
        """The decoded frames [T, H, W, C], a group at a time, in order (memory: one group)."""
        image = self.decode(parsed, max_pixels)
        yield image[None] if self.kind == "image" else image

    def info(self, parsed) -> dict:
        """What `inrcodec info --json` prints: at least format_version, mode, width, height,
        channels, bytes, bpp, sections (name -> bytes) and macs_per_pixel."""
        raise NotImplementedError

    def encoder(self):
        """The library encoder, `encode_with_report(source, options=None, **keywords) -> (bytes,
        report)`, or None for a mode that only decodes."""
        return None


# mode byte -> "module:attribute" of its Mode; loaded on first use
MODES: dict[int, str] = {
    bitstream.MODE_IMAGE: "inrcodec.image.mode:MODE",
    bitstream.MODE_VIDEO: "inrcodec.video.mode:MODE",
    bitstream.MODE_REC: "inrcodec.variational.mode:MODE",
}
_loaded: dict[int, Mode] = {}


def register(mode: Mode) -> None:
    """Add (or replace) a mode at run time: the table entry of a mode defined elsewhere."""
    _loaded[mode.byte] = mode
    MODES[mode.byte] = f"{type(mode).__module__}:<registered>"


def unregister(byte: int) -> None:
    _loaded.pop(byte, None)
    MODES.pop(byte, None)


def by_byte(byte: int) -> Mode:
    if byte not in MODES:
        raise InrcodecError(f"unknown coding mode {byte} (this build reads modes "
                            f"{', '.join(str(b) for b in sorted(MODES))})")
    if byte not in _loaded:
        module, attribute = MODES[byte].split(":")
        _loaded[byte] = getattr(importlib.import_module(module), attribute)
    return _loaded[byte]


def by_name(name: str) -> Mode:
    for byte in sorted(MODES):
        mode = by_byte(byte)
        if mode.name == name:
            return mode
    raise InrcodecError(f"unknown coding mode {name!r}")


def of(data) -> Mode:
    """The Mode of bytes that start like an .inr file (the container's full checks come with
    the mode's parse)."""
    byte = bitstream.peek_mode(data)
    if byte is None:
        bitstream.unpack(bytes(data) if isinstance(data, (bytes, bytearray, memoryview)) else b"")
        raise InrcodecError("not an inrcodec file")       # unpack has said why, in practice
    return by_byte(byte)


def parse(data) -> tuple[Mode, Any]:
    """(mode, parsed file) of any .inr file."""
    if not isinstance(data, (bytes, bytearray, memoryview)):
        raise InrcodecError("decode expects bytes")
    mode = of(data)
    return mode, mode.parse(bytes(data))


def decode(data, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Bytes of any .inr file -> uint8 pixels: [H, W, C] for a picture, [N, H, W, C] for a clip.

    Files whose header claims more than max_pixels pixels (default 8192x8192; for a clip, per
    group of frames; None: no limit), or more memory than this process can get (limits.py), are
    refused before decoding."""
    mode, parsed = parse(data)
    return mode.decode(parsed, max_pixels)


def info(data) -> dict:
    """What `inrcodec info --json` prints for any .inr file."""
    mode, parsed = parse(data)
    return mode.info(parsed)
