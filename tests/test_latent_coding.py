"""--latent-coding uq: universal quantization of the grid codec's latents (entropy/dither.py)."""
from __future__ import annotations

import json

import imageio.v3 as iio
import numpy as np
import pytest
import torch

import inrcodec
from inrcodec import bitstream
from inrcodec.arch import preset
from inrcodec.image.decode import decode_latent_buffer, parse
from inrcodec.entropy.coder import latent_bits
from inrcodec.entropy.dither import latent_dither
from inrcodec.entropy.int_arm import IntArm, IntLayer
from inrcodec.entropy.laplace import MU_BITS
from inrcodec.errors import InrcodecError
from inrcodec.image.header import ImageHeader
from inrcodec.model.latents import LatentLayout

from cli_helpers import assert_one_line_error, run


@pytest.fixture(scope="module")
def uq_encoded(odd_crop):
    data, report = inrcodec.encode_with_report(odd_crop, iterations=300, lmbda=1e-3, device="cpu",
                                               latent_coding="uq")
    return odd_crop, data, report


def test_dither_is_on_the_mu_grid_zero_on_padding_and_uniform():
    layout = LatentLayout(preset("low"), 64, 96)
    mask = layout.valid_mask()
    u = latent_dither(mask)
    assert np.array_equal(u, latent_dither(mask))                 # shared: same every call
    assert np.all(u[~mask] == 0)
    v = u[mask]
    grid = v * (1 << MU_BITS)
    assert np.array_equal(grid, np.round(grid))                    # multiples of 2^-MU_BITS
    assert v.min() >= -0.5 and v.max() < 0.5
    # uniform on its 256 values: chi-square-ish check on 8 bins, loose but able to fail
    counts = np.histogram(v, bins=8, range=(-0.5, 0.5))[0]
    expected = v.size / 8
    assert np.all(np.abs(counts - expected) < 6 * np.sqrt(expected))
    assert abs(v.mean() + 0.5 / (1 << MU_BITS)) < 0.01            # mean -2^-9 by construction


def test_int_arm_fractional_path_agrees_on_integer_inputs():
    """With integer contexts the floored first layer must give what the integer path gives."""
    rng = np.random.default_rng(1)
    layers = [IntLayer(rng.integers(-300, 300, (8, 12)), rng.integers(-300, 300, 8), 30, 30),
              IntLayer(rng.integers(-300, 300, (2, 8)), rng.integers(-300, 300, 2), 30, 30)]
    ctx = rng.integers(-20, 20, (500, 12))
    a = IntArm(layers)(ctx)
    b = IntArm(layers, fractional_inputs=True)(ctx)
    assert np.array_equal(a[0], b[0]) and np.array_equal(a[1], b[1])


def test_uq_round_trip_and_report(uq_encoded):
    image, data, report = uq_encoded
    assert report["latent_coding"] == "uq"
    assert parse(data).header.latent_coding == "uq"
    out = inrcodec.decode(data)
    mse = np.mean((out.astype(float) - image.astype(float)) ** 2)
    assert report["psnr"] == pytest.approx(10 * np.log10(255 ** 2 / mse))
    assert report["psnr"] > 20


def test_decoded_values_are_symbols_plus_dither(uq_encoded):
    _, data, _ = uq_encoded
    layout, _, symbols, values = decode_latent_buffer(parse(data))
    u = latent_dither(layout.valid_mask())
    assert np.array_equal(values, symbols + u)
    assert np.any(symbols != 0)


def test_latent_section_matches_ideal_code_length(uq_encoded):
    """The coder uses location mu - u: if it did not, the section would not match the ideal
    length computed with that location (nor would the file decode)."""
    _, data, _ = uq_encoded
    parsed = parse(data)
    from inrcodec.image.decode import load_networks
    layout, _, symbols, _ = decode_latent_buffer(parsed)
    _, int_arm, _ = load_networks(parsed.header, parsed.sections, dithered=True)
    ideal = latent_bits(layout, int_arm, symbols, latent_dither(layout.valid_mask())) / 8
    coded = len(parsed.sections["latents"])
    assert abs(coded - ideal) <= 4 + 0.01 * ideal
    # without the dither the same symbols cost a different amount: the location matters
    no_dither = latent_bits(layout, int_arm, symbols) / 8
    assert abs(no_dither - ideal) > 1


def test_uq_error_is_within_half_a_step(odd_crop):
    """Decoded values k + u lie within 1/2 of the fitted continuous latents."""
    from inrcodec.fit.model import FitModel
    torch.manual_seed(0)
    model = FitModel(preset("low"), 37, 53, 3, latent_coding="uq")
    with torch.no_grad():
        model.latent.normal_(0, 3)
        y = model.latent * model.mask
        values = model.latent_values(model.integer_latents())
    err = (values - y)[model.mask.bool()]
    assert err.abs().max() <= 0.5 + 1e-6
    assert abs(err.mean().item()) < 0.05 and err.std().item() == pytest.approx(12 ** -0.5, rel=0.1)


def test_unknown_latent_coding_in_header_is_refused(uq_encoded):
    _, data, _ = uq_encoded
    c = bitstream.unpack(data)
    h = ImageHeader.from_bytes(c.header)
    raw = bytearray(c.header)
    # fields: height, width, channels, preset code, latent coding (all one-byte varints here)
    assert (raw[0], raw[1], raw[4]) == (h.height, h.width, 1)
    raw[4] = 2
    with pytest.raises(InrcodecError, match="latent coding"):
        inrcodec.decode(bitstream.pack(bitstream.MODE_IMAGE, bytes(raw), c.sections))


def test_cli_flag_and_info(tmp_path, odd_crop, capsys):
    src = tmp_path / "a.png"
    iio.imwrite(src, odd_crop[:16, :16])
    out = tmp_path / "a.inr"
    code, stdout, _ = run(["encode", src, "-o", out, "--latent-coding", "uq", "--iterations", "20",
                           "--device", "cpu", "--quiet", "--json"], capsys)
    assert code == 0 and json.loads(stdout)["latent_coding"] == "uq"
    code, stdout, _ = run(["info", out, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["latent_coding"] == "uq"
    code, stdout, _ = run(["info", out], capsys)
    assert "universal quantization" in stdout
    assert run(["decode", out, "-o", tmp_path / "b.png"], capsys)[0] == 0


def test_cli_rejects_uq_where_it_does_not_apply(tmp_path, odd_crop, capsys):
    src = tmp_path / "a.png"
    iio.imwrite(src, odd_crop[:16, :16])
    code, _, err = run(["encode", src, "-o", tmp_path / "x.inr", "--latent-coding", "uq",
                        "--mode", "rec"], capsys)
    assert_one_line_error(code, err, "--latent-coding")
    with pytest.raises(SystemExit) as exit_info:
        run(["encode", src, "-o", tmp_path / "y.inr", "--latent-coding", "bogus"], capsys)
    assert_one_line_error(exit_info.value.code, capsys.readouterr().err, "latent-coding")
    assert not (tmp_path / "x.inr").exists() and not (tmp_path / "y.inr").exists()


@pytest.mark.parametrize("dithered", [False, True])
def test_chunked_code_length_equals_the_whole_batch_definition(uq_encoded, dithered):
    """latent_bits (row chunks of float32 contexts, here chunks that do not divide the latent
    count) equals the plain definition: the integer ARM on every context at once, then the
    integer Laplace's bits at mu (mu - u with the dither)."""
    from inrcodec.image.decode import load_networks
    from inrcodec.entropy.coder import LatentCodeLength, latent_parameters
    from inrcodec.entropy.laplace import latent_symbol_bits
    _, data, _ = uq_encoded
    parsed = parse(data)
    layout, _, symbols, _ = decode_latent_buffer(parsed)
    _, int_arm, _ = load_networks(parsed.header, parsed.sections, dithered=dithered)
    dither = latent_dither(layout.valid_mask()) if dithered else None
    mu, k = latent_parameters(layout, int_arm, symbols, dither)
    loc = mu if dither is None else mu - np.round(dither[layout.pos_idx] * 2 ** MU_BITS).astype(np.int64)
    plain = float(latent_symbol_bits(symbols[layout.pos_idx], loc, k).sum())
    code_length = LatentCodeLength(layout, symbols, dither)
    code_length.CHUNK = 97
    assert len(layout.pos_idx) % code_length.CHUNK
    assert code_length(int_arm) == plain
