"""The video mode's entry in the mode table (modes.py)."""
from __future__ import annotations

from .. import bitstream
from ..modes import Geometry, Mode


class VideoMode(Mode):
    name = "video"
    byte = bitstream.MODE_VIDEO
    kind = "video"

    def parse(self, data):
        from .decode import parse
        return parse(data)

    def geometry(self, parsed) -> Geometry:
        h = parsed.header
        return Geometry(h.width, h.height, h.channels, h.frames, h.fps)

    def check_size(self, parsed, max_pixels):
        from .decode import check_size
        return check_size(parsed.header, max_pixels)

    def decode(self, parsed, max_pixels):
        from .decode import decode_parsed
        return decode_parsed(parsed, max_pixels)

    def frames(self, parsed, max_pixels):
        from .decode import decode_groups
        return decode_groups(parsed, max_pixels)

    def info(self, parsed) -> dict:
        from ..complexity import macs_per_pixel
        from .decode import SECTION_NAMES
        h = parsed.header
        fps = h.fps
        return {
            "format_version": bitstream.FORMAT_VERSION,
            "mode": "video",
            "width": h.width, "height": h.height, "channels": h.channels,
            "frames": h.frames,
            "fps": float(fps), "fps_fraction": f"{fps.numerator}/{fps.denominator}",
            "duration_seconds": float(h.frames / fps),
            "group_size": h.group_size, "groups": h.n_groups,
            "temporal_context": h.temporal_context,
            "preset": h.preset or "custom",
            "architecture": h.arch.describe(),
            "bytes": parsed.total_bytes,
            "bpp": 8.0 * parsed.total_bytes / (h.frames * h.width * h.height),
            "kbps": 8.0 * parsed.total_bytes * float(fps) / h.frames / 1000.0,
            "sections": {"header+container": parsed.header_bytes,
                         **{k: sum(len(g[k]) for g in parsed.groups) for k in SECTION_NAMES}},
            "group_bytes": [sum(len(s) for s in g.values()) for g in parsed.groups],
            "macs_per_pixel": macs_per_pixel(h.arch, h.height, h.width, h.channels,
                                             h.arch.arm_context + h.temporal_context)["total"],
        }

    def encoder(self):
        from .encoder import encode_video_with_report
        return encode_video_with_report


MODE = VideoMode()
