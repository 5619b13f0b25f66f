"""How a decoder's float modules split into coded tensor groups (one place, used by both sides).

Each module ("arm", "upsampling", "synthesis") is sent as two groups, weights and biases, each with
its own quantization step and Laplace scale in the header.
"""
from __future__ import annotations

from torch import nn

from ..arch import Architecture
from .arm import Arm
from .synthesis import Synthesis
from .upsampling import Upsampling

MODULE_NAMES = ("arm", "upsampling", "synthesis")
GROUPS = ("weight", "bias")


def build_modules(arch: Architecture, channels: int,
                  arm_inputs: int | None = None) -> dict[str, nn.Module]:
    """arm_inputs: the ARM's context size when it differs from arch.arm_context (video)."""
    return {"arm": Arm(arch, arm_inputs), "upsampling": Upsampling(arch.upsampling_taps),
            "synthesis": Synthesis(arch, channels)}


def grouped_parameters(module: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """{'weight': [(name, p), ...], 'bias': [...]} in a fixed (registration) order."""
    groups = {"weight": [], "bias": []}
    for name, p in module.named_parameters():
        groups["bias" if name.endswith("bias") else "weight"].append((name, p))
    return groups
