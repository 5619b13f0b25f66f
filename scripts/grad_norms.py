"""Gradient norms along a fit, unclipped and clipped: why Schedule.grad_clip pays.

    python scripts/grad_norms.py [--image 4.2.07] [--size 128] [--preset low] [--lmbda 0.004]
                                 [--iterations 2000] [--every 100]

Fits one centre crop of ../shared/data/train (never Kodak) twice, without clipping and with the
shipped clip, and records before every optimizer step the global gradient norm (latents and
networks), and the median of Adam's sqrt(second moment) over the network weights (the denominator
that large early gradients inflate). Writes benchmarks/results/grad_norms_<image>_<size>.md.
"""
from __future__ import annotations

import argparse
import dataclasses

import numpy as np

from tuning import RESULTS, command_line, train_crop


def record(image: np.ndarray, preset_name: str, lmbda: float, iterations: int, clip: float):
    import torch
    from inrcodec.arch import preset
    from inrcodec.fit import train
    from inrcodec.fit.model import FitModel
    torch.manual_seed(0)
    h, w, c = image.shape
    model = FitModel(preset(preset_name), h, w, c)
    target = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    rows = []
    real_optimizer = train._optimizer
    real_clip = torch.nn.utils.clip_grad_norm_
    pre_clip = []

    def clip_recording(params, max_norm, *args, **kwargs):
        total = real_clip(params, max_norm, *args, **kwargs)   # returns the norm before clipping
        pre_clip.append(total.item())
        return total

    def recording(m, sc):
        opt = real_optimizer(m, sc)
        real_step = opt.step

        def step(*args, **kwargs):
            if pre_clip:
                norm = pre_clip.pop()
            else:
                grads = [p.grad.norm() for p in m.parameters() if p.grad is not None]
                norm = torch.linalg.vector_norm(torch.stack(grads)).item()
            out = real_step(*args, **kwargs)
            nets = [opt.state[p]["exp_avg_sq"].sqrt().ravel() for p in m.parameters()
                    if p is not m.latent and p in opt.state]
            rows.append((norm, torch.cat(nets).median().item()))
            return out
        opt.step = step
        return opt
    train._optimizer = recording
    torch.nn.utils.clip_grad_norm_ = clip_recording
    try:
        summary = train.fit(model, target, lmbda, iterations, progress=False,
                            schedule=dataclasses.replace(train.DEFAULT_SCHEDULE, grad_clip=clip))
    finally:
        train._optimizer = real_optimizer
        torch.nn.utils.clip_grad_norm_ = real_clip
    return rows, summary["rd_cost"]


def main(argv=None) -> None:
    import torch
    torch.set_num_threads(1)
    from inrcodec.fit.train import DEFAULT_SCHEDULE
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--image", default="4.2.07")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--preset", default="low")
    ap.add_argument("--lmbda", type=float, default=0.004)
    ap.add_argument("--iterations", type=int, default=2000)
    ap.add_argument("--every", type=int, default=100)
    args = ap.parse_args(argv)
    image = train_crop(args.image, args.size)
    clip = DEFAULT_SCHEDULE.grad_clip
    off, cost_off = record(image, args.preset, args.lmbda, args.iterations, 0.0)
    on, cost_on = record(image, args.preset, args.lmbda, args.iterations, clip)
    lines = ["# Gradient norms along a fit, with and without clipping", "",
             f"Command: `{command_line('grad_norms.py', argv)}`  ",
             f"Crop: {args.size}x{args.size} centre of train/{args.image}; preset {args.preset}; "
             f"λ = {args.lmbda}; {args.iterations} steps; one CPU thread; the shipped schedule "
             f"with grad_clip 0 and {clip}.", "",
             f"Hard-rounded RD cost at the end of the fit (before weight quantization): "
             f"unclipped {cost_off:.6f}, clipped {cost_on:.6f} ({100 * (cost_on / cost_off - 1):+.1f} %).",
             "", "Global gradient norm before clipping (the clipped fit's Adam sees at most "
             f"{clip}), and the median over network weights of Adam's sqrt(second moment) after it:",
             "", "| step | norm, unclipped | Adam denominator, unclipped | norm, clipped | "
             "Adam denominator, clipped |", "|---:|---:|---:|---:|---:|"]
    marks = sorted({0, 10, 25, 50} | set(range(args.every, args.iterations, args.every)))
    for i in marks:
        if i < len(off) and i < len(on):
            lines.append(f"| {i} | {off[i][0]:.3g} | {off[i][1]:.3g} | {on[i][0]:.3g} | "
                         f"{on[i][1]:.3g} |")
    path = RESULTS / f"grad_norms_{args.image}_{args.size}.md"
    path.write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
