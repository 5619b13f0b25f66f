"""Which latent decoder runs: the compiled loop (entropy/compiled.py, numba) or the numpy +
constriction reference (entropy/coder.py). Both give the same values on every section a writer
produces (tests/test_compiled.py); this module is the one place that chooses between them.

    uses_compiled(n_latents)   what an "auto" decode of that many latents runs
    load_compiled()            load the loop now (a long-lived process that decodes many files)
    compiled_loaded()          whether it is loaded: the fixed-point render then uses its loops too
    compiled_for(engine, n)    the compiled module a decode should use, or None for the reference
    set_loaded(flag)           make "auto" behave as in a process that has (not) loaded the loop
                               (tests and long fuzz runs; the loop itself stays in memory)

The choice is per process: loading numba and the loop costs ~0.7 s, more than it saves on a small
picture, so "auto" decodes small pictures with the reference until something has loaded the loop.
"""
from __future__ import annotations

import warnings

import numpy as np

# Below this many latents a fresh process decodes faster in numpy + constriction than it can
# import numba and load the compiled loops (0.47-0.53 s in benchmarks/results/decode_speed.md).
# Since format 6 the numpy decoder builds every latent's integer Laplace table (~4.5 us a
# latent in a fresh process's first decode there, all presets; the compiled loop ~0.1-0.2 us):
# a break-even of ~110-120 k latents (~90 k pixels, 300x300), where it was ~2.4 M latents when
# constriction computed the Laplace itself and torch rendered the picture.
COMPILED_MIN_LATENTS = 120_000
ENGINES = ("auto", "compiled", "reference")

_loaded = False
_unavailable: str | None = None     # why entropy/compiled.py could not be loaded here


def _compiled_module():
    """entropy/compiled.py, or None where numba cannot load it here (e.g. no writable cache
    directory for its compiled code): decoding then falls back to the reference, with a warning."""
    global _unavailable
    if _unavailable is not None:
        return None
    try:
        from . import compiled
        from ..model import fixed_point_compiled  # noqa: F401  (the render's loops, same numba)
    except Exception as exc:
        _unavailable = f"{type(exc).__name__}: {exc}"
        warnings.warn(f"the compiled latent decoder cannot be loaded here "
                      f"({_unavailable}); decoding with numpy instead (same images, "
                      f"slower)", RuntimeWarning, stacklevel=3)
        return None
    return compiled


def load_compiled() -> bool:
    """Load the compiled decoder now (a long-lived process that will decode many pictures):
    every later "auto" decode then runs compiled, whatever its size. False where it cannot be
    loaded (see _compiled_module)."""
    global _loaded
    if _loaded:
        return True
    compiled = _compiled_module()
    if compiled is None:
        return False
    compiled.decode_laplace(np.zeros(0, np.uint32), np.zeros(0, np.int64), np.zeros(0, np.int64),
                            np.zeros(0, np.int64))
    compiled.decode_image(np.zeros(0, np.uint32), np.zeros(1), False, np.zeros(1), np.zeros(1),
                          np.array([1, 1], np.int64), np.zeros((0, 0, 0)), np.zeros((0, 0)),
                          np.zeros(0, np.int64), 1, 1, 0, *[np.zeros(0, np.int64)] * 6,
                          np.zeros((0, 0), np.int64), np.zeros((0, 0), np.int64),
                          np.zeros(0, np.int64))
    compiled.decode_ordered(np.zeros(0, np.uint32), np.zeros(1), np.zeros(0, np.int64),
                            np.zeros(1, np.int64), np.zeros(0, np.int64), False, np.zeros(1),
                            np.zeros(1), np.array([1, 1], np.int64))
    from ..model import fixed_point_compiled as fixed
    taps, one = np.zeros((2, 4)), np.zeros((1, 1, 1))
    fixed.up2_rows(one, taps, 1.0, 1.0, 1)
    fixed.up2_cols(one, taps, 1.0, 1.0, np.zeros((1, 1, 1)))
    fixed.synthesis_bytes(one, np.zeros(1), np.ones(1), np.zeros(1), np.array([1, 1], np.int64),
                          np.zeros((1, 1, 1, 3, 3)), np.ones(1), np.zeros((1, 1)), 1.0, 1.0)
    fixed.upsampled_synthesis_bytes(one, one, taps, 1.0, np.zeros(2), np.ones(1), np.zeros(1),
                                    np.array([2, 1], np.int64), np.zeros((1, 1, 1, 3, 3)),
                                    np.ones(1), np.zeros((1, 1)), 1.0, 1.0)
    _loaded = True
    return True


def compiled_loaded() -> bool:
    return _loaded


def set_loaded(flag: bool) -> None:
    """Make "auto" decodes behave as in a process that has (True) or has not (False) loaded the
    compiled loop; True is refused where the loop cannot be loaded."""
    global _loaded
    if flag:
        load_compiled()
    else:
        _loaded = False


def uses_compiled(n_latents: int) -> bool:
    """Whether an "auto" decode of this many latents runs compiled. A forged section that needs
    more zero words past its end than any writer leaves (entropy/sections.py) is refused by the
    compiled decoder and decoded by constriction's."""
    return _unavailable is None and (_loaded or n_latents >= COMPILED_MIN_LATENTS)


def compiled_for(engine: str, n_latents: int):
    """The compiled module a decode of n_latents latents should run with, or None for the numpy
    reference. engine: "compiled" (asked for by name: its import errors are the caller's),
    "reference", or "auto" (uses_compiled; loading it marks it loaded, so smaller pictures use
    it too from then on)."""
    global _loaded
    if engine not in ENGINES:
        raise ValueError(f"unknown latent decoder {engine!r} ({', '.join(ENGINES)})")
    if engine == "compiled":
        from . import compiled
        return compiled
    if engine == "auto" and uses_compiled(n_latents):
        compiled = _compiled_module()
        _loaded = compiled is not None
        return compiled
    return None
