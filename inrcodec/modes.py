"""The coding modes of the .inr container, and the one table every dispatcher reads.

A file's mode byte (bitstream.py) picks its Mode here; `inrcodec.decode`, the command line's
decode / info and decode-batch ask the Mode, never the byte. Adding a mode is one module (its
decoder, or a Mode subclass) plus one entry in MODES (or `register` at run time); docs/design.md
says how. A Mode's methods import what they need when called, so this table loads no decoder.
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


class DecoderModuleMode(Mode):
    """A Mode backed by a decode module (a module path) that has parse(data),
    check_size(header, max_pixels), decode_parsed(parsed, max_pixels) and info(parsed) (and
    decode_groups(parsed, max_pixels) for a clip), whose parsed file has .header (width, height,
    channels; frames and fps for a clip): how the built-in modes are declared in MODES."""

    def __init__(self, name: str, byte: int, kind: str, decoder: str, encoder: str | None = None):
        self.name, self.byte, self.kind = name, byte, kind
        self.decoder, self.encoder_path = decoder, encoder

    def _module(self):
        return importlib.import_module(self.decoder)

    def parse(self, data: bytes):
        return self._module().parse(data)

    def geometry(self, parsed) -> Geometry:
        h = parsed.header
        return Geometry(h.width, h.height, h.channels, getattr(h, "frames", 1),
                        getattr(h, "fps", None))

    def check_size(self, parsed, max_pixels: int | None) -> int:
        return self._module().check_size(parsed.header, max_pixels)

    def decode(self, parsed, max_pixels: int | None) -> np.ndarray:
        return self._module().decode_parsed(parsed, max_pixels)

    def frames(self, parsed, max_pixels: int | None) -> Iterator[np.ndarray]:
        if self.kind == "video":
            return self._module().decode_groups(parsed, max_pixels)
        return super().frames(parsed, max_pixels)

    def info(self, parsed) -> dict:
        return self._module().info(parsed)

    def encoder(self):
        if self.encoder_path is None:
            return None
        module, attribute = self.encoder_path.split(":")
        return getattr(importlib.import_module(module), attribute)


def common_info(name: str, parsed, frames: int, section_bytes: dict[str, int]) -> dict:
    """The keys every mode's info has: for a parsed file with .header (width, height, channels),
    .total_bytes and .header_bytes."""
    h = parsed.header
    return {"format_version": bitstream.FORMAT_VERSION, "mode": name,
            "width": h.width, "height": h.height, "channels": h.channels,
            "bytes": parsed.total_bytes,
            "bpp": 8.0 * parsed.total_bytes / (frames * h.width * h.height),
            "sections": {"header+container": parsed.header_bytes, **section_bytes}}


# The table: mode byte -> Mode. Decoders and encoders load when a method is first called.
MODES: dict[int, Mode] = {
    bitstream.MODE_IMAGE: DecoderModuleMode("image", bitstream.MODE_IMAGE, "image",
                                            "inrcodec.image.decode",
                                            "inrcodec.image.encoder:encode_with_report"),
    bitstream.MODE_VIDEO: DecoderModuleMode("video", bitstream.MODE_VIDEO, "video",
                                            "inrcodec.video.decode",
                                            "inrcodec.video.encoder:encode_video_with_report"),
    bitstream.MODE_REC: DecoderModuleMode("rec", bitstream.MODE_REC, "image",
                                          "inrcodec.variational.decode",
                                          "inrcodec.variational.encoder:encode_with_report"),
}


def register(mode: Mode) -> None:
    """Add (or replace) a mode at run time: a table entry for a mode defined elsewhere."""
    MODES[mode.byte] = mode


def unregister(byte: int) -> None:
    MODES.pop(byte, None)


def by_byte(byte: int) -> Mode:
    if byte not in MODES:
        raise InrcodecError(f"unknown coding mode {byte} (this build reads modes "
                            f"{', '.join(str(b) for b in sorted(MODES))})")
    return MODES[byte]


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
