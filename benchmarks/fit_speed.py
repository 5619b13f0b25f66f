"""Fitting speed: wall time of one training step against its FLOP-bound time, per preset and size;
and time-to-quality (RD cost reached within a wall-clock budget).

    python -m benchmarks.fit_speed --threads 2
    python -m benchmarks.fit_speed --threads 2 --budgets 15,30,60,120 --images kodim05
    python -m benchmarks.fit_speed --threads 2 --against ../before --rounds 3

FLOP-bound time of a step = decode MACs/pixel x pixels x 3 (forward + backward) divided by the
MAC rate of a float32 matmul measured in the same process on the same threads. The ratio says how
far the step is from what the arithmetic alone would cost (Python, memory traffic, small kernels).
Writes benchmarks/results/fit_speed.md (--out for another name), with the time-to-quality table
when --budgets, the per-piece times with --breakdown and the comparison with --against.
"""
from __future__ import annotations

import argparse
import math
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
SIZES = {"128x128": (128, 128), "256x256": (256, 256), "512x768": (512, 768)}


def step_seconds(preset: str, h: int, w: int, steps: int, device: str,
                 compile_loss: bool = False, compile_mode: str = "default") -> float:
    """Mean wall time of one noise-phase step of the real fit (`fit.train.take_step` with the
    default schedule: forward, rate, backward, gradient clip, Adam for the latents and SOAP for
    the networks; the mean, not the median, so that SOAP's preconditioner update, every 10th
    step, is counted: time a multiple of 10 steps), under whatever malloc
    settings the process has (main sets them); with compile_loss the model's forward goes
    through torch.compile (its compile time falls in the 3 warm-up steps, which are not
    counted)."""
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
        model.forward = torch.compile(model.forward, mode=compile_mode)
    times = []
    for k in range(steps + 3):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        train.take_step(model, opt, target, 1e-3, sc, sc.lr, sc.t_start, 1.0, True,
                        noise_std=sc.noise_std_start)
        if device == "cuda":
            torch.cuda.synchronize()
        if k >= 3:                                  # warm-up steps not counted
            times.append(time.perf_counter() - start)
    return float(np.mean(times))


def macs_per_second(device: str) -> float:
    """The float32 matmul MAC rate the FLOP bound divides by: decode_speed's 512^3 CPU matmul on
    the CPU; on CUDA a 4096^3 one (TF32 as torch's default, off), best of 13 (the first warm up)."""
    if device == "cpu":
        from benchmarks.decode_speed import matmul_macs_per_second
        return matmul_macs_per_second()
    import torch
    n = 4096
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    best = float("inf")
    for _ in range(13):
        torch.cuda.synchronize()
        start = time.perf_counter()
        a @ b
        torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return n ** 3 / best


def time_to_quality(image: str, size: int, budgets: list[float], lmbda: float,
                    device: str = "cpu") -> list[dict]:
    """One fit + encode per budget (size 0: the whole image), each a real file."""
    import inrcodec
    from benchmarks.rd import load_crop
    img = load_crop(image, size)
    rows = []
    for budget in budgets:
        _, r = inrcodec.encode_with_report(img, lmbda=lmbda, time_budget=budget, device=device)
        mse = 255.0 ** 2 / 10 ** (r["psnr"] / 10) / 255.0 ** 2
        rows.append({"image": image, "shape": img.shape[:2], "budget": budget,
                     "iterations": r["iterations"],
                     "bpp": r["bpp"], "psnr": r["psnr"], "rd_cost": mse + lmbda * r["bpp"]})
        print(rows[-1], flush=True)
    return rows


def breakdown(preset: str, h: int, w: int, steps: int, rate: float) -> list[str]:
    """Forward + backward of each piece of the step on its own (inputs from a real model,
    gradients of ones), against the FLOP-bound time of its decode MACs: where the step's time
    goes. The pieces overlap a little with the whole step's own overheads, so they need not sum
    to it exactly."""
    import torch
    from inrcodec.arch import PRESETS
    from inrcodec.complexity import macs
    from inrcodec.fit import train
    from inrcodec.fit.model import FitModel, LaplaceBits, RowGather
    from inrcodec.model.padding import replicate_pad
    model = FitModel(PRESETS[preset], h, w, 3)
    with torch.no_grad():
        model.latent.normal_(0, 2)
    opt = train._optimizer(model, train.DEFAULT_SCHEDULE)
    leaf = lambda t: t.detach().clone().requires_grad_()         # noqa: E731
    y_rate, y_syn = (leaf(t) for t in model.quantized_latents("noise", 0.3))
    ctx = leaf(RowGather.apply(y_rate, model.ctx_src, model.ctx_inverse))
    mu, log_scale = (leaf(t) for t in model.arm.forward_wide(ctx))
    grids = [leaf(g) for g in model.layout.grids_from_values(y_syn)]
    planes = leaf(model.upsampling(grids))
    syn = model.synthesis
    flat = leaf(planes.reshape(planes.shape[1], -1))
    rgb = leaf(syn.pointwise_layers(flat).view(1, 3, h, w).contiguous(
        memory_format=torch.channels_last))

    def backward(*outputs):
        torch.autograd.backward([o.sum() for o in outputs])

    def residual():
        x = rgb
        for conv in syn.residual:
            x = x + conv(replicate_pad(torch.relu(x), 1))
        backward(x)

    def update():
        for p in model.parameters():
            p.grad = torch.ones_like(p)
        torch.nn.utils.clip_grad_norm_(model.parameters(), 0.03)
        opt.step()

    m = macs(PRESETS[preset], h, w)
    conv_macs = h * w * PRESETS[preset].synthesis_residual * 9 * 3 * 3    # 3x3, RGB to RGB
    pointwise_macs = m["synthesis"] - conv_macs
    pieces = [
        ("latent gather + soft-round + noise", lambda: backward(*model.quantized_latents("noise", 0.3)), 0),
        ("ARM context gather", lambda: backward(RowGather.apply(y_rate, model.ctx_src, model.ctx_inverse)), 0),
        ("ARM MLP", lambda: backward(*model.arm.forward_wide(ctx)), m["arm"]),
        ("Laplace rate", lambda: backward(LaplaceBits.apply(y_rate, mu, log_scale)), 0),
        ("upsampling", lambda: backward(model.upsampling(grids)), m["upsampling"]),
        ("synthesis 1x1 layers", lambda: backward(syn.pointwise_layers(flat)), pointwise_macs),
        ("synthesis 3x3 residual convs", residual, conv_macs),
        ("gradient clip + Adam", update, 0),
    ]
    lines = ["", f"## Where the step goes ({preset}, {h}x{w})", "",
             "Each piece's forward + backward on its own, median of "
             f"{steps} after 3 warm-up runs; FLOP bound from its decode MACs (x3) as above "
             "(pieces without MACs: elementwise work, gathers, the optimizer).", "",
             "| piece | ms | FLOP-bound ms |", "|---|---:|---:|"]
    for name, fn, piece_macs in pieces:
        times = []
        for k in range(steps + 3):
            start = time.perf_counter()
            fn()
            if k >= 3:
                times.append(time.perf_counter() - start)
        bound = f"{1e3 * piece_macs * 3 / rate:.2f}" if piece_macs else "-"
        lines.append(f"| {name} | {1e3 * float(np.median(times)):.2f} | {bound} |")
    return lines


STEP_ROW = re.compile(r"\| (\w+) \| (\d+x\d+) \| \d+ \| ([\d.]+) \|")


def against(other: Path, args, presets: list[str], sizes: list[str],
            extra: tuple[str, ...] = ()) -> list[str]:
    """Step times of this checkout and of `other` (another checkout, e.g. a git worktree of an
    earlier commit, running its own copy of this script), alternating round by round so that a
    machine that speeds up or slows down over minutes (shared virtual machines do) is seen by
    both; medians over rounds. The other checkout's results file is overwritten. With `extra`
    (other is this checkout, e.g. `--default-malloc`), the other side is this script with those
    flags, writing (then removing) its own results file."""
    cmd = [sys.executable, "-m", "benchmarks.fit_speed", "--threads", str(args.threads),
           "--steps", str(args.steps), "--presets", ",".join(presets), "--sizes", ",".join(sizes),
           "--device", args.device, *extra]
    results = other / "benchmarks/results/fit_speed.md"
    if extra:
        cmd += ["--out", "fit_speed_other_side"]
        results = results.with_name("fit_speed_other_side.md")
    env = {**os.environ, "PYTHONPATH": str(other)}
    mine, theirs = {}, {}
    for _ in range(args.rounds):
        subprocess.run(cmd, cwd=other, env=env, check=True, capture_output=True)
        for m in STEP_ROW.finditer(results.read_text()):
            theirs.setdefault((m[1], m[2]), []).append(float(m[3]))
        for preset in presets:
            for name in sizes:
                t = 1e3 * step_seconds(preset, *SIZES[name], args.steps, args.device)
                mine.setdefault((preset, name), []).append(t)
    if extra:
        results.unlink()
        heading = f"this script with {' '.join(extra)}"
        there = (f"This script in a second process (`python {' '.join(cmd[1:])}`) and in this "
                 "one")
    else:
        heading = str(other)
        there = (f"Its own copy of this script (`PYTHONPATH={other} python {' '.join(cmd[1:])}`, "
                 "run from there, timing its own definition of a step) and this checkout's step")
    lines = ["", f"## Against {heading} (same machine, same session)", "",
             f"{there}, alternately, {args.rounds} rounds; the median over rounds of each round's "
             "step time (here the mean step, SOAP's preconditioner updates included; there the "
             "median or mean, as its own copy of this script computes it):", "",
             "| preset | size | step ms there | step ms here | speed-up |", "|---|---|---:|---:|---:|"]
    for key, times in mine.items():
        if key in theirs:
            a, b = float(np.median(theirs[key])), float(np.median(times))
            lines.append(f"| {key[0]} | {key[1]} | {a:.1f} | {b:.1f} | {a / b:.2f}x |")
    return lines


GAP_DB = 0.2     # the "within 0.2 dB of its converged RD cost"


def quality_table(args) -> list[str]:
    """Time to quality: one real file per image and budget. The longest budget's RD cost stands
    for the converged one; each row's gap to it is 10 log10(cost / that cost) dB, and the first
    budget within GAP_DB of it is named per image (the longest two budgets' gap says how near
    that reference itself is to convergence)."""
    budgets = sorted(float(b) for b in args.budgets.split(","))
    crops = "whole images" if args.size == 0 else f"{args.size}x{args.size} centre crops"
    lines = ["", f"## Time to quality ({crops}, λ = {args.lmbda}, {args.device}, {args.threads} "
             "threads; every point a real file)", "",
             "| image | size | fit budget s | iterations run | bpp | PSNR dB | "
             "RD cost (MSE + λ·bpp) | gap to longest, dB |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    summary = []
    for image in args.images.split(","):
        rows = time_to_quality(image, args.size, budgets, args.lmbda, args.device)
        reference = rows[-1]["rd_cost"]
        gaps = [10 * math.log10(r["rd_cost"] / reference) for r in rows]
        for r, gap in zip(rows, gaps):
            h, w = r["shape"]
            lines.append(f"| {r['image']} | {w}x{h} | {r['budget']:.0f} | {r['iterations']} | "
                         f"{r['bpp']:.3f} | {r['psnr']:.2f} | {r['rd_cost']:.6f} | {gap:.2f} |")
        within = next(r["budget"] for r, gap in zip(rows, gaps) if gap <= GAP_DB)
        line = (f"- {image}: within {GAP_DB} dB of the longest ({budgets[-1]:.0f} s) fit from "
                f"{within:.0f} s on")
        if len(rows) > 1:
            line += f"; the {budgets[-2]:.0f} s fit is {gaps[-2]:.2f} dB from it"
        summary.append(line)
    return lines + [""] + summary


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--presets", default=None)
    ap.add_argument("--sizes", default=",".join(SIZES))
    ap.add_argument("--steps", type=int, default=10)
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--compile", action="store_true", help="torch.compile the loss (inductor)")
    ap.add_argument("--compile-mode", default="default",
                    choices=["default", "reduce-overhead", "max-autotune-no-cudagraphs"],
                    help="torch.compile's mode (reduce-overhead: CUDA graphs on a GPU)")
    ap.add_argument("--budgets", default="", help="comma-separated seconds for time-to-quality")
    ap.add_argument("--images", default="kodim05")
    ap.add_argument("--size", type=int, default=256,
                    help="crop side for time-to-quality (0: whole images)")
    ap.add_argument("--lmbda", type=float, default=1e-3)
    ap.add_argument("--against", metavar="DIR", default=None,
                    help="another checkout (e.g. a git worktree of an earlier commit): time its "
                         "step and this one's alternately (see `against`)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds of --against")
    ap.add_argument("--default-malloc", action="store_true",
                    help="time steps under the C library's default malloc settings, not the ones "
                         "the command line sets (inrcodec.memory.retain_freed_memory)")
    ap.add_argument("--against-default-malloc", action="store_true",
                    help="time this checkout's step with and without --default-malloc, "
                         "alternately (as --against, in a second process)")
    ap.add_argument("--out", default=None, help="results file name without .md (default "
                    "fit_speed, or fit_speed_compile with --compile)")
    ap.add_argument("--breakdown", metavar="PRESET@HxW", default=None,
                    help="time each piece of the step for this preset and size (see `breakdown`)")
    args = ap.parse_args(argv)
    import torch
    torch.set_num_threads(args.threads)
    if not args.default_malloc:             # as the command line does (time to quality too)
        from inrcodec.memory import retain_freed_memory
        retain_freed_memory()
    from benchmarks.rd import machine, versions
    from inrcodec.arch import PRESETS
    from inrcodec.complexity import macs_per_pixel
    command = "python -m benchmarks.fit_speed " + " ".join(sys.argv[1:] if argv is None else argv)
    rate = macs_per_second(args.device)
    gpu = "" if args.device == "cpu" else f", GPU {torch.cuda.get_device_name()}"
    presets = args.presets.split(",") if args.presets else list(PRESETS)
    title = f"{args.device}, {args.threads} threads" + (
        f", torch.compile ({args.compile_mode})" if args.compile else "")
    lines = [f"# Fitting speed ({title})", "",
             f"Command: `{command}`  ", f"Machine: {machine()}{gpu}  ", f"Versions: {versions()}", "",
             f"Float32 matmul ({'512^3 on these threads' if args.device == 'cpu' else '4096^3'}): "
             f"{rate / 1e9:.1f} GMAC/s.", "",
             "| preset | size | MACs/px | step ms (mean) | FLOP-bound ms | ratio |",
             "|---|---|---:|---:|---:|---:|"]
    for preset in presets:
        for name in args.sizes.split(","):
            h, w = SIZES[name]
            mpp = macs_per_pixel(PRESETS[preset], h, w)["total"]
            t = step_seconds(preset, h, w, args.steps, args.device, args.compile,
                             args.compile_mode)
            bound = mpp * h * w * 3 / rate
            lines.append(f"| {preset} | {name} | {mpp:.0f} | {1e3 * t:.1f} | {1e3 * bound:.2f} | "
                         f"{t / bound:.0f}x |")
            print(lines[-1], flush=True)
    lines += ["", "Step: one noise-phase step of the real fit (`fit.train.take_step`: soft-round + "
              "noise, rate of every latent under the float ARM, upsampling, synthesis, backward, "
              "gradient clip, Adam for the latents and SOAP for the networks; malloc set as the command "
              "line sets it unless --default-malloc), mean of "
              f"{args.steps} after 3 warm-up steps (the mean counts SOAP's preconditioner update "
              "every 10th step), image kodim05 cropped."]
    if args.breakdown:
        preset, size = args.breakdown.split("@")
        lines += breakdown(preset, *SIZES[size], args.steps, rate)
    if args.against:
        lines += against(Path(args.against).resolve(), args, presets, args.sizes.split(","))
    if args.against_default_malloc:
        lines += against(ROOT, args, presets, args.sizes.split(","), ("--default-malloc",))
    if args.budgets:
        lines += quality_table(args)
    RESULTS.mkdir(parents=True, exist_ok=True)
    name = args.out or ("fit_speed_compile" if args.compile else "fit_speed")
    (RESULTS / f"{name}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
