"""`inrcodec decode`, `info` and `profile`: what a file holds and what decoding it costs. Every
mode is reached through the mode table (modes.py): a picture becomes an image file, a clip a
directory of frames, a .y4m or a video file."""
from __future__ import annotations

import json
import sys
import time
from pathlib import Path

from ..errors import InrcodecError


def default_decoded_name(inp: str, suffix: str = ".png") -> str:
    """photo.inr -> photo_decoded.png: never the name of the photo it was encoded from."""
    p = Path(inp)
    return str(p.with_name(p.stem + "_decoded" + suffix))


def default_frames_name(inp: str) -> str:
    """clip.inr -> clip_frames (a directory)."""
    p = Path(inp)
    return str(p.with_name(p.stem + "_frames"))


def cmd_decode(args) -> int:
    from .. import modes
    from ..files import read_bytes, same_file
    data = read_bytes(args.input)
    mode = modes.of(data)
    output = args.output or (default_frames_name(args.input) if mode.kind == "video"
                             else default_decoded_name(args.input))
    if same_file(output, args.input):
        raise InrcodecError("output would overwrite the input")
    if mode.kind == "video":
        return _decode_clip(args, mode, data, output)
    return _decode_picture(args, mode, data, output)


def _decode_picture(args, mode, data: bytes, output: str) -> int:
    from ..files import check_writable
    from ..image_files import LOSSLESS_SUFFIXES, write_image
    if Path(output).suffix.lower() not in LOSSLESS_SUFFIXES:
        raise InrcodecError(f"output must be a lossless image ({', '.join(sorted(LOSSLESS_SUFFIXES))})")
    check_writable(output, args.force)
    start = time.perf_counter()
    image = mode.decode(mode.parse(data), args.max_pixels)
    seconds = time.perf_counter() - start
    write_image(output, image, args.force)
    if args.json:
        h, w, c = image.shape
        print(json.dumps({"output": output, "width": w, "height": h, "channels": c,
                          "decode_seconds": seconds}))
    return 0


def _decode_clip(args, mode, data: bytes, output: str) -> int:
    from ..video.frame_writer import FrameWriter, output_kind
    kind = output_kind(output)
    parsed = mode.parse(data)
    g = mode.geometry(parsed)
    mode.check_size(parsed, args.max_pixels)          # before the writer creates anything
    if kind == "lossy":
        sys.stderr.write(f"inrcodec: warning: {output}: writing {Path(output).suffix} re-encodes "
                         "the frames with lossy x264 compression; decode to a directory or .y4m "
                         "for the exact frames\n")
    start = time.perf_counter()
    writer = FrameWriter(output, args.force, g.width, g.height, g.channels, g.fps, g.frames)
    try:
        for frames in mode.frames(parsed, args.max_pixels):
            writer.write(frames)
        seconds = time.perf_counter() - start
        writer.finish()
    except BaseException:
        writer.abort()
        raise
    if args.json:
        print(json.dumps({"output": output, "mode": mode.name, "frames": g.frames,
                          "width": g.width, "height": g.height, "channels": g.channels,
                          "fps": float(g.fps), "decode_seconds": seconds}))
    return 0


def cmd_info(args) -> int:
    from .. import modes
    from ..files import read_bytes
    from .info_text import print_info
    info = modes.info(read_bytes(args.input))
    if args.json:
        print(json.dumps(info))
    else:
        print_info(args.input, info)
    return 0


def cmd_profile(args) -> int:
    from ..arch import PRESETS
    from ..complexity import DEFAULT_PROFILE_SIZE, macs_per_pixel

    h, w = args.size or DEFAULT_PROFILE_SIZE
    names = [args.preset] if args.preset else list(PRESETS)
    temporal = 0
    if args.video:
        from ..video.layout import DEFAULT_TEMPORAL_CONTEXT as temporal
    out = {}
    for name in names:
        parts = macs_per_pixel(PRESETS[name], h, w, 3, PRESETS[name].arm_context + temporal)
        total = parts.pop("total")
        out[name] = {"macs_per_pixel": total, "components": parts}
    if args.json:
        print(json.dumps({"size": [h, w], "presets": out, "video": bool(temporal),
                          "temporal_context": temporal}))
        return 0
    print(f"decode MACs/pixel at {h}x{w} (RGB" + (f"; video: the ARM also sees {temporal} "
          "previous-frame latents; per decoded pixel of every frame)" if temporal else ")"))
    print(f"{'preset':<8} {'arm':>8} {'upsampling':>11} {'synthesis':>10} {'total':>8}")
    for name, v in out.items():
        c = v["components"]
        print(f"{name:<8} {c['arm']:>8.0f} {c['upsampling']:>11.0f} {c['synthesis']:>10.0f} "
              f"{v['macs_per_pixel']:>8.0f}")
    return 0
