"""The image mode's decode path (CPU): bitstream -> integer weights -> integer ARM -> latents ->
fixed-point upsampling and synthesis (model/fixed_point.py) -> uint8 image. Video decodes each
group of frames with the same pieces (load_networks, check_latent_section, latent_errors).

Imports neither torch nor anything from fit/: every decoded byte follows from the file in
integer (or exact float64-integer) arithmetic, the same on every machine.
"""
from __future__ import annotations

import math
from contextlib import contextmanager

import numpy as np

from .. import bitstream
from ..entropy import coder, engine
from ..entropy.int_arm import IntArm, IntLayer
from ..entropy.laplace import LATENT_MAX
from ..errors import InrcodecError
from ..limits import (DEFAULT_MAX_PIXELS, check_picture_decode, image_decode_bytes,
                      is_memory_error, memory_errors_reported, out_of_memory)
from ..model import fixed_point
from ..model.coded import BIAS_GROUP, MODULE_NAMES, coded_groups, coded_shapes
from ..model.latents import LatentLayout
from .header import ImageHeader

SECTION_NAMES = (*MODULE_NAMES, "latents")

# The fewest bits any latent can cost: the integer Laplace (entropy/laplace.py; probability
# precision 2^-24) leaves each of the other 2 * LATENT_MAX symbols at least 2^-24, so the
# likeliest symbol has probability at most 1 - 126 * 2^-24: >= 1.08e-5 bits per latent, however
# sure the ARM is. The coded words carry at least that information, less a few words of final
# state, and less what the trailing zero words the writer drops stood for: at most four
# (entropy/sections.py: MAX_DROPPED_ZERO_WORDS), which SECTION_SLACK_BITS allows for. In
# exchange a header claiming a huge grid over a latent section of a few bytes is refused before
# the decoder builds anything of that size (8192x8192: at once instead of after ~10 s).
_PRECISION_BITS = 24
MIN_BITS_PER_LATENT = -math.log2(1.0 - 2 * LATENT_MAX * 2.0 ** -_PRECISION_BITS)
SECTION_SLACK_BITS = 128


ParsedFile = bitstream.Parsed      # .header: ImageHeader


def parse(data: bytes) -> ParsedFile:
    return bitstream.parse_sections(data, bitstream.MODE_IMAGE, "image", ImageHeader.from_bytes,
                                    SECTION_NAMES)


def load_networks(header, sections: dict[str, bytes], arm_inputs: int | None = None,
                  dithered: bool = False, n_latents: int = 0):
    """Decode every module's integer weights: (fixed-point networks, integer ARM, the integers
    {(module, tensor name): array of its shape}).

    `header` needs .arch, .channels and .quant (video passes one group's view); arm_inputs is
    the ARM's context size when it is not arch.arm_inputs (video); dithered: the ARM will see
    dithered latents (--latent-coding uq); n_latents: how many latents the decode will have,
    which decides (engine.py) whether the weights too are decoded by the compiled loops."""
    shapes = coded_shapes(header.arch, header.channels, arm_inputs)
    compiled = engine.compiled_for("auto", n_latents)
    ints = {}
    for name, groups in coded_groups(header.arch).items():
        specs = [((sum(int(np.prod(shapes[(name, t)])) for t in tensors),),
                  header.quant[(name, g)][1]) for g, tensors in groups]
        try:
            decoded = coder.decode_weight_groups(sections[name], specs, compiled)
        except InrcodecError:
            raise
        except Exception as exc:  # constriction rejects garbage in its own ways
            if is_memory_error(exc):
                raise out_of_memory(f"decoding the {name} weights") from None
            raise InrcodecError(f"corrupt {name} section ({exc})") from None
        for (g, tensors), flat in zip(groups, decoded):
            offset = 0
            for t in tensors:
                n = int(np.prod(shapes[(name, t)]))
                ints[(name, t)] = flat[offset:offset + n].reshape(shapes[(name, t)])
                offset += n
    networks = fixed_point.FixedNetworks.from_coded(header.arch, ints, header.quant)
    return networks, int_arm_from(header.arch, header.quant, ints, dithered), ints


def int_arm_from(arch, quant: dict, int_groups, dithered: bool = False) -> IntArm:
    """The fixed-point ARM from its integer weights {("arm", name): ints} and their steps
    (quant[("arm", group)][0]: one per weight tensor, one for all biases); the encoder codes with
    it, the decoder decodes with it."""
    bs = quant[("arm", BIAS_GROUP)][0]
    layers = []
    for k in range(len(arch.arm_hidden) + 1):
        weight = f"layers.{k}.weight"
        layers.append(IntLayer(int_groups[("arm", weight)], int_groups[("arm", f"layers.{k}.bias")],
                               quant[("arm", weight)][0], bs))
    ifce = [IntLayer(int_groups[("arm", f"ifce.{k}.weight")], int_groups[("arm", f"ifce.{k}.bias")],
                     quant[("arm", f"ifce.{k}.weight")][0], bs) for k in range(arch.ifce_levels)]
    return IntArm(layers, fractional_inputs=dithered, ifce=ifce)


def check_latent_section(n_latents: int, section: bytes, what: str) -> None:
    """Refuse, before any work, a latent section too short to hold n_latents symbols at all."""
    need = n_latents * MIN_BITS_PER_LATENT
    if 8 * len(section) + SECTION_SLACK_BITS < need:
        raise InrcodecError(f"corrupt latent section: {len(section)} bytes cannot hold the "
                            f"{n_latents} latents of {what} (at least {math.ceil(need / 8)} bytes)")


def decode_latent_values(parsed: ParsedFile):
    """(layout, fixed-point networks, float64 latent buffer: the symbols, plus the dither if
    any)."""
    h = parsed.header
    layout = LatentLayout(h.arch, h.height, h.width)
    check_latent_section(layout.n_latents, parsed.sections["latents"], f"a {h.width}x{h.height} image")
    networks, int_arm, _ = load_networks(h, parsed.sections, dithered=h.dithered,
                                         n_latents=layout.n_latents)
    with latent_errors("", f"a {h.width}x{h.height} image"):
        values = coder.decode_latent_values(layout, int_arm, parsed.sections["latents"], h.dithered)
    return layout, networks, values


@contextmanager
def latent_errors(where: str, what: str):
    """Around a latent decode: the decoders' verdicts on the data are a corrupt section (`where`
    says which), an allocation failure is out of memory while decoding `what`, and anything
    else is not the file's fault and passes unchanged."""
    try:
        yield
    except InrcodecError as exc:
        raise InrcodecError(f"corrupt latent section{where} ({exc})") from None
    except Exception as exc:
        if is_memory_error(exc):
            raise out_of_memory(f"decoding the latents of {what}") from None
        raise


def decode_latent_buffer(parsed: ParsedFile):
    """(layout, fixed-point networks, int64 symbols, float64 latent values: symbols + dither, if
    any)."""
    layout, networks, values = decode_latent_values(parsed)
    return layout, networks, coder.symbols_of(values, parsed.header.dithered), values


def decode_memory(header: ImageHeader) -> int:
    """Estimated peak memory (bytes) of decoding this image (limits.py)."""
    return image_decode_bytes(header.arch, header.height, header.width, header.channels,
                              header.dithered)


def check_size(header: ImageHeader, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> int:
    """Refuse, before allocating, an image over max_pixels or beyond the memory available;
    returns the memory estimate."""
    return check_picture_decode(header.width, header.height, decode_memory(header), max_pixels)


def decode(data: bytes, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    """Bytes of an image-mode .inr file -> uint8 image [H, W, C] (C = 1 or 3).

    Files whose header claims more than max_pixels pixels (default 8192x8192; None: no limit),
    or more memory than this process can get (limits.py), are refused before decoding."""
    return decode_parsed(parse(data), max_pixels)


def decode_parsed(parsed: ParsedFile, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> np.ndarray:
    need = check_size(parsed.header, max_pixels)
    h = parsed.header
    with memory_errors_reported(f"decoding a {h.width}x{h.height} image", need):
        layout, networks, values = decode_latent_values(parsed)
        return fixed_point.render(layout, networks, values, compiled=engine.compiled_loaded())


def info(parsed: ParsedFile) -> dict:
    """What `inrcodec info --json` prints for an image file."""
    from ..complexity import macs_per_pixel
    from ..modes import common_info
    h = parsed.header
    return {**common_info("image", parsed, 1, {k: len(v) for k, v in parsed.sections.items()}),
            "preset": h.preset or "custom",
            "latent_coding": h.latent_coding,
            "architecture": h.arch.describe(),
            "quantization_steps": {f"{m}.{g}": s for (m, g), (s, _) in h.quant.items()},
            "macs_per_pixel": macs_per_pixel(h.arch, h.height, h.width, h.channels)["total"]}
