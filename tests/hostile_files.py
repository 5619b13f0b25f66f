"""Valid .inr files built without fitting, for the hostile-input tests and scripts/fuzz.py.

A file's header may claim any size the format allows; these builders make files that really
decode at that size (every weight zero, the ARM sure of a zero latent), so a decoder cannot tell
them from an encoder's output: the smallest honest files for a large picture.
"""
from __future__ import annotations

import numpy as np

from inrcodec import bitstream
from inrcodec.arch import PRESETS, Architecture
from inrcodec.image.decode import int_arm_from
from inrcodec.entropy import coder
from inrcodec.entropy.dither import latent_dither
from inrcodec.image.header import ImageHeader
from inrcodec.model.latents import LatentLayout
from inrcodec.model.coded import coded_groups, coded_shapes


def _zero_networks(arch: Architecture, channels: int, arm_inputs: int | None = None):
    """(quant, ints): every weight 0 at step index 0 (step 1.0), except the ARM's last bias,
    which sets log-scale -4 (the smallest scale): each zero latent then costs ~1e-5 bits."""
    quant = {(name, g): (0, 0) for name, groups in coded_groups(arch).items() for g, _ in groups}
    ints = {key: np.zeros(shape, np.int64)
            for key, shape in coded_shapes(arch, channels, arm_inputs).items()}
    ints[("arm", f"layers.{len(arch.arm_hidden)}.bias")][1] = -4
    return quant, ints


def _sections(arch, channels, layout, dither=None, arm_inputs=None):
    quant, ints = _zero_networks(arch, channels, arm_inputs)
    sections = []
    for name, groups in coded_groups(arch).items():
        payload = [(np.concatenate([ints[(name, t)].ravel() for t in tensors]) if tensors
                    else np.zeros(0, np.int64), quant[(name, g)][1]) for g, tensors in groups]
        sections.append(coder.encode_weight_groups(payload))
    arm = int_arm_from(arch, quant, ints, dither is not None)
    sections.append(coder.encode_latents(layout, arm, np.zeros(layout.buffer_size, np.int64), dither))
    return quant, sections


def flat_image_file(height: int, width: int, channels: int = 3, arch: Architecture | None = None,
                    latent_coding: str = "round") -> bytes:
    """A valid image-mode file of a flat grey picture of the given size (a few hundred bytes per
    ten million pixels)."""
    arch = arch or PRESETS["medium"]
    layout = LatentLayout(arch, height, width)
    dither = latent_dither(layout.valid_mask()) if latent_coding == "uq" else None
    quant, sections = _sections(arch, channels, layout, dither)
    header = ImageHeader(height, width, channels, arch, None, quant, latent_coding)
    return bitstream.pack(bitstream.MODE_IMAGE, header.to_bytes(), sections)


def rec_file(height: int, width: int, channels: int = 3, n_blocks: int = 8, kl_bits: int = 12,
             seed: int = 1, rng_seed: int = 0) -> bytes:
    """A valid rec-mode file: random block indices under the default architecture."""
    from inrcodec.channel_sim import encode_indices
    from inrcodec.variational import model
    from inrcodec.variational.codec import RecHeader
    arch = model.RecArch()
    n_groups = len(model.groups(arch, height, width, channels))
    rng = np.random.default_rng(rng_seed)
    header = RecHeader(height, width, channels, arch, seed, kl_bits, n_blocks,
                       [int(c) for c in rng.integers(-40, 0, n_groups)])
    indices = [int(i) for i in rng.integers(0, 1 << kl_bits, n_blocks)]
    return bitstream.pack(bitstream.MODE_REC, header.to_bytes(), [encode_indices(indices, kl_bits)])


def flat_video_file(height: int, width: int, frames: int = 3, group: int = 2, channels: int = 3,
                    arch: Architecture | None = None, temporal_context: int = 25) -> bytes:
    """A valid video-mode file of flat grey frames."""
    from fractions import Fraction

    from inrcodec.video.header import VideoHeader
    from inrcodec.video.layout import VideoLayout
    arch = arch or PRESETS["low"]
    quants, sections = [], []
    for start in range(0, frames, group):
        layout = VideoLayout(arch, temporal_context, min(group, frames - start), height, width)
        quant, group_sections = _sections(arch, channels, layout, arm_inputs=len(layout.deltas))
        quants.append(quant)
        sections += group_sections
    header = VideoHeader(height, width, channels, frames, Fraction(25), group, arch, None,
                         temporal_context, quants)
    return bitstream.pack(bitstream.MODE_VIDEO, header.to_bytes(), sections)
