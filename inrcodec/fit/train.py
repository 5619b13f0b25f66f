"""The fitting schedule (C3-style): a long phase with soft-rounding + uniform noise and a cosine
learning rate, then a short straight-through (hard rounding) phase at a small learning rate that
keeps the best real-quantization RD cost seen.
"""
from __future__ import annotations

import math
import time

import torch
from tqdm.auto import tqdm

from .model import FitModel

NOISE_FRACTION = 0.85
LR = 1e-2
HARD_LR = 1e-4
T_START, T_END = 0.3, 0.1


def psnr_from_mse(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


def fit(model: FitModel, target: torch.Tensor, lmbda: float, iterations: int | None,
        progress: bool = True, log_every: int = 25, time_budget: float | None = None,
        desc: str = "fitting", leave: bool = False) -> dict:
    """Fit in place; returns a small summary. target: [N, C, H, W] float in [0, 1] (N = 1 for
    an image, the frames of a group for video).

    With `time_budget` (seconds) the schedule runs on wall-clock time instead of a step count:
    the phase, learning rate and temperature follow elapsed / budget, and fitting stops when the
    budget is spent (the weight-step search and coding that follow are not included).
    """
    n_pixels = target[:, 0].numel()
    opt = torch.optim.Adam(model.parameters(), lr=LR)
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
        noise_phase = progress_frac < NOISE_FRACTION
        if noise_phase:
            frac = progress_frac / NOISE_FRACTION
            lr = LR * 0.5 * (1 + math.cos(math.pi * frac))
            temperature = T_START + (T_END - T_START) * frac
        else:
            lr, temperature = HARD_LR, T_END
        for group in opt.param_groups:
            group["lr"] = lr
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
