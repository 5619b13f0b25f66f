"""Variational mode (`--mode rec`): CLI round trip, exact weight rebuild, corruption, flag checks,
and the pieces of the format both sides must agree on (partition, seeds, prior scales)."""
from __future__ import annotations

import json
import subprocess
import sys

import imageio.v3 as iio
import numpy as np
import pytest

from inrcodec import bitstream
from inrcodec.cli import main
from inrcodec.errors import InrcodecError
from inrcodec.variational import codec, decode_rec
from inrcodec.variational.decode import decode_weights, parse
from inrcodec.variational.model import RecArch

ITERATIONS = 60


@pytest.fixture(scope="module")
def tiny(photo) -> np.ndarray:
    return np.ascontiguousarray(photo[100:116, 100:118])        # 16 x 18, RGB


@pytest.fixture(scope="module")
def rec_encoded(tiny):
    """(image, bytes, report, FitResult) of one short rec-mode encode."""
    from inrcodec.variational.encoder import encode_with_result
    data, report, result = encode_with_result(tiny, bpp=3.0, iterations=ITERATIONS, seed=5)
    return tiny, data, report, result


def test_cli_round_trip(tmp_path, tiny, capsys):
    src, enc, dec = tmp_path / "in.png", tmp_path / "out.inr", tmp_path / "out.png"
    iio.imwrite(src, tiny)
    assert main(["encode", str(src), "-o", str(enc), "--mode", "rec", "--bpp", "2",
                 "--iterations", str(ITERATIONS), "--json", "--quiet"]) == 0
    report = json.loads(capsys.readouterr().out)
    size = enc.stat().st_size
    assert report["mode"] == "rec" and report["bytes"] == size
    assert report["bpp"] == pytest.approx(8 * size / (16 * 18))
    assert main(["decode", str(enc), "-o", str(dec)]) == 0
    out = iio.imread(dec)
    assert out.shape == tiny.shape and out.dtype == np.uint8
    mse = np.mean((out.astype(float) - tiny.astype(float)) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) == pytest.approx(report["psnr"], abs=1e-6)
    capsys.readouterr()
    assert main(["info", str(enc), "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["mode"] == "rec" and info["bytes"] == size and info["blocks"] == report["blocks"]
    assert main(["info", str(enc)]) == 0
    assert "rec" in capsys.readouterr().out


def test_decoder_rebuilds_the_encoder_weights_bit_for_bit(rec_encoded):
    image, data, report, result = rec_encoded
    weights = decode_weights(parse(data))
    assert weights.dtype == np.float64 and np.array_equal(weights, result.weights)
    assert len(result.indices) == report["blocks"] == parse(data).header.n_blocks
    first, second = decode_rec(data), decode_rec(bytes(data))
    assert np.array_equal(first, second) and first.shape == image.shape
    import inrcodec
    assert np.array_equal(inrcodec.decode(data), first)        # the top-level API dispatches too
    assert report["bytes"] == len(data)


def test_decode_imports_no_fit_code(rec_encoded, tmp_path):
    path = tmp_path / "x.inr"
    path.write_bytes(rec_encoded[1])
    code = ("import sys, inrcodec; inrcodec.decode(open(sys.argv[1], 'rb').read()); "
            "bad = [m for m in sys.modules if m.endswith(('variational.fit', 'variational.encoder'))"
            " or m.startswith('inrcodec.fit')]; assert not bad, bad")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=120)


def _repack(data: bytes, **changes) -> bytes:
    c = bitstream.unpack(data)
    header = codec.RecHeader.from_bytes(c.header)
    for k, v in changes.items():
        setattr(header, k, v)
    return bitstream.pack(c.mode, header.to_bytes(), c.sections)


def test_corrupt_files_give_one_clean_error(rec_encoded, tmp_path, capsys):
    data = rec_encoded[1]
    flipped = bytearray(data)
    flipped[len(data) // 2] ^= 0x40
    cases = {"flipped": bytes(flipped), "truncated": data[:-7], "empty-ish": data[:6],
             "too many blocks": _repack(data, n_blocks=10 ** 6),
             "bad budget": _repack(data, kl_bits=0),
             "bad prior": _repack(data, prior_codes=[10 ** 4] * len(parse(data).header.prior_codes))}
    for name, bad in cases.items():
        path = tmp_path / f"{name}.inr"
        path.write_bytes(bad)
        assert main(["decode", str(path), "-o", str(tmp_path / f"{name}.png")]) == 1, name
        err = capsys.readouterr().err
        assert err.startswith("inrcodec: error:") and err.count("\n") == 1, (name, err)
        assert "Traceback" not in err and "internal error" not in err, (name, err)
    # garbage indices with a valid CRC decode to *some* image or fail cleanly, never crash
    c = bitstream.unpack(data)
    noise = bytes(np.random.default_rng(0).integers(0, 256, len(c.sections[0]), dtype=np.uint8))
    try:
        assert decode_rec(bitstream.pack(c.mode, c.header, [noise])).shape == rec_encoded[0].shape
    except InrcodecError:
        pass


@pytest.mark.parametrize("argv, message", [
    (["--bpp", "0.3"], "--bpp applies to --mode rec only"),
    (["--mode", "rec", "--bpp", "0.3", "--lmbda", "0.01"], "either --bpp or --lmbda"),
    (["--mode", "rec", "--time-budget", "5"], "--time-budget is not supported"),
    (["--mode", "rec", "--iterations", "0"], "iterations must be"),
    (["--mode", "rec", "--bpp", "0.0001"], "too low"),
    (["--mode", "rec", "--preset", "high"], "--preset applies to the grid codec"),
])
def test_bad_flag_combinations_are_one_line_errors(tmp_path, tiny, capsys, argv, message):
    src = tmp_path / "in.png"
    iio.imwrite(src, tiny)
    assert main(["encode", str(src), "-o", str(tmp_path / "o.inr"), "--quiet", *argv]) == 1
    err = capsys.readouterr().err
    assert err.startswith("inrcodec: error:") and message in err and err.count("\n") == 1
    assert not (tmp_path / "o.inr").exists()


def test_format_pieces_are_pinned():
    # the coding order, the block seeds and the partition are part of the format: never change them
    assert codec.permutation(0, 12).tolist() == [3, 11, 4, 6, 8, 5, 1, 7, 9, 10, 0, 2]
    assert codec.block_seed(0, 0) == 0x1BD625436CAF77B8
    assert codec.block_seed(123, 7) == 0x231FCAFC3B73B6A9
    assert codec.block_bounds(10, 3).tolist() == [0, 4, 7, 10]
    for code in range(-40, 41):
        assert codec.prior_sigma(code) == 2.0 ** (code / 8)
        assert codec.prior_code(codec.prior_sigma(code)) == code
        assert codec.unzigzag(codec.zigzag(code)) == code


def test_header_round_trip_and_rejects_trailing_bytes():
    arch = RecArch((1, 3), 2, 8, 1, "sine")
    n_groups = 2 + 4
    h = codec.RecHeader(20, 30, 1, arch, 2 ** 64 - 1, 11, 7, list(range(-3, n_groups - 3)))
    back = codec.RecHeader.from_bytes(h.to_bytes())
    assert back == h
    with pytest.raises(InrcodecError):
        codec.RecHeader.from_bytes(h.to_bytes() + b"\0")
