"""The video decode path: container -> per group (networks, integer-ARM wavefront, upsampling,
synthesis) -> uint8 frames, one group at a time. Imports nothing from fit/ or the encoders.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator

import numpy as np

from .. import bitstream
from ..image.decode import check_latent_section, latent_errors, load_networks
from ..entropy import coder, engine
from ..errors import InrcodecError
from ..limits import (DEFAULT_MAX_PIXELS, check_decode, image_decode_bytes, is_memory_error,
                      memory_errors_reported, out_of_memory)
from ..model import fixed_point
from ..model.coded import MODULE_NAMES
from .header import SECTIONS_PER_GROUP, VideoHeader
from .layout import VideoLayout

SECTION_NAMES = (*MODULE_NAMES, "latents")


@dataclass
class ParsedVideo:
    header: VideoHeader
    groups: list[dict[str, bytes]]     # per group: section name -> bytes
    header_bytes: int                  # container + header (everything but the sections)
    total_bytes: int


def parse(data: bytes) -> ParsedVideo:
    c = bitstream.unpack_as(data, bitstream.MODE_VIDEO, "video")
    header = VideoHeader.from_bytes(c.header)
    if len(c.sections) != SECTIONS_PER_GROUP * header.n_groups:
        raise InrcodecError("corrupt inrcodec file: wrong number of sections")
    groups = [dict(zip(SECTION_NAMES, c.sections[k:k + SECTIONS_PER_GROUP]))
              for k in range(0, len(c.sections), SECTIONS_PER_GROUP)]
    payload = sum(len(s) for s in c.sections)
    return ParsedVideo(header, groups, len(data) - payload, len(data))


def group_layout(header: VideoHeader, g: int) -> VideoLayout:
    return VideoLayout(header.arch, header.temporal_context, header.group_frames(g),
                       header.height, header.width)


def decode_memory(header: VideoHeader) -> int:
    """Estimated peak memory (bytes) of decoding the largest group (limits.py): the decoder
    holds one group at a time."""
    return image_decode_bytes(header.arch, header.height, header.width, header.channels,
                              frames=min(header.group_size, header.frames))


def check_size(header: VideoHeader, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> int:
    """Refuse, before allocating, a group of frames over max_pixels pixels in all or beyond the
    memory available; returns the memory estimate."""
    t = min(header.group_size, header.frames)
    need = decode_memory(header)
    what = (f"groups of {t} frames of {header.width}x{header.height}" if t > 1
            else f"frames of {header.width}x{header.height}")
    check_decode(what, t * header.width * header.height, need, max_pixels)
    return need


def decode_group_latents(header: VideoHeader, g: int, sections: dict[str, bytes]):
    """(layout, fixed-point networks, integer latent buffer) of group g."""
    layout = group_layout(header, g)
    check_latent_section(layout.n_latents, sections["latents"],
                         f"group {g} ({header.group_frames(g)} frames of {header.width}x{header.height})")
    try:
        networks, int_arm, _ = load_networks(header.group_view(g), sections,
                                             arm_inputs=len(layout.deltas))
    except InrcodecError as exc:
        raise InrcodecError(f"group {g}: {exc}") from None
    except Exception as exc:     # e.g. weights outside the exact fixed-point range
        if is_memory_error(exc):
            raise out_of_memory(f"decoding the networks of group {g}") from None
        raise InrcodecError(f"corrupt networks in group {g} ({exc})") from None
    with latent_errors(f" in group {g}", f"group {g}"):
        buffer = coder.decode_latents(layout, int_arm, sections["latents"])
    return layout, networks, buffer


def frames_from_latents(layout: VideoLayout, networks, buffer: np.ndarray) -> np.ndarray:
    """uint8 [T, H, W, C] frames of one group from its decoded latents (fixed point)."""
    return fixed_point.render(layout, networks, buffer.astype(np.float64),
                              compiled=engine.compiled_loaded())


def decode_groups(parsed: ParsedVideo,
                  max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Iterator[np.ndarray]:
    """Yields each group's uint8 frames [T, H, W, C] in order (memory: one group at a time).
    A group over max_pixels pixels (frames x height x width), or needing more memory than is
    available, is refused before the first group is decoded."""
    need = check_size(parsed.header, max_pixels)
    for g, sections in enumerate(parsed.groups):
        with memory_errors_reported(f"decoding group {g}", need):
            frames = frames_from_latents(*decode_group_latents(parsed.header, g, sections))
        yield frames


def decode(data: bytes, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Bytes of a video .inr file -> uint8 frames [N, H, W, C] (the whole clip in memory; use
    parse + decode_groups to stream long clips)."""
    return decode_parsed(parse(data), max_pixels)


def decode_parsed(parsed: ParsedVideo, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    h = parsed.header
    from ..limits import ensure_memory
    check_size(h, max_pixels)          # a group's decode first: the larger need, said first
    ensure_memory(h.frames * h.height * h.width * h.channels,
                  f"holding {h.frames} decoded frames of {h.width}x{h.height}")
    out = np.empty((h.frames, h.height, h.width, h.channels), np.uint8)
    done = 0
    for frames in decode_groups(parsed, max_pixels):      # one group at a time, into place
        out[done:done + len(frames)] = frames
        done += len(frames)
    return out


def info(parsed: ParsedVideo) -> dict:
    """What `inrcodec info --json` prints for a video file."""
    from ..complexity import macs_per_pixel
    from ..modes import common_info
    h = parsed.header
    fps = h.fps
    sections = {k: sum(len(g[k]) for g in parsed.groups) for k in SECTION_NAMES}
    return {**common_info("video", parsed, h.frames, sections),
            "frames": h.frames,
            "fps": float(fps), "fps_fraction": f"{fps.numerator}/{fps.denominator}",
            "duration_seconds": float(h.frames / fps),
            "group_size": h.group_size, "groups": h.n_groups,
            "temporal_context": h.temporal_context,
            "preset": h.preset or "custom",
            "architecture": h.arch.describe(),
            "kbps": 8.0 * parsed.total_bytes * float(fps) / h.frames / 1000.0,
            "group_bytes": [sum(len(s) for s in g.values()) for g in parsed.groups],
            "macs_per_pixel": macs_per_pixel(h.arch, h.height, h.width, h.channels,
                                             h.arch.arm_context + h.temporal_context)["total"]}
