"""Command line: encode / decode / info / profile.

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


def _non_negative_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be >= 0, got {value}")
    return value


def _size(text: str) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"size must look like HxW, got {text!r}") from None
    if not (1 <= h <= 1 << 15 and 1 <= w <= 1 << 15):
        raise argparse.ArgumentTypeError(f"size out of range: {text}")
    return h, w


def build_parser() -> argparse.ArgumentParser:
    from .arch import DEFAULT_PRESET, PRESETS
    from .defaults import DEFAULT_LMBDA

    p = _Parser(prog="inrcodec", description="Overfitted neural image codec.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)

    e = sub.add_parser("encode", help="fit a network to an image and write an .inr file")
    e.add_argument("input")
    e.add_argument("-o", "--output", help="output .inr (default: INPUT with .inr suffix)")
    e.add_argument("--lmbda", type=_positive_float, default=DEFAULT_LMBDA,
                   help=f"rate weight: larger = smaller file (default {DEFAULT_LMBDA})")
    e.add_argument("--preset", choices=list(PRESETS), default=DEFAULT_PRESET,
                   help=f"decoder complexity (default {DEFAULT_PRESET}); see 'inrcodec profile'")
    e.add_argument("--iterations", type=_non_negative_int, default=None,
                   help="fitting steps (default 2000 on CPU, 10000 on CUDA)")
    e.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    e.add_argument("--seed", type=_non_negative_int, default=0)
    e.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    e.add_argument("--quiet", action="store_true", help="no progress bar")
    e.add_argument("--json", action="store_true", help="print a JSON report on stdout")

    d = sub.add_parser("decode", help="decode an .inr file to a PNG")
    d.add_argument("input")
    d.add_argument("-o", "--output", help="output image (default: INPUT with .png suffix)")
    d.add_argument("--force", action="store_true", help="overwrite OUTPUT if it exists")
    d.add_argument("--json", action="store_true", help="print a JSON report on stdout")

    i = sub.add_parser("info", help="describe an .inr file")
    i.add_argument("input")
    i.add_argument("--json", action="store_true")

    pr = sub.add_parser("profile", help="decode MACs/pixel by component, per preset")
    pr.add_argument("--preset", choices=list(PRESETS), default=None)
    pr.add_argument("--size", type=_size, default=None, help="image size HxW (default 512x768)")
    pr.add_argument("--json", action="store_true")
    return p


def _default_output(inp: str, suffix: str) -> str:
    return str(Path(inp).with_suffix(suffix))


def cmd_encode(args) -> int:
    from . import io
    from .encoder import encode_with_report

    output = args.output or _default_output(args.input, ".inr")
    if Path(output).resolve() == Path(args.input).resolve():
        raise InrcodecError("output would overwrite the input")
    io.check_writable(output, args.force)
    image = io.read_image(args.input)
    data, report = encode_with_report(image, lmbda=args.lmbda, preset=args.preset,
                                      iterations=args.iterations, device=args.device,
                                      seed=args.seed, progress=not args.quiet)
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

    output = args.output or _default_output(args.input, ".png")
    io.check_writable(output, args.force)
    if Path(output).suffix.lower() not in io.LOSSLESS_SUFFIXES:
        raise InrcodecError(f"output must be a lossless image ({', '.join(sorted(io.LOSSLESS_SUFFIXES))})")
    data = io.read_bytes(args.input)
    start = time.perf_counter()
    image = decode(data)
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

    parsed = parse(data)
    h = parsed.header
    return {
        "format_version": bitstream.FORMAT_VERSION,
        "mode": "image",
        "width": h.width, "height": h.height, "channels": h.channels,
        "preset": h.preset or "custom",
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
    print(f"{args.input}: inrcodec format {info['format_version']}, {info['mode']}, "
          f"{info['width']}x{info['height']}, {info['channels']} channel(s)")
    print(f"  preset {info['preset']}: {json.dumps(info['architecture'])}")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp), {info['macs_per_pixel']:.0f} MACs/pixel")
    for name, n in info["sections"].items():
        print(f"  {name:>18}: {n} bytes")
    return 0


def cmd_profile(args) -> int:
    from .arch import PRESETS
    from .complexity import DEFAULT_PROFILE_SIZE, macs_per_pixel

    h, w = args.size or DEFAULT_PROFILE_SIZE
    names = [args.preset] if args.preset else list(PRESETS)
    out = {}
    for name in names:
        parts = macs_per_pixel(PRESETS[name], h, w, 3)
        total = parts.pop("total")
        out[name] = {"macs_per_pixel": total, "components": parts}
    if args.json:
        print(json.dumps({"size": [h, w], "presets": out}))
        return 0
    print(f"decode MACs/pixel at {h}x{w} (RGB)")
    print(f"{'preset':<8} {'arm':>8} {'upsampling':>11} {'synthesis':>10} {'total':>8}")
    for name, v in out.items():
        c = v["components"]
        print(f"{name:<8} {c['arm']:>8.0f} {c['upsampling']:>11.0f} {c['synthesis']:>10.0f} "
              f"{v['macs_per_pixel']:>8.0f}")
    return 0


COMMANDS = {"encode": cmd_encode, "decode": cmd_decode, "info": cmd_info, "profile": cmd_profile}


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return COMMANDS[args.command](args)
    except InrcodecError as exc:
        sys.stderr.write(f"inrcodec: error: {exc}\n")
        return 1
    except KeyboardInterrupt:
        sys.stderr.write("inrcodec: error: interrupted\n")
        return 130
    except Exception as exc:  # never a traceback for users
        if os.environ.get("INRCODEC_DEBUG"):
            raise
        sys.stderr.write(f"inrcodec: error: internal error: {type(exc).__name__}: {exc}\n")
        return 1


if __name__ == "__main__":
    sys.exit(main())
