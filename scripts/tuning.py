"""Shared by the tuning scripts: training crops (never Kodak), parallel fits, the results table.

A tuning script names variants (changes from the shipped defaults), fits every (variant, image,
λ) point as a real file, and scores each point by its RD cost MSE + λ·bpp relative to the default
variant on the same point; the table reports the mean change and every point.
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
TRAIN = ROOT.parent / "shared" / "data" / "train"
RESULTS = ROOT / "benchmarks" / "results"


# Issue 32 items 1-2 as Schedule knobs, pinned here so that the tables made with them reproduce
# whatever the defaults become: Gaussian noise 0.22 -> 0.15 between two soft-roundings at
# temperature 0.35 -> 0.08, the rate priced on the synthesis' values; and the ARM's log-scale at -4
PROXY = {"noise_std_start": 0.22, "noise_std_end": 0.15, "t_start": 0.35, "t_end": 0.08,
         "rate_on_synthesis_values": True}
PROXY_INIT = {**PROXY, "arm_log_scale_init": -4.0}
# The optimizer of the tables made before issue 32 item 5 (fused Adam, latents x3), pinned too
ADAM_X3 = {"network_optimizer": "adam", "network_weight_decay": 0.0, "latent_lr_multiplier": 3.0}
# ... and item 5's, adopted as the default (SOAP for the networks, weight decay 0.01, latents x6),
# pinned for the same reason
SOAP_X6 = {"network_optimizer": "soap", "network_weight_decay": 0.01, "latent_lr_multiplier": 6.0}


def train_crop(name: str, size: int = 128) -> np.ndarray:
    """Centre crop of ../shared/data/train/NAME.png as HxWx3 uint8."""
    import imageio.v3 as iio
    img = iio.imread(TRAIN / f"{name}.png")
    img = img[:, :, :3] if img.ndim == 3 else np.repeat(img[:, :, None], 3, axis=2)
    h, w = img.shape[:2]
    half = size // 2
    return np.ascontiguousarray(img[h // 2 - half:h // 2 + half, w // 2 - half:w // 2 + half])


def parser(doc: str) -> argparse.ArgumentParser:
    ap = argparse.ArgumentParser(description=doc.splitlines()[0])
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--iterations", type=int, default=2000)
    return ap


def command_line(script: str, argv) -> str:
    """The command as a shell would need it typed (arguments with spaces quoted)."""
    return f"python scripts/{script} " + shlex.join(sys.argv[1:] if argv is None else argv)


def point_row(variant: str, image: str, lmbda: float, report: dict) -> dict:
    """One table row from an encoder report: bpp, PSNR and RD cost MSE + λ·bpp."""
    mse = 10 ** (-report["psnr"] / 10)
    return {"variant": variant, "image": image, "lmbda": lmbda, "bpp": report["bpp"],
            "psnr": report["psnr"], "cost": mse + lmbda * report["bpp"]}


def reference_rows(path: Path, variant: str) -> list[dict]:
    """The committed points of one variant from an earlier table (fits are deterministic on one
    thread, so a reference need not be refitted; the new table names the file it came from)."""
    rows = []
    for line in path.read_text().splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if len(cells) == 6 and cells[0] == variant:
            try:
                lmbda, bpp, psnr, cost = (float(c) for c in cells[2:])
            except ValueError:
                continue
            rows.append({"variant": variant, "image": cells[1], "lmbda": lmbda, "bpp": bpp,
                         "psnr": psnr, "cost": cost})
    if not rows:
        raise SystemExit(f"no points of {variant!r} in {path}")
    return rows


def run(point, jobs: list, workers: int) -> tuple[list[dict], float]:
    """point(job) -> {"variant", "image", "lmbda", "bpp", "psnr", "cost"} for every job, in a
    process pool (each worker should pin torch to one thread); returns (rows, wall seconds)."""
    start = time.time()
    with ProcessPoolExecutor(workers) as pool:
        rows = list(pool.map(point, jobs))
    return rows, time.time() - start


def write_table(path: Path, title: str, command: str, seconds: float, setup: str,
                variants: list[str], rows: list[dict], conclusion: str = "",
                score: str = "RD cost MSE + λ·bpp of the real decoded file") -> str:
    base = {(r["image"], r["lmbda"]): r["cost"] for r in rows if r["variant"] == variants[0]}
    lines = [f"# {title}", "", f"Command: `{command}`  ", f"Wall time: {seconds:.0f} s", "", setup,
             f"Score: {score}; the change is the mean over "
             f"images and λ of the relative change against `{variants[0]}` on the same point, "
             "then the per-point changes.", "",
             "| variant | mean RD cost change | per point (%) | mean bpp | mean PSNR dB |",
             "|---|---:|---|---:|---:|"]
    for v in variants:
        mine = [r for r in rows if r["variant"] == v]
        changes = [100 * (r["cost"] / base[(r["image"], r["lmbda"])] - 1) for r in mine]
        lines.append(f"| {v} | {np.mean(changes):+.1f} % | "
                     f"{', '.join(f'{c:+.1f}' for c in changes)} | "
                     f"{np.mean([r['bpp'] for r in mine]):.3f} | "
                     f"{np.mean([r['psnr'] for r in mine]):.2f} |")
    if conclusion:
        lines += ["", conclusion]
    lines += ["", "Every point:", "", "| variant | image | λ | bpp | PSNR dB | RD cost |",
              "|---|---|---:|---:|---:|---:|"]
    lines += [f"| {r['variant']} | {r['image']} | {r['lmbda']} | {r['bpp']:.3f} | {r['psnr']:.2f} | "
              f"{r['cost']:.6f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    path.write_text(text)
    return text
