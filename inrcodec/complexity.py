"""Decode cost in multiply-accumulates (MACs) per pixel, from an Architecture and an image size.

Counts exactly the multiplies the decoder performs (padding included), so tests can check it
against torch.utils.flop_counter on the float decoder. Biases, activations, clamps and the entropy
decoder itself are not MACs and are not counted. The per-pixel figure depends slightly on the size:
grids are ceil(H/2^l) and padded, so small or odd sizes cost a little more per pixel.
"""
from __future__ import annotations

from .arch import Architecture
from .model.latents import grid_sizes

DEFAULT_PROFILE_SIZE = (768, 512)   # width x height: Kodak


def macs(arch: Architecture, height: int, width: int, channels: int = 3,
         arm_inputs: int | None = None) -> dict[str, int]:
    """Total MACs by component for decoding one image (or one video frame, whose ARM sees
    arm_inputs = arm_context + previous-frame neighbours)."""
    sizes = grid_sizes(arch, height, width)      # side grids (arch.hyper_grids) included
    n_latents = sum(h * w for h, w in sizes)
    widths = [arm_inputs or arch.arm_inputs, *arch.arm_hidden, 2]
    arm = n_latents * sum(a * b for a, b in zip(widths[:-1], widths[1:]))
    for level in range(arch.ifce_levels):        # inter-grid features: one linear map a level
        h, w = sizes[level * arch.latent_channels]
        arm += arch.latent_channels * h * w * arch.ifce_sources(level) * arch.ifce_features

    taps, pad = arch.upsampling_taps, arch.upsampling_taps // 4
    c = arch.latent_channels
    levels = [sizes[k * c] for k in range(arch.n_levels)]
    upsampling = 0
    for lvl in range(arch.n_levels - 2, -1, -1):
        n = (arch.n_levels - 1 - lvl) * c          # channels being upsampled at this stage
        a, b = levels[lvl + 1]
        upsampling += n * (a + 2 * pad) * (2 * b) * (taps // 2)       # horizontal pass
        upsampling += n * (2 * a) * (2 * b) * (taps // 2)             # vertical pass
        # (polyphase: every output sample is taps/2 MACs; the horizontal pass runs on all
        #  a + 2*pad padded rows; test_complexity checks this against FlopCounterMode)
    pixels = height * width
    syn_widths = [arch.latent_planes, *arch.synthesis_hidden, channels]
    synthesis = pixels * sum(a * b for a, b in zip(syn_widths[:-1], syn_widths[1:]))
    synthesis += pixels * arch.synthesis_residual * 9 * channels * channels
    return {"arm": arm, "upsampling": upsampling, "synthesis": synthesis}


def macs_per_pixel(arch: Architecture, height: int, width: int, channels: int = 3,
                   arm_inputs: int | None = None) -> dict[str, float]:
    parts = macs(arch, height, width, channels, arm_inputs)
    pixels = height * width
    out = {k: v / pixels for k, v in parts.items()}
    out["total"] = sum(out.values())
    return out
