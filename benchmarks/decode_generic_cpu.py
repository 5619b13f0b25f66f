"""Decode speed and bytes with no CPU extensions (issue 33): numba compiled for a generic x86-64
(`NUMBA_CPU_NAME=generic`, its own cache) and numpy told to use none of its SIMD paths
(`NPY_DISABLE_CPU_FEATURES`), against this machine's own, on the same files.

    python -m benchmarks.decode_generic_cpu --files /work/decode_files [--rounds 2]

For each file (kodim01_<preset>_1000it.inr from benchmarks.decode_speed --files): fresh
one-thread processes, alternating host and generic --rounds times; each loads the compiled
decoder (timed), decodes once, then takes the best of 7 warm decodes; the decoded bytes' hash is
compared. The generic build is compiled once into a temporary numba cache (its time is the
first generic load). Writes benchmarks/results/decode_generic_cpu.md.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
NO_EXTENSIONS = "AVX512F AVX512CD AVX512_SKX AVX2 FMA3 AVX F16C SSE42 SSE41 SSSE3 SSE3"

WORKER = r"""
import hashlib, json, sys, time
import inrcodec
from inrcodec.entropy import engine
start = time.perf_counter()
engine.load_compiled()
load = time.perf_counter() - start
data = open(sys.argv[1], "rb").read()
image = inrcodec.decode(data)
best = float("inf")
for _ in range(7):
    start = time.perf_counter()
    inrcodec.decode(data)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "load": load,
                  "sha256": hashlib.sha256(image.tobytes()).hexdigest()}))
"""


def run(path: Path, env: dict) -> dict:
    r = subprocess.run([sys.executable, "-c", WORKER, str(path)], capture_output=True, text=True,
                       cwd=ROOT, env=env)
    if r.returncode != 0:
        raise RuntimeError(r.stderr[-2000:])
    return json.loads(r.stdout.strip().splitlines()[-1])


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--files", required=True, help="benchmarks.decode_speed's --files folder")
    ap.add_argument("--image", default="kodim01")
    ap.add_argument("--iterations", type=int, default=1000)
    ap.add_argument("--presets", default="lowest,low,medium,high")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(RESULTS / "decode_generic_cpu.md"))
    args = ap.parse_args(argv)
    from benchmarks.rd import machine, versions
    command = "python -m benchmarks.decode_generic_cpu " + " ".join(
        sys.argv[1:] if argv is None else argv)
    base = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    lines = []
    with tempfile.TemporaryDirectory() as cache:
        generic = {**base, "NUMBA_CPU_NAME": "generic", "NUMBA_CACHE_DIR": cache,
                   "NPY_DISABLE_CPU_FEATURES": NO_EXTENSIONS}
        first_load = None
        for preset in args.presets.split(","):
            path = Path(args.files) / f"{args.image}_{preset}_{args.iterations}it.inr"
            runs = {"host": [], "generic": []}
            for _ in range(args.rounds):
                for name, env in (("host", base), ("generic", generic)):
                    runs[name].append(run(path, env))
            if first_load is None:
                first_load = runs["generic"][0]["load"]
            h, g = (min(r["seconds"] for r in runs[k]) for k in ("host", "generic"))
            same = len({r["sha256"] for r in runs["host"] + runs["generic"]}) == 1
            mpx = 768 * 512 / 1e6
            lines.append(f"| {preset} | {1e3 * h:.0f} ({1e3 * h / mpx:.0f}) | "
                         f"{1e3 * g:.0f} ({1e3 * g / mpx:.0f}) | {g / h:.1f}x | "
                         f"{'yes' if same else '**NO**'} |")
            print(lines[-1], flush=True)
    text = "\n".join([
        "# Decode with no CPU extensions, one thread, 768x512 (Kodak kodim01)", "",
        f"Command: `{command}`  ", f"Machine: {machine()}  ", f"Versions: {versions()}", "",
        "| preset | this CPU: ms (ms/Mpx) | generic x86-64: ms (ms/Mpx) | slower | same bytes |",
        "|---|---:|---:|---:|---|", *lines, "",
        f"Best of 7 warm decodes in each of {args.rounds} fresh processes per build, alternating. "
        "Generic: `NUMBA_CPU_NAME=generic` (numba's loops compiled for a baseline x86-64, into "
        f"a cache of their own: the first such load compiled them in {first_load:.1f} s) and "
        f"`NPY_DISABLE_CPU_FEATURES={NO_EXTENSIONS}`. Same bytes: every process's decoded "
        "image has the same SHA-256 (the files of benchmarks/results/decode_speed.md)."])
    Path(args.out).write_text(text + "\n")
    print(text)


if __name__ == "__main__":
    main()
