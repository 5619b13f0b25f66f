"""MACs/pixel: the analytic count must equal an independent counter on the float decoder."""
from __future__ import annotations

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from inrcodec.arch import MEDIUM_IFCE, PRESETS
from inrcodec.complexity import macs, macs_per_pixel
from inrcodec.fit.model import FitModel
from inrcodec.model.latents import LatentLayout
from inrcodec.model.params import build_modules
from inrcodec.model.render import render


def counted_macs(arch, h, w, c):
    """Run the float decoder (ARM on every latent with its inter-grid features, upsampling,
    synthesis) under FlopCounterMode."""
    layout = LatentLayout(arch, h, w)
    modules = build_modules(arch, c)
    buf = torch.randn(layout.buffer_size)
    model = FitModel(arch, h, w, c)
    values = buf[torch.from_numpy(layout.pos_idx)]
    # The decoder's upsampling writes its taps/2-term sums as elementwise products, which the
    # counter does not see; the polyphase form it runs under autograd has the same products as
    # one small matmul per phase (tests/test_model.py: the same values up to rounding).
    modules["upsampling"].MATRIX_MAX_SIDE = 0
    parts = {}
    for name, fn in [("arm", lambda: model.rate_bits(values)),
                     ("decode", lambda: render(layout, modules["upsampling"],
                                               modules["synthesis"], buf))]:
        counter = FlopCounterMode(display=False)
        with counter:
            fn()
        parts[name] = counter.get_total_flops() // 2     # a MAC is two FLOPs
    return parts


@pytest.mark.parametrize("preset", [*PRESETS, "medium ifce"])
@pytest.mark.parametrize("size,channels", [((64, 64), 3), ((37, 53), 3), ((19, 7), 1)])
def test_analytic_macs_match_flop_counter(preset, size, channels):
    arch = MEDIUM_IFCE if preset == "medium ifce" else PRESETS[preset]
    ours = macs(arch, *size, channels)
    theirs = counted_macs(arch, *size, channels)
    assert ours["arm"] == theirs["arm"]
    assert ours["upsampling"] + ours["synthesis"] == theirs["decode"]


def test_per_pixel_figure_depends_on_size_only_mildly():
    arch = PRESETS["low"]
    big = macs_per_pixel(arch, 512, 768)["total"]
    odd = macs_per_pixel(arch, 511, 767)["total"]
    tiny = macs_per_pixel(arch, 16, 16)["total"]
    assert abs(odd - big) / big < 0.01
    assert tiny > big          # padding and ceil() grids cost relatively more on small images
