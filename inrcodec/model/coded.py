"""The format's table of coded weights: which tensors each decoder module sends, in which
groups and order, and their shapes, from the architecture alone (docs/format.md). No torch: the
decoder reads it to decode the weights; model/params.py holds the float modules it matches."""
from __future__ import annotations

from functools import lru_cache

from ..arch import Architecture

MODULE_NAMES = ("arm", "upsampling", "synthesis")
BIAS_GROUP = "bias"


def coded_groups(arch: Architecture) -> dict[str, list[tuple[str, list[str]]]]:
    """The format's table of coded weight groups (docs/format.md): for each module, in
    MODULE_NAMES order, its groups in coding order as (group name, [tensor names]). Each weight
    tensor is a group of its own; the module's biases follow as one group, "bias". Written out
    from the architecture, not read off the modules: tests/test_format.py checks that the
    modules' parameters (grouped_parameters) are exactly these, in this order."""
    arm = len(arch.arm_hidden) + 1
    ifce = arch.ifce_levels
    pointwise = len(arch.synthesis_hidden) + 1
    residual = arch.synthesis_residual
    return {
        "arm": [*((f"layers.{k}.weight", [f"layers.{k}.weight"]) for k in range(arm)),
                *((f"ifce.{k}.weight", [f"ifce.{k}.weight"]) for k in range(ifce)),
                (BIAS_GROUP, [*(f"layers.{k}.bias" for k in range(arm)),
                              *(f"ifce.{k}.bias" for k in range(ifce))])],
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


def coded_shapes(arch: Architecture, channels: int,
                 arm_inputs: int | None = None) -> dict[tuple[str, str], tuple[int, ...]]:
    """{(module, tensor name): shape} of every coded tensor: what the float modules hold
    (tests/test_format.py checks them). arm_inputs: the ARM's context size where it is not
    arch.arm_inputs (video)."""
    arm = [arm_inputs or arch.arm_inputs, *arch.arm_hidden, 2]
    point = [arch.latent_planes, *arch.synthesis_hidden, channels]
    shapes = {}
    for k, (a, b) in enumerate(zip(arm[:-1], arm[1:])):
        shapes[("arm", f"layers.{k}.weight")] = (b, a)
        shapes[("arm", f"layers.{k}.bias")] = (b,)
    for k in range(arch.ifce_levels):
        shapes[("arm", f"ifce.{k}.weight")] = (arch.ifce_features, arch.ifce_sources(k))
        shapes[("arm", f"ifce.{k}.bias")] = (arch.ifce_features,)
    shapes[("upsampling", "half_kernel")] = (arch.upsampling_taps // 2,)
    for k, (a, b) in enumerate(zip(point[:-1], point[1:])):
        shapes[("synthesis", f"pointwise.{k}.weight")] = (b, a, 1, 1)
        shapes[("synthesis", f"pointwise.{k}.bias")] = (b,)
    for k in range(arch.synthesis_residual):
        shapes[("synthesis", f"residual.{k}.weight")] = (channels, channels, 3, 3)
        shapes[("synthesis", f"residual.{k}.bias")] = (channels,)
    return shapes
