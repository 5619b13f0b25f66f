"""The command line's parser: every command, its flags, their types and their one-line help."""
from __future__ import annotations

import argparse
import math
import sys
from fractions import Fraction

from ..options import SEED_MAX


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, not argparse's usage dump
        sys.stderr.write(f"inrcodec: error: {message} (see '{self.prog} --help')\n")
        sys.exit(2)


def positive_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a positive number, got {text}")
    return value


def int_at_least(minimum: int):
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


non_negative_int = int_at_least(0)


def seed(text: str) -> int:
    value = non_negative_int(text)
    if value > SEED_MAX:
        raise argparse.ArgumentTypeError(f"must be at most 2^64 - 1, got {value}")
    return value


def pixel_count(text: str) -> int:
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


def size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like HxW, got {text!r}") from None
    if not (1 <= h <= 1 << 15 and 1 <= w <= 1 << 15):
        raise argparse.ArgumentTypeError(f"size out of range: {text}")
    return h, w


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
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {text}")
    return value


def _command(sub, name: str, summary: str) -> argparse.ArgumentParser:
    """A subcommand whose one-line summary (what it does, its defaults) is both its line in
    `inrcodec --help` and the description of `inrcodec NAME --help`."""
    return sub.add_parser(name, help=summary, description=summary[0].upper() + summary[1:] + ".")


# Flags that only apply to video input, and the one that picks the still-image mode.
VIDEO_ONLY_FLAGS = ("frames", "start", "group", "fps")


def _video_arguments(parser) -> None:
    """The video-only flags of `inrcodec encode` (input: a video file or a directory of frames)."""
    from ..video.layout import MAX_GROUP
    g = parser.add_argument_group("video input (a video file, .y4m, or a directory of numbered "
                                  "frames; preset auto means low, groups fitted one by one)")
    g.add_argument("--frames", type=int_at_least(1), default=None, metavar="N",
                   help="code N frames (default: all)")
    g.add_argument("--start", type=int_at_least(0), default=None, metavar="K",
                   help="skip the first K frames (default 0)")
    g.add_argument("--group", type=int_at_least(1), default=None, metavar="G",
                   help=f"frames per group, each fitted separately (default 8, at most {MAX_GROUP})")
    g.add_argument("--fps", type=frame_rate, default=None,
                   help="frame rate to store (default: the file's; 25 for a directory of frames)")


def _rec_arguments(parser) -> None:
    g = parser.add_argument_group("coding mode")
    g.add_argument("--mode", choices=["grid", "rec"], default="grid",
                   help="grid: quantized latent grids + ARM (default); rec: a Bayesian coordinate "
                        "network whose weights are sent by relative-entropy coding (still "
                        "images, CPU, default 2000 steps)")
    g.add_argument("--bpp", type=positive_float, default=None, metavar="BPP",
                   help="rec mode: target rate in bits per pixel (instead of --lmbda; default: "
                        "none, --lmbda's default applies)")


def _executor_arguments(b) -> None:
    b.add_argument("-o", "--output", required=True, metavar="OUTPUT_DIR",
                   help="output directory (mirrors the input tree; gets results.csv)")
    b.add_argument("--executor", choices=["local", "ray"], default="local",
                   help="local processes (default) or one Ray task per file")
    b.add_argument("--ray-address", default=None, metavar="ADDR",
                   help="Ray cluster to join, e.g. 'auto' (default: start a local Ray instance)")
    b.add_argument("--workers", type=non_negative_int, default=None, metavar="N",
                   help="parallel workers (default: one per CPU core, or one per GPU)")
    b.add_argument("--quiet", action="store_true", help="no progress bar or summary")


def build_parser() -> argparse.ArgumentParser:
    from ..arch import DEFAULT_PRESET, PRESET_CHOICES, PRESETS
    from ..limits import DEFAULT_MAX_PIXELS
    from ..options import DEFAULT_LMBDA
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
    e.add_argument("--lmbda", type=positive_float, default=None,   # None: DEFAULT_LMBDA
                   help=f"rate weight: larger = smaller file (default {DEFAULT_LMBDA})")
    e.add_argument("--preset", choices=PRESET_CHOICES, default=None,   # None: DEFAULT_PRESET
                   help=f"decoder complexity (default {DEFAULT_PRESET}: medium from 224x224 pixels "
                        "up, low below; low for video); see 'inrcodec profile'")
    steps = e.add_mutually_exclusive_group()
    steps.add_argument("--iterations", type=non_negative_int, default=None,
                       help="fitting steps (default 2000 on CPU, 10000 on CUDA)")
    steps.add_argument("--time-budget", type=positive_float, default=None, metavar="SECONDS",
                       help="fit for this wall-clock time instead of a step count "
                            "(the schedule is stretched to fit; default: none, --iterations "
                            "applies)")
    e.add_argument("--latent-coding", choices=["round", "uq"], default=None,   # None: round
                   help="how latents become symbols: round (default), or uq = universal "
                        "quantization with a shared dither (decoder sees exactly the training noise)")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                   help="where to fit (default auto: CUDA if available)")
    e.add_argument("--seed", type=seed, default=0, help="random seed, 0..2^64-1 (default 0)")
    e.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--json", action="store_true", help="print a JSON report on stdout")
    _video_arguments(e)
    _rec_arguments(e)

    decode_help = ("decode an .inr file to a lossless image, or a video to PNG frames / .y4m "
                   f"(defaults: INPUT_decoded.png, INPUT_frames/; pictures up to {max_side}x"
                   f"{max_side} pixels)")
    d = _command(sub, "decode", decode_help)
    d.add_argument("input", help=".inr file (image, rec or video mode)")
    d.add_argument("-o", "--output", help="output image (default: INPUT_decoded.png; .png .ppm "
                   ".pgm .bmp .tif); for a video a directory of PNG frames (default "
                   "INPUT_frames/), a .y4m, or (lossy) .mp4/.mkv/.mov/.avi")
    d.add_argument("--max-pixels", type=pixel_count, default=DEFAULT_MAX_PIXELS, metavar="N",
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
    pr.add_argument("--size", type=size, default=None, help="image size HxW (default 512x768)")
    pr.add_argument("--video", action="store_true",
                    help="video decoder (the ARM also sees the previous frame)")
    pr.add_argument("--json", action="store_true", help="print JSON instead of a table")

    eb_help = ("encode every image under a directory into a mirrored tree of .inr files plus "
               f"results.csv, resumable (defaults: lambda {DEFAULT_LMBDA}, preset {DEFAULT_PRESET}, "
               "one worker per CPU core or GPU)")
    eb = _command(sub, "encode-batch", eb_help)
    eb.add_argument("input_dir", help="directory of images (searched recursively)")
    _executor_arguments(eb)
    eb.add_argument("--gpus-per-task", type=float, default=None, metavar="F",
                    help="GPUs per Ray task (default 1 when the cluster has GPUs, else 0)")
    eb.add_argument("--lmbda", type=positive_float, default=DEFAULT_LMBDA,
                    help=f"as for encode (default {DEFAULT_LMBDA})")
    eb.add_argument("--preset", choices=PRESET_CHOICES, default=DEFAULT_PRESET,
                    help=f"as for encode (default {DEFAULT_PRESET})")
    eb_steps = eb.add_mutually_exclusive_group()
    eb_steps.add_argument("--iterations", type=non_negative_int, default=None, metavar="N",
                          help="fitting steps per image (default 2000 on CPU, 10000 on CUDA)")
    eb_steps.add_argument("--time-budget", type=positive_float, default=None, metavar="SECONDS",
                          help="fitting time per image (default: none, --iterations applies)")
    eb.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto",
                    help="where to fit (default auto: CUDA if available)")
    eb.add_argument("--seed", type=seed, default=0, help="random seed, 0..2^64-1 (default 0)")

    db_help = ("decode every .inr under a directory to PNGs (a video to a folder of PNG frames) "
               "plus results.csv (defaults: skip outputs that exist, one worker per CPU core)")
    db = _command(sub, "decode-batch", db_help)
    db.add_argument("input_dir", help="directory of .inr files (searched recursively)")
    _executor_arguments(db)
    db.add_argument("--force", action="store_true", help="decode again even if the output exists")
    return p
