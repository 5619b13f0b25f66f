"""The image-mode header: size, channels, architecture, quantization steps and weight scales."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..arch import PRESET_IDS, PRESETS, Architecture
from ..bitstream import MAX_PIXELS, MAX_SIDE, Reader, write_varint
from ..entropy.laplace import WEIGHT_SCALES
from ..entropy.weights import N_STEPS
from ..errors import InrcodecError
from ..model.coded import group_names

LATENT_CODINGS = ("round", "uq")   # how latents become symbols: rounding, or universal quantization


@dataclass
class ImageHeader:
    height: int
    width: int
    channels: int
    arch: Architecture
    preset: str | None
    # (module, group) -> (step index, Laplace scale index); groups: model.params.group_names
    quant: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    latent_coding: str = "round"

    @property
    def dithered(self) -> bool:
        return self.latent_coding == "uq"

    def to_bytes(self) -> bytes:
        preset_code = PRESET_IDS[self.preset] + 1 if self.preset else 0
        if self.preset and PRESETS[self.preset] != self.arch:
            raise InrcodecError(f"internal: the architecture is not preset {self.preset!r}")
        ints = [self.height, self.width, self.channels, preset_code,
                LATENT_CODINGS.index(self.latent_coding)]
        # a preset's architecture is part of the format: only a custom one is spelled out
        # (13 bytes of `medium`, ~1 % of a 256x256 file at high lambda)
        ints += [] if self.preset else self.arch.to_fields()
        ints += quant_fields(self.arch, self.quant)
        return b"".join(write_varint(v) for v in ints)

    @classmethod
    def from_bytes(cls, data: bytes) -> "ImageHeader":
        r = Reader(data, "header")
        height, width, channels, preset_code = r.varint(), r.varint(), r.varint(), r.varint()
        if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE and height * width <= MAX_PIXELS):
            raise InrcodecError(f"corrupt header: implausible image size {width}x{height}")
        if channels not in (1, 3):
            raise InrcodecError(f"corrupt header: {channels} channels")
        if preset_code > len(PRESETS):
            raise InrcodecError("corrupt header: unknown preset")
        preset = list(PRESETS)[preset_code - 1] if preset_code else None
        coding = r.varint()
        if coding >= len(LATENT_CODINGS):
            raise InrcodecError("corrupt header: unknown latent coding")
        arch = PRESETS[preset] if preset else Architecture.from_fields(r.varint)
        quant = read_quant(arch, r.varint)
        if not r.at_end():
            raise InrcodecError("corrupt header: trailing bytes")
        return cls(height, width, channels, arch, preset, quant, LATENT_CODINGS[coding])


def quant_fields(arch: Architecture, quant: dict) -> list[int]:
    """The (step, scale) of every coded group, in coding order, as header integers."""
    return [v for m, groups in group_names(arch).items() for g in groups for v in quant[(m, g)]]


def read_quant(arch: Architecture, next_int) -> dict[tuple[str, str], tuple[int, int]]:
    """Inverse of quant_fields, with range checks."""
    quant = {}
    for m, groups in group_names(arch).items():
        for g in groups:
            step, scale = next_int(), next_int()
            if step >= N_STEPS or scale >= len(WEIGHT_SCALES):
                raise InrcodecError("corrupt header: quantization parameters out of range")
            quant[(m, g)] = (step, scale)
    return quant
