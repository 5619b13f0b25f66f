"""The video side of the command line (inrcodec/cli.py dispatches here): encode a clip, decode a
video .inr to frames, describe it. Errors are InrcodecError, printed by cli.main as one line."""
from __future__ import annotations

import json
import sys
import time
from fractions import Fraction
from pathlib import Path

from ..cli import _int_at_least
from ..errors import InrcodecError

VIDEO_ONLY_FLAGS = ("frames", "start", "group", "fps")


def image_input_with_video_flags(args) -> str | None:
    """The first video-only flag given for an image input, if any."""
    for name in VIDEO_ONLY_FLAGS:
        if getattr(args, name, None) is not None:
            return "--" + name
    return None


def cmd_encode(args) -> int:
    from .. import io
    from .encoder import DEFAULT_FPS, DEFAULT_GROUP, as_fraction, encode_video_with_report
    from .io import open_clip

    from ..cli import same_file

    inp = Path(args.input)
    named = inp if inp.name not in ("", ".", "..") else inp.resolve()
    output = args.output or str(named.with_suffix(".inr"))
    if same_file(output, inp):
        raise InrcodecError("output would overwrite the input")
    io.check_writable(output, args.force)
    clip = open_clip(args.input, start=args.start or 0, frames=args.frames)
    fps = as_fraction(args.fps if args.fps is not None else (clip.fps or DEFAULT_FPS))
    frames = _checked_frames(clip, args.group or DEFAULT_GROUP, args.preset)
    data, report = encode_video_with_report(
        frames, fps, lmbda=args.lmbda, preset=args.preset, iterations=args.iterations,
        device=args.device, seed=args.seed, group=args.group or DEFAULT_GROUP,
        progress=not args.quiet, time_budget=getattr(args, "time_budget", None),
        total_frames=clip.count)
    io.write_atomic(output, data, args.force)
    report["output"] = output
    report["input"] = str(args.input)
    report["start"] = args.start or 0
    if args.json:
        print(json.dumps(report))
    elif not args.quiet:
        print(f"{output}: {report['frames']} frames {report['width']}x{report['height']} at "
              f"{report['fps']:.3f} fps in {report['groups']} group(s), {report['bytes']} bytes, "
              f"{report['bpp']:.4f} bpp, PSNR {report['psnr']:.2f} dB, "
              f"{report['macs_per_pixel']:.0f} MACs/pixel, {report['encode_seconds']:.1f} s")
    return 0


def _checked_frames(clip, group: int, preset: str):
    """The clip's frames, after refusing (from the first frame, before any fit) a group of frames
    whose fit would need more memory than is available (limits.fit_bytes)."""
    import itertools

    from ..arch import AUTO_PRESET, preset as get_preset
    from ..limits import check_encode, fit_bytes
    from .encoder import VIDEO_AUTO_PRESET
    from .layout import DEFAULT_TEMPORAL_CONTEXT
    frames = iter(clip.frames)
    first = next(frames, None)
    if first is None:
        return iter(())
    shape = getattr(first, "shape", ())
    if len(shape) in (2, 3):
        h, w = shape[:2]
        c = shape[2] if len(shape) == 3 else 1
        t = min(group, clip.count) if clip.count else group
        try:
            arch = get_preset(VIDEO_AUTO_PRESET if preset == AUTO_PRESET else preset)
        except InrcodecError:
            arch = None           # the encoder reports a bad preset itself
        if arch is not None:
            need = fit_bytes(arch, h, w, c, frames=t, extra_arm_inputs=DEFAULT_TEMPORAL_CONTEXT)
            what = f"groups of {t} frames of {w}x{h}" if t > 1 else f"frames of {w}x{h}"
            check_encode(what + " (a smaller --group needs less)" if t > 1 else what, need)
    return itertools.chain([first], frames)


def default_output(inp: str) -> str:
    p = Path(inp)
    return str(p.with_name(p.stem + "_frames"))


def cmd_decode(args, data: bytes) -> int:
    from .decode import decode_groups, parse
    from .io import FrameWriter, output_kind

    from ..cli import same_file
    from ..limits import DEFAULT_MAX_PIXELS
    from .decode import check_size

    output = args.output or default_output(args.input)
    if same_file(output, args.input):
        raise InrcodecError("output would overwrite the input")
    kind = output_kind(output)
    parsed = parse(data)
    h = parsed.header
    max_pixels = getattr(args, "max_pixels", DEFAULT_MAX_PIXELS)
    check_size(h, max_pixels)          # before the writer creates anything
    if kind == "lossy":
        sys.stderr.write(f"inrcodec: warning: {output}: writing {Path(output).suffix} re-encodes "
                         "the frames with lossy x264 compression; decode to a directory or .y4m "
                         "for the exact frames\n")
    start = time.perf_counter()
    writer = FrameWriter(output, args.force, h.width, h.height, h.channels, h.fps, h.frames)
    try:
        for frames in decode_groups(parsed, max_pixels):
            writer.write(frames)
        seconds = time.perf_counter() - start
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    if getattr(args, "json", False):
        print(json.dumps({"output": output, "mode": "video", "frames": h.frames,
                          "width": h.width, "height": h.height, "channels": h.channels,
                          "fps": float(h.fps), "decode_seconds": seconds}))
    return 0


def video_info(data: bytes) -> dict:
    from .. import bitstream
    from ..complexity import macs_per_pixel
    from .decode import SECTION_NAMES, parse

    parsed = parse(data)
    h = parsed.header
    fps: Fraction = h.fps
    return {
        "format_version": bitstream.FORMAT_VERSION,
        "mode": "video",
        "width": h.width, "height": h.height, "channels": h.channels,
        "frames": h.frames,
        "fps": float(fps), "fps_fraction": f"{fps.numerator}/{fps.denominator}",
        "duration_seconds": float(h.frames / fps),
        "group_size": h.group_size, "groups": h.n_groups,
        "temporal_context": h.temporal_context,
        "preset": h.preset or "custom",
        "architecture": h.arch.describe(),
        "bytes": parsed.total_bytes,
        "bpp": 8.0 * parsed.total_bytes / (h.frames * h.width * h.height),
        "kbps": 8.0 * parsed.total_bytes * float(fps) / h.frames / 1000.0,
        "sections": {"header+container": parsed.header_bytes,
                     **{k: sum(len(g[k]) for g in parsed.groups) for k in SECTION_NAMES}},
        "group_bytes": [sum(len(s) for s in g.values()) for g in parsed.groups],
        "macs_per_pixel": macs_per_pixel(h.arch, h.height, h.width, h.channels,
                                         h.arch.arm_context + h.temporal_context)["total"],
    }


def print_info(path: str, info: dict) -> None:
    print(f"{path}: inrcodec format {info['format_version']}, video, {info['width']}x"
          f"{info['height']}, {info['channels']} channel(s)")
    print(f"  {info['frames']} frames at {info['fps']:.3f} fps ({info['fps_fraction']}), "
          f"{info['duration_seconds']:.2f} s, {info['groups']} group(s) of up to "
          f"{info['group_size']} frames")
    print(f"  preset {info['preset']}: {json.dumps(info['architecture'])}, "
          f"ARM sees {info['temporal_context']} previous-frame latents")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp, {info['kbps']:.1f} kbit/s), "
          f"{info['macs_per_pixel']:.0f} MACs/pixel")
    for name, n in info["sections"].items():
        print(f"  {name:>18}: {n} bytes")


def is_video_data(data: bytes) -> bool:
    """Whether these bytes claim to be a video .inr (the full checks come with parsing)."""
    from ..bitstream import MODE_VIDEO, peek_mode
    return peek_mode(data) == MODE_VIDEO


def _fps(text: str) -> Fraction:
    """25, 29.97 or 30000/1001."""
    import argparse
    import math
    try:
        value = Fraction(text) if "/" in text else None
        if value is None:
            x = float(text)
            if not math.isfinite(x):
                raise ValueError
            value = x
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a frame rate: {text!r}") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def add_encode_arguments(parser) -> None:
    """The video-only flags of `inrcodec encode` (input: a video file or a directory of frames)."""
    from .layout import MAX_GROUP
    g = parser.add_argument_group("video input (a video file, .y4m, or a directory of numbered "
                                  "frames; preset auto means low, groups fitted one by one)")
    g.add_argument("--frames", type=_int_at_least(1), default=None, metavar="N",
                   help="code N frames (default: all)")
    g.add_argument("--start", type=_int_at_least(0), default=None, metavar="K",
                   help="skip the first K frames (default 0)")
    g.add_argument("--group", type=_int_at_least(1), default=None, metavar="G",
                   help=f"frames per group, each fitted separately (default 8, at most {MAX_GROUP})")
    g.add_argument("--fps", type=_fps, default=None,
                   help="frame rate to store (default: the file's; 25 for a directory of frames)")
