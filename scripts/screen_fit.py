"""Screen model changes before building them into the format: fit centre crops of the training
photos (never Kodak) with a variant of the float model or schedule and score the fit's own
RD cost (hard-rounded latents, float ARM estimate of their bits, unquantized networks; no file).

    python scripts/screen_fit.py [--workers 2] [--iterations 2000] [--size 256]
                                 [--images A,B] [--lmbdas 0.004,0.001] [--seeds 0,1]
                                 [--variants A,B] [--out NAME]

Paired: every variant fits the same crops, lambdas and seeds; changes are against the first
variant named. The model variants (issue 32, items 2 and 4) exist here only, as wrappers of the
fit's modules, each starting as the unchanged function (new weights at zero):
- synthesis skip: a linear 1x1 map from the latent planes straight to the colour output, added
  to the synthesis' output;
- arm skip: a linear map from the ARM's context straight to (mu, log-scale), added;
- per-step upsampling: one learned x2 kernel per level step instead of one shared kernel;
- grid pre-filter: before upsampling, every grid (the full-resolution one too) gets a residual
  learned separable 7-tap filter, g + h * g (h per grid, starting at zero).
Writes benchmarks/results/NAME.md.
"""
from __future__ import annotations

import math

from tuning import PROXY_INIT, RESULTS, command_line, parser, run, train_crop, write_table

IMAGES = ["4.2.03", "house", "4.1.05"]
LMBDAS = [4e-3, 1e-3]
# Every variant starts from the shipped schedule with issue 32's items 1-2 pinned
# (tuning.PROXY_INIT); no weight RDOQ (no file)
VARIANTS = {     # name: (Schedule overrides of the base, model changes)
    "proxy + init": ({}, ()),
    "synthesis skip": ({}, ("synthesis_skip",)),
    "arm skip": ({}, ("arm_skip",)),
    "per-step upsampling": ({}, ("per_step_upsampling",)),
    "grid pre-filter": ({}, ("grid_prefilter",)),
    "residual zero init": ({"synthesis_residual_zero_init": True}, ()),
    "soap wd 0.01 + clip nets 0.1": ({"network_optimizer": "soap", "network_weight_decay": 0.01,
                                     "grad_clip": 0.1, "grad_clip_latents": False}, ()),
    "clip nets only": ({"grad_clip_latents": False}, ()),
}


def _wrappers():
    """The model variants' modules (torch imported in the worker only)."""
    import torch
    from torch import nn

    from inrcodec.entropy.laplace import LOG_SCALE_MAX, LOG_SCALE_MIN
    from inrcodec.model.upsampling import Upsampling

    class SkipSynthesis(nn.Module):
        def __init__(self, synthesis, planes: int, out: int):
            super().__init__()
            self.inner, self.residual = synthesis, synthesis.residual
            self.skip = nn.Parameter(torch.zeros(out, planes))

        def forward(self, x):
            return self.inner(x) + torch.einsum("op,nphw->nohw", self.skip, x)

    def arm_with_skip(arm):
        skip = nn.Parameter(torch.zeros(2, arm.layers[0].in_features))
        arm.register_parameter("skip", skip)
        inner = arm.forward_wide

        def forward_wide(context_t):
            mu, log_scale = inner(context_t)
            extra = skip @ context_t
            return mu + extra[0], (log_scale + extra[1]).clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)
        arm.forward_wide = forward_wide
        return arm

    class FlexibleUpsampling(Upsampling):
        """Per-step kernels and/or per-grid residual pre-filters; always the matrix form (the
        same function as the polyphase one, with or without autograd)."""

        def __init__(self, taps: int, levels: int, per_step: bool, prefilter: bool):
            super().__init__(taps)
            self.per_step = per_step
            if per_step:
                self.step_halves = nn.Parameter(self.half_kernel.detach().repeat(levels - 1, 1))
            self.prefilter = nn.Parameter(torch.zeros(levels, 2, 3)) if prefilter else None

        def _filtered(self, k: int, g):
            if self.prefilter is None:
                return g
            x = g.unsqueeze(0)
            for axis, half in enumerate(self.prefilter[k]):
                taps = torch.cat([half.flip(0), -2 * half.sum().view(1), half])   # zero DC gain
                shape = (1, 1, 1, 7) if axis == 0 else (1, 1, 7, 1)
                pad = (3, 3, 0, 0) if axis == 0 else (0, 0, 3, 3)
                x = x + torch.nn.functional.conv2d(
                    torch.nn.functional.pad(x, pad, mode="replicate"), taps.view(shape))
            return x[0]

        def forward(self, grids):
            grids = [self._filtered(k, g) for k, g in enumerate(grids)]
            planes, mh, mw = [grids[0]], None, None
            for step, (finer, g) in enumerate(zip(grids[:-1], grids[1:])):
                kernel = (torch.cat([self.step_halves[step], self.step_halves[step].flip(0)])
                          if self.per_step else self.kernel())
                ah = self.axis_matrix(g.shape[-2], finer.shape[-2], kernel)
                aw = self.axis_matrix(g.shape[-1], finer.shape[-1], kernel)
                mh, mw = (ah, aw) if mh is None else (mh @ ah, mw @ aw)
                planes.append(mh @ g @ mw.T)
            return torch.cat(planes).unsqueeze(0)

    return SkipSynthesis, arm_with_skip, FlexibleUpsampling


def point(job) -> dict:
    import torch
    torch.set_num_threads(1)
    from inrcodec.arch import preset
    from inrcodec.fit.model import FitModel
    from inrcodec.fit.train import Schedule, fit
    variant, image, lmbda, iterations, size, seed, arch_name = job
    knobs, changes = VARIANTS[variant]
    arch = preset(arch_name)
    crop = train_crop(image, size)
    torch.manual_seed(seed)
    target = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
    model = FitModel(arch, size, size, 3)
    SkipSynthesis, arm_with_skip, FlexibleUpsampling = _wrappers()
    if "synthesis_skip" in changes:
        model.synthesis = SkipSynthesis(model.synthesis, arch.latent_planes, 3)
    if "arm_skip" in changes:
        model.arm = arm_with_skip(model.arm)
    if {"per_step_upsampling", "grid_prefilter"} & set(changes):
        model.upsampling = FlexibleUpsampling(arch.upsampling_taps, arch.n_levels,
                                              "per_step_upsampling" in changes,
                                              "grid_prefilter" in changes)
    summary = fit(model, target, lmbda, iterations, progress=False,
                  schedule=Schedule(**{**PROXY_INIT, **knobs}))
    bpp = summary["latent_bits"] / (size * size)
    mse = summary["rd_cost"] - lmbda * bpp
    return {"variant": variant, "image": image if seed == 0 else f"{image} seed {seed}",
            "lmbda": lmbda, "bpp": bpp, "psnr": 10 * math.log10(1 / mse),
            "cost": summary["rd_cost"], "seconds": summary["fit_seconds"]}


def main(argv=None) -> None:
    ap = parser(__doc__)
    ap.add_argument("--out", default="screen_fit_train256")
    ap.add_argument("--variants", default=None, help="comma-separated (default: all; the first "
                    "is the reference)")
    ap.add_argument("--size", type=int, default=256, help="crop side")
    ap.add_argument("--preset", default="medium")
    ap.add_argument("--images", default=",".join(IMAGES))
    ap.add_argument("--lmbdas", default=",".join(map(str, LMBDAS)))
    ap.add_argument("--seeds", default="0,1")
    args = ap.parse_args(argv)
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    if not set(names) <= set(VARIANTS):
        ap.error(f"--variants: any of {list(VARIANTS)}")
    images, seeds = args.images.split(","), [int(x) for x in args.seeds.split(",")]
    lmbdas = [float(x) for x in args.lmbdas.split(",")]
    jobs = [(v, im, lm, args.iterations, args.size, seed, args.preset)
            for v in names for im in images for lm in lmbdas for seed in seeds]
    rows, seconds = run(point, jobs, args.workers)
    step_ms = {v: 1000 * sum(r["seconds"] for r in rows if r["variant"] == v)
               / (args.iterations * sum(r["variant"] == v for r in rows)) for v in names}
    setup = (f"Images: {args.size}x{args.size} centre crops of train/{', '.join(images)}; "
             f"λ ∈ {lmbdas}; seeds {seeds}; preset {args.preset}; {args.iterations} steps; one "
             "CPU thread per fit, two fits at once. Base schedule: "
             f"{PROXY_INIT}. Fit time per step (whole fit / steps, two fits sharing the "
             "machine): " + ", ".join(f"{v} {ms:.0f} ms" for v, ms in step_ms.items()) + ".")
    print(write_table(RESULTS / f"{args.out}.md", "Screening model changes on training crops "
                      "(not Kodak), fit's own RD cost", command_line("screen_fit.py", argv),
                      seconds, setup, names, rows,
                      score="the fit's own RD cost MSE + λ·bpp (hard-rounded latents, the float "
                            "ARM's estimate of their bits, unquantized networks; no file)"))


if __name__ == "__main__":
    main()
