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
  learned separable 7-tap filter, g + h * g (h per grid, starting at zero);
- ifce (item 3): the 3 finest levels' latents get 4 more ARM inputs, a per-level linear map of
  the co-located (nearest-upsampled) latents of every coarser grid; zeros for the other levels;
- hyper (item 3): 3 side grids at 1/16, 1/32, 1/64 of the image, coded with the same ARM (zero
  IFCE features), never rendered, read by the IFCE as coarser grids;
- context 12: the ARM sees 12 neighbours instead of 16, so 12 + 4 inputs cost what 16 did;
  context 14 with 2 IFCE features likewise (features_2: 2 features instead of 4).
Writes benchmarks/results/NAME.md.
"""
from __future__ import annotations

import dataclasses
import math

from tuning import (ADAM_X3, PROXY_INIT, RESULTS, SOAP_X6, command_line, parser, reference_rows,
                    run, train_crop, write_table)

IMAGES = ["4.2.03", "house", "4.1.05"]
LMBDAS = [4e-3, 1e-3]
# Every variant starts from the schedule of issue 32's items 1-2 (tuning.PROXY_INIT) with the
# optimizer before item 5 (tuning.ADAM_X3: Adam, latents x3), both pinned; no weight RDOQ (no file)
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
    "ifce": ({}, ("ifce",)),
    "ifce + hyper": ({}, ("ifce", "hyper")),
    "ifce + hyper + context 12": ({}, ("ifce", "hyper", "context_12")),
    "context 12": ({}, ("context_12",)),
    "ifce 2 + hyper + context 14": ({}, ("ifce", "hyper", "context_14", "features_2")),
    # the codec's own format-7 model (arch.MEDIUM_IFCE), not the fit-only forms above
    "medium ifce": ({}, ("medium_ifce",)),
    # schedule knobs re-checked under the Gaussian proxy (tuned before it)
    "soap wd 0.01": ({"network_optimizer": "soap", "network_weight_decay": 0.01}, ()),
    "latent lr x6": ({"latent_lr_multiplier": 6.0}, ()),
    "hard phase 0.25": ({"noise_fraction": 0.75}, ()),
    "arm skip + per-step upsampling": ({}, ("arm_skip", "per_step_upsampling")),
    "hard phase latents frozen": ({"hard_latent_lr_multiplier": 0.0}, ()),
    "soap wd 0.01 + latent lr x6": (SOAP_X6, ()),
    "soap wd 0.01 + medium ifce": ({"network_optimizer": "soap", "network_weight_decay": 0.01},
                                   ("medium_ifce",)),
    "hard phase 0.25, latents frozen": ({"noise_fraction": 0.75,
                                        "hard_latent_lr_multiplier": 0.0}, ()),
    # tiles larger than the picture: no latent's context is cut at a tile edge (~4.5 % were at
    # 256x256 with format 8's 64x192 tiles; format 9's 256x256 tiles cut none there)
    "no tiles": ({}, ("no_tiles",)),
}
IFCE_FEATURES = 4       # features the inter-grid context adds to the ARM's input
IFCE_LEVELS = 3         # levels that get them (the finest: ~98 % of the latents)
HYPER_LEVELS = 3        # side grids at 1/16, 1/32, 1/64
HYPER_FROM = 4


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


def _ifce_model():
    """FitModel with the inter-grid context and, optionally, side grids (torch in the worker)."""
    import numpy as np
    import torch
    from torch import nn

    from inrcodec.arch import Architecture
    from inrcodec.entropy.laplace import LATENT_MAX
    from inrcodec.fit.model import FitModel, LaplaceBits, RowGather, centred_noise, soft_round
    from inrcodec.model.latents import LatentLayout
    from inrcodec.model.params import build_modules

    class IfceFitModel(FitModel):
        """Level l < IFCE_LEVELS: features = W_l @ (co-located latents of every coarser level,
        then of every side grid) + b_l, appended to the ARM's spatial context; every other
        latent (side grids included) gets zeros there. Side grids are values in raster order
        (no padded buffer), under the same quantization proxy as the latents."""

        def __init__(self, arch, height, width, channels, hyper_levels, features=IFCE_FEATURES):
            super().__init__(arch, height, width, channels)
            self.features = features
            if arch.latent_channels != 1:
                raise ValueError("the IFCE screen assumes one channel per grid")
            k = len(self.ctx_src)
            self.arm = build_modules(arch, channels, arm_inputs=k + features)["arm"]
            self.hyper_layout = None
            if hyper_levels:
                f = 2 ** HYPER_FROM
                hl = LatentLayout(Architecture(n_levels=hyper_levels,
                                               arm_context=arch.arm_context),
                                  -(-height // f), -(-width // f))
                slot = np.full(hl.buffer_size, len(hl.pos_idx), np.int64)
                slot[hl.pos_idx] = np.arange(len(hl.pos_idx))
                self.register_buffer("hyper_ctx", torch.from_numpy(slot[hl.ctx_idx.T].copy()),
                                     persistent=False)
                self.hyper = nn.Parameter(torch.zeros(len(hl.pos_idx)))
                self.hyper_layout = hl
            n_coarser = [arch.n_levels - 1 - level + hyper_levels
                         for level in range(min(IFCE_LEVELS, arch.n_levels))]
            self.ifce = nn.ModuleList(nn.Linear(n, features) for n in n_coarser)

        def latent_parameters(self):
            return [self.latent] + ([self.hyper] if self.hyper_layout is not None else [])

        def _proxy(self, y, mode, temperature, noise_std, noise_a, rate_on_synthesis_values):
            y = y.clamp(-LATENT_MAX, LATENT_MAX)
            if mode != "noise":
                return y + (torch.round(y) - y).detach()
            soft = soft_round(y, temperature)
            noise = torch.randn_like(y) * noise_std if noise_std > 0 else centred_noise(y, noise_a)
            seen = soft_round(soft + noise, temperature)
            return seen if rate_on_synthesis_values else soft + noise

        def _features(self, values, hyper_values):
            grids = [g[0] for g in self.layout.grids_from_values(values)]
            sources = []
            if hyper_values is not None:
                sources = [g[0] for g in self.hyper_layout.grids_from_values(hyper_values)]
            out = []
            for level, linear in enumerate(self.ifce):
                h, w = grids[level].shape
                rows, cols = torch.arange(h), torch.arange(w)
                coarser = [(g, HYPER_FROM + i) for i, g in enumerate(sources)]
                coarser = [(grids[m], m) for m in range(level + 1, len(grids))] + coarser
                stack = torch.stack([g.index_select(0, rows >> (d - level))
                                     .index_select(1, cols >> (d - level)).reshape(-1)
                                     for g, d in coarser])
                out.append(torch.addmm(linear.bias.unsqueeze(1), linear.weight, stack))
            done = sum(f.shape[1] for f in out)
            out.append(values.new_zeros(self.features, values.shape[0] - done))
            return torch.cat(out, dim=1)

        def rate_bits(self, values, hyper_values=None):
            ctx = RowGather.apply(values, self.ctx_src, self.ctx_inverse)
            ctx = torch.cat([ctx, self._features(values, hyper_values)])
            mu, log_scale = self.arm.forward_wide(ctx)
            bits = LaplaceBits.apply(values, mu, log_scale).sum()
            if hyper_values is not None:
                padded = torch.cat([hyper_values, hyper_values.new_zeros(1)])
                hctx = padded.index_select(0, self.hyper_ctx.reshape(-1)).view(
                    self.hyper_ctx.shape)
                hctx = torch.cat([hctx, hctx.new_zeros(self.features, hctx.shape[1])])
                mu, log_scale = self.arm.forward_wide(hctx)
                bits = bits + LaplaceBits.apply(hyper_values, mu, log_scale).sum()
            return bits

        def forward(self, mode, temperature=0.3, noise_a=1.0, noise_std=0.0,
                    rate_on_synthesis_values=False):
            y_rate, y_syn = self.quantized_latents(mode, temperature, noise_a, noise_std,
                                                   rate_on_synthesis_values)
            hyper = None
            if self.hyper_layout is not None:
                hyper = self._proxy(self.hyper, mode, temperature, noise_std, noise_a,
                                    rate_on_synthesis_values)
            image = self.render_values(self.upsampling, self.synthesis, y_syn)
            return image, self.rate_bits(y_rate, hyper)

    return IfceFitModel


def extra_network_parameters(model, arch_name: str) -> int:
    """Network parameters a variant adds to the preset's (they cost file bytes that the
    fit's own score leaves out)."""
    from inrcodec.arch import preset
    from inrcodec.fit.model import FitModel
    base = FitModel(preset(arch_name), 16, 16, 3)
    nets = lambda m: sum(p.numel() for p in m.parameters()) - sum(
        p.numel() for p in m.latent_parameters())
    return nets(model) - nets(base)


def point(job) -> dict:
    import torch
    torch.set_num_threads(1)
    from inrcodec.arch import preset
    from inrcodec.fit.model import FitModel
    from inrcodec.fit.train import Schedule, fit
    variant, image, lmbda, iterations, size, seed, arch_name = job
    knobs, changes = VARIANTS[variant]
    arch = preset(arch_name)
    if "medium_ifce" in changes:
        from inrcodec.arch import MEDIUM_IFCE
        arch = MEDIUM_IFCE
    if "context_12" in changes:
        arch = dataclasses.replace(arch, arm_context=12)
    if "context_14" in changes:
        arch = dataclasses.replace(arch, arm_context=14)
    crop = train_crop(image, size)
    torch.manual_seed(seed)
    target = torch.from_numpy(crop).permute(2, 0, 1)[None].float() / 255.0
    from inrcodec.model import latents
    format_tiles = latents.TILE_ROWS, latents.TILE_COLS
    if "no_tiles" in changes:       # the layout (contexts, wavefront) is built with the model
        latents.TILE_ROWS = latents.TILE_COLS = 1 << 20
    try:
        if "ifce" in changes:
            model = _ifce_model()(arch, size, size, 3, HYPER_LEVELS if "hyper" in changes else 0,
                                  2 if "features_2" in changes else IFCE_FEATURES)
        else:
            model = FitModel(arch, size, size, 3)
    finally:                        # a worker runs other variants' jobs after this one
        latents.TILE_ROWS, latents.TILE_COLS = format_tiles
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
                  schedule=Schedule(**{**ADAM_X3, **PROXY_INIT, **knobs}))
    bpp = summary["latent_bits"] / (size * size)
    mse = summary["rd_cost"] - lmbda * bpp
    return {"variant": variant, "image": image if seed == 0 else f"{image} seed {seed}",
            "lmbda": lmbda, "bpp": bpp, "psnr": 10 * math.log10(1 / mse),
            "cost": summary["rd_cost"], "seconds": summary["fit_seconds"],
            "extra_parameters": extra_network_parameters(model, arch_name)}


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
    ap.add_argument("--reference", default=None,
                    help="an earlier table (benchmarks/results/NAME.md) to take the first "
                         "variant's points from instead of refitting them (fits on one thread "
                         "are deterministic); the table names it")
    args = ap.parse_args(argv)
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    if not set(names) <= set(VARIANTS):
        ap.error(f"--variants: any of {list(VARIANTS)}")
    images, seeds = args.images.split(","), [int(x) for x in args.seeds.split(",")]
    lmbdas = [float(x) for x in args.lmbdas.split(",")]
    fitted = names[1:] if args.reference else names
    jobs = [(v, im, lm, args.iterations, args.size, seed, args.preset)
            for v in fitted for im in images for lm in lmbdas for seed in seeds]
    rows, seconds = run(point, jobs, args.workers)
    if args.reference:
        reused = reference_rows(RESULTS / f"{args.reference}.md", names[0])
        for r in reused:
            r.update(seconds=float("nan"), extra_parameters=0)
        rows = reused + rows
    extra = {r["variant"]: r["extra_parameters"] for r in rows}
    step_ms = {v: 1000 * sum(r["seconds"] for r in rows if r["variant"] == v)
               / (args.iterations * sum(r["variant"] == v for r in rows)) for v in names}
    setup = (f"Images: {args.size}x{args.size} centre crops of train/{', '.join(images)}; "
             f"λ ∈ {lmbdas}; seeds {seeds}; preset {args.preset}; {args.iterations} steps; one "
             "CPU thread per fit, two fits at once. Base schedule: "
             f"{PROXY_INIT}. Fit time per step (whole fit / steps, two fits sharing the "
             "machine): " + ", ".join(f"{v} {ms:.0f} ms" for v, ms in step_ms.items()) + ". "
             + (f"The points of `{names[0]}` are those of benchmarks/results/{args.reference}.md "
                "(same command, same crops, λ and seeds; not refitted). " if args.reference else "")
             + "Network parameters added to the preset's (their bytes are not in the score): "
             + ", ".join(f"{v} {extra[v]:+d}" for v in names) + ".")
    print(write_table(RESULTS / f"{args.out}.md", "Screening model changes on training crops "
                      "(not Kodak), fit's own RD cost", command_line("screen_fit.py", argv),
                      seconds, setup, names, rows,
                      score="the fit's own RD cost MSE + λ·bpp (hard-rounded latents, the float "
                            "ARM's estimate of their bits, unquantized networks; no file)"))


if __name__ == "__main__":
    main()
