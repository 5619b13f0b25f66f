"""Encode time after the fit: weight-step search, entropy coding, and the decode that verifies the
file (encode_seconds - fit_seconds of encode_with_report), per image size.

    python -m benchmarks.encode_overhead --threads 2
    python -m benchmarks.encode_overhead --threads 2 --against ../before --rounds 3

The fit itself is cut to a few steps (--iterations): this part's cost does not depend on how long
the fit ran. With --against, the same measurement is run with PYTHONPATH at another checkout (an
earlier commit's inrcodec, this file's code) and here, alternately, round by round; both sides
must give the same file, which is checked. Writes benchmarks/results/encode_overhead.md.
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"


def measure(crops: list[int], image: str, iterations: int, threads: int) -> list[dict]:
    import torch
    torch.set_num_threads(threads)
    import inrcodec
    from benchmarks.rd import load_crop
    rows = []
    for size in crops:
        img = load_crop(image, size)
        data, r = inrcodec.encode_with_report(img, iterations=iterations, device="cpu")
        rows.append({"size": f"{img.shape[1]}x{img.shape[0]}", "preset": r["preset"],
                     "seconds": r["encode_seconds"] - r["fit_seconds"],
                     "sha1": hashlib.sha1(data).hexdigest(), "inrcodec": inrcodec.__file__})
    return rows


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--image", default="kodim05")
    ap.add_argument("--crops", default="256,0", help="centre crop sides (0: the whole image)")
    ap.add_argument("--iterations", type=int, default=30)
    ap.add_argument("--against", metavar="DIR", default=None)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--json", action="store_true", help=argparse.SUPPRESS)   # one side's rows
    args = ap.parse_args(argv)
    crops = [int(c) for c in args.crops.split(",")]
    if args.json:
        print(json.dumps(measure(crops, args.image, args.iterations, args.threads)))
        return
    from benchmarks.rd import machine, versions

    def commit(tree: Path) -> str:
        out = subprocess.run(["git", "-C", str(tree), "describe", "--always", "--dirty"],
                             capture_output=True, text=True)
        return out.stdout.strip() or "unknown"
    command = "python -m benchmarks.encode_overhead " + " ".join(sys.argv[1:] if argv is None else argv)
    # this file, run with the working directory and PYTHONPATH at the measured tree, so that
    # tree's inrcodec is the one imported; glibc's malloc defaults on both sides (the library's
    # own behaviour: only the command line calls inrcodec.memory.retain_freed_memory)
    side = [sys.executable, str(Path(__file__).resolve()), "--json", "--threads",
            str(args.threads), "--image", args.image, "--crops", args.crops,
            "--iterations", str(args.iterations)]
    sides = {"here": ROOT} | ({"there": Path(args.against).resolve()} if args.against else {})
    runs: dict[str, list[list[dict]]] = {name: [] for name in sides}
    for _ in range(args.rounds):
        for name, tree in sides.items():
            env = {**os.environ, "PYTHONPATH": str(tree)}
            out = subprocess.run(side, cwd=tree, env=env, check=True, capture_output=True,
                                 text=True).stdout
            rows = json.loads(out.splitlines()[-1])
            if any(Path(r["inrcodec"]).resolve().parents[1] != tree for r in rows):
                raise SystemExit(f"the {name} side imported another inrcodec: {rows[0]['inrcodec']}")
            runs[name].append(rows)
    lines = ["# Encode time after the fit (CPU)", "", f"Command: `{command}`  ",
             f"Machine: {machine()}  ", f"Versions: {versions()}", "",
             f"Weight-step search + entropy coding + verifying decode of `encode_with_report` "
             f"(its encode_seconds - fit_seconds), image {args.image}, {args.iterations}-step fit, "
             f"{args.threads} threads, median of {args.rounds} runs, here = {commit(ROOT)}"
             + (f", alternating with `PYTHONPATH={sides['there']}` (the same script on that "
                f"checkout's inrcodec, {commit(sides['there'])})" if args.against else "")
             + ".", ""]
    header = "| size | preset | seconds here |" + (" seconds there | speed-up | same file |"
                                                    if args.against else "")
    lines += [header, "|---|---|---:|" + ("---:|---:|---|" if args.against else "")]
    for k, first in enumerate(runs["here"][0]):
        here = float(np.median([r[k]["seconds"] for r in runs["here"]]))
        row = f"| {first['size']} | {first['preset']} | {here:.2f} |"
        if args.against:
            there = float(np.median([r[k]["seconds"] for r in runs["there"]]))
            same = all(r[k]["sha1"] == first["sha1"] for side_runs in runs.values() for r in side_runs)
            row += f" {there:.2f} | {there / here:.2f}x | {'yes' if same else 'NO'} |"
        lines.append(row)
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "encode_overhead.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
