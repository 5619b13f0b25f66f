"""Shared fixtures: small real-photo crops and one short fit reused across tests (fits are the
expensive part; everything else is cheap)."""
from __future__ import annotations

from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "assets" / "kodim23_crop256.png"

ENCODED_ITERATIONS = 300    # fewer leave every latent at 0 (they start there, lr 1e-2)

torch.set_num_threads(1)   # CI has 2 cores; keep tests from oversubscribing them


@pytest.fixture(scope="session")
def photo() -> np.ndarray:
    """A 256x256 crop of Kodak kodim23 (the image shipped in assets/)."""
    return iio.imread(ASSET)[:, :, :3]


@pytest.fixture(scope="session")
def odd_crop(photo) -> np.ndarray:
    """Odd, non-power-of-two size: exercises ceil() grid sizes and cropping after upsampling."""
    return np.ascontiguousarray(photo[168:205, 0:53])      # 37 x 53, textured


@pytest.fixture(scope="session")
def encoded(odd_crop):
    """(image, file bytes, report) of a short real fit; shared by the bitstream/CLI tests."""
    import inrcodec
    data, report = inrcodec.encode_with_report(odd_crop, iterations=ENCODED_ITERATIONS, lmbda=1e-3, device="cpu")
    return odd_crop, data, report


@pytest.fixture(autouse=True)
def _latent_decoder_as_a_fresh_process_has_it():
    """Which latent decoder "auto" picks depends on whether the process has loaded the compiled
    loop (entropy/engine.py): restore that after each test, so a test sees the same path run alone
    or after others."""
    from inrcodec.entropy import engine
    loaded = engine.compiled_loaded()
    yield
    engine.set_loaded(loaded)
