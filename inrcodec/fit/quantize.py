"""Choose a quantization step per coded group (each weight tensor; each module's biases) on the real
RD cost.

Synthesis and upsampling steps are scored by rendering through the decoder's own fixed-point path
(model/fixed_point.py) with the candidate integers: the distortion of each candidate is that of
the decoded file. Groups not decided yet sit at their finest step that holds them (close to the
float weights). ARM steps are scored by the exact code length of the latents under the integer ARM
that the decoder will run. Each group's weights are charged their Laplace code length at the best
scale index.
"""
from __future__ import annotations

import numpy as np
import torch
from tqdm.auto import tqdm

from ..entropy import engine
from ..entropy.coder import LatentCodeLength
from ..entropy.laplace import WEIGHT_MAX, best_weight_scale_index, weight_bits
from ..entropy.weights import N_STEPS, quantize, step_value
from ..image.decode import int_arm_from
from ..model import fixed_point
from ..model.params import grouped_parameters
from .model import FitModel

COARSE = range(2, N_STEPS, 4)   # 1/2 ... 2^-13, every 4th step; then refined around the best


def group_bits(ints: np.ndarray) -> tuple[float, int]:
    k = best_weight_scale_index(ints)
    return float(weight_bits(np.asarray(ints, np.int64), k).sum()), k


def _flat(params) -> np.ndarray:
    if not params:
        return np.zeros(0)
    return np.concatenate([p.detach().cpu().double().numpy().ravel() for _, p in params])


def _nudge_towards_zero(q: np.ndarray, cost_of, reach: int = 1) -> np.ndarray:
    """Weight RDOQ: one greedy pass over the non-zero integers, largest first. reach 1: move each
    one step towards zero where that lowers the real RD cost (fewer weight bits usually outweigh
    the small change of the output the step search already balanced). reach k > 1: try 1 .. k
    steps each way from the current value, in each direction until a step stops helping, and
    keep the best (as Cool-chic's RDOQ; it can also move a weight away from zero, buying back
    distortion). Returns the nudged copy."""
    q = q.copy()
    best = cost_of(q)
    for i in np.argsort(-np.abs(q), kind="stable"):
        if q[i] == 0 and reach == 1:
            break
        old = q[i]
        choice = old
        directions = (-np.sign(old),) if reach == 1 else (-1, 1)
        for d in directions:
            for k in range(1, reach + 1):
                candidate = old + d * k
                if abs(candidate) > WEIGHT_MAX:
                    break
                q[i] = candidate
                cost = cost_of(q)
                if cost < best:
                    best, choice = cost, candidate
                else:
                    break
        q[i] = choice
    return q


def _split(flat: np.ndarray, params) -> dict[str, np.ndarray]:
    """A group's flat integers back into its tensors' shapes, by parameter name."""
    out, offset = {}, 0
    for pname, p in params:
        out[pname] = flat[offset:offset + p.numel()].reshape(tuple(p.shape))
        offset += p.numel()
    return out


def fine_step(flat: np.ndarray) -> int:
    """The finest step whose integers still hold these weights (|w| / step <= WEIGHT_MAX): what a
    group not decided yet is rendered with, close to its float weights."""
    biggest = float(np.abs(flat).max(initial=0.0))
    for s in range(N_STEPS - 1, -1, -1):
        if biggest <= WEIGHT_MAX * step_value(s):
            return s
    return 0


def _search(cost_of) -> int:
    coarse = {s: cost_of(s) for s in COARSE}
    best = min(coarse, key=coarse.get)
    fine = {s: cost_of(s) for s in range(max(best - 3, 0), min(best + 4, N_STEPS))}
    fine.update(coarse)
    return min(fine, key=fine.get)


@torch.no_grad()
def choose_steps(model: FitModel, target: torch.Tensor, lmbda: float, progress: bool = False,
                 rdoq: bool = False, rdoq_reach: int = 1):
    """Returns (quant {(module, group): (step, scale)}, ints {(module, param name): int array},
    the latent symbol buffer). progress: a bar over the groups searched (seconds each on a large
    image). rdoq: after each group's step is chosen, nudge its integers towards zero on the real
    RD cost (_nudge_towards_zero; one evaluation per non-zero weight, more with rdoq_reach > 1,
    which also tries the weights now zero and moves both ways)."""
    n_pixels = model.n_pixels
    y_int = model.integer_latents()
    buffer_np = y_int.cpu().numpy()
    values = model.latent_values(y_int).cpu().double().numpy()       # what the decoder renders
    dither = None if model.dither is None else model.dither.cpu().double().numpy()
    compiled = engine.load_compiled()     # the render's loops (numba), where they load
    # the decoded pixels are compared with the picture's own 8-bit values
    frames = target.cpu().permute(0, 2, 3, 1).numpy()
    reference = np.round(frames * 255.0).astype(np.float64)
    reference = reference[0] if reference.shape[0] == 1 and not hasattr(model.layout, "frames") \
        else reference
    quant, ints = {}, {}

    def mse_of(pixels: np.ndarray) -> float:
        return float(np.mean((pixels.astype(np.float64) - reference) ** 2)) / 255.0 ** 2

    # every upsampling and synthesis group starts at its finest step, then is decided in turn
    for name in ("synthesis", "upsampling"):
        for g, params in grouped_parameters(model.network(name)).items():
            flat = _flat(params)
            step = fine_step(flat) if params else 0
            quant[(name, g)] = (step, 0)
            ints.update({(name, pname): v for pname, v in _split(quantize(flat, step), params).items()})

    def networks() -> fixed_point.FixedNetworks:
        return fixed_point.FixedNetworks.from_coded(model.arch, ints, quant)

    # The synthesis steps are searched first, under the provisional upsampling: its output is then
    # the same for every candidate, so it is computed once
    planes = fixed_point.planes_of(model.layout, networks(), values, compiled=compiled)

    def cost_of_ints(name, g, params, q, step):
        saved = {k: ints[k] for k in ints if k[0] == name}, quant[(name, g)]
        ints.update({(name, pname): v for pname, v in _split(q, params).items()})
        quant[(name, g)] = (step, 0)
        nets = networks()
        here = planes if name == "synthesis" else \
            fixed_point.planes_of(model.layout, nets, values, compiled=compiled)
        distortion = mse_of(fixed_point.pixels_of(here, nets, compiled=compiled))
        ints.update(saved[0])
        quant[(name, g)] = saved[1]
        return distortion + lmbda * group_bits(q)[0] / n_pixels

    searched = len(grouped_parameters(model.arm)) + sum(
        bool(params) for name in ("synthesis", "upsampling")
        for params in grouped_parameters(model.network(name)).values())
    bar = tqdm(total=searched, desc="weight steps", unit="group", disable=not progress,
               leave=False, dynamic_ncols=True)
    for name in ("synthesis", "upsampling"):
        for g, params in grouped_parameters(model.network(name)).items():
            if not params:
                quant[(name, g)] = (0, 0)
                continue
            flat = _flat(params)

            def cost(q, step, name=name, g=g, params=params):
                return cost_of_ints(name, g, params, q, step)
            step = _search(lambda s: cost(quantize(flat, s), s))
            q = quantize(flat, step)
            if rdoq:
                q = _nudge_towards_zero(q, lambda q, step=step: cost(q, step), rdoq_reach)
            bar.update(1)
            ints.update({(name, pname): v for pname, v in _split(q, params).items()})
            quant[(name, g)] = (step, group_bits(q)[1])

    arm_groups = grouped_parameters(model.arm)
    arm_flat = {g: _flat(params) for g, params in arm_groups.items()}

    code_length = LatentCodeLength(model.layout, buffer_np, dither)

    def arm_cost(steps, fixed=None):
        """RD cost (rate only: the ARM does not touch the image) with each group at its step;
        fixed: {group: flat integers} for groups already decided (RDOQ)."""
        fixed = fixed or {}
        q = {g: fixed[g] if g in fixed else quantize(arm_flat[g], s) for g, s in steps.items()}
        ints_now = {("arm", pname): v for g, params in arm_groups.items()
                    for pname, v in _split(q[g], params).items()}
        int_arm = int_arm_from(model.arch, {("arm", g): (s, 0) for g, s in steps.items()},
                               ints_now, dither is not None)
        bits = code_length(int_arm)
        bits += sum(group_bits(v)[0] for v in q.values())
        return lmbda * bits / n_pixels

    steps = {g: 40 for g in arm_groups}
    for g in arm_groups:           # one tensor at a time, the others at their current steps
        steps[g] = _search(lambda s, g=g: arm_cost({**steps, g: s}))
        bar.update(1)
    bar.close()
    decided = {g: quantize(arm_flat[g], s) for g, s in steps.items()}
    if rdoq:
        for g in arm_groups:
            decided[g] = _nudge_towards_zero(decided[g],
                                             lambda q, g=g: arm_cost(steps, {**decided, g: q}),
                                             rdoq_reach)
    for g, params in arm_groups.items():
        quant[("arm", g)] = (steps[g], group_bits(decided[g])[1])
        ints.update({("arm", pname): v for pname, v in _split(decided[g], params).items()})
    return quant, ints, buffer_np
