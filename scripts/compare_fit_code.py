"""Two versions of the fitting code, same fits: the shipped defaults on training crops (never
Kodak) over several seeds, with this checkout's inrcodec and with another checkout's.

    git worktree add ../before <commit>
    python scripts/compare_fit_code.py --other ../before [--images house,4.2.03] [--seeds 0,1,2]
                                       [--size 256] [--lmbda 0.004[,0.001...]] [--workers 2]
                                       [--out NAME]

A rewrite of the fitting step that computes the same functions still changes every fit (float
rounding, a different draw of the noise), so one fit per version cannot tell a real change from
chance; the spread over seeds can. Each fit runs in its own process on one CPU thread (so fit
times are comparable; two at a time with --workers 2). Writes benchmarks/results/NAME.md.
"""
from __future__ import annotations

import json
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from tuning import RESULTS, ROOT, command_line, parser


def one_fit(code: str, image: str, seed: int, size: int, lmbda: float, iterations: int) -> dict:
    """Runs in a fresh interpreter with `code`'s inrcodec first on the path."""
    sys.path.insert(0, code)
    import torch
    torch.set_num_threads(1)
    import inrcodec
    from inrcodec.image.encoder import encode_with_report
    from tuning import train_crop
    if not Path(inrcodec.__file__).resolve().is_relative_to(Path(code).resolve()):
        raise SystemExit(f"imported {inrcodec.__file__}, not the one in {code}")
    _, r = encode_with_report(train_crop(image, size), lmbda=lmbda, iterations=iterations,
                              device="cpu", seed=seed)
    mse = 10 ** (-r["psnr"] / 10)
    return {"image": image, "seed": seed, "lmbda": lmbda, "bpp": r["bpp"], "psnr": r["psnr"],
            "cost": mse + lmbda * r["bpp"], "fit_seconds": r["fit_seconds"]}


def run_one(job) -> dict:
    label, code, image, seed, size, lmbda, iterations = job
    out = subprocess.run([sys.executable, __file__, "--one", code, image, str(seed), str(size),
                          str(lmbda), str(iterations)], capture_output=True, text=True,
                         cwd=ROOT, check=True)
    return {"code": label, **json.loads(out.stdout.strip().splitlines()[-1])}


def main(argv=None) -> None:
    ap = parser(__doc__)
    ap.add_argument("--other", required=True, metavar="DIR", help="the other checkout")
    ap.add_argument("--images", default="house,4.2.03")
    ap.add_argument("--seeds", default="0,1,2")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--lmbda", default="0.004", help="one or more, comma-separated")
    ap.add_argument("--out", default="compare_fit_code")
    args = ap.parse_args(argv)
    command = command_line("compare_fit_code.py", argv)
    codes = {"this checkout": str(ROOT), f"{args.other}": str(Path(args.other).resolve())}
    lmbdas = [float(x) for x in args.lmbda.split(",")]
    jobs = [(label, code, im, int(s), args.size, lm, args.iterations)
            for im in args.images.split(",") for lm in lmbdas for s in args.seeds.split(",")
            for label, code in codes.items()]
    start = time.time()
    with ThreadPoolExecutor(args.workers) as pool:
        rows = list(pool.map(run_one, jobs))
    seconds = time.time() - start
    lines = [f"# Fitting code: this checkout against {args.other}", "",
             f"Command: `{command}`  ", f"Wall time: {seconds:.0f} s", "",
             f"{args.size}x{args.size} centre crops of training photos (not Kodak), λ ∈ "
             f"{lmbdas}, the shipped defaults (preset auto), {args.iterations} steps, one CPU "
             f"thread per fit, {args.workers} fits at a time; seeds {args.seeds}. RD cost = MSE + "
             "λ·bpp of the real decoded file; fit seconds: the fit alone (not the weight "
             "quantization and coding).", "",
             "| image | λ | code | RD cost, mean ± std over seeds | mean bpp | mean PSNR dB | "
             "mean fit s |", "|---|---:|---|---|---:|---:|---:|"]
    for im in args.images.split(","):
        for lm in lmbdas:
            for label in codes:
                mine = [r for r in rows if r["image"] == im and r["lmbda"] == lm
                        and r["code"] == label]
                costs = np.array([r["cost"] for r in mine])
                spread = f" ± {costs.std(ddof=1):.6f}" if len(costs) > 1 else ""
                lines.append(f"| {im} | {lm} | {label} | {costs.mean():.6f}{spread} | "
                             f"{np.mean([r['bpp'] for r in mine]):.3f} | "
                             f"{np.mean([r['psnr'] for r in mine]):.2f} | "
                             f"{np.mean([r['fit_seconds'] for r in mine]):.1f} |")
    # paired: the same image, λ and seed under both checkouts
    by_key = {(r["image"], r["lmbda"], r["seed"], r["code"]): r["cost"] for r in rows}
    mine_label, other_label = list(codes)
    changes = [100 * (by_key[(im, lm, s, mine_label)] / by_key[(im, lm, s, other_label)] - 1)
               for im, lm, s, code in by_key if code == mine_label]
    lines += ["", f"Paired RD cost change of this checkout against {args.other} (every image, λ "
              f"and seed): mean {np.mean(changes):+.1f} %, {sum(c < 0 for c in changes)} of "
              f"{len(changes)} points lower; per point: "
              + ", ".join(f"{c:+.1f}" for c in changes) + " %."]
    lines += ["", "Every fit:", "", "| image | λ | seed | code | bpp | PSNR dB | RD cost | fit s |",
              "|---|---:|---:|---|---:|---:|---:|---:|"]
    lines += [f"| {r['image']} | {r['lmbda']} | {r['seed']} | {r['code']} | {r['bpp']:.3f} | "
              f"{r['psnr']:.2f} | {r['cost']:.6f} | {r['fit_seconds']:.1f} |" for r in rows]
    text = "\n".join(lines) + "\n"
    print(text)               # first: a failed write still leaves the table on screen
    (RESULTS / f"{args.out}.md").write_text(text)


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        code, image, seed, size, lmbda, iterations = sys.argv[2:8]
        print(json.dumps(one_fit(code, image, int(seed), int(size), float(lmbda), int(iterations))))
    else:
        main()
