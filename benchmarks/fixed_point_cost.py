"""What decoding in fixed point costs (issue 33): the same files' PSNR through the decoder's
fixed-point upsampling and synthesis against the float model rendered from the same integers.

    python -m benchmarks.fixed_point_cost [--images kodim01,kodim05,kodim23] [--size 256]
                                          [--lmbdas 0.016,0.004,0.001] [--iterations 2000]
                                          [--workers 2]

Every point is a real file fitted here (one CPU thread per fit, default preset), then decoded
twice: by inrcodec.decode (fixed point, what the file is) and by the float torch modules with
the dequantized weights (what format 4 decoded, up to its float rounding), both rounded to 8
bits. Writes benchmarks/results/fixed_point_cost_kodak256.md.
"""
from __future__ import annotations

import argparse
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "kodak"
RESULTS = ROOT / "benchmarks" / "results"


def crop(name: str, size: int) -> np.ndarray:
    import imageio.v3 as iio
    img = iio.imread(KODAK / f"{name}.png")[:, :, :3]
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[(h - size) // 2:(h + size) // 2, (w - size) // 2:(w + size) // 2])


def float_decode(data: bytes) -> np.ndarray:
    """The float model rendered from the file's own integers (format 4's decoder, in torch)."""
    import torch
    from inrcodec.entropy.weights import dequantize
    from inrcodec.image.decode import decode_latent_buffer, load_networks, parse
    from inrcodec.model.params import build_modules, grouped_parameters
    from inrcodec.model.render import render
    parsed = parse(data)
    h = parsed.header
    layout, _, _, values = decode_latent_buffer(parsed)
    _, _, ints = load_networks(h, parsed.sections, dithered=h.dithered)
    modules = build_modules(h.arch, h.channels)
    with torch.no_grad():
        for name in ("upsampling", "synthesis"):
            for g, params in grouped_parameters(modules[name]).items():
                for pname, p in params:
                    p.copy_(torch.from_numpy(dequantize(ints[(name, pname)], h.quant[(name, g)][0])))
        image = render(layout, modules["upsampling"], modules["synthesis"], torch.from_numpy(values))
        return (image[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else float("inf")


def point(job) -> dict:
    import torch
    torch.set_num_threads(1)
    import inrcodec
    name, size, lmbda, iterations = job
    image = crop(name, size)
    data, report = inrcodec.encode_with_report(image, lmbda=lmbda, iterations=iterations,
                                               device="cpu")
    fixed, flt = inrcodec.decode(data), float_decode(data)
    return {"image": name, "lmbda": lmbda, "bpp": report["bpp"], "psnr_fixed": psnr(fixed, image),
            "psnr_float": psnr(flt, image), "reported": report["psnr"],
            "differing": float(np.mean(fixed != flt)), "max_diff": int(np.abs(
                fixed.astype(int) - flt.astype(int)).max())}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="kodim01,kodim05,kodim23")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--lmbdas", default="0.016,0.004,0.001")
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--out", default="fixed_point_cost_kodak256")
    args = ap.parse_args(argv)
    jobs = [(im, args.size, float(lm), args.iterations) for im in args.images.split(",")
            for lm in args.lmbdas.split(",")]
    start = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(point, jobs))
    seconds = time.time() - start
    command = "python -m benchmarks.fixed_point_cost " + shlex.join(sys.argv[1:] if argv is None else argv)
    deltas = [r["psnr_fixed"] - r["psnr_float"] for r in rows]
    lines = ["# What decoding in fixed point costs", "", f"Command: `{command}`  ",
             f"Wall time: {seconds:.0f} s", "",
             f"{args.size}x{args.size} centre crops of Kodak {args.images}, λ ∈ {args.lmbdas}, "
             f"{args.iterations} steps, one CPU thread per fit, default preset. Each file decoded "
             "by inrcodec.decode (format 5: fixed point) and by the float torch modules with the "
             "same integers (format 4's decoder); both rounded to 8 bits.", "",
             f"Mean PSNR change, fixed - float: **{np.mean(deltas):+.4f} dB** (range "
             f"{min(deltas):+.4f} .. {max(deltas):+.4f}); the encoder reports the fixed "
             f"PSNR on every point: {all(abs(r['reported'] - r['psnr_fixed']) < 1e-9 for r in rows)}.",
             "", "| image | λ | bpp | PSNR fixed | PSNR float | Δ dB | bytes differing | max |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r, d in zip(rows, deltas):
        lines.append(f"| {r['image']} | {r['lmbda']} | {r['bpp']:.3f} | {r['psnr_fixed']:.3f} | "
                     f"{r['psnr_float']:.3f} | {d:+.4f} | {100 * r['differing']:.2f} % | "
                     f"{r['max_diff']} |")
    text = "\n".join(lines) + "\n"
    (RESULTS / f"{args.out}.md").write_text(text)
    print(text)


if __name__ == "__main__":
    main()
