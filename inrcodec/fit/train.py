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


def fit(model: FitModel, target: torch.Tensor, lmbda: float, iterations: int,
        progress: bool = True, log_every: int = 25) -> dict:
    """Fit in place; returns a small summary. target: [1, C, H, W] float in [0, 1]."""
    n_pixels = target.shape[-1] * target.shape[-2]
    n_noise = int(round(iterations * NOISE_FRACTION))
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    best_cost, best_state = math.inf, None
    start = time.perf_counter()
    bar = tqdm(total=iterations, disable=not progress, desc="fitting", unit="it",
               dynamic_ncols=True, leave=False)
    for it in range(iterations):
        noise_phase = it < n_noise
        if noise_phase:
            frac = it / max(n_noise, 1)
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
        if it % log_every == 0 or it == iterations - 1:
            bar.set_postfix(loss=f"{loss.item():.5f}", psnr=f"{psnr_from_mse(mse.item()):.2f}",
                            bpp=f"{bpp.item():.3f}", phase="noise" if noise_phase else "hard")
        bar.update(1)
    bar.close()
    # the state after the last step has not been scored yet: score it with hard rounding
    with torch.no_grad():
        image, bits = model("hard")
        cost = (torch.mean((image - target) ** 2) + lmbda * bits / n_pixels).item()
    if best_state is not None and best_cost < cost:
        model.load_state_dict(best_state)
        cost = best_cost
    return {"fit_seconds": time.perf_counter() - start, "rd_cost": cost}
