"""Decode speed on one CPU core, per preset, on Kodak-size (768x512) files.

    python -m benchmarks.decode_speed --image kodim01 --iterations 1000 --files /tmp/decode_files

For each preset: encode the full Kodak image (on every core; --files keeps the files for a rerun),
then decode it in a fresh process pinned to one thread (torch, OpenMP and BLAS), under /usr/bin/time -v for the peak resident memory. The
worker times its first decode (what a user's `inrcodec decode` pays after the imports, with the
latent decoder it picks by size), the decode warm with the numpy latent decoder (pictures below
engine.COMPILED_MIN_LATENTS), loading the compiled one, the decode warm with that (best of
--repeats), and a float32 matmul on the same core in the same process, and reports the decoder's
MAC rate as a percentage of the matmul's. It also checks the image against the reference
decoder (numpy + constriction latents, pos_idx gather).

The one-time compile (numba's, on a machine's first use) is timed in two more fresh processes:
loading the compiled decoder with an empty numba cache directory, less loading it cached.
With --against CHECKOUT (repeatable), the same files are also decoded, warm, by another
checkout's decoder in a fresh one-thread process (its compiled latent decoder loaded, where it has
one), and its image compared with this one's: a before/after on the same bytes, and the check that
the decoded images did not change.

The fit's length matters: the ARM's work is its non-zero weights (the compiled loop skips RDOQ's
zeros), and a short fit leaves most of them zero (kodim01, medium: 1 of 544 after 10 steps, 352
after 300; 495 in a 2000-step fit of a 256x256 crop; measured by hand). The table gives the
count for each file.
Writes benchmarks/results/decode_speed.md with the command, machine and versions.
"""
from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def matmul_macs_per_second(n: int = 512, repeats: int = 20) -> float:
    """Best-case float32 MAC rate of this core: a square matmul, best of `repeats`."""
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    best = min(_timed(lambda: a @ b) for _ in range(repeats))
    return n ** 3 / best


def _timed(fn, clock=time.perf_counter) -> float:
    start = clock()
    fn()
    return clock() - start


def reference_image(data: bytes):
    """The decode by definition: latents by coder.decode_latents_reference (numpy + constriction),
    then the fixed-point render in numpy (model/fixed_point.py without its numba loops)."""
    from inrcodec.image.decode import load_networks, parse
    from inrcodec.entropy import coder
    from inrcodec.entropy.dither import latent_dither
    from inrcodec.model import fixed_point
    from inrcodec.model.latents import LatentLayout
    parsed = parse(data)
    h = parsed.header
    layout = LatentLayout(h.arch, h.height, h.width)
    networks, arm, _ = load_networks(h, parsed.sections, dithered=h.dithered)
    dither = latent_dither(layout.valid_mask()) if h.dithered else None
    symbols = coder.decode_latents_reference(layout, arm, parsed.sections["latents"], dither)
    values = symbols if dither is None else symbols + dither
    return fixed_point.render(layout, networks, values.astype("float64"), compiled=False)


def worker(path: str, repeats: int, load_only: bool) -> None:
    """Runs in the measured process: first decode, warm decodes with the numpy latent decoder,
    loading the compiled one, warm decodes with it, stage split, matmul reference, and the
    reference decoder's image; JSON on stdout."""
    start = time.perf_counter()
    import numpy as np
    import inrcodec
    from inrcodec.entropy import engine
    imports = time.perf_counter() - start
    if load_only:
        print(json.dumps({"load_seconds": _timed(engine.load_compiled)}))
        return
    data = Path(path).read_bytes()
    first = _timed(lambda: inrcodec.decode(data))         # what `inrcodec decode` pays
    from inrcodec.complexity import macs_per_pixel
    from inrcodec.image.decode import decode_latent_values, load_networks, parse
    from inrcodec.limits import _n_latents
    h = parse(data).header
    large = engine.uses_compiled(_n_latents(h.arch, h.height, h.width))
    numpy_warm = (min(_timed(lambda: numpy_decode(data)) for _ in range(2)) if large
                  else min(_timed(lambda: inrcodec.decode(data)) for _ in range(repeats)))
    load = _timed(engine.load_compiled)
    inrcodec.decode(data)
    total = min(_timed(lambda: inrcodec.decode(data)) for _ in range(repeats))
    cpu = min(_timed(lambda: inrcodec.decode(data), time.process_time) for _ in range(repeats))
    latents = min(_timed(lambda: decode_latent_values(parse(data))) for _ in range(repeats))
    _, arm, _ = load_networks(h, parse(data).sections, dithered=h.dithered)
    arm_weights = arm.packed()[0]
    stages = stage_seconds(data, repeats)
    mpp = macs_per_pixel(h.arch, h.height, h.width, h.channels)
    image = inrcodec.decode(data)
    same = bool(np.array_equal(image, reference_image(data)))
    print(json.dumps({"seconds": total, "cpu_seconds": cpu, "latent_seconds": latents,
                      **stages, "first_seconds": first,
                      "first_engine": "compiled" if large else "numpy",
                      "numpy_seconds": numpy_warm, "load_seconds": load,
                      "import_seconds": imports, "same_as_reference": same,
                      "height": h.height, "width": h.width, "macs_per_pixel": mpp["total"],
                      "arm_macs_per_pixel": mpp["arm"], "bytes": len(data),
                      "arm_nonzero": int(np.count_nonzero(arm_weights)),
                      "arm_weights": int(arm_weights.size), "sha256": image_digest(image),
                      "matmul_macs_per_s": matmul_macs_per_second()}))


def numpy_decode(data: bytes):
    """The whole decode with the numpy + constriction latent decoder and the numpy fixed-point
    render: what a process that has not loaded numba runs on a picture below
    engine.COMPILED_MIN_LATENTS (timed here at any size)."""
    from inrcodec.entropy import coder
    from inrcodec.image.decode import load_networks, parse
    from inrcodec.model import fixed_point
    from inrcodec.model.latents import LatentLayout
    parsed = parse(data)
    h = parsed.header
    layout = LatentLayout(h.arch, h.height, h.width)
    networks, arm, _ = load_networks(h, parsed.sections, dithered=h.dithered)
    values = coder.decode_latent_values(layout, arm, parsed.sections["latents"], h.dithered,
                                        engine="reference")
    return fixed_point.render(layout, networks, values, compiled=False)


def image_digest(image) -> str:
    import hashlib
    import numpy as np
    return hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()


# Runs under another checkout (--against): only its public decode API, which has not changed.
AGAINST_WORKER = r"""
import hashlib, json, sys, time
import numpy as np
import torch
torch.set_num_threads(1)
import inrcodec
try:
    try:
        from inrcodec.entropy import engine as choice       # the engine's home since the re-filing
    except ImportError:
        from inrcodec.entropy import coder as choice        # before it
    compiled = bool(choice.load_compiled())
except (ImportError, AttributeError):
    compiled = False
data = open(sys.argv[1], "rb").read()
image = inrcodec.decode(data)
best = float("inf")
for _ in range(int(sys.argv[2])):
    start = time.perf_counter()
    inrcodec.decode(data)
    best = min(best, time.perf_counter() - start)
print(json.dumps({"seconds": best, "compiled": compiled,
                  "sha256": hashlib.sha256(np.ascontiguousarray(image).tobytes()).hexdigest()}))
"""


def measure_against(checkout: Path, path: Path, repeats: int) -> dict:
    env = {**os.environ, **ONE_THREAD, "PYTHONPATH": str(checkout)}
    r = subprocess.run([sys.executable, "-c", AGAINST_WORKER, str(path), str(repeats)],
                       capture_output=True, text=True, cwd=checkout, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"decode worker in {checkout} failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])


def stage_seconds(data: bytes, repeats: int) -> dict:
    """Best-of-repeats times of the render's stages, each on the previous stage's output: latent
    grids out of the buffer, upsampling (compiled where the decoder has loaded numba, as decode
    does), synthesis (+ rounding to uint8), all in fixed point (model/fixed_point.py)."""
    from inrcodec.image.decode import decode_latent_values, parse
    from inrcodec.entropy import engine
    from inrcodec.model import fixed_point as fp
    layout, networks, values = decode_latent_values(parse(data))
    compiled = engine.compiled_loaded()
    grids = fp.fixed_grids(layout, values)
    planes = fp.upsample(grids, networks.half_kernel, networks.taps, compiled)
    return {
        "grid_seconds": min(_timed(lambda: fp.fixed_grids(layout, values)) for _ in range(repeats)),
        "upsampling_seconds": min(_timed(lambda: fp.upsample(grids, networks.half_kernel,
                                                             networks.taps, compiled))
                                  for _ in range(repeats)),
        "synthesis_seconds": min(_timed(lambda: fp.pixels_of(planes, networks, compiled))
                                 for _ in range(repeats))}


def measure(path: Path, repeats: int) -> dict:
    cmd = [sys.executable, "-m", "benchmarks.decode_speed", "--worker", str(path),
           "--repeats", str(repeats)]
    time_bin = "/usr/bin/time"
    if os.path.exists(time_bin):
        cmd = [time_bin, "-v", *cmd]
    r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, **ONE_THREAD})
    if r.returncode != 0:
        raise RuntimeError(f"decode worker failed: {r.stderr[-2000:]}")
    out = json.loads(r.stdout.strip().splitlines()[-1])
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    out["peak_rss_mb"] = int(m.group(1)) / 1024 if m else float("nan")
    return out


def load_seconds(path: Path, empty_cache: bool) -> float:
    """Seconds a fresh process takes to load the compiled latent decoder (after its imports);
    with an empty numba cache that includes compiling it."""
    with tempfile.TemporaryDirectory() as cache:
        env = {**os.environ, **ONE_THREAD, **({"NUMBA_CACHE_DIR": cache} if empty_cache else {})}
        r = subprocess.run([sys.executable, "-m", "benchmarks.decode_speed", "--worker", str(path),
                            "--load-only"], capture_output=True, text=True, cwd=ROOT, env=env)
    if r.returncode != 0:
        raise RuntimeError(f"decode worker failed: {r.stderr[-2000:]}")
    return json.loads(r.stdout.strip().splitlines()[-1])["load_seconds"]


FLOAT_DECODER = r"""
import sys
import imageio.v3 as iio
from benchmarks.fixed_point_cost import float_decode
iio.imwrite(sys.argv[2], float_decode(open(sys.argv[1], "rb").read()))
"""


def fresh_process_seconds(path: Path, repeats: int) -> dict:
    """Wall time of a whole fresh process that decodes the file to a PNG, best of `repeats`,
    one thread: `inrcodec decode` (the integer decoder, no torch), and the float decoder of the
    same file (benchmarks.fixed_point_cost.float_decode: the same latents, then torch's float
    upsampling and synthesis from the dequantized weights, as format 4 decoded), both with the
    latent decoder an "auto" decode of a fresh process picks."""
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        png = str(Path(tmp) / "out.png")
        commands = {
            "fresh_cli_seconds": [sys.executable, "-m", "inrcodec", "decode", str(path), "-o", png,
                                  "--force"],
            "fresh_float_seconds": [sys.executable, "-c", FLOAT_DECODER, str(path), png]}
        for key, cmd in commands.items():
            best = float("inf")
            for _ in range(repeats):
                start = time.perf_counter()
                r = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT,
                                   env={**os.environ, **ONE_THREAD})
                best = min(best, time.perf_counter() - start)
                if r.returncode != 0:
                    raise RuntimeError(f"{key} failed: {r.stderr[-2000:]}")
            out[key] = best
    return out


def baseline_rss_mb() -> float:
    """Peak memory of a process that only imports the decoder (python + torch + numpy)."""
    if not os.path.exists("/usr/bin/time"):
        return float("nan")
    r = subprocess.run(["/usr/bin/time", "-v", sys.executable, "-c", "import inrcodec.decode"],
                       capture_output=True, text=True, cwd=ROOT, env={**os.environ, **ONE_THREAD})
    m = re.search(r"Maximum resident set size \(kbytes\): (\d+)", r.stderr)
    return int(m.group(1)) / 1024 if m else float("nan")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="kodim01")
    ap.add_argument("--presets", default=None, help="comma-separated (default: all)")
    ap.add_argument("--iterations", type=int, default=1000,
                    help="fitting steps for the test files: the ARM's non-zero weights, which "
                         "the latent decoder's work follows, fill in over the fit (see above)")
    ap.add_argument("--files", default=None,
                    help="folder for the test files: fitted there if missing, reused if present "
                         "(default: a temporary folder)")
    ap.add_argument("--against", action="append", default=[],
                    help="another checkout whose decoder decodes the same files (repeatable)")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--worker", default=None, help=argparse.SUPPRESS)
    ap.add_argument("--load-only", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", default=str(RESULTS / "decode_speed.md"))
    args = ap.parse_args(argv)
    if args.worker:
        worker(args.worker, args.repeats, args.load_only)
        return
    import imageio.v3 as iio
    import torch
    torch.set_num_threads(os.cpu_count() or 1)      # fitting the test files; decodes: one thread
    import inrcodec
    from inrcodec.arch import PRESETS
    from benchmarks.rd import KODAK, machine, versions
    command = "python -m benchmarks.decode_speed " + " ".join(sys.argv[1:] if argv is None else argv)
    image = iio.imread(KODAK / f"{args.image}.png")[:, :, :3]
    presets = args.presets.split(",") if args.presets else list(PRESETS)
    rows = []
    load_before = os.getloadavg()[0]
    against = [Path(a).resolve() for a in args.against]
    with tempfile.TemporaryDirectory() as tmp:
        files = Path(args.files or tmp)
        files.mkdir(parents=True, exist_ok=True)
        for name in presets:
            path = files / f"{args.image}_{name}_{args.iterations}it.inr"
            if not path.exists():
                data = inrcodec.encode(image, preset=name, iterations=args.iterations, device="cpu")
                path.write_bytes(data)
            load_seconds(path, empty_cache=False)      # fills numba's cache, if not yet
            r = measure(path, args.repeats)
            # in a process of its own: the worker's first decode may already have loaded it
            r["load_seconds"] = min(load_seconds(path, empty_cache=False) for _ in range(3))
            r["against"] = [measure_against(a, path, args.repeats) for a in against]
            r["compile_seconds"] = load_seconds(path, empty_cache=True) - load_seconds(path, False)
            r.update(fresh_process_seconds(path, min(args.repeats, 3)))
            r["preset"] = name
            rows.append(r)
            print(json.dumps(r), flush=True)
    base = baseline_rss_mb()
    load_after = os.getloadavg()[0]
    h, w = rows[0]["height"], rows[0]["width"]
    lines = [f"# Decode speed, one CPU thread, {w}x{h} (Kodak {args.image})", "",
             f"Command: `{command}`  ", f"Machine: {machine()}  ", f"Versions: {versions()}", "",
             "| preset | MACs/px | ARM weights ≠ 0 | file bytes (bpp) | decode ms | **ms/Mpx** | CPU ms/Mpx | of which latents (parse, weights, ARM + range decoder) ms | latent grids ms | upsampling ms | synthesis + bytes ms | numpy latent decoder: ms/Mpx | **first decode ms/Mpx** (ms, decoder) | loading the compiled decoder s | one-time compile s | **fresh `inrcodec decode` s** | fresh float decoder s | same image as reference | MAC rate (G/s) | % of float32 matmul | peak RSS MB |"
             + "".join(f" {a.name}: ms/Mpx (same image) |" for a in against),
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|---:|"
             + "---:|" * len(against)]
    for r in rows:
        mpx = r["height"] * r["width"] / 1e6
        rate = r["macs_per_pixel"] * r["height"] * r["width"] / r["seconds"]
        numpy_col = "—" if r["numpy_seconds"] is None else f"{1e3 * r['numpy_seconds'] / mpx:.0f}"
        lines.append(
            f"| {r['preset']} | {r['macs_per_pixel']:.0f} | {r['arm_nonzero']} of {r['arm_weights']} | {r['bytes']} ({8 * r['bytes'] / (mpx * 1e6):.3f}) | "
            f"{1e3 * r['seconds']:.0f} | **{1e3 * r['seconds'] / mpx:.0f}** | {1e3 * r['cpu_seconds'] / mpx:.0f} | "
            f"{1e3 * r['latent_seconds']:.0f} | {1e3 * r['grid_seconds']:.1f} | "
            f"{1e3 * r['upsampling_seconds']:.0f} | {1e3 * r['synthesis_seconds']:.0f} | "
            f"{numpy_col} | "
            f"**{1e3 * r['first_seconds'] / mpx:.0f}** ({1e3 * r['first_seconds']:.0f}, {r['first_engine']}) | "
            f"{r['load_seconds']:.2f} | {r['compile_seconds']:.1f} | "
            f"**{r['fresh_cli_seconds']:.2f}** | {r['fresh_float_seconds']:.2f} | "
            f"{'yes' if r['same_as_reference'] else '**NO**'} | "
            f"{rate / 1e9:.2f} | {100 * rate / r['matmul_macs_per_s']:.1f} % | {r['peak_rss_mb']:.0f} |"
            + "".join(f" {1e3 * a['seconds'] / mpx:.0f} ({'yes' if a['sha256'] == r['sha256'] else '**NO**'}) |"
                      for a in r["against"]))
    lines += ["", f"Float32 matmul reference (512x512x512, same process, one thread): "
              f"{rows[0]['matmul_macs_per_s'] / 1e9:.1f} GMAC/s. Peak RSS of a process that only "
              f"imports the decoder (Python + numpy): {base:.0f} MB.",
              f"Test files: {args.iterations}-step fits of the full image. ARM weights ≠ 0: the "
              "ARM's work per latent follows its non-zero weights (the compiled loop skips "
              "RDOQ's zeros, in 4x4 blocks), and they fill in as the fit goes on. "
              f"Decode time: best of {args.repeats} after a warm-up, in a fresh process with "
              "torch/OpenMP/BLAS on one thread; it includes parsing, weight decoding, the "
              "wavefront latent decode, upsampling and synthesis (not PNG writing). "
              "decode ms, ms/Mpx: with the compiled loops (numba: weights, latent decoder, "
              "upsampling, synthesis), loaded. numpy latent decoder: the same decode with the "
              "numpy + constriction latent decoder and the numpy fixed-point render, which a "
              "process uses for pictures under engine.COMPILED_MIN_LATENTS latents until it has "
              "loaded the compiled loops (loading costs more than it saves there; best of 2 "
              "where the picture is above that size). "
              "First decode: the first `inrcodec.decode` of a fresh process (what `inrcodec "
              "decode` pays), after importing inrcodec (Python + numpy: "
              f"{rows[0]['import_seconds']:.2f} s, not included), with the decoder it picks. "
              "Loading the compiled decoder: importing numba and loading both loops from "
              "numba's on-disk cache, in a fresh process (best of 3). One-time compile: the same load with an "
              "empty numba cache (on a machine's first use), less the cached load. Latent grids, "
              "upsampling, synthesis: the decode's stages after the latents, each timed alone "
              "(best of the same repeats) on the previous stage's output; synthesis includes the "
              "clamp to uint8 (the compiled decoder fuses both, band by band). "
              "Fresh `inrcodec decode`: the wall time of a whole new process decoding the file "
              "to a PNG (imports, decoder choice, decode, PNG writing; best of "
              f"{min(args.repeats, 3)}); fresh float decoder: the same for a process that "
              "decodes the same latents and renders them with torch's float upsampling and "
              "synthesis from the dequantized weights (format 4's decoder; "
              "benchmarks.fixed_point_cost.float_decode), then writes the PNG. Same image: "
              "byte-identical to the reference decoder (numpy + constriction latents, pos_idx "
              "gather). "
              "CPU ms/Mpx: the process's CPU time for the same decode (best of "
              f"{args.repeats}), which other jobs on the machine barely disturb; the 1-minute load "
              f"average was {load_before:.1f} at the start and {load_after:.1f} at the end of "
              "this run (1.0 = one busy core)."]
    if against:
        lines += ["", "Other checkouts on the same files (warm, best of the same repeats, one "
                  "thread, their compiled latent decoder loaded where they have one; same image: "
                  "byte-identical to this checkout's): "
                  + "; ".join(f"{a.name} = `{a}`" for a in against) + "."]
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
