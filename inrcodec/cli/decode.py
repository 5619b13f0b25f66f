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
    from ..files import STDIO, check_stdout, is_pipe_input, read_container, same_file
    data = read_container(args.input)
    mode = modes.of(data)
    if args.output:
        output = args.output
    elif is_pipe_input(args.input):           # a pipe has no name to derive one from
        output = STDIO
    else:
        output = (default_frames_name(args.input) if mode.kind == "video"
                  else default_decoded_name(args.input))
    if same_file(args.input, output):
        raise InrcodecError("output would overwrite the input")
    check_stdout(output)
    if mode.kind == "video":
        return _decode_clip(args, mode, data, output)
    return _decode_picture(args, mode, data, output)


def _decode_picture(args, mode, data: bytes, output: str) -> int:
    from ..files import STDIO, check_writable, write_atomic
    from ..image_files import LOSSLESS_SUFFIXES, encode_image_file
    suffix = ".png" if output == STDIO else Path(output).suffix.lower()
    if suffix not in LOSSLESS_SUFFIXES:
        raise InrcodecError(f"output must be a lossless image ({', '.join(sorted(LOSSLESS_SUFFIXES))})")
    check_writable(output, args.force)
    start = time.perf_counter()
    image = mode.decode(mode.parse(data), args.max_pixels)
    seconds = time.perf_counter() - start
    write_atomic(output, encode_image_file(image, suffix), args.force)
    if args.json:
        h, w, c = image.shape
        report = json.dumps({"output": output, "width": w, "height": h, "channels": c,
                             "decode_seconds": seconds})
        print(report, file=sys.stderr if output == STDIO else sys.stdout)
    return 0


def _decode_clip(args, mode, data: bytes, output: str) -> int:
    from ..files import STDIO
    from ..video.frame_writer import FrameWriter, clip_output_kind
    if output == STDIO:
        raise InrcodecError("a video decodes to a directory of PNG frames, a .y4m or a video "
                            "file: give -o")
    kind = clip_output_kind(output)
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
    from ..files import read_container
    from .info_text import print_info
    info = modes.info(read_container(args.input))
    if args.json:
        print(json.dumps(info))
    else:
        print_info(args.input, info)
    return 0


def cmd_profile(args) -> int:
    from ..arch import AUTO_PRESET, PRESETS, resolve_preset
    from ..complexity import DEFAULT_PROFILE_SIZE, macs_per_pixel

    w, h = args.size or DEFAULT_PROFILE_SIZE
    names = list(PRESETS) if args.preset is None else [args.preset]
    temporal = 0
    if args.video:
        from ..video.encoder import VIDEO_AUTO_PRESET
        from ..video.layout import DEFAULT_TEMPORAL_CONTEXT as temporal
    out = {}
    for name in names:
        concrete = name
        if name == AUTO_PRESET:
            concrete = (VIDEO_AUTO_PRESET if args.video
                        else resolve_preset(name, w * h, args.lmbda))
        arch = PRESETS[concrete].for_video() if args.video else PRESETS[concrete]
        parts = macs_per_pixel(arch, h, w, 3, arch.arm_inputs + temporal)
        total = parts.pop("total")
        out[name] = {"macs_per_pixel": total, "components": parts,
                     **({"resolves_to": concrete} if concrete != name else {})}
    if args.json:
        print(json.dumps({"size": {"width": w, "height": h}, "lmbda": args.lmbda, "presets": out,
                          "video": bool(temporal), "temporal_context": temporal}))
        return 0
    print(f"decode MACs/pixel at {w}x{h} (RGB" + (f"; video: the ARM also sees {temporal} "
          "previous-frame latents; per decoded pixel of every frame)" if temporal else ")"))
    at = "" if args.video else f" at lambda {args.lmbda:g}"     # video's auto is one preset
    labels = {name: f"{name} ({v['resolves_to']}{at})" if "resolves_to" in v else name
              for name, v in out.items()}
    width = max(8, *map(len, labels.values()))
    print(f"{'preset':<{width}} {'arm':>8} {'upsampling':>11} {'synthesis':>10} {'total':>8}")
    for name, v in out.items():
        c = v["components"]
        print(f"{labels[name]:<{width}} {c['arm']:>8.0f} {c['upsampling']:>11.0f} "
              f"{c['synthesis']:>10.0f} {v['macs_per_pixel']:>8.0f}")
    return 0
