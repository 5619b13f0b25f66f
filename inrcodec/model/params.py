"""How a decoder's float modules split into coded tensor groups (one place, used by both sides).

Each weight tensor of a module ("arm", "upsampling", "synthesis") is a group of its own, with its own
quantization step and Laplace scale in the header: layers differ in magnitude and sensitivity (a
3x3 residual conv needs a finer step than the first 1x1 layer), and on the training photos this
lowered the RD cost on every point measured (README, *Fitting*). A module's biases, few and cheap,
share one group: their own steps would cost more header than they save.
"""
from __future__ import annotations

from functools import lru_cache

from torch import nn

from ..arch import Architecture
from .arm import Arm
from .synthesis import Synthesis
from .upsampling import Upsampling

MODULE_NAMES = ("arm", "upsampling", "synthesis")
BIAS_GROUP = "bias"


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


def coded_groups(arch: Architecture) -> dict[str, list[tuple[str, list[str]]]]:
    """The format's table of coded weight groups (docs/format.md): for each module, in
    MODULE_NAMES order, its groups in coding order as (group name, [tensor names]). Each weight
    tensor is a group of its own; the module's biases follow as one group, "bias". Written out
    from the architecture, not read off the modules: tests/test_format.py checks that the
    modules' parameters (grouped_parameters) are exactly these, in this order."""
    arm = len(arch.arm_hidden) + 1
    pointwise = len(arch.synthesis_hidden) + 1
    residual = arch.synthesis_residual
    return {
        "arm": [*((f"layers.{k}.weight", [f"layers.{k}.weight"]) for k in range(arm)),
                (BIAS_GROUP, [f"layers.{k}.bias" for k in range(arm)])],
        "upsampling": [("half_kernel", ["half_kernel"]), (BIAS_GROUP, [])],
        "synthesis": [*((f"pointwise.{k}.weight", [f"pointwise.{k}.weight"]) for k in range(pointwise)),
                      *((f"residual.{k}.weight", [f"residual.{k}.weight"]) for k in range(residual)),
                      (BIAS_GROUP, [*(f"pointwise.{k}.bias" for k in range(pointwise)),
                                    *(f"residual.{k}.bias" for k in range(residual))])],
    }


def group_names(arch: Architecture) -> dict[str, list[str]]:
    """Every module's coded groups, in coding order: what a header stores steps for (the
    format's table, coded_groups)."""
    return {m: list(names) for m, names in _group_names(arch)}


@lru_cache(maxsize=64)
def _group_names(arch: Architecture) -> tuple[tuple[str, tuple[str, ...]], ...]:
    # cached: a video header reads one set of steps per group of frames (up to 2^18 groups)
    return tuple((m, tuple(g for g, _ in groups)) for m, groups in coded_groups(arch).items())
