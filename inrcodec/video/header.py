"""The video-mode header: clip size, frame count and rate, group size, architecture, temporal
context, and per group the quantization steps and weight scales of its networks.

    height, width, channels, frames, fps numerator, fps denominator, group size, preset code,
    architecture fields (arch.py), temporal context, then for each group the (step, scale)
    varints of every coded weight group (header.quant_fields)

The container then holds 4 sections per group: ARM, upsampling, synthesis, latents.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from fractions import Fraction

from ..arch import PRESET_IDS, PRESETS, Architecture
from ..bitstream import Reader, write_varint
from ..errors import InrcodecError
from ..bitstream import MAX_PIXELS, MAX_SIDE
from ..image.header import quant_fields, read_quant
from ..model.coded import MODULE_NAMES
from .layout import MAX_GROUP, MAX_TEMPORAL_CONTEXT

MAX_FRAMES = 1 << 20
SECTIONS_PER_GROUP = len(MODULE_NAMES) + 1      # arm, upsampling, synthesis, latents


@dataclass
class GroupView:
    """What the image decode helpers need to rebuild one group's networks."""
    arch: Architecture
    channels: int
    quant: dict


@dataclass
class VideoHeader:
    height: int
    width: int
    channels: int
    frames: int
    fps: Fraction
    group_size: int
    arch: Architecture
    preset: str | None
    temporal_context: int
    # per group: (module, group) -> (step index, Laplace scale index)
    quant: list[dict] = field(default_factory=list)

    @property
    def n_groups(self) -> int:
        return -(-self.frames // self.group_size)

    def group_frames(self, g: int) -> int:
        return min(self.group_size, self.frames - g * self.group_size)

    def group_view(self, g: int) -> GroupView:
        return GroupView(self.arch, self.channels, self.quant[g])

    def to_bytes(self) -> bytes:
        if len(self.quant) != self.n_groups:
            raise InrcodecError("internal: one set of quantization steps per group expected")
        preset_code = PRESET_IDS[self.preset] + 1 if self.preset else 0
        ints = [self.height, self.width, self.channels, self.frames, self.fps.numerator,
                self.fps.denominator, self.group_size, preset_code, *self.arch.to_fields(),
                self.temporal_context]
        for q in self.quant:
            ints += quant_fields(self.arch, q)
        return b"".join(write_varint(v) for v in ints)

    @classmethod
    def from_bytes(cls, data: bytes) -> "VideoHeader":
        r = Reader(data, "video header")
        height, width, channels, frames = r.varint(), r.varint(), r.varint(), r.varint()
        if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE and height * width <= MAX_PIXELS):
            raise InrcodecError(f"corrupt header: implausible frame size {width}x{height}")
        if channels not in (1, 3):
            raise InrcodecError(f"corrupt header: {channels} channels")
        if not 1 <= frames <= MAX_FRAMES:
            raise InrcodecError(f"corrupt header: {frames} frames")
        num, den = r.varint(), r.varint()
        if not (1 <= num <= 1 << 20 and 1 <= den <= 1 << 20):
            raise InrcodecError("corrupt header: implausible frame rate")
        group_size = r.varint()
        if not 1 <= group_size <= MAX_GROUP or group_size * height * width > MAX_PIXELS:
            raise InrcodecError(f"corrupt header: group of {group_size} frames")
        preset_code = r.varint()
        if preset_code > len(PRESETS):
            raise InrcodecError("corrupt header: unknown preset")
        preset = list(PRESETS)[preset_code - 1] if preset_code else None
        arch = Architecture.from_fields(r.varint)
        temporal = r.varint()
        if temporal > MAX_TEMPORAL_CONTEXT:
            raise InrcodecError("corrupt header: temporal context out of range")
        header = cls(height, width, channels, frames, Fraction(num, den), group_size, arch,
                     preset, temporal)
        for _ in range(header.n_groups):
            header.quant.append(read_quant(arch, r.varint))
        if not r.at_end():
            raise InrcodecError("corrupt header: trailing bytes")
        return header
