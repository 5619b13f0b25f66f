"""How a decoder's float modules split into coded tensor groups (one place, used by both sides).

Each weight tensor of a module ("arm", "upsampling", "synthesis") is a group of its own, with its own
quantization step and Laplace scale in the header: layers differ in magnitude and sensitivity (a
3x3 residual conv needs a finer step than the first 1x1 layer), and on the training photos this
lowered the RD cost on every point measured (README, *Fitting*). A module's biases, few and cheap,
share one group: their own steps would cost more header than they save.
"""
from __future__ import annotations

from torch import nn

from ..arch import Architecture
from .arm import Arm
from .coded import BIAS_GROUP, MODULE_NAMES, coded_groups, group_names  # noqa: F401  (re-exported)
from .synthesis import Synthesis
from .upsampling import Upsampling


def build_modules(arch: Architecture, channels: int,
                  arm_inputs: int | None = None) -> dict[str, nn.Module]:
    """arm_inputs: the ARM's context size when it differs from arch.arm_inputs (video)."""
    return {"arm": Arm(arch, arm_inputs), "upsampling": Upsampling(arch.upsampling_taps),
            "synthesis": Synthesis(arch, channels)}


def grouped_parameters(module: nn.Module) -> dict[str, list[tuple[str, nn.Parameter]]]:
    """{weight tensor name: [(name, p)], ..., 'bias': [(name, p), ...]} in a fixed (registration)
    order; the bias group is always last, and may be empty."""
    groups, biases = {}, []
    for name, p in module.named_parameters():
        if name.endswith("bias"):
            biases.append((name, p))
        else:
            groups[name] = [(name, p)]
    groups[BIAS_GROUP] = biases
    return groups
