"""The fitting schedule (C3-style): a long phase with soft-rounding + uniform noise and a cosine
learning rate, then a short straight-through (hard rounding) phase at a small learning rate that
keeps the best real-quantization RD cost seen.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass

import torch
from tqdm.auto import tqdm

from ..errors import InrcodecError
from ..model.params import build_modules
from .model import FitModel


@dataclass(frozen=True)
class Schedule:
    """The fitting schedule's knobs (defaults: the shipped codec; scripts/tune_fit.py varies them
    on the training photos)."""
    lr: float = 1e-2                  # noise phase: cosine decay from this
    hard_lr: float = 1e-4             # straight-through (hard rounding) phase
    noise_fraction: float = 0.85      # share of the steps (or of the time budget) in the noise phase
    # soft-rounding temperature, annealed linearly from t_start to t_end over the noise phase
    # (0.35 -> 0.08 with the Gaussian proxy below; 0.3 -> 0.1 before it)
    t_start: float = 0.35
    t_end: float = 0.08
    # the latents' learning rate relative to the networks' (3 with Adam: RD cost -3.1 % against 1,
    # benchmarks/results/tuning_fit_train128*.md; 6 with SOAP below: the pair -4.9 % on real
    # files, 12 of 12 paired points, tuning_fit_train256_soap_lr6.md)
    latent_lr_multiplier: float = 6.0
    # the latents' multiplier in the straight-through phase (None: latent_lr_multiplier; 0:
    # latents frozen there and only the networks train, as Cool-chic 5's hard phase)
    hard_latent_lr_multiplier: float | None = None
    # noise-phase noise: Kumaraswamy(a, b) - 1/2 with its mode at 0, a annealed linearly from
    # noise_a_start to 1 (a = 1 is uniform noise; C3 starts at 2: narrower noise early)
    noise_a_start: float = 1.0
    # noise-phase noise instead: Gaussian, its standard deviation annealed linearly from
    # noise_std_start to noise_std_end (0 = off: the noise above)
    noise_std_start: float = 0.22
    noise_std_end: float = 0.15
    # price the rate on the values the synthesis sees (soft_round(soft + noise)) instead of on
    # soft + noise (FitModel.quantized_latents). With the Gaussian noise and temperatures above
    # (issue 32, item 1): RD cost -7.0 %, 12 of 12 paired points better (three 256x256 training
    # crops, two lambdas, two seeds; benchmarks/results/tuning_fit_train256_proxy_init.md)
    rate_on_synthesis_values: bool = True
    # the ARM's log-scale output bias at the start of the fit (None: the module's own init,
    # model/arm.py INITIAL_LOG_SCALE; 0: scale 1, every zero latent ~1.35 bits at step 0)
    arm_log_scale_init: float | None = None
    # warm-up: this many random initialisations are each fitted for warmup_steps (at the start
    # learning rate and temperature) and the one with the lowest RD cost is kept; these steps
    # count towards the fit's total
    warmup_candidates: int = 1
    warmup_steps: int = 0
    # clip the gradient's global norm (latents and networks together) to this before each step
    # (0 = off). The first steps' gradients are 20-40x the later ones; unclipped they fill Adam's
    # second moment (memory ~1000 steps at beta2 0.999) and shrink every later step. Clipped,
    # Adam's denominator stays 2-30x smaller all fit long (scripts/grad_norms.py). 0.03, tuned
    # on the training photos: RD cost -7.4 % (lambda 0.004) and -2.5 % (0.001) at 256x256 with
    # `medium`, -1.1 % at 128x128 with `low` (benchmarks/results/tuning_fit_train*clip*.md)
    grad_clip: float = 0.03
    # clip the latents' gradient together with the networks' (False: the networks' only, the
    # latents never clipped)
    grad_clip_latents: bool = True
    # Adam's epsilon: comparable to a full-resolution latent's gradient (~1e-7 at 256x256), so it
    # damps the weakly driven latents; measured, that damping helps: 1e-10 +2.6 %, 1e-6 +26.9 %
    # RD cost (benchmarks/results/tuning_fit_train256_eps.md, tuning_fit_train256_clip_lmbda001.md)
    adam_eps: float = 1e-8
    # Adam's second-moment decay; 0.99 on top of the clip: -0.2 %, noise
    # (benchmarks/results/tuning_fit_train256_clip_beta2.md)
    adam_beta2: float = 0.999
    # the networks' optimizer: "adam" (with the latents', one fused Adam) or "soap" (Adam in the
    # eigenbasis of a Shampoo preconditioner, Vyas et al. 2024, from pytorch-optimizer, as
    # Cool-chic 5 fits its networks); the latents stay on Adam either way
    # SOAP (issue 32 item 5), with the joint gradient clip kept: the latents' clip is what made
    # an earlier SOAP test lose on textured crops
    network_optimizer: str = "soap"
    soap_precondition_frequency: int = 10
    network_weight_decay: float = 0.01    # decoupled weight decay of the networks (SOAP only)
    # start the synthesis' 3x3 residual convolutions at zero (default: 0.1 x PyTorch's init), so
    # the fit starts from the 1x1 layers' picture alone
    synthesis_residual_zero_init: bool = False
    # after the weight-step search, nudge integer weights towards zero where the real RD cost
    # drops (fit.quantize._nudge_towards_zero; one evaluation per non-zero weight). On four
    # 256x256 training crops with `medium`: RD cost -0.8 %, better on 8 of 8 points (same fits,
    # so no fit noise), for ~4x the step search's time
    # (benchmarks/results/tuning_fit_train256_soap_rdoq.md)
    weight_rdoq: bool = True


DEFAULT_SCHEDULE = Schedule()
# The noise-phase proxy and ARM start before issue 32 (uniform noise, rate priced on soft + noise,
# temperature 0.3 -> 0.1, log-scale 0): video still fits with them until measured with the new
# ones, and the tuning tables made before them reproduce with them
UNIFORM_PROXY = {"t_start": 0.3, "t_end": 0.1, "noise_std_start": 0.0, "noise_std_end": 0.0,
                 "rate_on_synthesis_values": False, "arm_log_scale_init": 0.0}
# The optimizer before issue 32 item 5: one fused Adam for latents and networks, latents x3.
# Video fits with it until measured with SOAP (the tuning scripts pin their own copy,
# scripts/tuning.py ADAM_X3, so that a change here leaves their tables reproducible)
ADAM_FIT = {"network_optimizer": "adam", "network_weight_decay": 0.0, "latent_lr_multiplier": 3.0}
FEW_STEPS = 200     # a time-budget fit that ends with fewer steps than this says so


def psnr_from_mse(mse: float) -> float:
    return 10 * math.log10(1.0 / max(mse, 1e-12))


class CombinedOptimizer:
    """Two optimizers stepped as one (latents on Adam, networks on SOAP): the interface
    take_step and the warm-up use (param_groups with their "scale" and "hard_scale", zero_grad,
    step, state)."""

    def __init__(self, *optimizers: torch.optim.Optimizer):
        self.optimizers = optimizers

    @property
    def param_groups(self) -> list[dict]:
        return [g for opt in self.optimizers for g in opt.param_groups]

    def zero_grad(self, set_to_none: bool = True) -> None:
        for opt in self.optimizers:
            opt.zero_grad(set_to_none=set_to_none)

    def step(self) -> None:
        for opt in self.optimizers:
            opt.step()

    def state_dict(self) -> list[dict]:
        return [opt.state_dict() for opt in self.optimizers]

    def load_state_dict(self, states: list[dict]) -> None:
        for opt, state in zip(self.optimizers, states):
            opt.load_state_dict(state)


NETWORK_OPTIMIZERS = ("adam", "soap")


def network_parameters(model: FitModel) -> list[torch.nn.Parameter]:
    """Every parameter but the latents (those get their own learning rate and no clip)."""
    latents = {id(p) for p in model.latent_parameters()}
    return [p for p in model.parameters() if id(p) not in latents]


def _optimizer(model: FitModel, sc: Schedule):
    latents = model.latent_parameters()
    hard = sc.latent_lr_multiplier if sc.hard_latent_lr_multiplier is None \
        else sc.hard_latent_lr_multiplier
    latent = {"params": latents, "scale": sc.latent_lr_multiplier, "hard_scale": hard}
    networks = {"params": network_parameters(model), "scale": 1.0, "hard_scale": 1.0}
    if sc.network_optimizer not in NETWORK_OPTIMIZERS:
        raise ValueError(f"unknown network optimizer {sc.network_optimizer!r}")
    # fused: one kernel for every parameter (0.55 -> 0.16 ms a step for `medium` at 256x256 on
    # two CPU threads); same update rule
    adam = dict(lr=sc.lr, eps=sc.adam_eps, betas=(0.9, sc.adam_beta2), fused=True)
    if sc.network_optimizer == "adam":
        return torch.optim.Adam([latent, networks], **adam)
    try:
        from pytorch_optimizer import SOAP
    except ImportError:
        raise InrcodecError("encoding needs pytorch-optimizer (SOAP), which this install lacks: "
                            "pip install pytorch-optimizer, or pip install 'inrcodec[encode]'") from None
    soap = SOAP([networks], lr=sc.lr, betas=(0.95, 0.95), weight_decay=sc.network_weight_decay,
                eps=sc.adam_eps,
                precondition_frequency=sc.soap_precondition_frequency)
    return CombinedOptimizer(torch.optim.Adam([latent], **adam), soap)


def _initialise(model: FitModel, sc: Schedule) -> None:
    """The schedule's changes to the modules' own initialisation."""
    with torch.no_grad():
        if sc.arm_log_scale_init is not None:
            model.arm.layers[-1].bias[1] = sc.arm_log_scale_init
        if sc.synthesis_residual_zero_init:
            for conv in model.synthesis.residual:
                conv.weight.zero_()


def _reinitialise(model: FitModel, sc: Schedule) -> None:
    """A fresh random start in place: latents zero, networks re-drawn with their own init."""
    fresh = build_modules(model.arch, model.channels, arm_inputs=model.arm.layers[0].in_features)
    with torch.no_grad():
        for p in model.latent_parameters():
            p.zero_()
        for name, module in fresh.items():
            model.network(name).load_state_dict(module.state_dict())
    _initialise(model, sc)


@torch.no_grad()
def hard_cost(model: FitModel, target: torch.Tensor, lmbda: float) -> tuple[float, float]:
    """(RD cost with hard-rounded latents, latent bits): the quantity the fit is judged on."""
    image, bits = model("hard")
    cost = torch.mean((image - target) ** 2) + lmbda * bits / target[:, 0].numel()
    return cost.item(), float(bits)


class BestState:
    """The lowest-loss state offered (the hard phase keeps the best real-quantization state).
    On the CPU a state is copied only when the loss improves. On a GPU, reading the loss would
    make the host wait for the device every step, so there the comparison and the copy stay on
    the device: each offer selects every tensor through torch.where (cheap there) and nothing is
    read back until `best`."""

    def __init__(self, model: torch.nn.Module, on_device: bool):
        self.model, self.on_device = model, on_device
        self.cost: float | torch.Tensor = math.inf
        self.state: dict | None = None

    def offer(self, loss: torch.Tensor) -> None:
        """loss: the 0-d loss of the model's current state."""
        if not self.on_device:
            value = loss.item()
            if value < self.cost:
                self.cost = value
                self.state = self._copy()
        elif self.state is None:       # a NaN loss is never kept: it stands as inf
            self.cost = torch.nan_to_num(loss.detach(), nan=math.inf)
            self.state = self._copy()
        else:
            better = loss.detach() < self.cost
            self.cost = torch.where(better, loss.detach(), self.cost)
            for k, v in self.model.state_dict().items():
                self.state[k].copy_(torch.where(better, v.detach(), self.state[k]))

    def _copy(self) -> dict:
        return {k: v.detach().clone() for k, v in self.model.state_dict().items()}

    def best(self) -> tuple[float, dict | None]:
        """(lowest loss offered, its state), or (inf, None) if nothing was offered."""
        return float(self.cost), self.state


def take_step(model: FitModel, opt, target: torch.Tensor, lmbda: float,
              sc: Schedule, lr: float, temperature: float, noise_a: float, noise_phase: bool,
              on_loss=None, noise_std: float = 0.0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """One fitting step (the one `fit` takes and benchmarks/fit_speed.py times): the loss under
    the phase's quantization proxy, backward, gradient clip, Adam. on_loss(loss, a detached 0-d
    tensor) is called before the update. Returns (loss, mse, bpp), detached 0-d tensors too:
    reading one (.item()) waits for the device, so the caller reads them only when it needs the
    numbers and a GPU can run ahead of the host otherwise."""
    for group in opt.param_groups:
        group["lr"] = lr * group["scale" if noise_phase else "hard_scale"]
    image, bits = model("noise" if noise_phase else "hard", temperature, noise_a, noise_std,
                        sc.rate_on_synthesis_values)
    mse = torch.mean((image - target) ** 2)
    bpp = bits / target[:, 0].numel()
    loss = mse + lmbda * bpp
    if on_loss is not None:
        on_loss(loss.detach())
    opt.zero_grad(set_to_none=True)
    loss.backward()
    if sc.grad_clip > 0:
        clipped = (model.parameters() if sc.grad_clip_latents
                   else network_parameters(model))
        torch.nn.utils.clip_grad_norm_(clipped, sc.grad_clip)
    opt.step()
    return loss.detach(), mse.detach(), bpp.detach()


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
    sc = schedule
    start = time.perf_counter()
    by_time = time_budget is not None
    total = time_budget if by_time else iterations
    _initialise(model, sc)
    opt = _optimizer(model, sc)     # before the bar: a missing optimizer is a one-line error
    bar = tqdm(total=round(total, 1) if by_time else total, disable=not progress, desc=desc,
               unit="s" if by_time else "it", dynamic_ncols=True, leave=leave)
    it, shown = 0, 0.0

    hard_best = BestState(model, on_device=target.device.type != "cpu")

    def step(lr: float, temperature: float, noise_a: float, noise_phase: bool,
             noise_std: float = sc.noise_std_start):
        return take_step(model, opt, target, lmbda, sc, lr, temperature, noise_a, noise_phase,
                         on_loss=None if noise_phase else hard_best.offer, noise_std=noise_std)

    def tick(loss: torch.Tensor, mse: torch.Tensor, bpp: torch.Tensor, phase: str) -> None:
        nonlocal it, shown
        if it % log_every == 0 and not bar.disable:     # the only reads of the step's numbers
            bar.set_postfix(loss=f"{loss.item():.5f}", psnr=f"{psnr_from_mse(mse.item()):.2f}",
                            bpp=f"{bpp.item():.3f}", phase=phase)
        if by_time:
            now = round(min(time.perf_counter() - start, time_budget), 1)
            bar.update(now - shown)
            shown = now
        else:
            bar.update(1)
        it += 1

    # warm-up: several random starts, keep the best (with its optimizer state)
    warm_total = sc.warmup_candidates * sc.warmup_steps
    if (sc.warmup_candidates > 1 and sc.warmup_steps > 0
            and (by_time or warm_total <= iterations // 4)):
        best = (math.inf, None, None)
        for candidate in range(sc.warmup_candidates):
            if candidate:
                _reinitialise(model, sc)
                opt = _optimizer(model, sc)
            for _ in range(sc.warmup_steps):
                tick(*step(sc.lr, sc.t_start, sc.noise_a_start, True), "warm-up")
            cost = hard_cost(model, target, lmbda)[0]
            if cost < best[0]:
                best = (cost, copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict()))
        model.load_state_dict(best[1])
        opt = _optimizer(model, sc)
        opt.load_state_dict(best[2])
    warm_steps, warm_seconds = it, time.perf_counter() - start

    while True:
        if by_time:
            progress_frac = ((time.perf_counter() - start - warm_seconds)
                             / max(time_budget - warm_seconds, 1e-9))
        else:
            progress_frac = (it - warm_steps) / max(iterations - warm_steps, 1)
        if progress_frac >= 1.0 or (not by_time and it >= iterations):
            break
        noise_phase = progress_frac < sc.noise_fraction
        if noise_phase:
            frac = progress_frac / sc.noise_fraction
            lr = sc.lr * 0.5 * (1 + math.cos(math.pi * frac))
            temperature = sc.t_start + (sc.t_end - sc.t_start) * frac
            noise_a = sc.noise_a_start + (1.0 - sc.noise_a_start) * frac
            noise_std = sc.noise_std_start + (sc.noise_std_end - sc.noise_std_start) * frac
        else:
            lr, temperature, noise_a, noise_std = sc.hard_lr, sc.t_end, 1.0, 0.0
        loss, mse, bpp = step(lr, temperature, noise_a, noise_phase, noise_std)
        tick(loss, mse, bpp, "noise" if noise_phase else "hard")
    bar.close()
    # the state after the last step has not been scored yet: score it with hard rounding
    cost, bits = hard_cost(model, target, lmbda)
    best_cost, best_state = hard_best.best()
    if best_state is not None and best_cost < cost:
        model.load_state_dict(best_state)
        cost, bits = hard_cost(model, target, lmbda)
    if by_time and it < FEW_STEPS:
        import warnings
        warnings.warn(f"the time budget of {time_budget:g} s allowed only {it} fitting steps (a "
                      f"good fit takes thousands), so the file is far from what this codec "
                      f"can do; give a longer --time-budget, or --iterations",
                      RuntimeWarning, stacklevel=2)
    # latent_bits: the training-time (float ARM) estimate of the latents' code length, to compare
    # with what the integer ARM and the range coder really spend
    return {"fit_seconds": time.perf_counter() - start, "rd_cost": cost, "iterations": it,
            "latent_bits": bits}
