"""Architecture: the one object that describes a decoder.

It travels everywhere (fit, header, decode, complexity) so a new preset is one entry in PRESETS.
The header stores the fields themselves, not just a preset name, so any file decodes even if the
preset table changes later.
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, replace

from .errors import InrcodecError


@dataclass(frozen=True)
class Architecture:
    n_levels: int = 7                    # latent grids: full resolution, 1/2, ... 1/2^(n_levels-1)
    latent_channels: int = 1             # channels per grid
    arm_context: int = 12                # causal neighbours the ARM sees (nearest first)
    arm_hidden: tuple[int, ...] = (8,)   # ARM hidden widths (ReLU)
    ifce_levels: int = 0                 # finest levels whose ARM also sees inter-grid features:
    ifce_features: int = 0               # this many, a per-level linear map of the co-located
                                         # latents of every coarser grid (side grids included)
    hyper_grids: int = 0                 # side grids at 1/16, 1/32, ...: coded, read only by
                                         # the inter-grid features, never rendered
    upsampling_taps: int = 8             # symmetric separable x2 kernel, learned, bicubic init
    synthesis_hidden: tuple[int, ...] = (12,)  # per-pixel 1x1 layers (ReLU)
    synthesis_residual: int = 2          # 3x3 residual convs at output width

    def __post_init__(self):
        checks = [
            (1 <= self.n_levels <= 12, "n_levels must be in 1..12"),
            (1 <= self.latent_channels <= 4, "latent_channels must be in 1..4"),
            (1 <= self.arm_context <= 24, "arm_context must be in 1..24"),
            (0 <= self.ifce_levels <= min(4, self.n_levels), "ifce_levels must be in 0..4"),
            (0 <= self.ifce_features <= 8, "ifce_features must be in 0..8"),
            ((self.ifce_levels == 0) == (self.ifce_features == 0),
             "ifce_levels and ifce_features are both zero or both set"),
            (0 <= self.hyper_grids <= 3, "hyper_grids must be in 0..3"),
            (self.hyper_grids == 0 or self.ifce_levels > 0,
             "hyper_grids are read only by inter-grid features (ifce_levels > 0)"),
            (self.ifce_levels == 0 or self.hyper_grids > 0 or self.ifce_levels < self.n_levels,
             "every inter-grid feature level needs a coarser grid"),
            (len(self.arm_hidden) <= 4 and all(1 <= w <= 64 for w in self.arm_hidden),
             "arm_hidden: at most 4 layers of width 1..64"),
            (self.upsampling_taps in (4, 8), "upsampling_taps must be 4 or 8"),
            (len(self.synthesis_hidden) <= 4 and all(1 <= w <= 96 for w in self.synthesis_hidden),
             "synthesis_hidden: at most 4 layers of width 1..96"),
            (0 <= self.synthesis_residual <= 4, "synthesis_residual must be in 0..4"),
        ]
        for ok, message in checks:
            if not ok:
                raise InrcodecError(f"invalid architecture: {message}")

    @property
    def arm_inputs(self) -> int:
        """The ARM's input width for an image: spatial context, then the inter-grid features."""
        return self.arm_context + self.ifce_features

    def ifce_sources(self, level: int) -> int:
        """Coarser grids (one channel) whose co-located latents feed `level`'s features."""
        return self.n_levels - 1 - level + self.hyper_grids

    @property
    def latent_planes(self) -> int:
        """Channels entering the synthesis: every grid upsampled to full size."""
        return self.n_levels * self.latent_channels

    def for_video(self) -> "Architecture":
        """This architecture for a group of frames: video latents read previous frames instead
        of inter-grid features (video/layout.py), so no feature maps and no side grids."""
        return replace(self, ifce_levels=0, ifce_features=0, hyper_grids=0)

    def to_fields(self) -> list[int]:
        """Flat integer list for the header (see bitstream.py)."""
        return [self.n_levels, self.latent_channels, self.arm_context,
                len(self.arm_hidden), *self.arm_hidden, self.ifce_levels, self.ifce_features,
                self.hyper_grids, self.upsampling_taps,
                len(self.synthesis_hidden), *self.synthesis_hidden, self.synthesis_residual]

    @classmethod
    def from_fields(cls, next_int) -> "Architecture":
        """Inverse of to_fields; `next_int()` yields the header's integers one by one."""
        n_levels, channels, context = next_int(), next_int(), next_int()
        n_arm = next_int()
        if n_arm > 4:
            raise InrcodecError("corrupt header: too many ARM layers")
        arm_hidden = tuple(next_int() for _ in range(n_arm))
        ifce_levels, ifce_features, hyper_grids = next_int(), next_int(), next_int()
        taps = next_int()
        n_syn = next_int()
        if n_syn > 4:
            raise InrcodecError("corrupt header: too many synthesis layers")
        syn_hidden = tuple(next_int() for _ in range(n_syn))
        return cls(n_levels, channels, context, arm_hidden, ifce_levels, ifce_features,
                   hyper_grids, taps, syn_hidden, next_int())

    def describe(self) -> dict:
        d = asdict(self)
        d["arm_hidden"] = list(self.arm_hidden)
        d["synthesis_hidden"] = list(self.synthesis_hidden)
        return d


# Presets: ordered from cheapest to richest decoder. MACs/pixel are computed by complexity.py and
# reported by `inrcodec profile`; the comments are what each buys, from the RD benchmark.
PRESETS: dict[str, Architecture] = {
    "lowest": Architecture(n_levels=7, arm_context=8, arm_hidden=(8,),
                           synthesis_hidden=(8,), synthesis_residual=1),
    "low": Architecture(n_levels=7, arm_context=12, arm_hidden=(8,),
                        synthesis_hidden=(12,), synthesis_residual=2),
    "medium": Architecture(n_levels=7, arm_context=16, arm_hidden=(16, 16),
                           synthesis_hidden=(24,), synthesis_residual=2),
    "high": Architecture(n_levels=7, arm_context=24, arm_hidden=(24, 24),
                         synthesis_hidden=(40,), synthesis_residual=2),
}
# Issue 32's item 3 (format 7): `medium` with 12 neighbours + 4 inter-grid features on levels 0-2
# and 3 side grids. Not a preset yet: at 256x256 its 108 extra parameters (~88 bytes) eat the
# latents' gain (training crops, real files: -2.3 % at lambda 0.004/0.001, +1.1 % at 0.016/0.00025,
# docs/tuning.md); on one 768x512 file it saved 1.9 % (one fit, not paired). Under SOAP + latents x6
# it measured -1.4 % (under the seeds' spread). Tests and the golden file use it.
MEDIUM_IFCE = Architecture(n_levels=7, arm_context=12, arm_hidden=(16, 16), ifce_levels=3,
                           ifce_features=4, hyper_grids=3, synthesis_hidden=(24,),
                           synthesis_residual=2)
# An image header stores a preset's code instead of its architecture fields (format 8), so the
# presets' definitions are part of the format: changing one means a new FORMAT_VERSION
PRESET_IDS = {name: i for i, name in enumerate(PRESETS)}

# "auto" (the default) picks `medium` where its bigger networks pay for themselves: their extra
# bytes are about the same at any size and lambda (~400 bytes), while what they save grows with
# the latents' bytes, so with the pixels and as lambda falls. On the training photos at 256x256
# under the SOAP fit, `low` against `medium` changed the RD cost by +7.2 % at lambda 0.00025,
# +3.9 % at 0.001, -2.2 % at 0.004 and -8.5 % at 0.016 (docs/tuning.md, "Presets and the auto
# rule"): break-even near lambda 0.0024 by interpolation in log lambda. The size where they break
# even grows like sqrt(lambda): the networks' extra cost is lambda * bytes / pixels, and what
# `medium` saves a pixel follows the RD cost, which grows about like sqrt(lambda) here.
AUTO_PRESET = "auto"
DEFAULT_PRESET = AUTO_PRESET
AUTO_BREAK_EVEN_PIXELS = 256 * 256     # ... at this lambda
AUTO_BREAK_EVEN_LMBDA = 0.0024
PRESET_CHOICES = (AUTO_PRESET, *PRESETS)


def auto_medium_from_pixels(lmbda: float) -> float:
    """The picture size (pixels) from which "auto" picks `medium` at this lambda."""
    return AUTO_BREAK_EVEN_PIXELS * (lmbda / AUTO_BREAK_EVEN_LMBDA) ** 0.5


def resolve_preset(name: str, n_pixels: int, lmbda: float) -> str:
    """The concrete preset for `name` ("auto" or a preset) on an image of n_pixels coded at
    lmbda."""
    if name == AUTO_PRESET:
        return "medium" if n_pixels >= auto_medium_from_pixels(lmbda) else "low"
    preset(name)
    return name


def preset(name: str) -> Architecture:
    if name not in PRESETS:
        raise InrcodecError(f"unknown preset {name!r} (choose from {', '.join(PRESET_CHOICES)})")
    return PRESETS[name]
