"""The options every encoder takes, their defaults and their ranges, checked in one place.

The image, video and rec encoders, `encode-batch` and the command line all build one
EncodeOptions; its checks are the only ones. Numbers arrive as Python or numpy scalars (an
np.float32 lambda from a sweep, np.int64 iterations) and are stored as plain ints and floats.
Importable without torch: the command line's help text is built from these constants.
"""
from __future__ import annotations

import numbers
from dataclasses import dataclass, fields, replace

from .arch import DEFAULT_PRESET, PRESET_CHOICES
from .bitstream import MAX_SIDE
from .errors import InrcodecError

DEFAULT_LMBDA = 1e-3
LMBDA_MAX = 1e3                    # exclusive: MSE + lambda * bpp with lambda this large is all rate
DEFAULT_ITERATIONS = {"cpu": 2000, "cuda": 10000}
MAX_ITERATIONS = 10_000_000
MAX_TIME_BUDGET = 7 * 86400        # seconds
SEED_MAX = (1 << 64) - 1           # what torch.manual_seed and the rec format take
DEVICES = ("auto", "cpu", "cuda")


@dataclass(frozen=True)
class Range:
    """An option's range, stated once: the checks, the command line's types and its help all
    quote `text` (e.g. "(0, 1000)" open at both ends, "(0, 604800]", "0..10000000" integers)."""
    low: float
    high: float | None = None          # None: no upper bound
    low_open: bool = False
    high_open: bool = False
    integer: bool = False
    high_text: str | None = None       # how to write the upper bound (2^64-1)

    @property
    def text(self) -> str:
        number = (lambda v: str(int(v))) if self.integer else (lambda v: f"{v:g}")
        high = self.high_text or (number(self.high) if self.high is not None else None)
        low = number(self.low)
        if self.integer:
            return f"{low}..{high}" if high is not None else f">= {low}"
        if high is None:
            return f"> {low}" if self.low_open else f">= {low}"
        return f"{'(' if self.low_open else '['}{low}, {high}{')' if self.high_open else ']'}"

    def __contains__(self, value) -> bool:
        if self.integer and not _is_int(value):
            return False
        if not isinstance(value, numbers.Real) or isinstance(value, bool) or value != value:
            return False
        above = value > self.low if self.low_open else value >= self.low
        below = self.high is None or (value < self.high if self.high_open else value <= self.high)
        return above and below


LMBDA = Range(0, LMBDA_MAX, low_open=True, high_open=True)
ITERATIONS = Range(0, MAX_ITERATIONS, integer=True)
TIME_BUDGET = Range(0, MAX_TIME_BUDGET, low_open=True)
SEED = Range(0, SEED_MAX, integer=True, high_text="2^64-1")
# mode-specific options, stated here too so the command line can quote them without loading a mode
REC_BPP = Range(0, 64, low_open=True)              # rec mode's --bpp target
VIDEO_GROUP = Range(1, 64, integer=True)           # frames per group (video/layout.py MAX_GROUP)
VIDEO_FPS = Range(0, 1 << 20, low_open=True, high_text="2^20")   # numerator and denominator too
PICTURE_SIDE = Range(1, MAX_SIDE, integer=True)    # pixels a side, in every mode
WORKERS = Range(1, integer=True)                   # batch workers
GPUS_PER_TASK = Range(0)                           # a Ray task's share of GPUs


def plain_int(value):
    """An int for any integral number (numpy integers included); anything else unchanged, so the
    range check that follows reports it."""
    if isinstance(value, numbers.Integral) and not isinstance(value, bool):
        return int(value)
    return value


def plain_float(value):
    """A float for any real number (numpy scalars included); anything else unchanged."""
    if isinstance(value, numbers.Real) and not isinstance(value, bool):
        return float(value)
    return value


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check(name: str, value, allowed: Range):
    """value as a plain int or float inside `allowed`, or an InrcodecError that states the
    range."""
    value = plain_int(value) if allowed.integer else plain_float(value)
    if value not in allowed:
        kind = "an integer" if allowed.integer else "a number"
        raise InrcodecError(f"{name} must be {kind} in {allowed.text}, got {value!r}")
    return value


def check_lmbda(value) -> float:
    return check("lmbda", value, LMBDA)


def check_iterations(value, minimum: int = 0) -> int:
    return check("iterations", value, replace(ITERATIONS, low=minimum))


def check_time_budget(value) -> float:
    return check("time budget (seconds)", value, TIME_BUDGET)


def check_seed(value) -> int:
    return check("seed", value, SEED)


@dataclass(frozen=True)
class EncodeOptions:
    """What every mode's encoder takes. None means the default: DEFAULT_LMBDA (the rec mode may
    take a bpp target instead), and DEFAULT_ITERATIONS for the device unless a time budget is
    given. Mode-specific options (latent coding, group size, bpp target ...) stay with their
    encoder."""
    lmbda: float | None = None
    iterations: int | None = None
    time_budget: float | None = None
    seed: int = 0
    device: str = "auto"
    preset: str = DEFAULT_PRESET   # the grid codec's decoder size (arch.PRESET_CHOICES)

    def __post_init__(self):
        set_ = lambda name, value: object.__setattr__(self, name, value)  # noqa: E731 (frozen)
        if self.lmbda is not None:
            set_("lmbda", check_lmbda(self.lmbda))
        if self.iterations is not None:
            set_("iterations", check_iterations(self.iterations))
        if self.time_budget is not None:
            set_("time_budget", check_time_budget(self.time_budget))
            if self.iterations is not None:
                raise InrcodecError("give either iterations or a time budget, not both")
        set_("seed", check_seed(self.seed))
        if self.device not in DEVICES:
            raise InrcodecError(f"unknown device {self.device!r} ({', '.join(DEVICES)})")
        if self.preset not in PRESET_CHOICES:
            raise InrcodecError(f"unknown preset {self.preset!r} ({', '.join(PRESET_CHOICES)})")

    @property
    def lmbda_or_default(self) -> float:
        return DEFAULT_LMBDA if self.lmbda is None else self.lmbda

    def steps(self, device_type: str) -> int | None:
        """The step count a fit on this device runs: iterations, its default, or None when the
        fit runs on the time budget."""
        if self.time_budget is not None:
            return None
        return DEFAULT_ITERATIONS[device_type] if self.iterations is None else self.iterations

    @classmethod
    def build(cls, options: "EncodeOptions | None" = None, **kwargs) -> "EncodeOptions":
        """`options` with the keyword arguments given (not None) laid over it: what the encoders'
        keyword interface (lmbda=..., seed=...) turns into."""
        given = {k: v for k, v in kwargs.items() if v is not None}
        unknown = sorted(set(given) - OPTION_NAMES)
        if unknown:
            raise InrcodecError(f"unknown encode option(s): {', '.join(unknown)}")
        if options is None:
            return cls(**given)
        return replace(options, **given) if given else options


OPTION_NAMES = frozenset(f.name for f in fields(EncodeOptions))
