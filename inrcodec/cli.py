"""Command line: encode / decode / info / profile / encode-batch / decode-batch.

Every failure a user can cause ends as one line `inrcodec: error: ...` on stderr and a non-zero
exit (2 for bad usage, 1 otherwise); set INRCODEC_DEBUG=1 to see tracebacks of internal errors.
"""
from __future__ import annotations

import argparse
import json
import math
import os
import sys
from pathlib import Path

from .errors import InrcodecError


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage dump
        sys.stderr.write(f"inrcodec: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def _positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def _int_at_least(minimum: int):
    """An argparse type: an integer >= minimum, with a one-line reason when it is not."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be >= {minimum}, got {value}")
        return value
    return parse


_non_negative_int = _int_at_least(0)
SEED_MAX = (1 << 64) - 1


def _seed(text: str) -> int:
    value = _non_negative_int(text)
    if value > SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be at most 2^64 - 1, got {value}")
    return value


def _pixel_count(text: str) -> int:
    """A number of pixels: 67108864, 64e6, or WxH (8192x8192)."""
    t = text.strip().lower()
    try:
        if "x" in t:
            w, h = (int(v) for v in t.split("x"))
            value = w * h
        else:
            f = float(t)
            if not (math.isfinite(f) and f == int(f)):
                raise ValueError
            value = int(f)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a pixel count (N or WxH): {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1 pixel, got {text}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like HxW, got {text!r}") from None
    if not (1 <= h <= 1 << 15 and 1 <= w <= 1 << 15):
        raise argparse.ArgumentTypeError(f"size out of range: {text}")
    return h, w


def _command(sub, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary (what it does, its defaults) is both its line in
    `inrcodec --help` and the description of `inrcodec NAME --help`."""
    return sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")


def build_parser() -> argparse.ArgumentParser:
    from .arch import DEFAULT_PRESET, PRESET_CHOICES, PRESETS
    from .defaults import DEFAULT_LMBDA

    from .limits import DEFAULT_MAX_PIXELS
    max_side = math.isqrt(DEFAULT_MAX_PIXELS)

    p = _Parser(prog="inrcodec",
                description="Compress an image (or a video) by overfitting a tiny neural network "
                            "to it; the .inr file is the network. Run 'inrcodec COMMAND --help' "
                            "for a command's options and defaults.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    encode_help = ("fit a network to an image or video and write an .inr file (defaults: "
                   f"lambda {DEFAULT_LMBDA}, preset {DEFAULT_PRESET}, 2000 steps on CPU / 10000 "
                   "on CUDA, output INPUT.inr)")
    e = _command(sub, "encode", encode_help)
    e.add_argument("input", help="image file, video file (.mp4 .mkv .y4m ...) or directory of frames")
    e.add_argument("-o", "--output", help="output .inr (default: INPUT with .inr suffix)")
    e.add_argument("--lmbda", type=_positive_float, default=None,   # None: DEFAULT_LMBDA (cmd_encode)
                   help=f"rate weight: larger = smaller file (default {DEFAULT_LMBDA})")
    e.add_argument("--preset", choices=PRESET_CHOICES, default=None,   # None: DEFAULT_PRESET
                   help=f"decoder complexity (default {DEFAULT_PRESET}: medium from 224x224 pixels "
                        "up, low below; low for video); see 'inrcodec profile'")
    steps = e.add_mutually_exclusive_group()
    steps.add_argument("--iterations", type=_non_negative_int, default=None,
                       help="fitting steps (default 2000 on CPU, 10000 on CUDA)")
    steps.add_argument("--time-budget", type=_positive_float, default=None, metavar="SECONDS",
                       help="fit for this wall-clock time instead of a step count "
                            "(the schedule is stretched to fit; default: none, --iterations "
                            "applies)")
    e.add_argument("--latent-coding", choices=["round", "uq"], default=None,   # None: round
                   help="how latents become symbols: round (default), or uq = universal "
                        "quantization with a shared dither (decoder sees exactly the training noise)")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to fit (default auto: CUDA if available)")
    e.add_argument("--seed", type=_seed, default=0, help="random seed, 0..2^64-1 (default 0)")
    e.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    from .video.cli import add_encode_arguments
    add_encode_arguments(e)
    from .variational.cli import add_encode_arguments as add_rec_arguments
    add_rec_arguments(e)

    decode_help = ("decode an .inr file to a lossless image, or a video to PNG frames / .y4m "
                   f"(defaults: INPUT_decoded.png, INPUT_frames/; pictures up to {max_side}x"
                   f"{max_side} pixels)")
    d = _command(sub, "decode", decode_help)
    d.add_argument("input", help=".inr file (image, rec or video mode)")
    d.add_argument("-o", "--output", help="output image (default: INPUT_decoded.png; .png .ppm "
                   ".pgm .bmp .tif); for a video a directory of PNG frames (default "
                   "INPUT_frames/), a .y4m, or (lossy) .mp4/.mkv/.mov/.avi")
    d.add_argument("--max-pixels", type=_pixel_count, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse pictures larger than N pixels (N or WxH; default "
                        f"{DEFAULT_MAX_PIXELS} = {max_side}x{max_side}; for a video, per group "
                        "of frames); "
                        "files needing more memory than is free are refused whatever N")
    d.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    d.add_argument("--json", action="store_true", help="print a JSON report on stdout")

    info_help = "describe an .inr file: size, mode, architecture, bytes per section, MACs/pixel"
    i = _command(sub, "info", info_help)
    i.add_argument("input", help=".inr file")
    i.add_argument("--json", action="store_true", help="print JSON instead of text")

    profile_help = ("decode cost in MACs/pixel by component, per preset (defaults: every preset, "
                    "512x768 RGB, image decoder)")
    pr = _command(sub, "profile", profile_help)
    pr.add_argument("--preset", choices=list(PRESETS), default=None, help="one preset (default: all)")
    pr.add_argument("--size", type=_size, default=None, help="image size HxW (default 512x768)")
    pr.add_argument("--video", action="store_true",
                    help="video decoder (the ARM also sees the previous frame)")
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")

    def executor_args(b):
        b.add_argument("-o", "--output", required=True, metavar="OUTPUT_DIR",
                       help="output directory (mirrors the input tree; gets results.csv)")
        b.add_argument("--executor", choices=["local", "ray"], default="local",
                       help="local processes (default) or one Ray task per file")
        b.add_argument("--ray-address", default=None, metavar="ADDR",
                       help="Ray cluster to join, e.g. 'auto' (default: start a local Ray instance)")
        b.add_argument("--workers", type=_non_negative_int, default=None, metavar="N",
                       help="parallel workers (default: one per CPU core, or one per GPU)")
        b.add_argument("--quiet", action="store_true", help="no progress bar or summary")

    eb_help = ("encode every image under a directory into a mirrored tree of .inr files plus "
               f"results.csv, resumable (defaults: lambda {DEFAULT_LMBDA}, preset {DEFAULT_PRESET}, "
               "one worker per CPU core or GPU)")
    eb = _command(sub, "encode-batch", eb_help)
    eb.add_argument("input_dir", help="directory of images (searched recursively)")
    executor_args(eb)
    eb.add_argument("--gpus-per-task", type=float, default=None, metavar="F",
                    help="GPUs per Ray task (default 1 when the cluster has GPUs, else 0)")
    eb.add_argument("--lmbda", type=_positive_float, default=DEFAULT_LMBDA,
                    help=f"as for encode (default {DEFAULT_LMBDA})")
    eb.add_argument("--preset", choices=PRESET_CHOICES, default=DEFAULT_PRESET,
                    help=f"as for encode (default {DEFAULT_PRESET})")
    eb_steps = eb.add_mutually_exclusive_group()
    eb_steps.add_argument("--iterations", type=_non_negative_int, default=None, metavar="N",
                          help="fitting steps per image (default 2000 on CPU, 10000 on CUDA)")
    eb_steps.add_argument("--time-budget", type=_positive_float, default=None, metavar="SECONDS",
                          help="fitting time per image (default: none, --iterations applies)")
    eb.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                    help="where to fit (default auto: CUDA if available)")
    eb.add_argument("--seed", type=_seed, default=0, help="random seed, 0..2^64-1 (default 0)")

    db_help = ("decode every .inr under a directory to PNGs (a video to a folder of PNG frames) "
               "plus results.csv (defaults: skip outputs that exist, one worker per CPU core)")
    db = _command(sub, "decode-batch", db_help)
    db.add_argument("input_dir", help="directory of .inr files (searched recursively)")
    executor_args(db)
    db.add_argument("--force", action="store_true", help="decode again even if the output exists")
    return p


def _default_output(inp: str, suffix: str) -> str:
    return str(Path(inp).with_suffix(suffix))


def default_decoded_name(inp: str, suffix: str = ".png") -> str:
    """photo.inr -> photo_decoded.png: never the name of the photo it was encoded from."""
    p = Path(inp)
    return str(p.with_name(p.stem + "_decoded" + suffix))


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (resolved, or the same inode: hard links)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False


def image_encode_check(preset: str):
    """check_size for io.read_image: the grid codec's memory estimate for the preset `auto`
    resolves to at that size, run from the file's header before its pixels are decoded."""
    def check(height: int, width: int, channels: int) -> None:
        from .arch import preset as get_preset, resolve_preset
        from .limits import check_image_encode
        check_image_encode(get_preset(resolve_preset(preset, height * width)), height, width, channels)
    return check


def cmd_encode(args) -> int:
    from . import io
    from .arch import DEFAULT_PRESET
    from .defaults import DEFAULT_LMBDA
    from .variational.cli import check_mode_flags
    lmbda_given = args.lmbda is not None
    if not lmbda_given:
        args.lmbda = DEFAULT_LMBDA
    check_mode_flags(args, lmbda_given)
    rec_mode = getattr(args, "mode", "grid") == "rec"
    if args.preset is None:
        args.preset = DEFAULT_PRESET
    elif rec_mode:
        raise InrcodecError("--preset applies to the grid codec; --mode rec has one architecture")
    if args.latent_coding is None:
        args.latent_coding = "round"
    elif rec_mode:
        raise InrcodecError("--latent-coding applies to the grid codec's latents, not --mode rec")
    from .video.cli import image_input_with_video_flags
    from .video.io import is_video_input
    if is_video_input(args.input):
        from .video.cli import cmd_encode as cmd_encode_video
        if rec_mode:
            raise InrcodecError("--mode rec codes still images only")
        if args.latent_coding != "round":
            raise InrcodecError("--latent-coding uq is for still images; video latents are rounded")
        return cmd_encode_video(args)
    if image_input_with_video_flags(args):
        raise InrcodecError(f"{image_input_with_video_flags(args)} applies to video input only "
                            "(a video file, .y4m, or a directory of frames)")
    if rec_mode:
        from .variational.cli import cmd_encode as cmd_encode_rec
        return cmd_encode_rec(args, lmbda_given)
    from .encoder import encode_with_report

    output = args.output or _default_output(args.input, ".inr")
    if same_file(output, args.input):
        raise InrcodecError("output would overwrite the input")
    io.check_writable(output, args.force)
    image = io.read_image(args.input, check_size=image_encode_check(args.preset))
    data, report = encode_with_report(image, lmbda=args.lmbda, preset=args.preset,
                                      iterations=args.iterations, device=args.device,
                                      seed=args.seed, progress=not args.quiet,
                                      time_budget=args.time_budget,
                                      latent_coding=args.latent_coding)
    io.write_atomic(output, data, args.force)
    report["output"] = output
    if args.json:
        print(json.dumps(report))
    elif not args.quiet:
        print(f"{output}: {report['bytes']} bytes, {report['bpp']:.4f} bpp, "
              f"PSNR {report['psnr']:.2f} dB, {report['macs_per_pixel']:.0f} MACs/pixel, "
              f"{report['encode_seconds']:.1f} s")
    return 0


def cmd_decode(args) -> int:
    import time

    from . import io
    from .decode import decode
    from .limits import DEFAULT_MAX_PIXELS

    data = io.read_bytes(args.input)
    from .video.cli import is_video_data
    if is_video_data(data):
        from .video.cli import cmd_decode as cmd_decode_video
        return cmd_decode_video(args, data)
    output = args.output or default_decoded_name(args.input)
    if same_file(output, args.input):
        raise InrcodecError("output would overwrite the input")
    if Path(output).suffix.lower() not in io.LOSSLESS_SUFFIXES:
        raise InrcodecError(f"output must be a lossless image ({', '.join(sorted(io.LOSSLESS_SUFFIXES))})")
    io.check_writable(output, args.force)
    start = time.perf_counter()
    image = decode(data, max_pixels=getattr(args, "max_pixels", DEFAULT_MAX_PIXELS))
    seconds = time.perf_counter() - start
    io.write_image(output, image, args.force)
    if args.json:
        h, w, c = image.shape
        print(json.dumps({"output": output, "width": w, "height": h, "channels": c,
                          "decode_seconds": seconds}))
    return 0


def file_info(data: bytes) -> dict:
    from . import bitstream
    from .complexity import macs_per_pixel
    from .decode import parse
    from .video.cli import is_video_data, video_info

    if is_video_data(data):
        return video_info(data)
    from .variational.decode import info as rec_info, is_rec_data
    if is_rec_data(data):
        return rec_info(data)
    parsed = parse(data)
    h = parsed.header
    return {
        "format_version": bitstream.FORMAT_VERSION,
        "mode": "image",
        "width": h.width, "height": h.height, "channels": h.channels,
        "preset": h.preset or "custom",
        "latent_coding": h.latent_coding,
        "architecture": h.arch.describe(),
        "bytes": parsed.total_bytes,
        "bpp": 8.0 * parsed.total_bytes / (h.width * h.height),
        "sections": {"header+container": parsed.header_bytes,
                     **{k: len(v) for k, v in parsed.sections.items()}},
        "quantization_steps": {f"{m}.{g}": s for (m, g), (s, _) in h.quant.items()},
        "macs_per_pixel": macs_per_pixel(h.arch, h.height, h.width, h.channels)["total"],
    }


def cmd_info(args) -> int:
    from . import io

    info = file_info(io.read_bytes(args.input))
    if args.json:
        print(json.dumps(info))
        return 0
    if info["mode"] == "video":
        from .video.cli import print_info
        print_info(args.input, info)
        return 0
    if info["mode"] == "rec":
        from .variational.cli import print_info as print_rec_info
        print_rec_info(args.input, info)
        return 0
    print(f"{args.input}: inrcodec format {info['format_version']}, {info['mode']}, "
          f"{info['width']}x{info['height']}, {info['channels']} channel(s)")
    print(f"  preset {info['preset']}: {json.dumps(info['architecture'])}")
    if info["latent_coding"] != "round":
        print(f"  latents: universal quantization (shared dither)")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp), {info['macs_per_pixel']:.0f} MACs/pixel")
    for name, n in info["sections"].items():
        print(f"  {name:>18}: {n} bytes")
    return 0


def cmd_profile(args) -> int:
    from .arch import PRESETS
    from .complexity import DEFAULT_PROFILE_SIZE, macs_per_pixel

    h, w = args.size or DEFAULT_PROFILE_SIZE
    names = [args.preset] if args.preset else list(PRESETS)
    temporal = 0
    if getattr(args, "video", False):
        from .video.layout import DEFAULT_TEMPORAL_CONTEXT as temporal
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


def cmd_encode_batch(args) -> int:
    from .batch import cli_encode_batch
    return cli_encode_batch(args)


def cmd_decode_batch(args) -> int:
    from .batch import cli_decode_batch
    return cli_decode_batch(args)


COMMANDS = {"encode": cmd_encode, "decode": cmd_decode, "info": cmd_info, "profile": cmd_profile,
            "encode-batch": cmd_encode_batch, "decode-batch": cmd_decode_batch}


EXIT_BROKEN_PIPE = 141     # 128 + SIGPIPE: what `cat`, `ls` ... exit with when a reader goes away


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):   # stdout without a file descriptor (tests)
        pass


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as users see errors: one line, no source location."""
    text = str(message)
    return (text if text.startswith("inrcodec: ") else f"inrcodec: warning: {text}") + "\n"


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    import warnings
    warnings.formatwarning = _one_line_warning
    from .memory import retain_freed_memory
    retain_freed_memory()        # a short-lived process whose fits reuse the same activations
    try:
        code = COMMANDS[args.command](args)
        sys.stdout.flush()       # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:      # e.g. `inrcodec info x.inr | head -1`: the reader has all it wants
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except InrcodecError as exc:
        sys.stderr.write(f"inrcodec: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("inrcodec: error: interrupted\n")
        return 130
    except Exception as exc:  # never a traceback for users
        from .limits import is_memory_error
        if is_memory_error(exc):
            text = " ".join(str(exc).split())[:200]
            sys.stderr.write(f"inrcodec: error: out of memory ({type(exc).__name__}"
                             f"{': ' + text if text else ''})\n")
            return 1
        if os.environ.get("INRCODEC_DEBUG"):
            raise
        sys.stderr.write(f"inrcodec: error: internal error: {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
