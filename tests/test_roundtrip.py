"""End-to-end: encode -> bytes -> decode, through the real bitstream."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import inrcodec
from inrcodec.image.decode import decode_latent_buffer, parse

ROOT = Path(__file__).resolve().parents[1]


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


def test_rgb_odd_size_roundtrip(encoded):
    image, data, report = encoded
    out = inrcodec.decode(data)
    assert out.shape == image.shape and out.dtype == np.uint8
    # the report's numbers are measured on the real file and the real decoded image
    assert report["bytes"] == len(data)
    assert report["bpp"] == pytest.approx(8 * len(data) / (37 * 53))
    assert report["psnr"] == pytest.approx(psnr(image, out), abs=1e-9)
    # a short fit is crude, but it must have learned the image, not a flat colour
    flat = np.broadcast_to(image.reshape(-1, 3).mean(0).round(), image.shape)
    assert psnr(image, out) > psnr(image, flat) + 3


def test_longer_fit_is_better(encoded):
    image, _, long = encoded
    short = inrcodec.encode_with_report(image, iterations=30, device="cpu")[1]
    cost = lambda r: (255.0 ** 2 / 10 ** (r["psnr"] / 10)) / 255 ** 2 + 1e-3 * r["bpp"]
    assert cost(long) < cost(short)


def test_file_size_matches_training_time_rate_estimate(encoded):
    """The float ARM's rate at the end of fitting predicts the coded latent section: the integer
    ARM, the quantized ARM weights and the range coder together cost little. On this 37x53 crop
    the ARM's step search trades its weights' bytes against few latents, so it quantizes coarsely:
    72 bytes coded for 60.6 estimated with SOAP (Adam: 76 for 71.0); on a 128x128 crop 344 for
    340.0."""
    _, _, report = encoded
    estimate, coded = report["latent_bytes_estimate"], report["sections"]["latents"]
    assert estimate > 20
    assert abs(coded - estimate) <= 0.2 * estimate + 4


def test_grey_is_one_channel(photo):
    grey = np.ascontiguousarray(photo[:30, :41].mean(axis=2).astype(np.uint8))
    data = inrcodec.encode(grey, iterations=20, device="cpu")
    out = inrcodec.decode(data)
    assert out.shape == (30, 41, 1)
    assert parse(data).header.channels == 1


@pytest.mark.parametrize("shape", [(1, 1, 3), (1, 9, 3), (7, 2, 3), (65, 3, 1)])
def test_tiny_and_thin_images(photo, shape):
    h, w, c = shape
    img = np.ascontiguousarray(photo[:h, :w, :c])
    out = inrcodec.decode(inrcodec.encode(img, iterations=3, device="cpu"))
    assert out.shape == shape


def test_decoded_latents_equal_encoded(encoded):
    """The encoder verifies this too; check it independently from the fitted model's buffer."""
    _, data, _ = encoded
    layout, _, buf1, _ = decode_latent_buffer(parse(data))
    _, _, buf2, _ = decode_latent_buffer(parse(data))
    assert np.array_equal(buf1, buf2)
    assert np.all(buf1[~layout.valid_mask()] == 0)


def test_same_seed_same_file(odd_crop):
    a = inrcodec.encode(odd_crop[:20, :20], iterations=15, seed=3, device="cpu")
    b = inrcodec.encode(odd_crop[:20, :20], iterations=15, seed=3, device="cpu")
    assert a == b


_DECODE_HASH = """
import hashlib, sys, torch
torch.set_num_threads(int(sys.argv[2]))
import inrcodec
from inrcodec.image.decode import decode_latent_buffer, parse
data = open(sys.argv[1], 'rb').read()
_, _, buf, _ = decode_latent_buffer(parse(data))
print(hashlib.sha256(buf.tobytes()).hexdigest(), hashlib.sha256(inrcodec.decode(data).tobytes()).hexdigest())
"""


def test_decode_identical_across_thread_counts(encoded, tmp_path):
    _, data, _ = encoded
    path = tmp_path / "x.inr"
    path.write_bytes(data)
    outs = []
    for threads in (1, 2):
        env = {**os.environ, "OMP_NUM_THREADS": str(threads), "OPENBLAS_NUM_THREADS": str(threads),
               "MKL_NUM_THREADS": str(threads), "PYTHONPATH": str(ROOT)}
        r = subprocess.run([sys.executable, "-c", _DECODE_HASH, str(path), str(threads)],
                           capture_output=True, text=True, env=env, check=True)
        outs.append(r.stdout.split())
    assert outs[0][0] == outs[1][0], "latents (entropy-decoded) differ across thread counts"
    assert outs[0][1] == outs[1][1], "decoded image differs across thread counts"
    here = inrcodec.decode(data)
    assert hashlib.sha256(here.tobytes()).hexdigest() == outs[0][1]


def test_time_budget_fits_for_about_that_long(odd_crop):
    data, report = inrcodec.encode_with_report(odd_crop[:16, :16], time_budget=1.5, device="cpu")
    assert 1.5 <= report["fit_seconds"] < 3.0
    assert report["iterations"] > 5 and report["time_budget"] == 1.5
    assert inrcodec.decode(data).shape == (16, 16, 3)
    with pytest.raises(inrcodec.InrcodecError, match="not both"):
        inrcodec.encode(odd_crop[:8, :8], time_budget=1.0, iterations=5)
    with pytest.raises(inrcodec.InrcodecError, match="time budget"):
        inrcodec.encode(odd_crop[:8, :8], time_budget=-1.0)


def test_default_preset_is_picked_by_image_size_and_lambda(encoded):
    from inrcodec.arch import (AUTO_BREAK_EVEN_LMBDA, AUTO_BREAK_EVEN_PIXELS,
                               auto_medium_from_pixels, resolve_preset)
    from inrcodec.errors import InrcodecError
    from inrcodec.options import DEFAULT_LMBDA
    image, data, report = encoded
    assert image.shape[0] * image.shape[1] < auto_medium_from_pixels(DEFAULT_LMBDA)
    assert report["preset"] == "low" and parse(data).header.preset == "low"
    n, lmbda = AUTO_BREAK_EVEN_PIXELS, AUTO_BREAK_EVEN_LMBDA
    assert resolve_preset("auto", n - 1, lmbda) == "low"
    assert resolve_preset("auto", n, lmbda) == "medium"
    # 256x256 (the break-even size): medium at the benchmark's two lowest lambda, low at the others
    assert [resolve_preset("auto", 256 * 256, x) for x in (0.00025, 0.001, 0.004, 0.016)] == \
        ["medium", "medium", "low", "low"]
    # the size grows like sqrt(lambda): 4x lambda, 2x the pixels
    assert resolve_preset("auto", 2 * n - 1, 4 * lmbda) == "low"
    assert resolve_preset("auto", 2 * n, 4 * lmbda) == "medium"
    assert resolve_preset("high", 16, 0.016) == "high"   # a named preset is never overridden
    with pytest.raises(InrcodecError):
        resolve_preset("huge", 16, DEFAULT_LMBDA)
