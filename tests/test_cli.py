"""The command line: outputs, JSON reports, and one-line errors with non-zero exits."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from inrcodec.cli import main

from cli_helpers import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def png(tmp_path, photo):
    path = tmp_path / "in.png"
    iio.imwrite(path, photo[:19, :23])
    return path


@pytest.fixture
def inr(tmp_path, encoded):
    path = tmp_path / "x.inr"
    path.write_bytes(encoded[1])
    return path


def test_encode_decode_info_json(png, tmp_path, capsys):
    out = tmp_path / "out.inr"
    code, stdout, _ = run(["encode", png, "-o", out, "--iterations", 5, "--json"], capsys)
    assert code == 0
    report = json.loads(stdout)
    for key in ("bytes", "bpp", "psnr", "macs_per_pixel", "encode_seconds", "iterations", "mode",
                "preset"):
        assert key in report
    assert report["bytes"] == out.stat().st_size
    assert report["bpp"] == pytest.approx(8 * out.stat().st_size / (19 * 23))
    assert report["iterations"] == 5 and report["mode"] == "image" and report["preset"] == "low"

    dec = tmp_path / "dec.png"
    code, _, _ = run(["decode", out, "-o", dec], capsys)
    assert code == 0
    img = iio.imread(dec)
    assert img.shape == (19, 23, 3)
    mse = np.mean((img.astype(float) - iio.imread(png).astype(float)) ** 2)
    assert 10 * np.log10(255 ** 2 / mse) == pytest.approx(report["psnr"], abs=1e-6)

    code, stdout, _ = run(["info", out, "--json"], capsys)
    info = json.loads(stdout)
    assert (info["width"], info["height"], info["channels"]) == (23, 19, 3)
    assert info["bytes"] == report["bytes"] and info["preset"] == "low"
    assert info["macs_per_pixel"] == pytest.approx(report["macs_per_pixel"])
    assert sum(info["sections"].values()) == info["bytes"]
    code, stdout, _ = run(["info", out], capsys)
    assert code == 0 and "23x19" in stdout


def test_encode_time_budget(png, tmp_path, capsys):
    out = tmp_path / "budget.inr"
    code, stdout, _ = run(["encode", png, "-o", out, "--time-budget", "1.5", "--json"], capsys)
    assert code == 0
    report = json.loads(stdout)
    assert report["time_budget"] == 1.5 and report["iterations"] > 0
    assert report["encode_seconds"] < 1.5 + 30      # fit stops on time; weight search comes after
    assert out.stat().st_size == report["bytes"]


def test_no_overwrite_without_force(png, inr, tmp_path, capsys):
    target = tmp_path / "taken.png"
    target.write_bytes(b"precious")
    code, _, err = run(["decode", inr, "-o", target], capsys)
    assert_one_line_error(code, err, "already exists")
    assert target.read_bytes() == b"precious"
    code, _, err = run(["encode", png, "-o", target, "--iterations", 1], capsys)
    assert_one_line_error(code, err, "already exists")
    assert target.read_bytes() == b"precious"
    code, _, _ = run(["decode", inr, "-o", target, "--force"], capsys)
    assert code == 0 and iio.imread(target).shape == (37, 53, 3)


def test_encode_refuses_to_overwrite_its_input(png, capsys):
    code, _, err = run(["encode", png, "-o", png, "--force", "--iterations", 1], capsys)
    assert_one_line_error(code, err, "input")


@pytest.mark.parametrize("content,fragment", [
    (b"", "empty"),
    (b"this is not an image at all", "cannot read"),
    (b"\x89PNG\r\n\x1a\n" + b"\x00" * 40, "cannot read"),     # truncated PNG
])
def test_encode_bad_inputs(tmp_path, capsys, content, fragment):
    bad = tmp_path / "bad.png"
    bad.write_bytes(content)
    code, _, err = run(["encode", bad, "-o", tmp_path / "o.inr", "--iterations", 1], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "o.inr").exists()


def test_encode_refuses_alpha_and_16_bit(tmp_path, capsys, photo):
    rgba = np.dstack([photo[:8, :8], np.full((8, 8), 7, np.uint8)])
    iio.imwrite(tmp_path / "a.png", rgba)
    code, _, err = run(["encode", tmp_path / "a.png", "--iterations", 1], capsys)
    assert_one_line_error(code, err, "transparency")
    iio.imwrite(tmp_path / "b.png", photo[:8, :8, 0].astype(np.uint16) * 200)
    code, _, err = run(["encode", tmp_path / "b.png", "--iterations", 1], capsys)
    assert_one_line_error(code, err, "8-bit")
    opaque = np.dstack([photo[:8, :8], np.full((8, 8), 255, np.uint8)])
    iio.imwrite(tmp_path / "c.png", opaque)
    code, _, _ = run(["encode", tmp_path / "c.png", "--iterations", 1, "--quiet"], capsys)
    assert code == 0 and (tmp_path / "c.inr").exists()


def test_decode_bad_files(tmp_path, inr, capsys):
    cases = {"missing.inr": None, "empty.inr": b"", "text.inr": b"hello world",
             "trunc.inr": inr.read_bytes()[:-9]}
    for name, content in cases.items():
        path = tmp_path / name
        if content is not None:
            path.write_bytes(content)
        code, _, err = run(["decode", path, "-o", tmp_path / f"{name}.png"], capsys)
        assert_one_line_error(code, err)
        assert not (tmp_path / f"{name}.png").exists()
    code, _, err = run(["info", tmp_path / "text.inr"], capsys)
    assert_one_line_error(code, err, "magic")
    code, _, err = run(["decode", inr, "-o", tmp_path / "lossy.jpg"], capsys)
    assert_one_line_error(code, err, "lossless")
    code, _, err = run(["decode", inr, "-o", tmp_path / "no" / "dir.png"], capsys)
    assert_one_line_error(code, err, "does not exist")


@pytest.mark.parametrize("argv,fragment", [
    (["encode", "x.png", "--lmbda", "-1"], "must be in (0, 1000)"),     # the range (issue 31)
    (["encode", "x.png", "--lmbda", "nan"], "must be in (0, 1000)"),
    (["encode", "x.png", "--iterations", "many"], "integer"),
    (["encode", "x.png", "--preset", "huge"], "invalid choice"),
    (["encode", "x.png", "--device", "tpu"], "invalid choice"),
    (["encode", "x.png", "--time-budget", "0"], "must be in (0, 604800]"),
    (["encode", "x.png", "--iterations", "5", "--time-budget", "3"], "not allowed with"),
    (["profile", "--size", "0x5"], "size"),
    (["frobnicate"], "invalid choice"),
    ([], "required"),
])
def test_bad_flags(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    _, err = capsys.readouterr()
    assert exc.value.code == 2
    assert_one_line_error(2, err, fragment)


def test_profile_json(capsys):
    code, stdout, _ = run(["profile", "--json"], capsys)
    assert code == 0
    presets = json.loads(stdout)["presets"]
    assert len(presets) >= 3
    from inrcodec.arch import PRESETS
    from inrcodec.complexity import macs_per_pixel
    for name, p in presets.items():
        assert sum(p["components"].values()) == pytest.approx(p["macs_per_pixel"])
        assert set(p["components"]) == {"arm", "upsampling", "synthesis"}
        # what an encode of that size reports (the ARM's inter-grid features included)
        assert p["macs_per_pixel"] == pytest.approx(macs_per_pixel(PRESETS[name], 512, 768)["total"])
    totals = [p["macs_per_pixel"] for p in presets.values()]
    assert min(totals) < 1000 and max(totals) <= 3000
    assert totals == sorted(totals)          # listed cheapest first
    code, stdout, _ = run(["profile", "--preset", "high", "--size", "37x53", "--json"], capsys)
    assert list(json.loads(stdout)["presets"]) == ["high"]


def test_real_entry_point_error_is_one_line(tmp_path):
    """Through a fresh interpreter, as a user runs it: no traceback, exit code 1."""
    r = subprocess.run([sys.executable, "-m", "inrcodec", "decode", str(tmp_path / "nope.inr")],
                       capture_output=True, text=True, cwd=ROOT)
    assert r.returncode == 1
    assert r.stderr.strip() == f"inrcodec: error: {tmp_path / 'nope.inr'}: no such file"


def test_decode_path_does_not_import_the_encoder(inr, tmp_path):
    """Decoding must not load training code (inrcodec.fit), the encoder, or encoder-only
    dependencies (scipy: GPRS tables)."""
    code = ("import sys; from inrcodec.cli import main; "
            f"rc = main(['decode', {str(inr)!r}, '-o', {str(tmp_path / 'd.png')!r}]); "
            "bad = [m for m in sys.modules "
            "if m.startswith(('inrcodec.fit', 'inrcodec.image.encoder', 'inrcodec.channel_sim.gprs', 'scipy'))]; "
            "print(rc, bad)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "0 []", r.stdout + r.stderr
