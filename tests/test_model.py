"""The fitting-speed rewrites must compute the same functions as their plain definitions."""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from inrcodec.arch import MEDIUM_IFCE, preset
from inrcodec.fit.model import FitModel, laplace_bits
from inrcodec.model.arm import INITIAL_LOG_SCALE, Arm
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
def test_level_grids_hold_every_tile_in_place(size):
    """The gather by pos_idx + views of grids_from_values (what render does) put each tile's
    block of the buffer where the tile sits in its grid."""
    from inrcodec.model.latents import PAD
    layout = LatentLayout(preset("low"), *size)
    buf = np.random.default_rng(0).normal(size=layout.buffer_size) * layout.valid_mask()
    grids = layout.grids_from_values(torch.from_numpy(buf[layout.pos_idx]))
    assert [tuple(g.shape[1:]) for g in grids] == layout.grid_shapes
    for grid, tiles in zip(grids, layout.blocks):
        for b in tiles:
            rows = buf[b.offset:b.offset + b.padded_size].reshape(b.h + PAD, b.stride)
            assert np.array_equal(grid[0, b.row0:b.row0 + b.h, b.col0:b.col0 + b.w].numpy(),
                                  rows[PAD:, PAD:PAD + b.w])


def test_wide_arm_equals_row_arm():
    torch.manual_seed(0)
    arm = Arm(preset("medium")).double()
    with torch.no_grad():
        for layer in arm.layers:
            layer.weight.normal_()
    ctx = torch.randn(300, preset("medium").arm_inputs, dtype=torch.float64)
    mu, ls = arm(ctx)
    mu_w, ls_w = arm.forward_wide(ctx.T.contiguous())
    assert torch.allclose(mu, mu_w) and torch.allclose(ls, ls_w)


@pytest.mark.parametrize("make", [lambda: FitModel(preset("low"), 37, 53, 3),
                                  lambda: FitModel(MEDIUM_IFCE, 37, 53, 3),
                                  lambda: FitModel(replace(MEDIUM_IFCE, latent_channels=2,
                                                           hyper_grids=1), 37, 53, 3),
                                  lambda: VideoFitModel(preset("low"), 2, 3, 20, 24, 3)])
def test_rate_equals_gathered_definition(make):
    torch.manual_seed(0)
    model = make().double()
    with torch.no_grad():
        model.latent.normal_(0, 2)
    y, _ = model.quantized_latents("hard")          # the latents in pos_idx order
    layout = model.layout
    buffer = torch.zeros(layout.buffer_size, dtype=y.dtype).index_put(
        (torch.from_numpy(layout.pos_idx),), y)
    ctx = buffer[torch.from_numpy(layout.ctx_idx)]
    arch = model.arch
    if layout.n_sources:     # inter-grid features: each level's own map
        n_ctx, levels = arch.arm_context, torch.from_numpy(layout.latent_levels)
        feats = torch.zeros(len(ctx), arch.ifce_features, dtype=ctx.dtype)
        for level, linear in enumerate(model.arm.ifce):
            rows = levels == level
            feats = feats.index_put((rows.nonzero()[:, 0],),
                                    linear(ctx[rows, n_ctx:n_ctx + linear.in_features]))
        ctx = torch.cat([ctx[:, :n_ctx], feats], dim=1)
    mu, log_scale = model.arm(ctx)
    ref = laplace_bits(y, mu, log_scale).sum()
    bits = model.rate_bits(y)
    assert torch.allclose(bits, ref, rtol=1e-12)
    # and the same gradients, through the contexts too, for the latents and the ARM's weights
    params = [model.latent, *model.arm.parameters()]
    for a, b in zip(torch.autograd.grad(bits, params, retain_graph=True),
                    torch.autograd.grad(ref, params)):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    # and the proxy's latents are the buffer's: rounding of latent * mask, in pos_idx order
    expected = torch.round(model.latent * model.mask)[torch.from_numpy(layout.pos_idx)]
    assert torch.equal(y.detach(), expected.detach())


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


def test_hard_phase_latent_multiplier_zero_freezes_the_latents_only_there():
    """hard_latent_lr_multiplier 0: in the straight-through phase only the networks learn; the
    noise phase keeps the latents' own multiplier."""
    from inrcodec.fit.train import Schedule, fit
    torch.manual_seed(0)
    model = FitModel(preset("lowest"), 12, 12, 3)
    target = torch.rand(1, 3, 12, 12)
    synthesis_before = model.synthesis.pointwise[-1].weight.detach().clone()
    fit(model, target, 1e-3, 10, progress=False,
        schedule=Schedule(noise_fraction=0.0, hard_lr=1e-2, hard_latent_lr_multiplier=0.0))
    assert torch.count_nonzero(model.latent) == 0
    assert not torch.equal(model.synthesis.pointwise[-1].weight, synthesis_before)
    fit(model, target, 1e-3, 10, progress=False,
        schedule=Schedule(noise_fraction=0.5, hard_latent_lr_multiplier=0.0))
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
                      schedule=train.Schedule(grad_clip=clip, adam_eps=eps, adam_beta2=beta2,
                                              network_optimizer="adam"))
            norms = [n for n, _ in seen]
            assert len(norms) == 12 and all(e == {(eps, beta2)} for _, e in seen)
            if clip:
                assert max(norms) <= clip * (1 + 1e-4)
            else:
                assert max(norms) > 1e-3      # so the bound above is not met by chance
    finally:
        train._optimizer = real_optimizer


@pytest.mark.parametrize("taps", [4, 8])
@pytest.mark.parametrize("size", [(37, 53), (64, 64), (1, 5), (9, 2)])
def test_matrix_upsampling_equals_polyphase(taps, size):
    """The fit's form (composed [H, h_k] and [W, w_k] matrices, used under autograd) gives the
    decoder's polyphase result and the same gradients for grids and kernel."""
    torch.manual_seed(taps)
    up = Upsampling(taps).double()
    with torch.no_grad():
        up.half_kernel.add_(0.1 * torch.randn(taps // 2, dtype=torch.float64))
    h, w = size
    grids = [torch.randn(2, -(-h // 2 ** k), -(-w // 2 ** k), dtype=torch.float64,
                         requires_grad=True) for k in range(5)]
    matrices = up.forward_matrices(grids)
    up.MATRIX_MAX_SIDE = 0                       # force the polyphase form under autograd
    polyphase = up(grids)
    assert matrices.shape == polyphase.shape == (1, 10, h, w)
    assert torch.allclose(matrices, polyphase, atol=1e-12)
    g = torch.randn_like(polyphase)
    params = grids + [up.half_kernel]
    for a, b in zip(torch.autograd.grad((matrices * g).sum(), params),
                    torch.autograd.grad((polyphase * g).sum(), params)):
        assert torch.allclose(a, b, atol=1e-10)


@pytest.mark.parametrize("taps", [4, 8])
def test_polyphase_sums_are_the_product_form(taps):
    """The no-autograd form's term-by-term sums agree with the polyphase product up to float32
    rounding."""
    torch.manual_seed(taps)
    up = Upsampling(taps)
    with torch.no_grad():
        up.half_kernel.add_(0.1 * torch.randn(taps // 2))
        g = 3 * torch.randn(1, 19, 37)
        pad = taps // 4
        xp = replicate_pad(g.unsqueeze(1), pad)
        a = xp.shape[-1] - 2 * pad
        sums = up._up_axis_sums(xp, up.kernel(), a, dim=3)
        product = up._up_axis(xp, up.kernel(), a, dim=3)
        assert torch.allclose(sums, product, rtol=1e-6, atol=1e-5)


def test_upsampling_picks_the_matrix_form_only_under_autograd():
    up = Upsampling(8)
    grids = [torch.randn(1, 16, 16), torch.randn(1, 8, 8)]
    calls = []
    real = up.forward_matrices
    up.forward_matrices = lambda g: calls.append(1) or real(g)
    with torch.no_grad():
        decoded = up(grids)
    assert not calls
    fitted = up(grids)
    assert calls and torch.allclose(fitted, decoded, atol=1e-5)


def test_row_gather_and_its_backward_match_index_select():
    from inrcodec.fit.model import RowGather, gather_inverse
    rng = np.random.default_rng(0)
    n, rows = 50, 4
    # each row reads distinct sources, and the zero (index n) as often as it likes
    index = np.minimum(np.stack([rng.permutation(n + 20)[:30] for _ in range(rows)]), n)
    assert (index == n).sum(1).max() > 1
    x = torch.randn(n, dtype=torch.float64, requires_grad=True)
    out = RowGather.apply(x, torch.from_numpy(index), torch.from_numpy(gather_inverse(index, n)))
    ref = torch.cat([x, x.new_zeros(1)])[torch.from_numpy(index)]
    assert torch.equal(out, ref)
    g = torch.randn_like(ref)
    assert torch.allclose(torch.autograd.grad((out * g).sum(), x)[0],
                          torch.autograd.grad((ref * g).sum(), x)[0], atol=1e-12)
    with pytest.raises(ValueError, match="repeats"):
        gather_inverse(np.array([[1, 2, 1]]), 5)
    with pytest.raises(ValueError, match="repeats"):
        gather_inverse(np.array([[4, 0, 2], [1, 3, 1]]), 5)      # the second row repeats 1


def test_synthesis_under_autograd_equals_its_no_grad_form():
    """Channels-last residual convolutions and the unchunked 1x1 layers while fitting give the
    decoder's output (chunked, contiguous), for an image and for a batch of frames."""
    from inrcodec.model.synthesis import Synthesis
    torch.manual_seed(0)
    syn = Synthesis(preset("medium"), 3)
    with torch.no_grad():
        for conv in syn.residual:
            conv.weight.normal_()
    for n in (1, 3):
        x = torch.randn(n, preset("medium").latent_planes, 21, 34)
        with torch.no_grad():
            decoded = syn(x)
        assert torch.allclose(syn(x), decoded, atol=1e-5)


def test_noise_proxy_works_on_the_latents_in_pos_order():
    torch.manual_seed(0)
    model = FitModel(preset("low"), 37, 53, 3)
    with torch.no_grad():
        model.latent.normal_(0, 2)
    y_rate, y_syn = model.quantized_latents("noise", temperature=0.3)
    values = (model.latent * model.mask)[torch.from_numpy(model.layout.pos_idx)]
    assert y_rate.shape == y_syn.shape == values.shape
    assert (y_rate - values).abs().max() <= 1.0     # soft-rounding (< 1/2) + noise (<= 1/2)
    y_rate.sum().backward()
    grad = model.latent.grad
    assert torch.all(grad[~model.mask.bool()] == 0) and torch.all(grad[model.mask.bool()] != 0)


def test_gaussian_proxy_prices_the_rate_on_what_the_synthesis_sees():
    """Gaussian noise of the asked spread; with rate_on_synthesis_values the rate model gets the
    very tensor the synthesis gets, otherwise the wider soft + noise values."""
    from inrcodec.fit.model import soft_round
    torch.manual_seed(0)
    model = FitModel(preset("low"), 64, 64, 3)
    with torch.no_grad():
        model.latent.uniform_(-3, 3)
    values = (model.latent * model.mask)[torch.from_numpy(model.layout.pos_idx)]
    soft = soft_round(values, 0.08)
    y_rate, y_syn = model.quantized_latents("noise", 0.08, noise_std=0.2)
    assert 0.18 < float((y_rate - soft).std()) < 0.22          # soft + N(0, 0.2^2)
    assert torch.allclose(y_syn, soft_round(y_rate, 0.08))
    y_rate, y_syn = model.quantized_latents("noise", 0.08, noise_std=0.2,
                                            rate_on_synthesis_values=True)
    assert y_rate is y_syn


def test_schedule_sets_the_arm_log_scale_at_the_start():
    from inrcodec.fit.train import Schedule, fit
    torch.manual_seed(0)
    model = FitModel(preset("low"), 16, 16, 3)
    target = torch.rand(1, 3, 16, 16)
    fit(model, target, 1e-3, 0, progress=False)
    assert float(model.arm.layers[-1].bias[1]) == INITIAL_LOG_SCALE == -4.0
    fit(model, target, 1e-3, 0, progress=False, schedule=Schedule(arm_log_scale_init=0.0))
    assert float(model.arm.layers[-1].bias[1]) == 0.0


def test_laplace_bits_backward_has_no_nan_where_the_probability_underflows():
    """A centre-case probability of exactly 0 (huge scale) is clamped: zero gradient, as
    autograd through the definition gives, not 0 * inf."""
    from inrcodec.fit.model import LaplaceBits
    x = torch.tensor([0.0, 0.2, 3.0], requires_grad=True)
    mu = torch.zeros(3, requires_grad=True)
    log_scale = torch.tensor([30.0, 30.0, 0.0], requires_grad=True)
    fused = LaplaceBits.apply(x, mu, log_scale)
    ref = laplace_bits(x, mu, log_scale)
    for a, b in zip(torch.autograd.grad(fused.sum(), [x, mu, log_scale]),
                    torch.autograd.grad(ref.sum(), [x, mu, log_scale])):
        assert torch.isfinite(a).all() and torch.allclose(a, b)


def test_laplace_bits_backward_equals_autograd_of_the_definition():
    """LaplaceBits (hand-written backward) against autograd through laplace_bits: centre and
    tail, the d = 1/2 seam, x = mu, and probabilities clamped at MIN_PROB (no gradient)."""
    from inrcodec.fit.model import LaplaceBits
    torch.manual_seed(0)
    n = 5000
    x = torch.round(4 * torch.randn(n, dtype=torch.float64)) + 0.3 * torch.randn(n, dtype=torch.float64)
    mu = 2 * torch.randn(n, dtype=torch.float64)
    x[:6] = torch.tensor([0.5, -0.5, 0.4999, 60.0, -60.0, 0.0], dtype=torch.float64)
    mu[:6] = 0
    log_scale = 8 * torch.rand(n, dtype=torch.float64) - 4
    inputs = [t.requires_grad_() for t in (x, mu, log_scale)]
    ref, fused = laplace_bits(*inputs), LaplaceBits.apply(*inputs)
    assert torch.allclose(fused, ref, rtol=1e-14, atol=0)
    assert (ref > 15.9).any()                       # some are clamped at MIN_PROB
    g = torch.randn(n, dtype=torch.float64)
    for a, b in zip(torch.autograd.grad((fused * g).sum(), inputs),
                    torch.autograd.grad((ref * g).sum(), inputs)):
        assert torch.allclose(a, b, rtol=1e-10, atol=1e-12)
    small = [t[6:30].detach().clone().requires_grad_() for t in (x, mu, log_scale)]
    assert torch.autograd.gradcheck(LaplaceBits.apply, small)


_CHURN = """
import ctypes, resource, sys, torch
from inrcodec.memory import retain_freed_memory
try:          # glibc's documented static defaults (128 KiB), so the churn below always faults
    mallopt = ctypes.CDLL(None).mallopt
except (OSError, AttributeError):
    print("no-mallopt"); sys.exit()
assert mallopt(-1, 128 << 10) == 1 and mallopt(-3, 128 << 10) == 1
if sys.argv[1] == "retain":
    assert retain_freed_memory()
def churn():          # a step's pattern: MB-sized activations made and freed together
    for _ in range(10):
        a = [torch.empty(1 << 21).fill_(1.0) for _ in range(4)]
        del a
churn()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
churn()
print(resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before)
"""


def test_retain_freed_memory_stops_the_page_faults_of_reallocated_activations():
    """With glibc trimming freed memory, several 8 MB tensors freed together are handed back
    to the kernel and the next step faults every page in again; after retain_freed_memory the
    same churn reuses them."""
    import os
    import subprocess
    import sys
    from pathlib import Path
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(root)}
    faults = {}
    for mode in ("default", "retain"):
        out = subprocess.run([sys.executable, "-c", _CHURN, mode], capture_output=True,
                             text=True, check=True, cwd=root, env=env).stdout.split()[-1]
        if out == "no-mallopt":
            pytest.skip("the C library has no mallopt (not glibc)")
        faults[mode] = int(out)
    assert faults["default"] > 10_000            # the pattern does fault when trimmed
    assert faults["retain"] < faults["default"] / 100


def test_best_state_on_the_device_keeps_what_the_host_path_keeps():
    """The GPU form (torch.where on the device, nothing read back) picks the same state and loss
    as the CPU form (compare on the host, copy on improvement), including ties (the first of
    equal losses is kept), a first offer that is never beaten, and NaN losses (never kept)."""
    from inrcodec.fit.train import BestState
    rng = np.random.default_rng(3)
    nan = float("nan")
    for losses in ([3.0, 1.0, 2.0, 1.0, 0.5, 0.7], [0.2, 0.9, 0.4], [1.0, 2.0, 1.0],
                   [nan, 2.0, 1.0], [2.0, nan, 1.0, 1.5], list(rng.random(30))):
        net = torch.nn.Linear(3, 2)
        host, device = BestState(net, on_device=False), BestState(net, on_device=True)
        for loss in losses:
            with torch.no_grad():
                for p in net.parameters():
                    p.copy_(torch.from_numpy(rng.normal(size=p.shape)))
            for keeper in (host, device):
                keeper.offer(torch.tensor(loss))
        (cost_h, state_h), (cost_d, state_d) = host.best(), device.best()
        assert cost_h == cost_d == pytest.approx(np.nanmin(losses), rel=1e-7)
        assert state_h.keys() == state_d.keys()
        assert all(torch.equal(state_h[k], state_d[k]) for k in state_h)
        # the kept state is a copy, not the live tensors
        assert not any(state_d[k].data_ptr() == v.data_ptr() for k, v in net.state_dict().items())
