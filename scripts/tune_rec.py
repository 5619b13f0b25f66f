"""Hyper-parameter check of the variational codec (--mode rec) on 128x128 centre crops of
../shared/data/train (never Kodak).

    python scripts/tune_rec.py [--workers 2] [--iterations 2000]

Each variant changes one thing from the shipped defaults (RecArch(), lr 4e-2). Every point is a
real file; the score is the RD cost MSE + λ·bpp (pixels in [0, 1], as the grid codec's loss) of
the decoded image, averaged over images and λ; lower is better. Writes
benchmarks/results/tuning_rec_train128.md.
"""
from __future__ import annotations

import argparse
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "data" / "train"
IMAGES = ["4.2.03", "house", "4.1.05"]
LMBDAS = [4e-3, 1e-3]
VARIANTS = {                                 # name: (RecArch overrides, learning rate)
    "default": ({}, 4e-2),
    "lr 2e-2": ({}, 2e-2),
    "lr 8e-2": ({}, 8e-2),
    "hidden 16": ({"hidden": 16}, 4e-2),
    "hidden 32": ({"hidden": 32}, 4e-2),
    "8 freqs": ({"n_freqs": 8}, 4e-2),
    "grids 1-5": ({"grid_levels": (1, 2, 3, 4, 5)}, 4e-2),
    "sine": ({"activation": "sine"}, 4e-2),
}


def crop(name: str) -> np.ndarray:
    import imageio.v3 as iio
    img = iio.imread(TRAIN / f"{name}.png")
    img = img[:, :, :3] if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2)
    h, w = img.shape[:2]
    return np.ascontiguousarray(img[h // 2 - 64:h // 2 + 64, w // 2 - 64:w // 2 + 64])


def point(job) -> dict:
    import torch
    torch.set_num_threads(1)
    from inrcodec.variational.encoder import encode_with_result
    from inrcodec.variational.model import RecArch
    variant, image, lmbda, iterations = job
    overrides, lr = VARIANTS[variant]
    img = crop(image)
    _, report, _ = encode_with_result(img, lmbda=lmbda, iterations=iterations,
                                      arch=RecArch(**overrides), lr=lr)
    mse = 10 ** (-report["psnr"] / 10)
    return {"variant": variant, "image": image, "lmbda": lmbda, "bpp": report["bpp"],
            "psnr": report["psnr"], "cost": mse + lmbda * report["bpp"]}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=2000)
    args = ap.parse_args(argv)
    command = "python scripts/tune_rec.py " + " ".join(sys.argv[1:] if argv is None else argv)
    jobs = [(v, im, lm, args.iterations) for v in VARIANTS for im in IMAGES for lm in LMBDAS]
    start = time.time()
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(point, jobs))
    base = {(r["image"], r["lmbda"]): r["cost"] for r in rows if r["variant"] == "default"}
    lines = ["# Variational codec (--mode rec): hyper-parameter check on training crops (not Kodak)",
             "", f"Command: `{command}`  ", f"Wall time: {time.time() - start:.0f} s", "",
             f"Images: 128x128 centre crops of train/{', '.join(IMAGES)}; λ ∈ {LMBDAS} (fixed β: "
             f"loss MSE + λ·KL bits per pixel); {args.iterations} iterations; one CPU thread per "
             "fit. Score: RD cost MSE + λ·bpp of the real decoded file; the change is the mean "
             "over images and λ of the relative change against the default on the same point.", "",
             "| variant | mean RD cost change | mean bpp | mean PSNR dB |", "|---|---:|---:|---:|"]
    for v in VARIANTS:
        mine = [r for r in rows if r["variant"] == v]
        change = np.mean([r["cost"] / base[(r["image"], r["lmbda"])] - 1 for r in mine])
        lines.append(f"| {v} | {100 * change:+.1f} % | {np.mean([r['bpp'] for r in mine]):.3f} | "
                     f"{np.mean([r['psnr'] for r in mine]):.2f} |")
    lines += ["", "Every point:", "", "| variant | image | λ | bpp | PSNR dB | RD cost |",
              "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['variant']} | {r['image']} | {r['lmbda']} | {r['bpp']:.3f} | {r['psnr']:.2f} | "
              f"{r['cost']:.6f} |" for r in rows]
    out = ROOT / "benchmarks" / "results" / "tuning_rec_train128.md"
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
