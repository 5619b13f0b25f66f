"""The fitting schedule (C3-style): a long phase with soft-rounding + uniform noise and a cosine
learning rate, then a short straight-through (hard rounding) phase at a small learning rate that
keeps the best real-quantization RD cost seen.
"""
from __future__ import annotations

import math
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from .model import FitModel


@dataclass(frozen=True)
class Schedule:
    """The fitting schedule's knobs (defaults: the shipped codec; scripts/tune_fit.py varies them
    on the training photos)."""
    lr: float = 1e-2                  # noise phase: cosine decay from this
    hard_lr: float = 1e-4             # straight-through (hard rounding) phase
    noise_fraction: float = 0.85      # share of the steps (or of the time budget) in the noise phase
    t_start: float = 0.3              # soft-rounding temperature, annealed linearly to t_end
    t_end: float = 0.1
    # the latents' learning rate relative to the networks' (3: tuned on the training photos,
    # benchmarks/results/tuning_fit_train128*.md; RD cost -3.1 % against 1)
    latent_lr_multiplier: float = 3.0


DEFAULT_SCHEDULE = Schedule()


def psnr_from_mse(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def fit(model: FitModel, target: torch.Tensor, lmbda: float, iterations: int | None,
        progress: bool = True, log_every: int = 25, time_budget: float | None = None,
        desc: str = "fitting", leave: bool = False,
        schedule: Schedule = DEFAULT_SCHEDULE) -> dict:
    """Fit in place; returns a small summary. target: [N, C, H, W] float in [0, 1] (N = 1 for
    an image, the frames of a group for video).

    With `time_budget` (seconds) the schedule runs on wall-clock time instead of a step count:
    the phase, learning rate and temperature follow elapsed / budget, and fitting stops when the
    budget is spent (the weight-step search and coding that follow are not included).
    """
    n_pixels = target[:, 0].numel()
    sc = schedule
    latent = [model.latent]
    networks = [p for p in model.parameters() if p is not model.latent]
    opt = torch.optim.Adam([{"params": latent, "scale": sc.latent_lr_multiplier},
                            {"params": networks, "scale": 1.0}], lr=sc.lr)
    best_cost, best_state = math.inf, None
    start = time.perf_counter()
    by_time = time_budget is not None
    total = time_budget if by_time else iterations
    bar = tqdm(total=round(total, 1) if by_time else total, disable=not progress, desc=desc,
               unit="s" if by_time else "it", dynamic_ncols=True, leave=leave)
    it, shown = 0, 0.0
    while True:
        elapsed = time.perf_counter() - start
        progress_frac = elapsed / time_budget if by_time else it / max(iterations, 1)
        if progress_frac >= 1.0 or (not by_time and it >= iterations):
            break
        noise_phase = progress_frac < sc.noise_fraction
        if noise_phase:
            frac = progress_frac / sc.noise_fraction
            lr = sc.lr * 0.5 * (1 + math.cos(math.pi * frac))
            temperature = sc.t_start + (sc.t_end - sc.t_start) * frac
        else:
            lr, temperature = sc.hard_lr, sc.t_end
        for group in opt.param_groups:
            group["lr"] = lr * group["scale"]
        image, bits = model("noise" if noise_phase else "hard", temperature)
        mse = torch.mean((image - target) ** 2)
        bpp = bits / n_pixels
        loss = mse + lmbda * bpp
        if not noise_phase and loss.item() < best_cost:
            best_cost = loss.item()
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        if it % log_every == 0:
            bar.set_postfix(loss=f"{loss.item():.5f}", psnr=f"{psnr_from_mse(mse.item()):.2f}",
                            bpp=f"{bpp.item():.3f}", phase="noise" if noise_phase else "hard")
        if by_time:
            now = round(min(time.perf_counter() - start, time_budget), 1)
            bar.update(now - shown)
            shown = now
        else:
            bar.update(1)
        it += 1
    bar.close()
    # the state after the last step has not been scored yet: score it with hard rounding
    with torch.no_grad():
        image, bits = model("hard")
        cost = (torch.mean((image - target) ** 2) + lmbda * bits / n_pixels).item()
    if best_state is not None and best_cost < cost:
        model.load_state_dict(best_state)
        cost = best_cost
        with torch.no_grad():
            bits = model("hard")[1]
    # latent_bits: the training-time (float ARM) estimate of the latents' code length, to compare
    # with what the integer ARM and the range coder really spend
    return {"fit_seconds": time.perf_counter() - start, "rd_cost": cost, "iterations": it,
            "latent_bits": float(bits)}
