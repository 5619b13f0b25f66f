"""Fitting speed: wall time of one training step against its FLOP-bound time, per preset and size;
and time-to-quality (RD cost reached within a wall-clock budget).

    python -m benchmarks.fit_speed --threads 2
    python -m benchmarks.fit_speed --threads 2 --budgets 15,30,60,120 --images kodim05

FLOP-bound time of a step = decode MACs/pixel x pixels x 3 (forward + backward) divided by the
MAC rate of a float32 matmul measured in the same process on the same threads. The ratio says how
far the step is from what the arithmetic alone would cost (Python, memory traffic, small kernels).
Writes benchmarks/results/fit_speed.md (and appends the time-to-quality table when --budgets).
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"128x128": (128, 128), "256x256": (256, 256), "512x768": (512, 768)}


def step_seconds(preset: str, h: int, w: int, steps: int, device: str,
                 compile_loss: bool = False) -> float:
    """Median wall time of one noise-phase step of the real fit (`fit.train.take_step` with the
    default schedule: forward, rate, backward, gradient clip, Adam); with compile_loss the
    model's forward goes through torch.compile (its compile time falls in the 3 warm-up steps,
    which are not counted)."""
    import torch
    from benchmarks.rd import load_crop
    from inrcodec.arch import PRESETS
    from inrcodec.fit import train
    from inrcodec.fit.model import FitModel
    img = load_crop("kodim05", 0)[:h, :w]
    target = torch.from_numpy(np.ascontiguousarray(img)).permute(2, 0, 1)[None].float().div(255)
    target = target.to(device)
    model = FitModel(PRESETS[preset], h, w, 3).to(device)
    sc = train.DEFAULT_SCHEDULE
    opt = train._optimizer(model, sc)
    if compile_loss:
        model.forward = torch.compile(model.forward)
    times = []
    for k in range(steps + 3):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        train.take_step(model, opt, target, 1e-3, sc, sc.lr, sc.t_start, 1.0, True)
        if device == "cuda":
            torch.cuda.synchronize()
        if k >= 3:                                  # warm-up steps not counted
            times.append(time.perf_counter() - start)
    return float(np.median(times))


def time_to_quality(image: str, size: int, budgets: list[float], lmbda: float) -> list[dict]:
    import inrcodec
    from benchmarks.rd import load_crop
    img = load_crop(image, size)
    rows = []
    for budget in budgets:
        _, r = inrcodec.encode_with_report(img, lmbda=lmbda, time_budget=budget, device="cpu")
        mse = 255.0 ** 2 / 10 ** (r["psnr"] / 10) / 255.0 ** 2
        rows.append({"image": image, "budget": budget, "iterations": r["iterations"],
                     "bpp": r["bpp"], "psnr": r["psnr"], "rd_cost": mse + lmbda * r["bpp"]})
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", default=None)
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the loss (inductor)")
    ap.add_argument("--budgets", default="", help="comma-separated seconds for time-to-quality")
    ap.add_argument("--images", default="kodim05")
    ap.add_argument("--size", type=int, default=256, help="crop side for time-to-quality")
    ap.add_argument("--lmbda", type=float, default=1e-3)
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    from benchmarks.decode_speed import matmul_macs_per_second
    from benchmarks.rd import machine, versions
    from inrcodec.arch import PRESETS
    from inrcodec.complexity import macs_per_pixel
    command = "python -m benchmarks.fit_speed " + " ".join(sys.argv[1:] if argv is None else argv)
    rate = matmul_macs_per_second()
    presets = args.presets.split(",") if args.presets else list(PRESETS)
    title = f"{args.device}, {args.threads} threads" + (", torch.compile" if args.compile else "")
    lines = [f"# Fitting speed ({title})", "",
             f"Command: `{command}`  ", f"Machine: {machine()}  ", f"Versions: {versions()}", "",
             f"Float32 matmul (512^3) on these threads: {rate / 1e9:.1f} GMAC/s.", "",
             "| preset | size | MACs/px | step ms (median) | FLOP-bound ms | ratio |",
             "|---|---|---:|---:|---:|---:|"]
    for preset in presets:
        for name in args.sizes.split(","):
            h, w = SIZES[name]
            mpp = macs_per_pixel(PRESETS[preset], h, w)["total"]
            t = step_seconds(preset, h, w, args.steps, args.device, args.compile)
            bound = mpp * h * w * 3 / rate
            lines.append(f"| {preset} | {name} | {mpp:.0f} | {1e3 * t:.1f} | {1e3 * bound:.2f} | "
                         f"{t / bound:.0f}x |")
            print(lines[-1], flush=True)
    lines += ["", "Step: one noise-phase step of the real fit (`fit.train.take_step`: soft-round + "
              "noise, rate of every latent under the float ARM, upsampling, synthesis, backward, "
              "gradient clip, Adam), median of "
              f"{args.steps} after 3 warm-up steps, image kodim05 cropped."]
    if args.budgets:
        budgets = [float(b) for b in args.budgets.split(",")]
        lines += ["", f"## Time to quality ({args.size}x{args.size} centre crops, λ = {args.lmbda}, "
                  f"CPU, {args.threads} threads; every point a real file)", "",
                  "| image | fit budget s | iterations run | bpp | PSNR dB | RD cost (MSE + λ·bpp) |",
                  "|---|---:|---:|---:|---:|---:|"]
        for image in args.images.split(","):
            for r in time_to_quality(image, args.size, budgets, args.lmbda):
                lines.append(f"| {r['image']} | {r['budget']:.0f} | {r['iterations']} | "
                             f"{r['bpp']:.3f} | {r['psnr']:.2f} | {r['rd_cost']:.6f} |")
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = "fit_speed_compile.md" if args.compile else "fit_speed.md"
    (RESULTS / name).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
