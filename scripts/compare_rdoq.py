"""Weight RDOQ's reach on the same fits (issue 32, smaller items): one step towards zero (today)
against up to K steps either way, as Cool-chic's RDOQ tries. Post-fit, so every variant codes the
very same fitted model: the comparison carries no fit noise.

    python scripts/compare_rdoq.py [--workers 1] [--size 256] [--images A,B] [--lmbdas 0.004,0.001]
                                   [--seeds 0] [--reaches 1,15] [--iterations 2000]

Every point is a real file of the default preset and schedule (one CPU thread per fit), decoded
to measure its PSNR; changes are relative to the first reach on the same point. Writes
benchmarks/results/NAME.md (default tuning_rdoq_reach_train256.md).
"""
from __future__ import annotations

import time

from tuning import RESULTS, command_line, parser, run, train_crop, write_table


def point(job) -> list[dict]:
    import numpy as np
    import torch
    torch.set_num_threads(1)
    import inrcodec
    from inrcodec import bitstream
    from inrcodec.arch import preset as get_preset, resolve_preset
    from inrcodec.fit.model import FitModel
    from inrcodec.fit.quantize import choose_steps
    from inrcodec.fit.train import DEFAULT_SCHEDULE, fit
    from inrcodec.image.encoder import coded_sections
    from inrcodec.image.header import ImageHeader
    image_name, lmbda, seed, size, iterations, reaches = job
    image = train_crop(image_name, size)
    h, w, c = image.shape
    name = resolve_preset("auto", h * w, lmbda)
    arch = get_preset(name)
    torch.manual_seed(seed)
    target = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    model = FitModel(arch, h, w, c)
    fit(model, target, lmbda, iterations, progress=False, schedule=DEFAULT_SCHEDULE)
    rows = []
    for reach in reaches:
        start = time.perf_counter()
        quant, ints, buffer = choose_steps(model, target, lmbda, rdoq=True, rdoq_reach=reach)
        seconds = time.perf_counter() - start
        header = ImageHeader(h, w, c, arch, name, quant)
        data = bitstream.pack(bitstream.MODE_IMAGE, header.to_bytes(),
                              coded_sections(quant, ints, buffer, model.layout))
        out = inrcodec.decode(data).astype(np.float64)
        mse = float(np.mean((out - image) ** 2)) / 255.0 ** 2
        bpp = 8.0 * len(data) / (h * w)
        rows.append({"variant": f"reach {reach}", "image": image_name, "lmbda": lmbda, "seed": seed,
                     "bpp": bpp, "psnr": 10 * np.log10(1 / mse), "cost": mse + lmbda * bpp,
                     "search_seconds": seconds})
        print(rows[-1], flush=True)
    return rows


def main(argv=None) -> None:
    ap = parser(__doc__)
    ap.add_argument("--out", default="tuning_rdoq_reach_train256")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--images", default="4.2.03,house,4.1.05,4.1.01")
    ap.add_argument("--lmbdas", default="0.004,0.001")
    ap.add_argument("--seeds", default="0")
    ap.add_argument("--reaches", default="1,15")
    args = ap.parse_args(argv)
    reaches = [int(r) for r in args.reaches.split(",")]
    jobs = [(im, float(lm), int(sd), args.size, args.iterations, reaches)
            for im in args.images.split(",") for lm in args.lmbdas.split(",")
            for sd in args.seeds.split(",")]
    results, seconds = run(point, jobs, args.workers)
    rows = [r for group in results for r in group]
    names = [f"reach {r}" for r in reaches]
    search = {n: sum(r["search_seconds"] for r in rows if r["variant"] == n) / len(jobs) for n in names}
    setup = (f"Images: {args.size}x{args.size} centre crops of train/{args.images}; λ ∈ "
             f"{args.lmbdas}; seeds {args.seeds}; {args.iterations} steps, default preset and "
             "schedule; one CPU thread per fit. Each fitted model is coded once per reach (same "
             "fit: no fit noise); real files, PSNR of the decoded file. Mean weight-step search "
             "time per point: " + ", ".join(f"{n} {s:.1f} s" for n, s in search.items()) + ".")
    print(write_table(RESULTS / f"{args.out}.md", "Weight RDOQ reach on the same fits (training "
                      "crops, not Kodak)", command_line("compare_rdoq.py", argv), seconds, setup,
                      names, rows))


if __name__ == "__main__":
    main()
