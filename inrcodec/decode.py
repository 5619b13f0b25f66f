"""The CPU decode path: bitstream -> integer ARM -> latents -> float synthesis -> uint8 image.

Imports nothing from fit/: decoding needs only the container, the entropy layer and the model's
float modules (with weights rebuilt from their integers).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from . import bitstream
from .entropy import coder
from .entropy.dither import latent_dither
from .entropy.int_arm import IntArm, IntLayer
from .entropy.weights import dequantize
from .errors import InrcodecError
from .header import ImageHeader
from .model.latents import LatentLayout
from .model.params import BIAS_GROUP, MODULE_NAMES, build_modules, grouped_parameters
from .model.render import render

SECTION_NAMES = (*MODULE_NAMES, "latents")


@dataclass
class ParsedFile:
    header: ImageHeader
    sections: dict[str, bytes]
    header_bytes: int
    total_bytes: int


def parse(data: bytes) -> ParsedFile:
    c = bitstream.unpack_as(data, bitstream.MODE_IMAGE)
    header = ImageHeader.from_bytes(c.header)
    if len(c.sections) != len(SECTION_NAMES):
        raise InrcodecError("corrupt inrcodec file: wrong number of sections")
    sections = dict(zip(SECTION_NAMES, c.sections))
    payload = sum(len(s) for s in c.sections)
    return ParsedFile(header, sections, len(data) - payload, len(data))


def load_networks(header: ImageHeader, sections: dict[str, bytes], arm_inputs: int | None = None,
                  dithered: bool = False):
    """Decode every module's integer weights; return (float modules, integer ARM).

    `header` needs .arch, .channels and .quant (video passes one group's view); arm_inputs is
    the ARM's context size when it is not arch.arm_context (video); dithered: the ARM will see
    dithered latents (--latent-coding uq)."""
    modules = build_modules(header.arch, header.channels, arm_inputs)
    int_groups = {}
    for name in MODULE_NAMES:
        groups = grouped_parameters(modules[name])
        specs = [((sum(p.numel() for _, p in params),), header.quant[(name, g)][1])
                 for g, params in groups.items()]
        try:
            decoded = coder.decode_weight_groups(sections[name], specs)
        except InrcodecError:
            raise
        except Exception as exc:  # constriction rejects garbage in its own ways
            raise InrcodecError(f"corrupt {name} section ({exc})") from None
        for (g, params), flat in zip(groups.items(), decoded):
            step = header.quant[(name, g)][0]
            offset = 0
            for pname, p in params:
                ints = flat[offset:offset + p.numel()].reshape(p.shape)
                offset += p.numel()
                int_groups[(name, pname)] = ints
                with torch.no_grad():
                    p.copy_(torch.from_numpy(dequantize(ints, step)).to(p.dtype))
    return modules, int_arm_from(modules["arm"], header.quant, int_groups, dithered)


def int_arm_from(arm, quant: dict, int_groups, dithered: bool = False) -> IntArm:
    """The fixed-point ARM from its integer weights {("arm", name): ints} and their steps
    (quant[("arm", group)][0]: one per weight tensor, one for all biases); the encoder codes with
    it, the decoder decodes with it."""
    bs = quant[("arm", BIAS_GROUP)][0]
    layers = []
    for k in range(len(arm.layers)):
        weight = f"layers.{k}.weight"
        layers.append(IntLayer(int_groups[("arm", weight)], int_groups[("arm", f"layers.{k}.bias")],
                               quant[("arm", weight)][0], bs))
    return IntArm(layers, fractional_inputs=dithered)


def latent_dither_for(header: ImageHeader, layout: LatentLayout) -> np.ndarray | None:
    """The shared dither when the file uses universal quantization of its latents, else None."""
    return latent_dither(layout.valid_mask()) if header.dithered else None


def decode_latent_buffer(parsed: ParsedFile):
    """(layout, float modules, int64 symbols, float64 latent values: symbols + dither, if any)."""
    h = parsed.header
    layout = LatentLayout(h.arch, h.height, h.width)
    modules, int_arm = load_networks(h, parsed.sections, dithered=h.dithered)
    dither = latent_dither_for(h, layout)
    try:
        symbols = coder.decode_latents(layout, int_arm, parsed.sections["latents"], dither)
    except Exception as exc:
        raise InrcodecError(f"corrupt latent section ({exc})") from None
    values = symbols.astype(np.float64) if dither is None else symbols + dither
    return layout, modules, symbols, values


def to_uint8(image: torch.Tensor) -> np.ndarray:
    """[1, C, H, W] float in [0, 1] -> [H, W, C] uint8."""
    x = (image[0].clamp(0, 1) * 255).round().to(torch.uint8)
    return x.permute(1, 2, 0).contiguous().numpy()


@torch.no_grad()
def decode(data: bytes) -> np.ndarray:
    """Bytes of an .inr file -> uint8 image [H, W, C] (C = 1 or 3)."""
    if bitstream.peek_mode(data) == bitstream.MODE_REC:
        from .variational.decode import decode as decode_rec
        return decode_rec(data)
    parsed = parse(data)
    layout, modules, _, values = decode_latent_buffer(parsed)
    image = render(layout, modules["upsampling"], modules["synthesis"],
                   torch.from_numpy(values).to(torch.float32))
    return to_uint8(image)
