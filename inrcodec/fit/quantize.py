"""Choose a quantization step per coded group (each weight tensor; each module's biases) on the real
RD cost.

Synthesis and upsampling steps are scored by rendering with the quantized weights (via
torch.func.functional_call, no module mutation); ARM steps by the exact code length of the latents
under the integer ARM that the decoder will run. Each group's weights are charged their Laplace
code length at the best scale index.
"""
from __future__ import annotations

import numpy as np
import torch
from torch.func import functional_call
from tqdm.auto import tqdm

from ..image.decode import int_arm_from
from ..entropy.coder import LatentCodeLength
from ..entropy.laplace import WEIGHT_SCALES, best_weight_scale_index, laplace_bits_np
from ..entropy.weights import N_STEPS, dequantize, quantize
from ..model.params import grouped_parameters
from .model import FitModel

COARSE = range(2, N_STEPS, 4)   # 1/2 ... 2^-13, every 4th step; then refined around the best


def group_bits(ints: np.ndarray) -> tuple[float, int]:
    k = best_weight_scale_index(ints)
    return float(laplace_bits_np(ints.astype(np.float64), 0.0, WEIGHT_SCALES[k]).sum()), k


def _flat(params) -> np.ndarray:
    if not params:
        return np.zeros(0)
    return np.concatenate([p.detach().cpu().double().numpy().ravel() for _, p in params])


def _nudge_towards_zero(q: np.ndarray, cost_of) -> np.ndarray:
    """Weight RDOQ: one greedy pass over the non-zero integers, largest first, moving each one
    step towards zero where that lowers the real RD cost (fewer weight bits usually outweigh the
    small change of the output the step search already balanced). Returns the nudged copy."""
    q = q.copy()
    best = cost_of(q)
    for i in np.argsort(-np.abs(q), kind="stable"):
        if q[i] == 0:
            break
        old = q[i]
        q[i] -= np.sign(old)
        cost = cost_of(q)
        if cost < best:
            best = cost
        else:
            q[i] = old
    return q


def _split(flat: np.ndarray, params) -> dict[str, np.ndarray]:
    """A group's flat integers back into its tensors' shapes, by parameter name."""
    out, offset = {}, 0
    for pname, p in params:
        out[pname] = flat[offset:offset + p.numel()].reshape(tuple(p.shape))
        offset += p.numel()
    return out


def _search(cost_of) -> int:
    coarse = {s: cost_of(s) for s in COARSE}
    best = min(coarse, key=coarse.get)
    fine = {s: cost_of(s) for s in range(max(best - 3, 0), min(best + 4, N_STEPS))}
    fine.update(coarse)
    return min(fine, key=fine.get)


@torch.no_grad()
def choose_steps(model: FitModel, target: torch.Tensor, lmbda: float, progress: bool = False,
                 rdoq: bool = False):
    """Returns (quant {(module, group): (step, scale)}, ints {(module, param name): int array}).
    progress: a bar over the groups searched (seconds each on a large image). rdoq: after each
    group's step is chosen, nudge its integers towards zero on the real RD cost
    (_nudge_towards_zero; one evaluation per non-zero weight)."""
    n_pixels = model.n_pixels
    device = target.device
    y_int = model.integer_latents()
    buffer_np = y_int.cpu().numpy()
    # the synthesis' input in pos_idx order, gathered once for every candidate's render
    values = model.latent_values(y_int).index_select(0, model.pos_rows[0])
    dither = None if model.dither is None else model.dither.cpu().double().numpy()
    quant, ints = {}, {}
    overrides: dict[str, dict[str, torch.Tensor]] = {"upsampling": {}, "synthesis": {}}

    # The synthesis steps are searched first, under the float upsampling: its output is then the
    # same for every candidate, so it is computed once (a render upsamples once; about a third
    # of a render's time; the synthesis does not write to its input) and dropped after them
    float_upsampled = []

    def mse_with(name: str, extra: dict[str, torch.Tensor]) -> float:
        params = {**overrides[name], **extra}
        other = "synthesis" if name == "upsampling" else "upsampling"

        def call(module_name, module):
            p = params if module_name == name else overrides[other]
            return lambda x: functional_call(module, p, (x,), strict=False)
        upsampling = call("upsampling", model.upsampling)
        if name == "synthesis" and not overrides["upsampling"]:
            def upsampling(x, run=upsampling):
                if not float_upsampled:
                    float_upsampled.append(run(x))
                return float_upsampled[0]
        image = model.render_values(upsampling, call("synthesis", model.synthesis), values)
        return torch.mean((image - target) ** 2).item()

    def tensors_of(params, q_flat, step):
        return {pname: torch.from_numpy(dequantize(q, step)).to(p.dtype).to(device)
                for (pname, q), (_, p) in zip(_split(q_flat, params).items(), params)}

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

            def cost_of_ints(q, step, params=params, name=name):
                bits, _ = group_bits(q)
                return mse_with(name, tensors_of(params, q, step)) + lmbda * bits / n_pixels
            step = _search(lambda s: cost_of_ints(quantize(flat, s), s))
            q = quantize(flat, step)
            if rdoq:
                q = _nudge_towards_zero(q, lambda q, step=step: cost_of_ints(q, step))
            bar.update(1)
            overrides[name].update(tensors_of(params, q, step))
            quant[(name, g)] = (step, group_bits(q)[1])
            ints.update({(name, pname): v for pname, v in _split(q, params).items()})
        float_upsampled.clear()

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
        int_arm = int_arm_from(model.arm, {("arm", g): (s, 0) for g, s in steps.items()},
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
                                             lambda q, g=g: arm_cost(steps, {**decided, g: q}))
    for g, params in arm_groups.items():
        quant[("arm", g)] = (steps[g], group_bits(decided[g])[1])
        ints.update({("arm", pname): v for pname, v in _split(decided[g], params).items()})
    return quant, ints, buffer_np
