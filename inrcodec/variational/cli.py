"""The rec-mode side of the command line (inrcodec/cli.py dispatches here on `--mode rec`)."""
from __future__ import annotations

import json
from pathlib import Path

from ..cli import _positive_float
from ..errors import InrcodecError


def add_encode_arguments(parser) -> None:
    g = parser.add_argument_group("coding mode")
    g.add_argument("--mode", choices=["grid", "rec"], default="grid",
                   help="grid: quantized latent grids + ARM (default); rec: a Bayesian coordinate "
                        "network whose weights are sent by relative-entropy coding (still "
                        "images, CPU, default 2000 steps)")
    g.add_argument("--bpp", type=_positive_float, default=None, metavar="BPP",
                   help="rec mode: target rate in bits per pixel (instead of --lmbda; default: "
                        "none, --lmbda's default applies)")


def check_mode_flags(args, lmbda_given: bool) -> None:
    """Flags that do not fit the chosen mode: one clean error before any work."""
    mode = getattr(args, "mode", "grid")
    if getattr(args, "bpp", None) is not None and mode != "rec":
        raise InrcodecError("--bpp applies to --mode rec only (the grid mode takes --lmbda)")
    if mode != "rec":
        return
    if args.bpp is not None and lmbda_given:
        raise InrcodecError("give either --bpp or --lmbda, not both")
    if getattr(args, "time_budget", None) is not None:
        raise InrcodecError("--time-budget is not supported with --mode rec (use --iterations)")
    if getattr(args, "device", "auto") == "cuda":
        raise InrcodecError("--mode rec fits on the CPU only (--device cpu or auto)")


def cmd_encode(args, lmbda_given: bool) -> int:
    from .. import io
    from ..cli import same_file
    from ..limits import check_rec_encode
    from .encoder import encode_with_report

    output = args.output or str(Path(args.input).with_suffix(".inr"))
    if same_file(output, args.input):
        raise InrcodecError("output would overwrite the input")
    io.check_writable(output, args.force)
    image = io.read_image(args.input, check_size=lambda h, w, c: check_rec_encode(h, w, c))
    data, report = encode_with_report(image, lmbda=args.lmbda if lmbda_given or args.bpp is None else None,
                                      bpp=args.bpp, iterations=args.iterations, seed=args.seed,
                                      progress=not args.quiet)
    io.write_atomic(output, data, args.force)
    report["output"] = output
    if args.json:
        print(json.dumps(report))
    elif not args.quiet:
        print(f"{output}: {report['bytes']} bytes, {report['bpp']:.4f} bpp, PSNR {report['psnr']:.2f} dB, "
              f"rec mode, {report['blocks']} blocks of <= {report['kl_bits_per_block']} bits KL, "
              f"{report['macs_per_pixel']:.0f} MACs/pixel, {report['encode_seconds']:.1f} s")
    return 0


def print_info(path: str, info: dict) -> None:
    print(f"{path}: inrcodec format {info['format_version']}, rec (relative-entropy coded weights), "
          f"{info['width']}x{info['height']}, {info['channels']} channel(s)")
    print(f"  network: {json.dumps(info['architecture'])}, {info['weights']} weights")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp), {info['blocks']} blocks of <= "
          f"{info['kl_bits_per_block']} bits KL, {info['macs_per_pixel']:.0f} MACs/pixel")
    for name, n in info["sections"].items():
        print(f"  {name:>18}: {n} bytes")
