"""Fitting-schedule tuning of the grid codec on 128x128 centre crops of ../shared/data/train
(never Kodak).

    python scripts/tune_fit.py [--workers 2] [--iterations 2000] [--out NAME] [--variants A,B]
                               [--size 128] [--images A,B] [--lmbdas 0.004,0.001] [--seeds 0,1]

Each variant changes fit.train.Schedule (and, where it says so, the preset) from a fixed
baseline: the shipped defaults with the latent learning-rate multiplier at 1 and no gradient
clipping, the schedule before tuning adopted 3 and 0.03 (so the committed tables stay
reproducible). Every point is a real file
(preset low unless the variant names another); changes are relative to the first variant of
--variants. Writes benchmarks/results/NAME.md (default tuning_fit_train128.md).
"""
from __future__ import annotations

from pathlib import Path

from inrcodec.fit.train import UNIFORM_PROXY
from tuning import (ADAM_X3, PROXY, PROXY_INIT, RESULTS, SOAP_X6, command_line, parser, point_row,
                    reference_rows, run, train_crop, write_table)

IMAGES = ["4.2.03", "house", "4.1.05", "4.1.01"]
LMBDAS = [4e-3, 1e-3]
# every variant starts from this: the shipped schedule before tuning (latent learning rate x1,
# no gradient clipping, no weight RDOQ), so the committed tables stay reproducible
# (and the quantization proxy and ARM start before issue 32: uniform noise, rate on soft + noise,
# temperature 0.3 -> 0.1, log-scale 0)
BASELINE = {**ADAM_X3, "latent_lr_multiplier": 1.0, "grad_clip": 0.0, "weight_rdoq": False,
            **UNIFORM_PROXY}
MEDIUM = {"latent_lr_multiplier": 3.0, "preset": "medium"}   # `preset medium`: base of the clip runs
SOAP_LR6 = {**PROXY_INIT, **SOAP_X6}     # issue 32 items 1-2 and 5: the adopted fit
VARIANTS = {                                  # name: Schedule overrides of the baseline
    "baseline": {},
    "latent lr x3": {"latent_lr_multiplier": 3.0},
    "lr 2e-2": {"lr": 2e-2},
    "lr 5e-3": {"lr": 5e-3},
    "hard lr 1e-3": {"hard_lr": 1e-3},
    "temperature 0.5 -> 0.1": {"t_start": 0.5},
    "temperature 0.3 -> 0.05": {"t_end": 0.05},
    "noise phase 0.95": {"noise_fraction": 0.95},
    "latent lr x3 + hard lr 1e-3": {"latent_lr_multiplier": 3.0, "hard_lr": 1e-3},
    "latent lr x6": {"latent_lr_multiplier": 6.0},
    "latent lr x10": {"latent_lr_multiplier": 10.0},
    "noise a 2 -> 1": {"latent_lr_multiplier": 3.0, "noise_a_start": 2.0},
    "warm-up 4 x 50": {"latent_lr_multiplier": 3.0, "warmup_candidates": 4, "warmup_steps": 50},
    "preset medium": MEDIUM,
    "preset high": {"latent_lr_multiplier": 3.0, "preset": "high"},
    "preset lowest": {"latent_lr_multiplier": 3.0, "preset": "lowest"},
    "latent lr x6 + noise a 2 -> 1": {"latent_lr_multiplier": 6.0, "noise_a_start": 2.0},
    "medium grad clip 0.1": {**MEDIUM, "grad_clip": 0.1},
    "medium grad clip 1": {**MEDIUM, "grad_clip": 1.0},
    "medium adam eps 1e-10": {**MEDIUM, "adam_eps": 1e-10},
    "medium grad clip 0.03": {**MEDIUM, "grad_clip": 0.03},
    "medium grad clip 0.01": {**MEDIUM, "grad_clip": 0.01},
    "medium adam eps 1e-6": {**MEDIUM, "adam_eps": 1e-6},
    "grad clip 0.03": {"latent_lr_multiplier": 3.0, "grad_clip": 0.03},
    "medium grad clip 0.03 + beta2 0.99": {**MEDIUM, "grad_clip": 0.03, "adam_beta2": 0.99},
    "medium grad clip 0.1 + eps 1e-10": {**MEDIUM, "grad_clip": 0.1, "adam_eps": 1e-10},
    # the knobs of `medium grad clip 0.03` (the shipped schedule): refitted after a change of
    # the fitting code, against that variant's committed points
    "shipped schedule refitted": {**MEDIUM, "grad_clip": 0.03},
    # the other presets under the schedule shipped before issue 32 (its "low and high not worse")
    "shipped schedule refitted + preset low": {**MEDIUM, "grad_clip": 0.03, "preset": "low"},
    "shipped schedule refitted + preset high": {**MEDIUM, "grad_clip": 0.03, "preset": "high"},
    # (the "medium parents N" variants of tuning_fit_train256_arm_parents.md measured
    # Architecture.arm_parents, which format 7 replaced with inter-grid features; see git history)
    "medium soap": {**MEDIUM, "grad_clip": 0.03, "network_optimizer": "soap"},
    "medium weight rdoq": {**MEDIUM, "grad_clip": 0.03, "weight_rdoq": True},
    # issue 32 items 1-2 on the shipped `medium` schedule (tuning.PROXY, PROXY_INIT; weight RDOQ
    # off in both: it runs after the fit and would only add time). What comes on top of them is
    # screened by scripts/screen_fit.py
    **{name: {**MEDIUM, "grad_clip": 0.03, **knobs} for name, knobs in {
        "proxy gaussian": PROXY,
        "proxy gaussian, rate on noisy": {**PROXY, "rate_on_synthesis_values": False},
        "arm scale init -4": {"arm_log_scale_init": PROXY_INIT["arm_log_scale_init"]},
        "proxy gaussian + arm scale init -4": PROXY_INIT,
        # issue 32 item 5 on top of items 1-2: SOAP for the networks with the joint clip kept
        # (scripts/screen_fit.py: -5.2 % fit-only, the smooth crop -9 ... -13 %)
        "proxy + init + soap wd 0.01": {**PROXY_INIT, "network_optimizer": "soap",
                                        "network_weight_decay": 0.01},
        "proxy + init + soap wd 0.01 + latent lr x6": SOAP_LR6,
        # the same knobs, under another name: the format of the checkout that runs it against a
        # committed table of the variant above (--reference-from), e.g. format 9's tiles
        "soap lr6 in this checkout's format": SOAP_LR6,
        # the `auto` rule's preset at 256x256 against `low` under that schedule, per lambda
        "proxy + init + soap wd 0.01 + latent lr x6 + preset low": {**SOAP_LR6, "preset": "low"},
        "proxy + init + soap wd 0.01 + latent lr x6 + preset high": {**SOAP_LR6, "preset": "high"},
        # issue 32 item 3 under that schedule: format 7's model (arch.MEDIUM_IFCE, 1221
        # MACs/pixel), and its 1199-MAC form (2 features, 14 neighbours; screened -3.7 %)
        "proxy + init + soap wd 0.01 + latent lr x6 + medium ifce": {
            **SOAP_LR6, "arm_context": 12, "ifce_levels": 3, "ifce_features": 4, "hyper_grids": 3},
        "proxy + init + soap wd 0.01 + latent lr x6 + ifce 2 context 14": {
            **SOAP_LR6, "arm_context": 14, "ifce_levels": 3, "ifce_features": 2, "hyper_grids": 3},
    }.items()},
}


# variant keys that change the preset's Architecture, not Schedule
ARCH_KNOBS = ("arm_context", "ifce_levels", "ifce_features", "hyper_grids")


def point(job) -> dict:
    import dataclasses
    import torch
    from inrcodec.arch import PRESETS
    torch.set_num_threads(1)
    from inrcodec.image.encoder import encode_with_report
    from inrcodec.fit.train import Schedule
    variant, image, lmbda, iterations, size, seed = job
    knobs = {**BASELINE, **VARIANTS[variant]}
    preset = knobs.pop("preset", "low")
    arch = {k: knobs.pop(k) for k in ARCH_KNOBS if k in knobs}
    arch = dataclasses.replace(PRESETS[preset], **arch) if arch else None
    _, r = encode_with_report(train_crop(image, size), lmbda=lmbda, iterations=iterations, device="cpu",
                              preset=preset, arch=arch, schedule=Schedule(**knobs), seed=seed)
    return point_row(variant, point_label(image, seed), lmbda, r)


def point_label(image: str, seed: int) -> str:
    """The table's image column: the image, and the seed where it is not 0."""
    return image if seed == 0 else f"{image} seed {seed}"


def main(argv=None) -> None:
    ap = parser(__doc__)
    ap.add_argument("--out", default="tuning_fit_train128")
    ap.add_argument("--variants", default=None, help="comma-separated subset (default: all)")
    ap.add_argument("--size", type=int, default=128, help="crop side")
    ap.add_argument("--images", default=",".join(IMAGES))
    ap.add_argument("--lmbdas", default=",".join(map(str, LMBDAS)))
    ap.add_argument("--seeds", default="0", help="comma-separated fit seeds (paired: every "
                    "variant fits every image, lambda and seed)")
    ap.add_argument("--reference-from", default=None, metavar="FILE",
                    help="take the first variant's points from this committed table instead of "
                         "refitting them (fits on one thread are deterministic)")
    args = ap.parse_args(argv)
    command = command_line("tune_fit.py", argv)
    names = args.variants.split(",") if args.variants else list(VARIANTS)
    if not set(names) <= set(VARIANTS):
        ap.error(f"--variants: any of {list(VARIANTS)} (the first is the reference)")
    images = args.images.split(",")
    lmbdas = [float(x) for x in args.lmbdas.split(",")]
    seeds = [int(x) for x in args.seeds.split(",")]
    reference = []
    if args.reference_from:
        wanted = {(point_label(im, seed), lm) for im in images for lm in lmbdas for seed in seeds}
        reference = [r for r in reference_rows(Path(args.reference_from), names[0])
                     if (r["image"], r["lmbda"]) in wanted]
        if len(reference) != len(wanted):
            ap.error(f"--reference-from: {args.reference_from} lacks some points of {names[0]!r}")
    fitted = names[1:] if reference else names
    jobs = [(v, im, lm, args.iterations, args.size, seed)
            for v in fitted for im in images for lm in lmbdas for seed in seeds]
    rows, seconds = run(point, jobs, args.workers)
    rows = reference + rows
    setup = (f"Images: {args.size}x{args.size} centre crops of train/{', '.join(images)}; "
             f"λ ∈ {lmbdas}; seeds {seeds}; preset low unless named; {args.iterations} steps; "
             "one CPU thread per fit."
             + (f" The `{names[0]}` points are read from {args.reference_from}, not refitted."
                if reference else ""))
    print(write_table(RESULTS / f"{args.out}.md", "Grid codec: fitting-schedule tuning on "
                      "training crops (not Kodak)", command, seconds, setup, names, rows))


if __name__ == "__main__":
    main()
