"""Weight quantization after the fit: the step search, weight RDOQ, and the optimizers' wiring."""
from __future__ import annotations

import numpy as np
import pytest
import torch

from inrcodec.arch import preset
from inrcodec.fit.model import FitModel
from inrcodec.fit.quantize import _nudge_towards_zero, choose_steps
from inrcodec.fit.train import CombinedOptimizer, Schedule, fit
from inrcodec.model.params import grouped_parameters


def test_nudge_keeps_only_moves_that_lower_the_cost():
    """A cost with its minimum at a known integer point: from a start away from it, the greedy
    pass moves each weight towards zero only while that helps, and never raises the cost."""
    target = np.array([3, -2, 0, 5, 1])
    cost = lambda q: float(np.sum((q - target) ** 2) + 0.1 * np.abs(q).sum())
    start = np.array([4, -3, 2, 5, 0])
    q = _nudge_towards_zero(start, cost)
    assert np.array_equal(q, [3, -2, 1, 5, 0])     # one step each, where it pays
    assert cost(q) < cost(start)
    assert np.array_equal(start, [4, -3, 2, 5, 0])  # the input is not modified
    # a cost that punishes any change leaves everything in place
    assert np.array_equal(_nudge_towards_zero(start, lambda x: float(np.abs(x - start).sum())),
                          start)


@pytest.fixture(scope="module")
def fitted(photo):
    torch.manual_seed(0)
    img = np.ascontiguousarray(photo[64:112, 80:144])
    target = torch.from_numpy(img).permute(2, 0, 1)[None].float() / 255.0
    model = FitModel(preset("low"), *img.shape[:2], 3)
    fit(model, target, 2e-3, 150, progress=False)
    return model, target


def _real_cost(model, target, lmbda, quant, ints, buffer):
    """MSE + λ·bpp of the encoded file built from these integers (the encoder's own packing)."""
    from inrcodec import decode
    from inrcodec.image.encoder import _pack
    from inrcodec.image.header import ImageHeader
    header = ImageHeader(model.height, model.width, 3, model.arch, "low", quant)
    data = _pack(header, ints, buffer, model.layout, None)
    out = decode(data).astype(np.float64) / 255.0
    ref = target[0].permute(1, 2, 0).numpy().astype(np.float64)
    return float(np.mean((out - ref) ** 2)) + lmbda * 8 * len(data) / (model.height * model.width)


def test_weight_rdoq_lowers_the_weight_bits_and_the_real_cost(fitted):
    model, target = fitted
    lmbda = 2e-3
    plain = choose_steps(model, target, lmbda)
    nudged = choose_steps(model, target, lmbda, rdoq=True)
    assert plain[0].keys() == nudged[0].keys()
    # fewer non-zero integers; where a group kept its step (a later group's search sees the
    # earlier groups' nudged weights, so its step may differ), each weight moved at most one
    # step, towards zero
    nonzero = lambda ints: sum(int(np.count_nonzero(v)) for v in ints.values())
    assert nonzero(nudged[1]) < nonzero(plain[1])
    groups = {(m, g): params for m in ("arm", "upsampling", "synthesis")
              for g, params in grouped_parameters(model.network(m)).items()}
    kept = 0
    for (module, group), params in groups.items():
        if plain[0][(module, group)][0] != nudged[0][(module, group)][0]:
            continue
        kept += 1
        for pname, _ in params:
            v = plain[1][(module, pname)]
            d = nudged[1][(module, pname)] - v
            assert np.all(np.abs(d) <= 1) and np.all(d * np.sign(v) <= 0)
    assert kept >= len(groups) // 2
    assert (_real_cost(model, target, lmbda, *nudged)
            <= _real_cost(model, target, lmbda, *plain) * 1.002)


def test_soap_fits_the_networks_and_adam_the_latents(fitted):
    from inrcodec.fit.train import _optimizer
    from pytorch_optimizer import SOAP
    model, target = fitted
    opt = _optimizer(model, Schedule(network_optimizer="soap"))
    assert isinstance(opt, CombinedOptimizer)
    adam, soap = opt.optimizers
    assert isinstance(adam, torch.optim.Adam) and isinstance(soap, SOAP)
    assert [p for g in adam.param_groups for p in g["params"]] == [model.latent]
    assert sum(p.numel() for g in soap.param_groups for p in g["params"]) == \
        sum(p.numel() for p in model.parameters()) - model.latent.numel()
    # and a short fit with it moves both the latents and the networks
    torch.manual_seed(1)
    fresh = FitModel(preset("lowest"), 16, 16, 3)
    before = fresh.arm.layers[0].weight.detach().clone()
    fit(fresh, torch.rand(1, 3, 16, 16), 1e-3, 20, progress=False,
        schedule=Schedule(network_optimizer="soap"))
    assert torch.count_nonzero(fresh.latent) > 0
    assert not torch.equal(fresh.arm.layers[0].weight, before)
    with pytest.raises(ValueError):
        _optimizer(fresh, Schedule(network_optimizer="sgd"))
