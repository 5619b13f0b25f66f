"""The fitting-speed rewrites must compute the same functions as their plain definitions."""
from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inrcodec.arch import preset
from inrcodec.fit.model import FitModel, laplace_bits
from inrcodec.model.arm import Arm
from inrcodec.model.latents import LatentLayout
from inrcodec.model.padding import replicate_pad
from inrcodec.model.upsampling import Upsampling
from inrcodec.video.fit_model import VideoFitModel


@pytest.mark.parametrize("taps", [4, 8])
@pytest.mark.parametrize("a,b,h,w", [(5, 7, 10, 13), (1, 1, 2, 1), (3, 4, 6, 8), (16, 9, 31, 18)])
def test_polyphase_upsampling_matches_transposed_convolution(taps, a, b, h, w):
    torch.manual_seed(taps + a)
    up = Upsampling(taps)
    with torch.no_grad():
        up.half_kernel.copy_(torch.randn(taps // 2))      # asymmetric values would also do
    x = torch.randn(3, 1, a, b, dtype=torch.float64, requires_grad=True)
    up = up.double()
    fast = up.up2(x, h, w, up.kernel())
    ref = up.reference_up2(x, h, w, up.kernel())
    assert fast.shape == ref.shape == (3, 1, h, w)
    assert torch.allclose(fast, ref, atol=1e-12)
    g = torch.randn_like(ref)
    grads_fast = torch.autograd.grad((fast * g).sum(), [x, up.half_kernel])
    grads_ref = torch.autograd.grad((ref * g).sum(), [x, up.half_kernel])
    for gf, gr in zip(grads_fast, grads_ref):
        assert torch.allclose(gf, gr, atol=1e-10)


@pytest.mark.parametrize("pad", [1, 2])
def test_replicate_pad_matches_torch(pad):
    x = torch.randn(2, 3, 5, 7)
    assert torch.equal(replicate_pad(x, pad), F.pad(x, (pad,) * 4, mode="replicate"))


@pytest.mark.parametrize("size", [(37, 53), (256, 256), (70, 400)])
def test_tile_views_equal_the_gather(size):
    layout = LatentLayout(preset("low"), *size)
    buf = np.random.default_rng(0).normal(size=layout.buffer_size) * layout.valid_mask()
    grids = layout.all_grids(buf)
    assert [g.shape for g in grids] == layout.grid_shapes
    assert np.array_equal(np.concatenate([g.ravel() for g in grids]), buf[layout.pos_idx])
    torch_grids = layout.all_grids(torch.from_numpy(buf))
    assert all(np.array_equal(a, t.numpy()) for a, t in zip(grids, torch_grids))


def test_wide_arm_equals_row_arm():
    torch.manual_seed(0)
    arm = Arm(preset("medium")).double()
    with torch.no_grad():
        for layer in arm.layers:
            layer.weight.normal_()
    ctx = torch.randn(300, preset("medium").arm_context, dtype=torch.float64)
    mu, ls = arm(ctx)
    mu_w, ls_w = arm.forward_wide(ctx.T.contiguous())
    assert torch.allclose(mu, mu_w) and torch.allclose(ls, ls_w)


@pytest.mark.parametrize("make", [lambda: FitModel(preset("low"), 37, 53, 3),
                                  lambda: VideoFitModel(preset("low"), 2, 3, 20, 24, 3)])
def test_rate_equals_gathered_definition(make):
    torch.manual_seed(0)
    model = make().double()
    with torch.no_grad():
        model.latent.normal_(0, 2)
    y, _ = model.quantized_latents("hard")          # the latents in pos_idx order
    layout = model.layout
    buffer = torch.zeros(layout.buffer_size, dtype=y.dtype)
    buffer[torch.from_numpy(layout.pos_idx)] = y
    mu, log_scale = model.arm(buffer[torch.from_numpy(layout.ctx_idx)])
    ref = laplace_bits(y, mu, log_scale).sum()
    assert torch.allclose(model.rate_bits(y), ref, rtol=1e-12)
    # and the proxy's latents are the buffer's: rounding of latent * mask, in pos_idx order
    expected = torch.round(model.latent * model.mask)[torch.from_numpy(layout.pos_idx)]
    assert torch.equal(y, expected)


def test_schedule_latent_learning_rate_multiplier_reaches_the_latents():
    """With a zero latent multiplier the latents must stay put while the networks still learn."""
    from inrcodec.fit.train import Schedule, fit
    torch.manual_seed(0)
    model = FitModel(preset("lowest"), 12, 12, 3)
    target = torch.rand(1, 3, 12, 12)
    arm_before = model.arm.layers[0].weight.detach().clone()
    fit(model, target, 1e-3, 10, progress=False, schedule=Schedule(latent_lr_multiplier=0.0))
    assert torch.count_nonzero(model.latent) == 0
    assert not torch.equal(model.arm.layers[0].weight, arm_before)
    fit(model, target, 1e-3, 10, progress=False, schedule=Schedule())
    assert torch.count_nonzero(model.latent) > 0


@pytest.mark.parametrize("a", [1.0, 2.0, 3.0])
def test_centred_noise_is_on_the_unit_interval_with_its_mode_at_zero(a):
    from inrcodec.fit.model import centred_noise
    torch.manual_seed(0)
    x = centred_noise(torch.zeros(200_000, dtype=torch.float64), a)
    assert x.min() >= -0.5 and x.max() <= 0.5
    hist = torch.histc(x, bins=10, min=-0.5, max=0.5) / x.numel()
    if a == 1.0:    # uniform
        assert torch.allclose(hist, torch.full_like(hist, 0.1), atol=0.005)
    else:           # unimodal, peaked at 0: the two middle bins are the largest
        assert hist[4:6].min() > hist[[0, 1, 2, 3, 6, 7, 8, 9]].max()
        assert hist[4:6].sum() > 0.2 + 0.05 * (a - 1)
        # the density of Kumaraswamy(a, b) - 1/2 at x, integrated over the middle bins
        b = (2 ** a * (a - 1) + 1) / a
        grid = torch.linspace(0.4, 0.6, 2001, dtype=torch.float64)
        pdf = a * b * grid ** (a - 1) * (1 - grid ** a) ** (b - 1)
        assert abs(torch.trapezoid(pdf, grid).item() - hist[4:6].sum().item()) < 0.01


def test_warm_up_keeps_the_best_start_and_counts_its_steps():
    """Warm-up steps count towards the total, and the start kept is the cheapest of the candidates."""
    from inrcodec.fit import train
    torch.manual_seed(0)
    model = FitModel(preset("lowest"), 12, 12, 3)
    target = torch.rand(1, 3, 12, 12)
    costs = []
    real_hard_cost = train.hard_cost

    def recording(m, t, lmbda):
        result = real_hard_cost(m, t, lmbda)
        costs.append(result[0])
        return result
    train.hard_cost = recording
    try:
        # learning rates 0: the candidates differ only by their random start, and the rest of
        # the fit leaves the kept one as it is, so its final cost is the best candidate's
        summary = train.fit(model, target, 1e-3, 40, progress=False,
                            schedule=train.Schedule(lr=0.0, hard_lr=0.0, warmup_candidates=3,
                                                    warmup_steps=3))
    finally:
        train.hard_cost = real_hard_cost
    assert summary["iterations"] == 40
    assert len(set(costs[:3])) == 3           # three different random starts were scored
    assert summary["rd_cost"] == pytest.approx(min(costs[:3]), rel=1e-6)
    assert min(costs[:3]) != costs[2]         # (so keeping the last start would fail here)
    # a warm-up that would eat more than a quarter of the steps is skipped
    summary = train.fit(FitModel(preset("lowest"), 12, 12, 3), target, 1e-3, 8, progress=False,
                        schedule=train.Schedule(warmup_candidates=3, warmup_steps=3))
    assert summary["iterations"] == 8


def test_gradient_clip_and_adam_settings_reach_the_optimizer():
    """grad_clip bounds the global gradient norm each step sees; adam_eps and adam_beta2 are
    Adam's."""
    from inrcodec.fit import train
    target = torch.rand(1, 3, 12, 12)
    seen = []
    real_optimizer = train._optimizer

    def recording(model, sc):
        opt = real_optimizer(model, sc)
        real_step = opt.step

        def step(*args, **kwargs):
            grads = [p.grad for g in opt.param_groups for p in g["params"] if p.grad is not None]
            seen.append((torch.linalg.vector_norm(torch.stack(
                [torch.linalg.vector_norm(g) for g in grads])).item(),
                {(g["eps"], g["betas"][1]) for g in opt.param_groups}))
            return real_step(*args, **kwargs)
        opt.step = step
        return opt
    train._optimizer = recording
    try:
        for clip, eps, beta2 in ((0.0, 1e-8, 0.999), (1e-4, 1e-11, 0.99)):
            seen.clear()
            torch.manual_seed(0)
            train.fit(FitModel(preset("lowest"), 12, 12, 3), target, 1e-3, 12, progress=False,
                      schedule=train.Schedule(grad_clip=clip, adam_eps=eps, adam_beta2=beta2))
            norms = [n for n, _ in seen]
            assert len(norms) == 12 and all(e == {(eps, beta2)} for _, e in seen)
            if clip:
                assert max(norms) <= clip * (1 + 1e-4)
            else:
                assert max(norms) > 1e-3      # so the bound above is not met by chance
    finally:
        train._optimizer = real_optimizer
