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

from ..decode import int_arm_from
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


def _search(cost_of) -> int:
    coarse = {s: cost_of(s) for s in COARSE}
    best = min(coarse, key=coarse.get)
    fine = {s: cost_of(s) for s in range(max(best - 3, 0), min(best + 4, N_STEPS))}
    fine.update(coarse)
    return min(fine, key=fine.get)


@torch.no_grad()
def choose_steps(model: FitModel, target: torch.Tensor, lmbda: float, progress: bool = False):
    """Returns (quant {(module, group): (step, scale)}, ints {(module, param name): int array}).
    progress: a bar over the groups searched (seconds each on a large image)."""
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

    def quantized_tensors(params, step):
        out = {}
        for pname, p in params:
            q = quantize(p.detach().cpu().numpy(), step)
            out[pname] = torch.from_numpy(dequantize(q, step)).to(p.dtype).to(device)
        return out

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

            def cost(step, params=params, flat=flat, name=name):
                bits, _ = group_bits(quantize(flat, step))
                return mse_with(name, quantized_tensors(params, step)) + lmbda * bits / n_pixels
            step = _search(cost)
            bar.update(1)
            overrides[name].update(quantized_tensors(params, step))
            quant[(name, g)] = (step, group_bits(quantize(flat, step))[1])
            for pname, p in params:
                ints[(name, pname)] = quantize(p.detach().cpu().numpy(), step)
        float_upsampled.clear()

    arm_groups = grouped_parameters(model.arm)
    arm_flat = {g: _flat(params) for g, params in arm_groups.items()}

    code_length = LatentCodeLength(model.layout, buffer_np, dither)

    def arm_cost(steps):
        ints_now = {("arm", pname): quantize(p.cpu().numpy(), steps[g])
                    for g, params in arm_groups.items() for pname, p in params}
        int_arm = int_arm_from(model.arm, {("arm", g): (s, 0) for g, s in steps.items()},
                               ints_now, dither is not None)
        bits = code_length(int_arm)
        bits += sum(group_bits(quantize(arm_flat[g], s))[0] for g, s in steps.items())
        return lmbda * bits / n_pixels

    steps = {g: 40 for g in arm_groups}
    for g in arm_groups:           # one tensor at a time, the others at their current steps
        steps[g] = _search(lambda s, g=g: arm_cost({**steps, g: s}))
        bar.update(1)
    bar.close()
    for g, params in arm_groups.items():
        quant[("arm", g)] = (steps[g], group_bits(quantize(arm_flat[g], steps[g]))[1])
        for pname, p in params:
            ints[("arm", pname)] = quantize(p.detach().cpu().numpy(), steps[g])
    return quant, ints, buffer_np
