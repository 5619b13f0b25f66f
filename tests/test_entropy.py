"""The entropy layer: the fixed-point ARM, the Laplace parameter tables and constriction coding."""
from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from inrcodec.arch import MEDIUM_IFCE, PRESETS
from inrcodec.entropy import coder, laplace
from inrcodec.entropy.int_arm import IntArm, IntLayer
from inrcodec.entropy.laplace import (LOG_SCALE_MIN, LOG_SCALE_STEPS_PER_NAT, MU_BITS, N_SCALES,
                                      SCALES, WEIGHT_SCALES, laplace_bits_np)
from inrcodec.entropy.weights import N_STEPS, dequantize, quantize, step_parts, step_value
from inrcodec.model.arm import Arm
from inrcodec.model.latents import ZERO_SLOT, LatentLayout


def random_int_arm(arch, rng, weight_step=30, bias_step=26, fractional_inputs=False):
    """A float ARM with quantized random weights, and the matching integer ARM."""
    arm = Arm(arch)

    def int_layers(float_layers):
        out = []
        with torch.no_grad():
            for layer in float_layers:
                w = quantize(rng.normal(0, 0.4, layer.weight.shape), weight_step)
                b = quantize(rng.normal(0, 0.5, layer.bias.shape), bias_step)
                layer.weight.copy_(torch.from_numpy(dequantize(w, weight_step)))
                layer.bias.copy_(torch.from_numpy(dequantize(b, bias_step)))
                out.append(IntLayer(w, b, weight_step, bias_step))
        return out

    layers, ifce = int_layers(arm.layers), int_layers(arm.ifce)
    return arm.double(), IntArm(layers, fractional_inputs, ifce)


def arm_inputs(arch, rng, n, low, high):
    """Random integer ARM inputs (spatial context, then inter-grid sources, zero past each
    row's level's own) and each row's level (some without features)."""
    n_sources = arch.ifce_sources(0) if arch.ifce_levels else 0
    ctx = rng.integers(low, high, size=(n, arch.arm_context + n_sources))
    levels = rng.integers(0, arch.n_levels + arch.hyper_grids, size=n)
    for level in range(arch.n_levels + arch.hyper_grids):
        own = arch.ifce_sources(level) if level < arch.ifce_levels else 0
        ctx[levels == level, arch.arm_context + own:] = 0
    return ctx, levels


def float_arm_of(arm, arch, ctx, levels):
    """The float ARM (with its inter-grid feature maps) on arm_inputs' rows."""
    x = torch.from_numpy(ctx).double()
    spatial = x[:, :arch.arm_context]
    if not arch.ifce_levels:
        return arm(spatial)
    feats = torch.zeros(len(x), arch.ifce_features, dtype=torch.float64)
    for level, linear in enumerate(arm.ifce):
        rows = torch.from_numpy(levels == level)
        feats[rows] = linear(x[rows, arch.arm_context:arch.arm_context + linear.in_features])
    return arm(torch.cat([spatial, feats], dim=1))


@pytest.mark.parametrize("preset", list(PRESETS))
def test_integer_arm_tracks_float_arm(preset):
    rng = np.random.default_rng(0)
    arch = PRESETS[preset]
    arm, int_arm = random_int_arm(arch, rng)
    ctx, levels = arm_inputs(arch, rng, 4000, -6, 7)
    mu_i, k_i = int_arm(ctx, levels)
    with torch.no_grad():
        mu_f, ls_f = float_arm_of(arm, arch, ctx, levels)
    mu_f, ls_f = mu_f.numpy(), ls_f.numpy()
    # fixed point carries 16 fractional bits per layer; the output grids are 2^-8 and 1/16 nat
    assert np.max(np.abs(mu_i / 2 ** MU_BITS - np.clip(mu_f, -63, 63))) <= 2 ** -MU_BITS
    k_f = np.clip((ls_f - LOG_SCALE_MIN) * LOG_SCALE_STEPS_PER_NAT, 0, N_SCALES - 1)
    assert np.max(np.abs(k_i - k_f)) <= 0.5 + 1e-3
    assert np.mean(np.abs(k_i - np.round(k_f)) == 0) > 0.99


def test_integer_arm_is_independent_of_batching():
    """BLAS blocks differently for different batch sizes; exact integers must not care."""
    rng = np.random.default_rng(1)
    for arch in (PRESETS["high"], MEDIUM_IFCE):      # wide; inter-grid features
        _, int_arm = random_int_arm(arch, rng, weight_step=40)
        ctx, levels = arm_inputs(arch, rng, 3001, -63, 64)
        mu, k = int_arm(ctx, levels)
        parts = [int_arm(ctx[i:i + 7], levels[i:i + 7]) for i in range(0, len(ctx), 7)]
        assert np.array_equal(mu, np.concatenate([p[0] for p in parts]))
        assert np.array_equal(k, np.concatenate([p[1] for p in parts]))
        rev = int_arm(ctx[::-1].copy(), levels[::-1].copy())
        assert np.array_equal(mu, rev[0][::-1]) and np.array_equal(k, rev[1][::-1])


def test_laplace_constants_are_correctly_rounded():
    """The scales and tail ratios come from `decimal` at 40 digits; recomputed at 80 digits they
    are the same, and none sits near a rounding tie, so they are the correctly rounded values
    (which any platform computes alike). The float scales are also what numpy's exp gives."""
    import decimal
    ctx = decimal.Context(prec=80)
    D = decimal.Decimal
    for k, b in enumerate(SCALES):
        raw = ctx.multiply(ctx.exp(D(LOG_SCALE_MIN) + ctx.divide(k, LOG_SCALE_STEPS_PER_NAT)), 4096)
        assert abs(raw - raw.to_integral_value() ) < D("0.4999")
        assert D(b) * 4096 == raw.to_integral_value(decimal.ROUND_HALF_EVEN)
        r = ctx.multiply(ctx.exp(ctx.minus(ctx.divide(D(1) / 256, D(b)))), 2 ** 31)
        assert abs(abs(r - int(r)) - D("0.5")) > D("1e-9")
        assert laplace.LATENT_R[k] == int(r.to_integral_value(decimal.ROUND_HALF_EVEN))
    for j, b in enumerate(WEIGHT_SCALES):
        raw = ctx.multiply(ctx.power(D(2), ctx.divide(j, 4)), 256)
        assert abs(abs(raw - int(raw)) - D("0.5")) > D("1e-9")
        assert D(b) * 256 == raw.to_integral_value(decimal.ROUND_HALF_EVEN)
        r = ctx.multiply(ctx.exp(ctx.minus(ctx.divide(D(1) / 2, D(b)))), 2 ** 31)
        assert abs(abs(r - int(r)) - D("0.5")) > D("1e-9")
        assert laplace.WEIGHT_R[j] == int(r.to_integral_value(decimal.ROUND_HALF_EVEN))
    np_scales = np.round(np.exp(LOG_SCALE_MIN + np.arange(N_SCALES) / LOG_SCALE_STEPS_PER_NAT) * 4096)
    assert np.array_equal(SCALES, np_scales / 4096)
    assert np.all(np.diff(SCALES) > 0) and np.all(SCALES > 0)


def test_laplace_tables_are_pinned():
    """The tables define every coded symbol's probability (the format): a change to how they are
    built must show up here, and go with a new FORMAT_VERSION and golden files."""
    import zlib
    tables = [laplace.LATENT_HI, laplace.LATENT_LO, laplace.WEIGHT_HI, laplace.WEIGHT_LO]
    assert [t.shape for t in tables] == [(137, 127), (137, 256), (64, 256), (64, 256)]
    crc = zlib.crc32(b"".join(t.astype("<i8").tobytes() for t in tables))
    assert crc == 0xbebffc49, hex(crc)


@pytest.mark.parametrize("which", ["latent", "weight"])
def test_every_symbol_has_a_probability_of_at_least_one(which):
    """Exhaustively over every scale and distance: the tail T never increases with distance and
    starts at FREE // 2, so G rises with the symbol and every symbol keeps the leaky +1; and the
    integer tails stay close to the Laplace they stand for."""
    if which == "latent":
        hi, lo, free = laplace.LATENT_HI, laplace.LATENT_LO, laplace.LATENT_FREE
        m, unit, scales = np.arange(laplace.MAX_LATENT_DISTANCE + 1), 1 / 256, SCALES
    else:
        hi, lo, free = laplace.WEIGHT_HI, laplace.WEIGHT_LO, laplace.WEIGHT_FREE
        m, unit, scales = np.arange(laplace.MAX_WEIGHT_DISTANCE + 1), 1 / 2, WEIGHT_SCALES
    tail = (hi[:, m >> 8] * lo[:, m & 255]) >> laplace.TAIL_BITS
    assert np.all(tail[:, 0] == free // 2) and 2 * (free // 2) <= free
    assert np.all(np.diff(tail, axis=1) <= 0) and np.all(tail >= 0)
    ideal = free / 2 * np.exp(-m[None, :] * unit / scales[:, None])
    assert np.max(np.abs(tail - ideal)) < 1e-4 * free / 2


def test_latent_rows_are_the_general_frequencies():
    """latent_frequencies' fast rows (laplace._latent_rows) against the general form, over the
    whole range of valid locations (dithered ones reach +-(63 + 1/2) symbols), every scale, and
    locations past it (where it falls back to the general form)."""
    rng = np.random.default_rng(7)
    edge = 63 * 256 + 128
    loc = np.concatenate([rng.integers(-edge, edge + 1, 20000), np.arange(-edge, -edge + 300),
                          np.arange(edge - 300, edge + 1), np.arange(-600, 600)])
    k = rng.integers(0, N_SCALES, loc.size)
    k[:N_SCALES] = np.arange(N_SCALES)
    general = laplace._frequencies(loc, k, laplace._LATENT_MODEL)
    assert laplace._latent_rows(loc, k) is not None
    assert np.array_equal(laplace.latent_frequencies(loc, k), general)
    far = np.array([edge + 256 * 3, -edge - 1000])
    assert laplace._latent_rows(far, np.zeros(2, np.int64)) is None
    assert np.array_equal(laplace.latent_frequencies(far, np.zeros(2, np.int64)),
                          laplace._frequencies(far, np.zeros(2, np.int64), laplace._LATENT_MODEL))
    assert laplace.latent_frequencies(np.zeros(0, np.int64), np.zeros(0, np.int64)).shape == (0, 127)


def test_integer_laplace_frequencies_and_cumulatives_agree():
    rng = np.random.default_rng(2)
    n = 3000
    loc = rng.integers(-63 * 256 - 128, 63 * 256 + 128, n)
    k = rng.integers(0, N_SCALES, n)
    f = laplace.latent_frequencies(loc, k)
    assert f.shape == (n, 127) and np.all(f >= 0) and np.all(f.sum(axis=1) == laplace.LATENT_FREE)
    s = np.arange(-63, 65)
    cum = laplace.latent_cumulative(s[None, :], loc[:, None], k[:, None])
    assert np.array_equal(np.diff(cum, axis=1), f + 1)
    assert np.all(cum[:, 0] == 0) and np.all(cum[:, -1] == laplace.TOTAL)
    w = laplace.weight_frequencies(17)
    assert w.sum() == laplace.WEIGHT_FREE and np.all(w >= 0)
    ws = np.array([-32767, -5, 0, 1, 32767])
    assert np.array_equal(laplace.weight_cumulative(ws + 1, 17) - laplace.weight_cumulative(ws, 17),
                          w[ws + 32767] + 1)
    # symmetric; and off the alphabet's ends (which also take the tails beyond them), within
    # 0.01 % of the continuous model's bits
    assert np.array_equal(w, w[::-1])
    sym = np.round(rng.laplace(loc / 256, SCALES[k])).astype(np.int64)
    inner = np.abs(sym) < 63
    exact = laplace.latent_symbol_bits(sym[inner], loc[inner], k[inner])
    approx = laplace_bits_np(sym[inner].astype(np.float64), loc[inner] / 256, SCALES[k[inner]])
    assert abs(exact.sum() - approx.sum()) < 1e-4 * approx.sum()


def test_weight_steps_are_dyadic_and_decreasing():
    values = [step_value(i) for i in range(N_STEPS)]
    assert all(a > b for a, b in zip(values, values[1:]))
    for i in range(N_STEPS):
        m, q = step_parts(i)
        assert values[i] == m / 2 ** q and q <= 16


@pytest.mark.parametrize("scale_index", [0, 8, 16, 30])
def test_weight_coding_within_one_percent_of_ideal(scale_index):
    rng = np.random.default_rng(scale_index)
    scale = WEIGHT_SCALES[scale_index]
    x = np.clip(np.round(rng.laplace(0, scale, 50_000)), -32767, 32767).astype(np.int64)
    data = coder.encode_weight_groups([(x, scale_index)])
    ideal = laplace_bits_np(x.astype(np.float64), 0.0, scale).sum()
    assert 8 * len(data) <= ideal * 1.01 + 64
    assert 8 * len(data) >= ideal * 0.99 - 64          # and not "too good": a real code
    (back,) = coder.decode_weight_groups(data, [((x.size,), scale_index)])
    assert np.array_equal(back, x)


def test_latent_coding_matches_integer_model_rate():
    """Latents coded under the integer ARM cost what latent_bits() promises (within 1 %)."""
    rng = np.random.default_rng(5)
    arch = PRESETS["low"]
    layout = LatentLayout(arch, 45, 67)
    _, int_arm = random_int_arm(arch, rng)
    buf = np.zeros(layout.buffer_size, np.int64)
    buf[layout.pos_idx] = np.round(rng.laplace(0, 2.0, layout.n_latents)).astype(np.int64)
    data = coder.encode_latents(layout, int_arm, buf)
    ideal = coder.latent_bits(layout, int_arm, buf)
    assert abs(8 * len(data) - ideal) <= 0.01 * ideal + 64
    assert np.array_equal(coder.decode_latents(layout, int_arm, data), buf)


# every preset, `medium` with inter-grid features and side grids (MEDIUM_IFCE), with two channels,
# without side grids, and on every level that has a coarser grid
ARCHS = {**PRESETS, "medium ifce": MEDIUM_IFCE,
         "medium 2ch+hyper1": replace(MEDIUM_IFCE, latent_channels=2, hyper_grids=1),
         "low+ifce2": replace(PRESETS["low"], ifce_levels=2, ifce_features=3),
         "3 levels+ifce3": replace(PRESETS["low"], n_levels=3, ifce_levels=3, ifce_features=2,
                                   hyper_grids=2)}


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("size", [(1, 1), (5, 3), (37, 53), (64, 64), (150, 420)])
def test_wavefront_is_causal(arch, size):
    """Every context latent (inter-grid sources included) is decoded in a strictly earlier
    wavefront step than its user."""
    layout = LatentLayout(ARCHS[arch], *size)
    order, bounds = layout.wavefront
    step = np.empty(layout.n_latents, np.int64)
    for t, (a, b) in enumerate(zip(bounds[:-1], bounds[1:])):
        step[order[a:b]] = t
    assert sorted(order.tolist()) == list(range(layout.n_latents))
    step_at = np.full(layout.buffer_size, -1)
    step_at[layout.pos_idx] = step
    ctx_step = step_at[layout.ctx_idx]                  # -1 where the context is padding
    valid = ctx_step >= 0
    assert np.all(ctx_step[valid] < np.broadcast_to(step[:, None], ctx_step.shape)[valid])
    # padding really is padding: never another latent's position
    assert np.all(np.isin(layout.ctx_idx[~valid], layout.pos_idx, invert=True))


@pytest.mark.parametrize("size", [(5, 3), (150, 420)])
@pytest.mark.parametrize("arch", ["medium ifce", "medium 2ch+hyper1"])
def test_sources_are_the_colocated_coarser_latents(size, arch):
    """The inter-grid sources of latent (i, j) of a grid below ifce_levels are latent
    (i >> d, j >> d) of each coarser grid of its channel, rendered levels then side grids
    (1/16, 1/32, ...), d the scale difference; a padding zero past them and for the others."""
    arch = ARCHS[arch]
    layout = LatentLayout(arch, *size)
    c, n_ctx = arch.latent_channels, arch.arm_context
    starts = np.cumsum([0] + [h * w for h, w in layout.grid_shapes])
    grid_pos = [layout.pos_idx[a:b].reshape(hw) for a, b, hw in
                zip(starts[:-1], starts[1:], layout.grid_shapes)]
    scales = [*range(arch.n_levels), *(4 + k for k in range(arch.hyper_grids))]
    assert len(layout.grid_shapes) == c * len(scales)
    assert layout.ctx_idx.shape == (layout.n_latents, n_ctx + arch.n_levels - 1 + arch.hyper_grids)
    assert not layout.valid_mask()[ZERO_SLOT]
    rng = np.random.default_rng(1)
    for grid, (h, w) in enumerate(layout.grid_shapes):
        level = grid // c
        assert (h, w) == (-(-size[0] // 2 ** scales[level]), -(-size[1] // 2 ** scales[level]))
        for _ in range(5):
            i, j = rng.integers(h), rng.integers(w)
            row = starts[grid] + i * w + j
            assert layout.latent_levels[row] == level
            expected = []
            if level < arch.ifce_levels:
                for m in range(level + 1, len(scales)):
                    d = scales[m] - scales[level]
                    expected.append(grid_pos[m * c + grid % c][i >> d, j >> d])
            expected += [ZERO_SLOT] * (layout.ctx_idx.shape[1] - n_ctx - len(expected))
            assert layout.ctx_idx[row, n_ctx:].tolist() == expected


@pytest.mark.parametrize("dithered", [False, True])
@pytest.mark.parametrize("arch", ["medium ifce", "medium 2ch+hyper1", "3 levels+ifce3"])
def test_latents_with_inter_grid_features_round_trip(dithered, arch):
    """Coded under an ARM with inter-grid features, latents decode back exactly (both
    decoders), and cost what latent_bits() promises."""
    from inrcodec.entropy.dither import latent_dither
    rng = np.random.default_rng(7)
    arch = ARCHS[arch]
    layout = LatentLayout(arch, 70, 90)
    _, int_arm = random_int_arm(arch, rng, fractional_inputs=dithered)
    buf = np.zeros(layout.buffer_size, np.int64)
    buf[layout.pos_idx] = np.round(rng.laplace(0, 2.0, layout.n_latents)).astype(np.int64)
    dither = latent_dither(layout.valid_mask()) if dithered else None
    data = coder.encode_latents(layout, int_arm, buf, dither)
    ideal = coder.latent_bits(layout, int_arm, buf, dither)
    assert abs(8 * len(data) - ideal) <= 0.01 * ideal + 64
    assert np.array_equal(coder.decode_latents_reference(layout, int_arm, data, dither), buf)
    assert np.array_equal(coder.decode_latents(layout, int_arm, data, dither, engine="compiled"),
                          buf)


@pytest.mark.parametrize("preset", [*PRESETS, "medium ifce"])
def test_wavefront_steps_do_not_grow_with_image_size(preset):
    """The decoder's Python loop runs once per step: tiles keep the step count bounded."""
    from inrcodec.model.latents import TILE_COLS, TILE_ROWS
    arch = ARCHS[preset]
    tile_steps = TILE_COLS + LatentLayout(arch, 1, 1).slope * (TILE_ROWS - 1)
    for size in ((512, 768), (2048, 3072), (4096, 6144)):
        layout = LatentLayout(arch, *size)
        n_steps = len(layout.wavefront[1]) - 1
        assert n_steps == tile_steps + layout.level_delays[0]
        # a level with inter-grid features waits at most one tile's steps per level it reads
        assert layout.level_delays[0] <= arch.ifce_levels * tile_steps
        # steps of hundreds of latents from 768x512 up (256x256 tiles; `medium ifce`: ~320 there)
        assert layout.n_latents / n_steps > 250
