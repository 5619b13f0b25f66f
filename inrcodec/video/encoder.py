"""The video encoder (encoder only): cut the clip into groups of frames, and for each group fit
-> choose weight steps -> entropy-code -> verify by decoding, exactly as for an image.

Frames are pulled from the input one group at a time, so memory holds one group (plus the coded
sections so far), never the whole clip.
"""
from __future__ import annotations

from dataclasses import replace

import itertools
import math
import time
from fractions import Fraction
from typing import Iterable

import numpy as np
import torch

from .. import bitstream
from ..arch import AUTO_PRESET, Architecture, preset as get_preset
from ..complexity import macs_per_pixel
from ..errors import InrcodecError
from ..fit.device import resolve_device
from ..fit.quantize import choose_steps
from ..fit.train import ADAM_FIT, DEFAULT_SCHEDULE, UNIFORM_PROXY, fit
from ..image.encoder import coded_sections
from ..limits import check_encode, fit_bytes
from ..options import VIDEO_FPS, VIDEO_GROUP, EncodeOptions, check, plain_int
from ..pixels import validate_image
from .decode import SECTION_NAMES, decode_group_latents, frames_from_latents, parse
from .header import MAX_FRAMES, VideoHeader
from .layout import DEFAULT_TEMPORAL_CONTEXT
from .fit_model import VideoFitModel

# Video fits with the still-image schedule (3x latent learning rate, gradient clipping), which was
# tuned on the training photos; no clip was tuned on. It replaced a latent learning rate of 1 and
# no clipping: benchmarks/results/video_3clips_8f_128px_low_1000it.md has the run with it.
# Weight RDOQ (on for images) is left off: it was measured on still images only, and it costs an
# evaluation per non-zero weight for every group of frames.
# Video keeps the quantization proxy and ARM start it was measured with (fit.train.UNIFORM_PROXY)
# and the optimizer (fit.train.ADAM_FIT: Adam, latents x3) until the image's Gaussian proxy and SOAP
# are measured on the video benchmark (issue 32)
VIDEO_SCHEDULE = replace(DEFAULT_SCHEDULE, weight_rdoq=False, **UNIFORM_PROXY, **ADAM_FIT)

DEFAULT_GROUP = 8
DEFAULT_FPS = Fraction(25)


def as_fraction(fps) -> Fraction:
    """A frame rate as an exact fraction: 29.97 -> 30000/1001 (NTSC rates are stored exactly)."""
    if isinstance(fps, Fraction):
        f = fps
    elif isinstance(fps, int):
        f = Fraction(fps)
    else:
        try:
            x = float(fps)
        except (TypeError, ValueError):
            raise InrcodecError(f"frame rate must be a number, got {fps!r}") from None
        if not (math.isfinite(x) and x > 0):
            raise InrcodecError(f"frame rate must be a positive number, got {fps}")
        ntsc = round(x * 1.001)
        if ntsc % 6 == 0 and abs(x - ntsc * 1000 / 1001) < 5e-3:   # 23.976, 29.97, 59.94, ...
            f = Fraction(ntsc * 1000, 1001)
        else:
            f = Fraction(x).limit_denominator(1001)
    if not (0 < f and f.numerator <= 1 << 20 and f.denominator <= 1 << 20):
        raise InrcodecError(f"frame rate must be in {VIDEO_FPS.text} (as a fraction of integers "
                            f"up to 2^20), got {fps}")
    return f


def _check_video_options(group, temporal_context):
    check("group size", group, VIDEO_GROUP)
    if not (isinstance(temporal_context, int) and temporal_context >= 0):
        raise InrcodecError(f"temporal context must be a non-negative integer, got {temporal_context}")


def _frames_of(chunk: list, first_shape) -> np.ndarray:
    frames = []
    for k, frame in enumerate(chunk):
        frame = validate_image(frame)
        if first_shape is None:
            first_shape = frame.shape
        if frame.shape != first_shape:
            raise InrcodecError(f"frame {k} has shape {frame.shape}, the clip {first_shape}: all "
                                "frames must have the same size and channels")
        frames.append(frame)
    return np.stack(frames)


VIDEO_AUTO_PRESET = "low"     # what "auto" means for video: the preset the video benchmark measures


def encode_video_with_report(frames: Iterable[np.ndarray], fps=DEFAULT_FPS,
                             options: EncodeOptions | None = None, *,
                             group: int = DEFAULT_GROUP,
                             temporal_context: int = DEFAULT_TEMPORAL_CONTEXT,
                             progress: bool = False, arch: Architecture | None = None,
                             total_frames: int | None = None,
                             **option_values) -> tuple[bytes, dict]:
    """Encode a clip (an array [N, H, W, C] or any iterable of uint8 [H, W, C] frames) and return
    (file bytes, report with real bytes/bpp/PSNR of the decoded frames).

    Options: options.EncodeOptions, or its fields as keywords (lmbda, preset, iterations,
    time_budget, seed, device); iterations / time_budget apply to each group. total_frames
    (optional) only labels the progress bars."""
    start = time.perf_counter()
    opts = EncodeOptions.build(options, **option_values)
    group, temporal_context = plain_int(group), plain_int(temporal_context)
    _check_video_options(group, temporal_context)
    dev = resolve_device(opts.device)
    lmbda, iterations, time_budget, seed = (opts.lmbda_or_default, opts.steps(dev.type),
                                            opts.time_budget, opts.seed)
    preset = opts.preset
    fps = as_fraction(fps)
    if arch is None:
        preset = VIDEO_AUTO_PRESET if preset == AUTO_PRESET else preset
        arch = get_preset(preset).for_video()
    else:
        preset = None
    frames_iter = iter(frames)
    n_groups_hint = -(-total_frames // group) if total_frames else None
    shape, sections, quants, group_reports = None, [], [], []
    n_frames, sq_err = 0, 0.0
    frame_psnr = []
    for g in itertools.count():
        chunk = list(itertools.islice(frames_iter, group))
        if not chunk:
            break
        clip = _frames_of(chunk, shape)
        shape = clip.shape[1:]
        n_frames += len(clip)
        if n_frames > MAX_FRAMES:
            raise InrcodecError(f"clips of more than {MAX_FRAMES} frames are not supported")
        t, h, w, c = clip.shape
        if t * h * w > (1 << 27):
            raise InrcodecError(f"a group of {t} frames of {w}x{h} is too large; use a smaller --group")
        if g == 0:                     # before any large allocation (limits.py)
            check_encode(f"groups of {t} frames of {w}x{h}",
                         fit_bytes(arch, h, w, c, frames=t, extra_arm_inputs=temporal_context), dev)
        torch.manual_seed(seed)
        target = torch.from_numpy(clip).to(dev).permute(0, 3, 1, 2).float() / 255.0
        model = VideoFitModel(arch, temporal_context, t, h, w, c).to(dev)
        label = f"group {g + 1}/{n_groups_hint}" if n_groups_hint else f"group {g + 1}"
        summary = fit(model, target, lmbda, iterations, progress=progress, schedule=VIDEO_SCHEDULE,
                      time_budget=time_budget, desc=label, leave=True)
        model = model.cpu()
        quant, ints, buffer = choose_steps(model, target.cpu(), lmbda, progress=progress,
                                           rdoq=VIDEO_SCHEDULE.weight_rdoq)
        group_sections = coded_sections(quant, ints, buffer, model.layout)

        # Verify through the decoder's own path, then measure the real decoded frames.
        probe = VideoHeader(h, w, c, t, fps, t, arch, preset, temporal_context, [quant])
        layout, modules, decoded = decode_group_latents(
            probe, 0, dict(zip(SECTION_NAMES, group_sections)))
        if not np.array_equal(decoded, buffer):
            raise InrcodecError("internal: latents did not survive the round trip (please report)")
        out = frames_from_latents(layout, modules, decoded)
        err = (out.astype(np.float64) - clip.astype(np.float64)) ** 2
        sq_err += float(err.sum())
        frame_psnr += [_psnr(float(e.mean())) for e in err]
        group_reports.append({"frames": t, "bytes": sum(len(s) for s in group_sections),
                              "psnr": _psnr(float(err.mean())),
                              "fit_seconds": summary["fit_seconds"],
                              "iterations": summary["iterations"]})
        sections += group_sections
        quants.append(quant)
        del model, target, clip, out, err
    if shape is None:
        raise InrcodecError("the clip has no frames")
    h, w, c = shape
    header = VideoHeader(h, w, c, n_frames, fps, group, arch, preset, temporal_context, quants)
    data = bitstream.pack(bitstream.MODE_VIDEO, header.to_bytes(), sections)
    parsed = parse(data)         # the whole file must parse back to what we wrote
    if parsed.header.to_bytes() != header.to_bytes():
        raise InrcodecError("internal: video header did not survive the round trip (please report)")
    arm_inputs = arch.arm_context + temporal_context
    report = {
        "bytes": len(data),
        "bpp": 8.0 * len(data) / (n_frames * h * w),
        "psnr": _psnr(sq_err / (n_frames * h * w * c)),
        "psnr_per_frame": frame_psnr,
        "macs_per_pixel": macs_per_pixel(arch, h, w, c, arm_inputs)["total"],
        "encode_seconds": time.perf_counter() - start,
        "fit_seconds": sum(r["fit_seconds"] for r in group_reports),
        "iterations": iterations,
        "time_budget": time_budget,
        "mode": "video",
        "preset": preset or "custom",
        "device": dev.type,
        "width": w, "height": h, "channels": c,
        "frames": n_frames,
        "fps": float(fps), "fps_fraction": f"{fps.numerator}/{fps.denominator}",
        "group_size": group, "groups": len(group_reports),
        "temporal_context": temporal_context,
        "lmbda": lmbda,
        "group_reports": group_reports,
        "sections": {name: sum(len(s[name]) for s in parsed.groups) for name in SECTION_NAMES},
        "header_bytes": parsed.header_bytes,
    }
    return data, report


def encode_video(frames, fps=DEFAULT_FPS, options: EncodeOptions | None = None, **kwargs) -> bytes:
    """Encode a clip (uint8 [N, H, W, C] or an iterable of [H, W, C] frames) into .inr bytes."""
    return encode_video_with_report(frames, fps, options, **kwargs)[0]


def _psnr(mse: float) -> float:
    return float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else float("inf")
