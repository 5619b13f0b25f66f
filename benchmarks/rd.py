"""Rate-distortion benchmark: inrcodec against classical codecs on the same images, in one run.

    python -m benchmarks.rd --workers 2          # 256x256 crops of 8 Kodak images, preset auto
    python -m benchmarks.rd --size 128 --rec --rec-bpps 0.15,0.3,0.6 --codecs jpeg,webp --tag rec_kodak128

    python -m benchmarks.rd --size 128 --latent-coding round,uq --codecs jpeg,webp --tag uq_kodak128

--latent-coding round,uq fits the grid codec both ways (curves `inrcodec-<preset>` and
`inrcodec-<preset>-uq`) and adds their BD-rate against each other.
--rec adds the variational codec (`--mode rec`, relative-entropy coded weights) as the curve
`inrcodec-rec`, one point per target bpp (--preset none leaves the grid codec out).

    COOLCHIC_PYTHON=../ccvenv/bin/python python -m benchmarks.rd \
        --coolchic ../shared/peers/coolchic-5.0.1 --tag kodak256_vs_coolchic

--coolchic DIR adds Cool-chic (a checkout, run as an external program by its own interpreter:
benchmarks/coolchic.py) as the peer curve `coolchic-mop`: one cc_encode.py + cc_decode.py per
(image, λ), the same λ list as ours (both minimise MSE + λ·bits/pixel on [0, 1] RGB), in the
same process pool, one thread each; --coolchic-iterations is its --n_itr (>= 2000, default
--iterations). Every neural curve is compared with it and the classical codecs, and it with the
classical codecs.

BD-rates are reported three ways: per image then averaged; between the data-set curves of mean
PSNR; and between those of PSNR of the mean MSE (Cool-chic's published convention).

Every inrcodec point is a real .inr file, decoded through the real bitstream. Classical codecs are
swept over quality. Writes benchmarks/results/rd_<tag>.csv (every point), rd_<tag>.md (summary
with command, versions and machine) and rd_<tag>.png (RD plot) when matplotlib is present.
"""
from __future__ import annotations

import argparse
import csv
import json
import math
import os
import platform
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from inrcodec.arch import AUTO_PRESET, resolve_preset

ROOT = Path(__file__).resolve().parents[1]
# INRCODEC_KODAK: another folder of the same images (a device machine gets no ../shared)
KODAK = Path(os.environ.get("INRCODEC_KODAK", ROOT.parent / "shared" / "data" / "kodak"))
RESULTS = ROOT / "benchmarks" / "results"
DEFAULT_IMAGES = ["kodim01", "kodim03", "kodim05", "kodim07", "kodim13", "kodim15", "kodim19",
                  "kodim23"]


def load_crop(name: str, size: int) -> np.ndarray:
    import imageio.v3 as iio
    img = iio.imread(KODAK / f"{name}.png")[:, :, :3]
    if size:
        h, w = img.shape[:2]
        img = img[(h - size) // 2:(h - size) // 2 + size, (w - size) // 2:(w - size) // 2 + size]
    return np.ascontiguousarray(img)


def _inrcodec_point(job):
    """One encode + timed decode, in a worker process pinned to one thread."""
    import torch
    torch.set_num_threads(1)
    import inrcodec
    from benchmarks.metrics import psnr
    from inrcodec.memory import retain_freed_memory
    retain_freed_memory()                     # as the command line does
    name, size, lmbda, iterations, preset, seed, latent_coding = job
    img = load_crop(name, size)
    if preset == "rec":            # the variational mode; `lmbda` holds the target bpp
        from inrcodec.variational import encode_rec_with_report
        data, report = encode_rec_with_report(img, bpp=lmbda, iterations=iterations, seed=seed)
    else:
        data, report = inrcodec.encode_with_report(img, lmbda=lmbda, iterations=iterations,
                                                   preset=preset, seed=seed,
                                                   latent_coding=latent_coding)
    start = time.perf_counter()
    decoded = inrcodec.decode(data)
    decode_s = time.perf_counter() - start
    return {"image": name, "codec": _curve_name(preset, latent_coding), "param": lmbda,
            "bytes": len(data), "bpp": 8 * len(data) / (img.shape[0] * img.shape[1]),
            "psnr": psnr(img, decoded), "encode_s": report["encode_seconds"], "decode_s": decode_s,
            "iterations": iterations, "device": report["device"],
            "macs_per_pixel": report["macs_per_pixel"]}


def _curve_name(preset: str, latent_coding: str) -> str:
    return f"inrcodec-{preset}" + ("-uq" if latent_coding == "uq" else "")


def classical_points(name: str, size: int, codecs: list[str]) -> list[dict]:
    from benchmarks.classical import CODECS
    from benchmarks.metrics import psnr
    img = load_crop(name, size)
    rows = []
    for codec in codecs:
        fn, qualities = CODECS[codec]
        for q in qualities:
            r = fn(img, q)
            rows.append({"image": name, "codec": codec, "param": q, "bytes": r.nbytes,
                         "bpp": 8 * r.nbytes / (img.shape[0] * img.shape[1]),
                         "psnr": psnr(img, r.decoded), "encode_s": r.encode_s,
                         "decode_s": r.decode_s, "iterations": "", "device": "cpu",
                         "macs_per_pixel": ""})
    return rows


def psnr_at_bpp(rows: list[dict], bpp: float) -> float:
    """A codec's PSNR at a given rate, interpolated on log-rate; nan outside its sweep."""
    pts = sorted((r["bpp"], r["psnr"]) for r in rows)
    x = np.log([p[0] for p in pts])
    y = np.array([p[1] for p in pts])
    if not (x[0] <= np.log(bpp) <= x[-1]):
        return float("nan")
    # keep the upper envelope (monotone in rate) before interpolating
    keep = [0]
    for i in range(1, len(x)):
        if y[i] > y[keep[-1]]:
            keep.append(i)
    return float(np.interp(np.log(bpp), x[keep], y[keep]))


def curve_bd_rate(rows: list[dict], anchor: str, test: str, how: str) -> tuple[float, int]:
    """BD-rate of `test` vs `anchor` between data-set curves (bdrate.aggregate_curve, `how` =
    "psnr" or "mse"), over the images both have: (BD-rate %, number of images)."""
    from benchmarks.bdrate import aggregate_curve, bd_rate
    import warnings
    images = ({r["image"] for r in rows if r["codec"] == anchor}
              & {r["image"] for r in rows if r["codec"] == test})
    curves = []
    for codec in (anchor, test):
        sel = [r for r in rows if r["codec"] == codec and r["image"] in images]
        if not sel or any("param" not in r for r in sel):
            return float("nan"), 0
        _, rate, psnr = aggregate_curve([r["param"] for r in sel], [r["bpp"] for r in sel],
                                        [r["psnr"] for r in sel], how=how)
        curves.append((rate, psnr))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return bd_rate(*curves[0], *curves[1]), len(images)


def summarise(rows: list[dict], ours: str, others: list[str]) -> tuple[str, dict]:
    """Markdown table and dict of `ours` against each of `others`: BD-rate three ways (per image
    then averaged; between the mean-of-PSNR curves; between the PSNR-of-mean-MSE curves) and
    ΔPSNR at our rates."""
    from benchmarks.bdrate import bd_rate
    import warnings
    images = sorted({r["image"] for r in rows})
    table = {}
    for codec in others:
        bds, gaps = [], []
        for im in images:
            a = [r for r in rows if r["image"] == im and r["codec"] == codec]
            t = [r for r in rows if r["image"] == im and r["codec"] == ours]
            if not a or not t:
                continue
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                bds.append(bd_rate([r["bpp"] for r in a], [r["psnr"] for r in a],
                                   [r["bpp"] for r in t], [r["psnr"] for r in t]))
            for r in t:
                gaps.append(r["psnr"] - psnr_at_bpp(a, r["bpp"]))
        bds_ok = [b for b in bds if np.isfinite(b)]
        gaps_ok = [g for g in gaps if np.isfinite(g)]
        bd_psnr_curve, n_curve = curve_bd_rate(rows, codec, ours, "psnr")
        bd_mse_curve, _ = curve_bd_rate(rows, codec, ours, "mse")
        table[codec] = {
            "bd_rate_mean": float(np.mean(bds_ok)) if bds_ok else float("nan"),
            "bd_rate_images": f"{len(bds_ok)}/{len(bds)}",
            "bd_rate_mean_psnr_curve": bd_psnr_curve,
            "bd_rate_mean_mse_curve": bd_mse_curve,
            "curve_images": n_curve,
            "dpsnr_at_equal_bpp": float(np.mean(gaps_ok)) if gaps_ok else float("nan"),
            "dpsnr_points": f"{len(gaps_ok)}/{len(gaps)}",
        }
    lines = [f"| {ours} vs | BD-rate per image, averaged | images | BD-rate, mean-PSNR curves | "
             f"BD-rate, PSNR-of-mean-MSE curves | ΔPSNR at {ours}'s rates (dB) | points |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for codec, v in table.items():
        lines.append(f"| {codec} | {v['bd_rate_mean']:+.1f} % | {v['bd_rate_images']} | "
                     f"{v['bd_rate_mean_psnr_curve']:+.1f} % | "
                     f"{v['bd_rate_mean_mse_curve']:+.1f} % | "
                     f"{v['dpsnr_at_equal_bpp']:+.2f} | {v['dpsnr_points']} |")
    return "\n".join(lines), table


def mean_points(rows, codec):
    """Per parameter value: mean bpp, mean PSNR, PSNR of the mean MSE, mean encode and decode
    seconds over images."""
    from benchmarks.bdrate import aggregate_curve
    out = []
    for p in sorted({r["param"] for r in rows if r["codec"] == codec}):
        sel = [r for r in rows if r["codec"] == codec and r["param"] == p]
        psnr_of_mse = aggregate_curve([p] * len(sel), [r["bpp"] for r in sel],
                                      [r["psnr"] for r in sel], how="mse")[2][0]
        out.append((p, np.mean([r["bpp"] for r in sel]), np.mean([r["psnr"] for r in sel]),
                    psnr_of_mse, np.mean([r["encode_s"] for r in sel]),
                    np.mean([r["decode_s"] for r in sel])))
    return out


def plot(rows, path, title, codecs):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    from benchmarks.reference import load_reference_curves
    fig, axes = plt.subplots(1, 2, figsize=(13, 5))
    for codec in codecs:
        pts = mean_points(rows, codec)
        if pts:
            neural = codec.startswith(("inrcodec", "coolchic"))
            style = "o-" if codec.startswith("inrcodec") else "s-" if neural else ".--"
            axes[0].plot([p[1] for p in pts], [p[2] for p in pts], style, label=codec,
                         lw=2.5 if neural else 1)
    axes[0].set(xlabel="bpp (mean over images)", ylabel="RGB PSNR (dB)", title=title,
                xlim=(0, 2.0))
    axes[0].grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    for name, (bpp, ps, _src) in load_reference_curves().items():
        axes[1].plot(bpp, ps, ".-", label=name)
    axes[1].set(xlabel="bpp", ylabel="PSNR (dB)", xlim=(0, 1.6),
                title="Published full-size Kodak results (NOT measured here)")
    axes[1].grid(alpha=0.3)
    axes[1].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    return True


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{cpu}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}"


IMAGE_PACKAGES = ("inrcodec", "torch", "numpy", "constriction", "pillow", "pillow_heif",
                  "pillow-jxl-plugin")


def versions(names=IMAGE_PACKAGES) -> str:
    """Installed versions of `names` (those present) and Python's, for result headers."""
    import importlib.metadata as md
    out = []
    for n in names:
        try:
            out.append(f"{n} {md.version(n)}")
        except md.PackageNotFoundError:
            pass
    return ", ".join(out) + f", Python {platform.python_version()}"


DEFAULT_SIZE, DEFAULT_ITERATIONS = 256, 2000


def peer_points(path: Path, images: list[str], lmbdas: list[float], size: int,
                iterations: int) -> tuple[list[dict], str]:
    """The Cool-chic rows of a committed rd_*.csv for these images and lambdas, and the command
    that made them; ValueError unless that command ran the same crop size and iterations."""
    lines = path.read_text().splitlines()
    if not lines or not lines[0].startswith("# command: "):
        raise ValueError(f"{path} has no '# command:' first line")
    command = lines[0][len("# command: "):]
    words = command.split()
    for flag, want, default in (("--size", size, DEFAULT_SIZE),
                                ("--iterations", iterations, DEFAULT_ITERATIONS)):
        got = int(words[words.index(flag) + 1]) if flag in words else default
        if got != want:
            raise ValueError(f"{path} was made with {flag} {got}, this run has {want}")
    numeric = {"param": float, "bytes": int, "bpp": float, "psnr": float, "encode_s": float,
               "decode_s": float, "iterations": int, "macs_per_pixel": float,
               "peer_psnr": float, "train_s": float, "train_iterations": float}
    rows = []
    for row in csv.DictReader(lines[1:]):
        if row["codec"].startswith("coolchic") and row["image"] in images:
            rows.append({k: (numeric[k](v) if k in numeric and v != "" else v)
                         for k, v in row.items()})
    rows = [r for r in rows if any(math.isclose(r["param"], lm) for lm in lmbdas)]
    have = {(r["image"], lm) for r in rows for lm in lmbdas if math.isclose(r["param"], lm)}
    missing = sorted({(im, lm) for im in images for lm in lmbdas} - have)
    if missing:
        raise ValueError(f"{path} lacks Cool-chic points {missing}")
    return rows, command


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default=",".join(DEFAULT_IMAGES))
    ap.add_argument("--size", type=int, default=DEFAULT_SIZE, help="centre crop side (0 = full image)")
    ap.add_argument("--lmbdas", default="0.016,0.004,0.001,0.00025")
    ap.add_argument("--iterations", type=int, default=DEFAULT_ITERATIONS)
    ap.add_argument("--preset", default="auto",
                    help="one preset, or several comma-separated (auto: the codec's default; "
                         "none: no grid-codec curve)")
    ap.add_argument("--codecs", default="jpeg,webp,avif,avif420,heic,jxl")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--tag", default=None)
    ap.add_argument("--latent-coding", default="round",
                    help="round, uq, or both comma-separated (grid codec's latent quantization)")
    ap.add_argument("--rec", action="store_true", help="add the variational codec (--mode rec)")
    ap.add_argument("--rec-bpps", default="0.15,0.3,0.6", help="its target rates (bpp)")
    cc = ap.add_argument_group("Cool-chic peer (benchmarks/coolchic.py)")
    cc.add_argument("--coolchic", metavar="DIR", default=None,
                    help="a Cool-chic checkout: adds the curve coolchic-<cfg>, same lambdas")
    cc.add_argument("--coolchic-python", default=None,
                    help="its venv's interpreter (default $COOLCHIC_PYTHON, else this one)")
    cc.add_argument("--coolchic-cfg", default="cfg/dec/intra/mop.cfg",
                    help="its decoder config, relative to DIR")
    cc.add_argument("--coolchic-iterations", type=int, default=None,
                    help="its --n_itr, warm-up included, >= 2000 (default: --iterations)")
    cc.add_argument("--coolchic-debug", action="store_true",
                    help="its --debug preset (~110 steps): a plumbing smoke test, not a result")
    cc.add_argument("--coolchic-keep", metavar="DIR", default=None,
                    help="keep each point's files and logs under DIR")
    cc.add_argument("--coolchic-timeout", type=float, default=None,
                    help="seconds per Cool-chic subprocess")
    cc.add_argument("--peer-from", metavar="CSV", default=None,
                    help="take the Cool-chic points from a committed rd_*.csv instead of running "
                         "it (its command must have the same --size and --iterations; it must "
                         "hold every asked image and lambda)")
    args = ap.parse_args(argv)
    command = "python -m benchmarks.rd " + " ".join(sys.argv[1:] if argv is None else argv)
    from benchmarks.classical import available_codecs
    avail = available_codecs()
    codecs = [c for c in args.codecs.split(",") if c and avail.get(c, (False,))[0]]
    skipped = {c: avail.get(c, (False, "unknown codec"))[1] for c in args.codecs.split(",")
               if c and c not in codecs}
    images = args.images.split(",")
    lmbdas = [float(x) for x in args.lmbdas.split(",")]
    tag = args.tag or f"kodak{args.size or 'full'}_{args.preset.replace(',', '-')}_{args.iterations}it"
    presets = [] if args.preset == "none" else args.preset.split(",")
    latent_codings = args.latent_coding.split(",")
    if not set(latent_codings) <= {"round", "uq"}:
        ap.error(f"--latent-coding: round and/or uq, got {args.latent_coding}")
    jobs = [(im, args.size, lm, args.iterations, pr, args.seed, lc)
            for pr in presets for lc in latent_codings for im in images for lm in lmbdas]
    curves = [_curve_name(pr, lc) for pr in presets for lc in latent_codings]
    if args.rec:                   # slowest first, so the workers stay busy
        jobs = [(im, args.size, float(b), args.iterations, "rec", args.seed, "round")
                for im in images for b in args.rec_bpps.split(",")] + jobs
        curves = [*curves, "inrcodec-rec"]
    peer, peer_info, peer_jobs = None, None, []
    if args.coolchic:
        from benchmarks import coolchic
        try:
            setup = coolchic.make_setup(args.coolchic, args.coolchic_python, cfg=args.coolchic_cfg,
                                        debug=args.coolchic_debug, keep=args.coolchic_keep,
                                        timeout_s=args.coolchic_timeout)
            peer_info = coolchic.check(setup)           # fail now, not after hours of fits
            cc_iterations = args.coolchic_iterations or args.iterations
            peer_jobs = coolchic.make_jobs(images, args.size, lmbdas, cc_iterations, args.seed,
                                           setup)
        except coolchic.CoolchicError as e:
            ap.error(f"--coolchic: {e}")
        peer = setup.curve
    peer_rows, peer_command = [], None
    if args.peer_from:
        if args.coolchic:
            ap.error("--peer-from and --coolchic: one or the other")
        try:
            peer_rows, peer_command = peer_points(Path(args.peer_from), images, lmbdas,
                                                  args.size, args.iterations)
        except ValueError as e:
            ap.error(f"--peer-from: {e}")
        peer = peer_rows[0]["codec"]
    start = time.time()
    rows = list(peer_rows)
    from tqdm import tqdm
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        futures = []
        if peer_jobs:              # the slowest per point: first, so the workers stay busy
            from benchmarks.coolchic import coolchic_point
            futures += [pool.submit(coolchic_point, j) for j in peer_jobs]
        futures += [pool.submit(_inrcodec_point, j) for j in jobs]
        for im in images:                      # classical sweeps run while the fits run
            rows += classical_points(im, args.size, codecs)
        for f in tqdm(futures, desc="neural fits", unit="fit"):
            rows.append(f.result())
    ours_all = curves
    peers = [peer] if peer else []
    RESULTS.mkdir(parents=True, exist_ok=True)
    fields = ["image", "codec", "param", "bytes", "bpp", "psnr", "encode_s", "decode_s",
              "iterations", "device", "macs_per_pixel", "peer_psnr", "train_s",
              "train_iterations"]
    with open(RESULTS / f"rd_{tag}.csv", "w", newline="") as f:
        f.write(f"# command: {command}\n")
        w = csv.DictWriter(f, fieldnames=fields)
        w.writeheader()
        w.writerows(rows)
    tables, summary = [], {}
    for ours in ours_all:
        table, summary[ours] = summarise(rows, ours, [*peers, *codecs])
        tables += [table, ""]
    if len(latent_codings) == 2:   # uq against rounding, preset by preset
        for pr in presets:
            table, summary[f"{pr}: uq vs round"] = summarise(
                rows, _curve_name(pr, "uq"), [_curve_name(pr, "round")])
            tables += [table, ""]
    if peer and codecs:            # the peer against the same classical anchors
        table, summary[f"{peer} (peer)"] = summarise(rows, peer, codecs)
        tables += [table, ""]
    crop = f"{args.size}x{args.size} centre crops" if args.size else "full images"
    md = [f"# RD benchmark: {tag}", "",
          f"Command: `{command}`  ", f"Machine: {machine()}  ", f"Versions: {versions()}  ",
          f"Wall time: {time.time() - start:.0f} s", "",
          f"Images: Kodak {', '.join(images)} ({crop}). inrcodec preset(s) `{args.preset}`, "
          f"latent coding {' and '.join(latent_codings)}, "
          f"{args.iterations} iterations, λ ∈ {lmbdas}, on CPU; every point is a real file "
          f"decoded through the bitstream. PSNR on RGB (8-bit, peak 255).", ""]
    if AUTO_PRESET in presets:
        pixels, where = ((args.size ** 2, f"{args.size}x{args.size}") if args.size
                         else (768 * 512, "full Kodak images"))
        picked = ", ".join(f"`{resolve_preset(AUTO_PRESET, pixels, x)}` at λ {x:g}" for x in lmbdas)
        md += [f"`{AUTO_PRESET}` is the codec's default preset, picked by image size and λ: on "
               f"{where}, {picked}.", ""]
    if args.rec:
        md[-1:-1] = [f"inrcodec-rec: `--mode rec` (Bayesian coordinate network, weights sent by "
                     f"relative-entropy coding), target bpp ∈ {args.rec_bpps.split(',')} "
                     f"(`param` below), {args.iterations} iterations.", ""]
    if peer and not peer_command:
        budget = ("its `--debug` preset (~110 steps: a plumbing smoke test, NOT a result)"
                  if args.coolchic_debug else f"`--n_itr {peer_jobs[0].iterations}` "
                  "(its whole budget, warm-up included)")
        md += [f"{peer}: Cool-chic {peer_info['version']} from `{args.coolchic}`, decoder config "
               f"`{args.coolchic_cfg}`, {budget}, the same λ (its loss is MSE + λ·bits/pixel on "
               f"[0, 1] RGB, like ours), one thread, torch {peer_info['torch']} with the "
               f"benchmark's torchvision stand-in (benchmarks/coolchic_shim); run as its own "
               f"`cc_encode.py` / `cc_decode.py`, seeded with --seed through "
               f"benchmarks/coolchic_run.py. Rate: the real `.cool` file; PSNR: ours, on its "
               f"decoded PNG against the same crop. Encode seconds include its post-training "
               f"quantization and weight RDOQ and its check decode.", ""]
    if peer_command:
        md += [f"{peer}: its points are read from `{args.peer_from}`, made by `{peer_command}` "
               "(same crops, λ and iterations; that file says how it was run), not rerun.", ""]
    if skipped:
        md += ["Skipped codecs: " + "; ".join(f"{k} ({v})" for k, v in skipped.items()), ""]
    md += ["## Against each codec (negative BD-rate = the first curve needs fewer bits)", "",
           *tables,
           "BD-rate: Bjøntegaard, log-rate vs PSNR, piecewise-cubic (PCHIP), over the overlapping "
           "PSNR range, three ways: *per image*, then averaged over the images where the curves "
           "overlap; between the data-set curves of *mean PSNR* (per λ or quality: mean bpp, "
           "mean of the images' PSNRs); and between the curves of *PSNR of the mean MSE* (mean "
           "bpp, PSNR of the images' mean MSE: Cool-chic's published convention). Both curve "
           "forms use the images both codecs have (all crops are the same size, so means are "
           "unweighted). ΔPSNR: the first curve's PSNR minus the codec's PSNR interpolated at "
           "the first curve's own rates (points outside the codec's sweep are not counted).", "",
           "## Mean points (over images)", "",
           "| codec | param | bpp | mean PSNR (dB) | PSNR of mean MSE (dB) | encode s | decode s |",
           "|---|---:|---:|---:|---:|---:|---:|"]
    for codec in [*ours_all, *peers, *codecs]:
        for p, b, ps, pm, es, ds in mean_points(rows, codec):
            md.append(f"| {codec} | {p} | {b:.3f} | {ps:.2f} | {pm:.2f} | {es:.3f} | {ds:.4f} |")
    md.append("")
    for curve in [*ours_all, *peers]:
        sel = [r for r in rows if r["codec"] == curve]
        if not sel:
            continue
        macs = [float(r["macs_per_pixel"]) for r in sel if r["macs_per_pixel"] != ""]
        line = f"{curve} decoder: " + (f"{np.mean(macs):.0f} MACs/pixel at this size"
                                       if macs else "MACs/pixel not reported")
        steps = [(float(r["train_s"]), float(r["train_iterations"])) for r in sel
                 if r.get("train_s", "") != ""]
        if steps:                  # the peer reports its gradient-step time itself
            line += (f"; {1000 * sum(s for s, _ in steps) / sum(n for _, n in steps):.0f} ms "
                     f"per gradient step (its own timer, warm-up included), "
                     f"{np.mean([r['encode_s'] for r in sel]):.0f} s per encode in all")
        elif isinstance(sel[0].get("iterations"), int) and sel[0]["iterations"] > 0:
            line += (f"; {1000 * np.mean([r['encode_s'] / r['iterations'] for r in sel]):.0f} "
                     f"ms per iteration (whole encode / iterations)")
        md.append(line + ".  ")
    if plot(rows, RESULTS / f"rd_{tag}.png", f"Kodak {crop}", [*ours_all, *peers, *codecs]):
        md += ["", f"![RD plot](rd_{tag}.png)"]
    (RESULTS / f"rd_{tag}.md").write_text("\n".join(md) + "\n")
    (RESULTS / f"rd_{tag}.json").write_text(json.dumps(summary, indent=1))
    print("\n".join(md))


if __name__ == "__main__":
    main()
