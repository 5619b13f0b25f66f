"""The command line's parser: every command, its flags, their types and their one-line help."""
from __future__ import annotations

import argparse
import math
import sys
from fractions import Fraction

from ..options import (GPUS_PER_TASK, ITERATIONS, LMBDA, PICTURE_SIDE, REC_BPP, SEED, TIME_BUDGET,
                       VIDEO_FPS, VIDEO_GROUP, WORKERS, Range)


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage dump
        sys.stderr.write(f"inrcodec: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def in_range(allowed: Range):
    """An argparse type: a number inside `allowed`, with the range in the error."""
    def parse(text: str):
        try:
            value = int(text) if allowed.integer else float(text)
        except ValueError:
            kind = "an integer" if allowed.integer else "a number"
            raise argparse.ArgumentTypeError(f"not {kind}: {text!r} (must be in "
                                             f"{allowed.text})") from None
        if value not in allowed:
            raise argparse.ArgumentTypeError(f"must be in {allowed.text}, got {text}")
        return value
    return parse


def int_at_least(minimum: int):
    """An argparse type: an integer >= minimum, with a one-line reason when it is not."""
    return in_range(Range(minimum, integer=True))


def pixel_count(text: str) -> int:
    """A number of pixels: 67108864, 64e6, or WxH (8192x8192)."""
    t = text.strip().lower()
    try:
        if "x" in t:
            w, h = (int(v) for v in t.split("x"))
            if w < 1 or h < 1:
                raise argparse.ArgumentTypeError(f"each side must be >= 1, got {text}")
            value = w * h
        else:
            f = float(t)
            if not (math.isfinite(f) and f == int(f)):
                raise ValueError
            value = int(f)
    except (ValueError, OverflowError):
        raise argparse.ArgumentTypeError(f"not a pixel count (N or WxH): {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1 pixel, got {text}")
    return value


def size(text: str) -> tuple[int, int]:
    """A picture size WxH (width first, as --max-pixels takes it) -> (width, height)."""
    try:
        w, h = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like WxH, got {text!r}") from None
    if w not in PICTURE_SIDE or h not in PICTURE_SIDE:
        raise argparse.ArgumentTypeError(f"each side must be in {PICTURE_SIDE.text}, got {text}")
    return w, h


def frame_rate(text: str) -> Fraction:
    """25, 29.97 or 30000/1001."""
    try:
        value = Fraction(text) if "/" in text else None
        if value is None:
            x = float(text)
            if not math.isfinite(x):
                raise ValueError
            value = x
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"not a frame rate: {text!r}") from None
    if value not in VIDEO_FPS:
        raise argparse.ArgumentTypeError(f"must be in {VIDEO_FPS.text}, got {text}")
    return value


def _command(sub, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary (what it does, its defaults) is both its line in
    `inrcodec --help` and the description of `inrcodec NAME --help`."""
    return sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")


# Flags that only apply to video input.
VIDEO_ONLY_FLAGS = ("frames", "start", "group", "fps")


def _video_arguments(parser) -> None:
    """The video-only flags of `inrcodec encode` (input: a video file or a directory of frames)."""
    g = parser.add_argument_group("video input (a video file, .y4m, or a directory of numbered "
                                  "frames; preset auto means low, groups fitted one by one)")
    g.add_argument("--frames", type=int_at_least(1), default=None, metavar="N",
                   help="code N >= 1 frames (default: all)")
    g.add_argument("--start", type=int_at_least(0), default=None, metavar="K",
                   help="skip the first K >= 0 frames (default 0)")
    g.add_argument("--group", type=in_range(VIDEO_GROUP), default=None, metavar="G",
                   help=f"frames per group, each fitted separately, {VIDEO_GROUP.text} (default 8)")
    g.add_argument("--fps", type=frame_rate, default=None,
                   help=f"frame rate to store, in {VIDEO_FPS.text} as 25, 29.97 or 30000/1001 "
                        "(default: the file's; 25 for a directory of frames)")


def _rec_arguments(parser) -> None:
    g = parser.add_argument_group("coding mode")
    g.add_argument("--mode", choices=["grid", "rec"], default="grid",
                   help="grid: quantized latent grids + ARM (default); rec: a Bayesian coordinate "
                        "network whose weights are sent by relative-entropy coding (still "
                        "images, CPU, default 2000 steps)")
    g.add_argument("--bpp", type=in_range(REC_BPP), default=None, metavar="BPP",
                   help=f"rec mode: target rate in bits per pixel, in {REC_BPP.text} (instead of "
                        "--lmbda; default: none, --lmbda's default applies)")


def _executor_arguments(b) -> None:
    b.add_argument("-o", "--output", required=True, metavar="OUTPUT_DIR",
                   help="output directory (mirrors the input tree; gets results.csv; not the "
                        "input directory)")
    b.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local processes (default) or one Ray task per file")
    b.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to join, e.g. 'auto' (default: start a local Ray instance)")
    b.add_argument("--workers", type=in_range(WORKERS), default=None, metavar="N",
                   help="parallel workers, N >= 1 (default: one per CPU core, or one per GPU)")
    b.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def _fit_arguments(parser, lmbda_default, batch: bool) -> None:
    """The fitting options of encode and encode-batch, with their ranges (options.py)."""
    from ..options import DEFAULT_LMBDA
    each = " per image" if batch else ""
    parser.add_argument("--lmbda", type=in_range(LMBDA), default=lmbda_default,
                        help=f"rate weight in {LMBDA.text}: larger = smaller file "
                             f"(default {DEFAULT_LMBDA})")
    steps = parser.add_mutually_exclusive_group()
    steps.add_argument("--iterations", type=in_range(ITERATIONS), default=None, metavar="N",
                       help=f"fitting steps{each}, {ITERATIONS.text} (default 2000 on CPU, 10000 "
                            "on CUDA)")
    steps.add_argument("--time-budget", type=in_range(TIME_BUDGET), default=None,
                       metavar="SECONDS",
                       help=f"fit{each} for this wall-clock time in {TIME_BUDGET.text} seconds "
                            "instead of a step count (the schedule is stretched to fit; default: "
                            "none, --iterations applies)")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                        help="where to fit (default auto: CUDA if available)")
    parser.add_argument("--seed", type=in_range(SEED), default=0,
                        help=f"random seed, {SEED.text} (default 0)")


def build_parser() -> argparse.ArgumentParser:
    from .. import __version__
    from ..arch import DEFAULT_PRESET, PRESET_CHOICES, auto_medium_from_pixels
    from ..limits import DEFAULT_MAX_PIXELS
    from ..options import DEFAULT_LMBDA
    max_side = math.isqrt(DEFAULT_MAX_PIXELS)
    auto_side = round(auto_medium_from_pixels(DEFAULT_LMBDA) ** 0.5)

    p = _Parser(prog="inrcodec",
                description="Compress an image (or a video) by overfitting a tiny neural network "
                            "to it; the .inr file is the network. Run 'inrcodec COMMAND --help' "
                            "for a command's options and defaults.")
    p.add_argument("--version", action="version", version=f"inrcodec {__version__}")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser, metavar="COMMAND")

    encode_help = ("fit a network to an image or video and write an .inr file (defaults: "
                   f"lambda {DEFAULT_LMBDA}, preset {DEFAULT_PRESET}, 2000 steps on CPU / 10000 "
                   "on CUDA, output INPUT.inr)")
    e = _command(sub, "encode", encode_help)
    e.add_argument("input", help="image file, video file (.mp4 .mkv .y4m ...), directory of "
                                 "frames, or - for an image on stdin")
    e.add_argument("-o", "--output", help="output .inr (default: INPUT with .inr suffix; - for "
                                          "stdout, the default when INPUT is -)")
    e.add_argument("--preset", choices=PRESET_CHOICES, default=None,   # None: DEFAULT_PRESET
                   help=f"decoder complexity (default {DEFAULT_PRESET}: medium from {auto_side}x"
                        f"{auto_side} pixels up at lambda {DEFAULT_LMBDA}, a size that grows like "
                        "sqrt(lambda); low below; low for video); see 'inrcodec profile'")
    _fit_arguments(e, None, batch=False)      # --lmbda None: DEFAULT_LMBDA (or --bpp in rec mode)
    e.add_argument("--latent-coding", choices=["round", "uq"], default=None,   # None: round
                   help="how latents become symbols: round (default), or uq = universal "
                        "quantization with a shared dither (decoder sees exactly the training noise)")
    e.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--json", action="store_true",
                   help="print a JSON report on stdout (on stderr when the file goes to stdout)")
    _video_arguments(e)
    _rec_arguments(e)

    decode_help = ("decode an .inr file to a lossless image, or a video to PNG frames / .y4m "
                   f"(defaults: INPUT_decoded.png, INPUT_frames/; pictures up to {max_side}x"
                   f"{max_side} pixels)")
    d = _command(sub, "decode", decode_help)
    d.add_argument("input", help=".inr file (image, rec or video mode), or - for stdin")
    d.add_argument("-o", "--output", help="output image (default: INPUT_decoded.png; .png .ppm "
                   ".pgm .bmp .tif; - for a PNG on stdout, the default when INPUT is -); for a "
                   "video a directory of PNG frames (default INPUT_frames/), a .y4m, or (lossy) "
                   ".mp4/.mkv/.mov/.avi")
    d.add_argument("--max-pixels", type=pixel_count, default=DEFAULT_MAX_PIXELS, metavar="N",
                   help=f"refuse pictures larger than N >= 1 pixels (N or WxH; default "
                        f"{DEFAULT_MAX_PIXELS} = {max_side}x{max_side}; for a video, per group "
                        "of frames); "
                        "files needing more memory than is free are refused whatever N")
    d.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    d.add_argument("--json", action="store_true",
                   help="print a JSON report on stdout (on stderr when the image goes to stdout)")

    info_help = "describe an .inr file: size, mode, architecture, bytes per section, MACs/pixel"
    i = _command(sub, "info", info_help)
    i.add_argument("input", help=".inr file, or - for stdin")
    i.add_argument("--json", action="store_true", help="print JSON instead of text")

    profile_help = ("decode cost in MACs/pixel by component, per preset (defaults: every preset, "
                    "768x512 RGB, image decoder)")
    pr = _command(sub, "profile", profile_help)
    pr.add_argument("--preset", choices=PRESET_CHOICES, default=None,
                    help="one preset, auto as it resolves at --size and --lmbda (default: all)")
    pr.add_argument("--lmbda", type=in_range(LMBDA), default=DEFAULT_LMBDA,
                    help=f"the rate weight auto resolves for (default {DEFAULT_LMBDA})")
    pr.add_argument("--size", type=size, default=None, metavar="WxH",
                    help=f"picture size WxH, each side {PICTURE_SIDE.text} (default 768x512)")
    pr.add_argument("--video", action="store_true",
                    help="video decoder (the ARM also sees the previous frame)")
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")

    eb_help = ("encode every image under a directory into a mirrored tree of .inr files plus "
               f"results.csv, resumable (defaults: lambda {DEFAULT_LMBDA}, preset {DEFAULT_PRESET}, "
               "one worker per CPU core or GPU)")
    eb = _command(sub, "encode-batch", eb_help)
    eb.add_argument("input_dir", help="directory of images (searched recursively)")
    _executor_arguments(eb)
    eb.add_argument("--gpus-per-task", type=in_range(GPUS_PER_TASK), default=None, metavar="F",
                    help="GPUs per Ray task, F >= 0 (default 1 when the cluster has GPUs, else 0)")
    eb.add_argument("--preset", choices=PRESET_CHOICES, default=DEFAULT_PRESET,
                    help=f"as for encode (default {DEFAULT_PRESET})")
    _fit_arguments(eb, DEFAULT_LMBDA, batch=True)

    db_help = ("decode every .inr under a directory to PNGs (a video to a folder of PNG frames) "
               "plus results.csv (defaults: skip outputs that exist, one worker per CPU core)")
    db = _command(sub, "decode-batch", db_help)
    db.add_argument("input_dir", help="directory of .inr files (searched recursively)")
    _executor_arguments(db)
    db.add_argument("--force", action="store_true", help="decode again even if the output exists")
    return p
