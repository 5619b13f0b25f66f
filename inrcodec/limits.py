"""How much memory decoding or encoding a picture needs, checked before anything large is allocated.

A header can claim any size up to the format's limits (32768 per side, 2^27 pixels) in a few
bytes, and a valid file of a flat picture really is that small (a few hundred bytes per ten million
pixels). So a decoder must not take a header's word for what it may allocate: `check_decode`
refuses a picture over `max_pixels` (the command line's --max-pixels, default DEFAULT_MAX_PIXELS)
or one whose estimated peak memory is more than this process can get, with the size and the
estimate in the message. `check_encode` does the same for the fit.

The estimates are peak resident memory above the process's baseline (imports and the file
itself), measured with VmHWM on this code (one thread) and fitted by the formulas below; each is
at or above every measurement listed next to it, by at most ~1.3x:

    image decode, 1024x1024 RGB, round / uq: lowest 122, medium 135, high 125, uq medium 177-184
        B/px; 2048x2048 medium 173 B/px; custom grids 1 level 104, 7 levels x 2 channels 335,
        12 levels x 4 channels 1113 B/px (peak = the render, ~21 B per latent plane and pixel,
        over the latent buffer, 8 B a latent, and its float32 grids, 4 B), all with the compiled
        latent decoder loaded and forced; the numpy one (small pictures) takes 51-76 B a latent
        (~97 with a dither); loading numba adds ~122 MB resident, ~269 MB of address space
    image encode (fit + weight-step search + verifying decode), 256x256 and 512x512 RGB, 3
        steps: lowest 1157, low 1373-1398, medium 1880-1940, high 2690 B/px

"Available" is the smallest of: MemAvailable (/proc/meminfo, no swap), the cgroup's memory limit
less its usage, and the address-space / data-segment rlimits less what the process already maps.
Where none of these can be read (not Linux) only max_pixels is enforced.
"""
from __future__ import annotations

from contextlib import contextmanager

import os
import resource

from .errors import InrcodecError

DEFAULT_MAX_PIXELS = 1 << 26          # 8192 x 8192 (67.1 million pixels): what decode accepts by default
MIB = 1 << 20

DECODE_FIXED = 64 * MIB               # networks, constriction, torch's first allocations
_DECODE_PER_LATENT = 16                # float64 buffer + float32 grids (the compiled decoder builds
                                       # nothing per latent; measured ~12-16)
_DECODE_PER_LATENT_DITHERED = 24       # measured ~20 more per pixel than without a dither
_REFERENCE_PER_LATENT = 96             # the numpy decoder, used below COMPILED_MIN_LATENTS: + coding
                                       # order, positions (measured 51-76 here, ~80 in a clean CI venv)
_REFERENCE_PER_LATENT_DITHERED = 110   # + the dither and its PRNG rows (measured 97)
_REFERENCE_PER_SOURCE = 8              # + each inter-grid source's position (LatentLayout.source_idx)
_COMPILED_LOAD = 300 * MIB             # importing numba and loading the compiled decoder, where a
                                       # decode will and it is not loaded yet (measured +122 MB
                                       # resident, +269 MB address space)
_RENDER_MIN, _RENDER_PER_PLANE = 110, 23   # per pixel: max(min, per_plane x latent planes)
_FUSED_RENDER_PER_PLANE = 12           # the compiled picture render (fixed_point.render: the last x2
                                       # step inside the synthesis bands, no full-size planes):
                                       # per pixel and latent plane (measured ~64 B/px in all for 7
                                       # planes at 1536x1280)
OUTPUT_PER_PIXEL = 8                  # uint8 picture and its PNG bytes

_FIT_FIXED = 100 * MIB
_FIT_BASE, _FIT_PER_ARM, _FIT_PER_SYN = 560, 6.5, 9.0   # least squares on the presets, then +5 %
_FIT_MARGIN = 1.1



def gib(n: float) -> str:
    return f"{n / 2 ** 30:.1f} GiB" if n >= 2 ** 30 / 10 else f"{n / MIB:.0f} MiB"


def megapixels(n: int) -> str:
    return f"{n / 1e6:.1f} million pixels" if n >= 100_000 else f"{n} pixels"


def _n_latents(arch, height: int, width: int) -> int:
    from .model.latents import grid_sizes     # side grids included
    return sum(h * w for h, w in grid_sizes(arch, height, width))


def image_decode_bytes(arch, height: int, width: int, channels: int = 3, dithered: bool = False,
                       frames: int = 1) -> int:
    """Peak memory of decoding an image (or one group of `frames` video frames) of this size."""
    from .entropy import engine
    n_latents = frames * _n_latents(arch, height, width)
    compiled = engine.uses_compiled(n_latents)
    if compiled and frames == 1:
        per_latent = _DECODE_PER_LATENT_DITHERED if dithered else _DECODE_PER_LATENT
        per_latent += arch.ifce_features       # float32 features per 2x2 block (compiled.py)
    else:    # the numpy decoder, or video: its groups' coding order is built per latent either way
        per_latent = _REFERENCE_PER_LATENT_DITHERED if dithered else _REFERENCE_PER_LATENT
        per_latent += _REFERENCE_PER_SOURCE * (arch.ifce_sources(0) if arch.ifce_levels else 0)
    load = _COMPILED_LOAD if compiled and not engine.compiled_loaded() else 0
    pixels = frames * height * width
    if compiled and frames == 1:
        render = _FUSED_RENDER_PER_PLANE * arch.latent_planes
    else:
        render = max(_RENDER_MIN, _RENDER_PER_PLANE * arch.latent_planes)   # grey ~10 % less
    return int(DECODE_FIXED + load + n_latents * per_latent
               + pixels * (render + OUTPUT_PER_PIXEL))


def fit_bytes(arch, height: int, width: int, channels: int = 3, frames: int = 1,
              extra_arm_inputs: int = 0) -> int:
    """Peak memory of encoding an image (or a group of `frames` video frames) with this
    architecture: the fit's activations and gradients, then the weight-step search."""
    pixels = frames * height * width
    latents_per_pixel = _n_latents(arch, height, width) / (height * width)
    sources = arch.ifce_sources(0) if arch.ifce_levels else 0     # inter-grid feature inputs
    arm = latents_per_pixel * (arch.arm_inputs + sources + extra_arm_inputs
                               + 2 * sum(arch.arm_hidden) + 4)
    syn = arch.latent_planes + 2 * sum(arch.synthesis_hidden) + 6 * arch.synthesis_residual * channels
    per_pixel = _FIT_BASE + _FIT_PER_ARM * arm + _FIT_PER_SYN * syn
    return int(_FIT_FIXED + _FIT_MARGIN * pixels * per_pixel)


# ------------------------------------------------------------------------------------------------
# What this process can get

def _read_int(path: str) -> int | None:
    try:
        with open(path) as f:
            text = f.read().strip()
    except OSError:
        return None
    return int(text) if text.isdigit() else None


def _proc_status_bytes(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _mem_available() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _cgroup_headroom() -> int | None:
    """min over this process's cgroup and its ancestors of (memory limit - usage), v2 or v1."""
    best = None
    try:
        with open("/proc/self/cgroup") as f:
            lines = f.read().splitlines()
    except OSError:
        return None
    for line in lines:
        parts = line.split(":", 2)
        if len(parts) != 3:
            continue
        _, controllers, path = parts
        if controllers == "":                         # v2 unified hierarchy
            root, limit_name, usage_name = "/sys/fs/cgroup", "memory.max", "memory.current"
        elif "memory" in controllers.split(","):     # v1
            root, limit_name, usage_name = ("/sys/fs/cgroup/memory", "memory.limit_in_bytes",
                                            "memory.usage_in_bytes")
        else:
            continue
        rel = path.strip("/")
        while True:
            d = os.path.join(root, rel) if rel else root
            limit, usage = _read_int(os.path.join(d, limit_name)), _read_int(os.path.join(d, usage_name))
            if limit is not None and usage is not None and limit < 1 << 60:
                room = max(0, limit - usage)
                best = room if best is None else min(best, room)
            if not rel:
                break
            rel = os.path.dirname(rel)
    return best


def _rlimit_headroom() -> int | None:
    best = None
    for which, field in ((resource.RLIMIT_AS, "VmSize"), (getattr(resource, "RLIMIT_DATA", None), "VmData")):
        if which is None:
            continue
        try:
            soft, _ = resource.getrlimit(which)
        except (ValueError, OSError):
            continue
        if soft == resource.RLIM_INFINITY or soft < 0:
            continue
        used = _proc_status_bytes(field) or 0
        room = max(0, soft - used)
        best = room if best is None else min(best, room)
    return best


def available_memory() -> int | None:
    """Bytes this process can still allocate without swapping or hitting a limit (None: unknown)."""
    values = [v for v in (_mem_available(), _cgroup_headroom(), _rlimit_headroom()) if v is not None]
    return min(values) if values else None


# ------------------------------------------------------------------------------------------------
# Checks and errors

def ensure_memory(need: int, what: str) -> None:
    """Refuse `what` (e.g. 'decoding this 8192x8192 image') if it needs more than is available."""
    avail = available_memory()
    if avail is not None and need > avail:
        raise InrcodecError(f"{what} needs about {gib(need)} of memory, more than the "
                            f"{gib(avail)} available")


def as_max_pixels(max_pixels) -> int | None:
    """max_pixels as an int (None: no limit); anything else is a clean error."""
    if max_pixels is None:
        return None
    import operator
    try:
        if isinstance(max_pixels, bool):
            raise TypeError
        value = operator.index(max_pixels)
    except TypeError:
        raise InrcodecError(f"max_pixels must be a positive integer, got {max_pixels!r}") from None
    if value < 1:
        raise InrcodecError(f"max_pixels must be a positive integer, got {value}")
    return value


def check_decode(description: str, pixels: int, need: int, max_pixels: int | None) -> None:
    """description: e.g. 'a 9000x9000 image' or 'groups of 8 frames of 4096x4096'."""
    max_pixels = as_max_pixels(max_pixels)
    if max_pixels is not None and pixels > max_pixels:
        raise InrcodecError(f"this file holds {description} ({megapixels(pixels)}), more than the "
                            f"decode limit of {max_pixels} pixels (--max-pixels; decoding it needs "
                            f"about {gib(need)} of memory)")
    ensure_memory(need, f"decoding {description}")


def check_picture_decode(width: int, height: int, need: int, max_pixels: int | None) -> int:
    """check_decode for one picture of width x height needing `need` bytes; returns need."""
    check_decode(f"a {width}x{height} image", width * height, need, max_pixels)
    return need


def cuda_free_memory(device) -> int | None:
    """Free bytes on a CUDA device (None: not a CUDA device, or unknown)."""
    if getattr(device, "type", device) != "cuda":
        return None
    try:
        import torch
        return int(torch.cuda.mem_get_info(device)[0])
    except Exception:              # no driver, no such device: the fit itself will say so
        return None


def check_encode(description: str, need: int, device=None) -> None:
    """Refuse an encode whose fit needs more than this process's memory or, fitting on a CUDA
    device, more than that device has free. The GPU side uses the same estimate: it was measured
    on the CPU (the fit's tensors are the same on either; torch's caching allocator may hold
    somewhat more), and the weight-step search after the fit runs on the CPU anyway."""
    ensure_memory(need, f"encoding {description}")
    free = cuda_free_memory(device)
    if free is not None and need > free:
        raise InrcodecError(f"encoding {description} on {device} needs about {gib(need)} of GPU "
                            f"memory, more than the {gib(free)} free there (use --device cpu, "
                            f"or a smaller picture)")


def is_memory_error(exc: BaseException) -> bool:
    """numpy's and Python's MemoryError, torch's CPU allocator failure, CUDA out-of-memory, and a
    library that cannot be mapped into the address space (an ImportError under `ulimit -v`)."""
    import errno
    if isinstance(exc, MemoryError):
        return True
    if isinstance(exc, OSError) and exc.errno == errno.ENOMEM:
        return True
    if isinstance(exc, (RuntimeError, ImportError, OSError)):
        text = str(exc).lower()
        return any(k in text for k in ("can't allocate memory", "cannot allocate memory",
                                       "out of memory", "not enough memory", "bad_alloc",
                                       "failed to map segment", "failed to allocate"))
    return False


@contextmanager
def memory_errors_reported(what: str, need: int | None = None):
    """Inside it, an allocation failure becomes out_of_memory(what, need); InrcodecErrors and
    every other exception pass through unchanged (the decoders' outermost guard)."""
    try:
        yield
    except InrcodecError:
        raise
    except Exception as exc:
        if is_memory_error(exc):
            raise out_of_memory(what, need) from None
        raise


def out_of_memory(what: str, need: int | None = None) -> InrcodecError:
    avail = available_memory()
    parts = [f"out of memory while {what}"]
    if need is not None:
        parts.append(f"it needs about {gib(need)}")
    if avail is not None:
        parts.append(f"{gib(avail)} available now")
    return InrcodecError(parts[0] + (f" ({'; '.join(parts[1:])})" if len(parts) > 1 else ""))


def check_image_encode(arch, height: int, width: int, channels: int, device=None) -> int:
    """Refuse an image the grid codec cannot fit here (on `device`, if given): over the format's
    size limits, or needing more memory than is available. Returns the estimate (bytes)."""
    from .bitstream import check_picture_size
    check_picture_size(height, width)
    need = fit_bytes(arch, height, width, channels)
    check_encode(f"a {width}x{height} image", need, device)
    return need
