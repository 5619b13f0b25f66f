"""The RD benchmark's plumbing on a tiny crop: real fits, real files, one run, every output;
and the Cool-chic peer's plumbing with a fake Cool-chic."""
from __future__ import annotations

import csv
import json
import os
import sys

import numpy as np
import pytest

from benchmarks import coolchic, rd

KODIM23 = rd.KODAK / "kodim23.png"


def test_summarise_recovers_a_known_rate_factor():
    """A curve that needs 0.8x the bits of another at every PSNR has BD-rate -20 % against it."""
    rows = []
    for im in ("a", "b"):
        for q, (bpp, psnr) in enumerate([(0.2, 25.0), (0.4, 28.0), (0.8, 31.0), (1.6, 34.0)]):
            rows.append({"image": im, "codec": "anchor", "param": q, "bpp": bpp, "psnr": psnr})
            rows.append({"image": im, "codec": "ours", "param": q, "bpp": 0.8 * bpp,
                         "psnr": psnr})
    text, table = rd.summarise(rows, "ours", ["anchor"])
    assert table["anchor"]["bd_rate_mean"] == pytest.approx(-20.0, abs=1e-6)
    assert table["anchor"]["bd_rate_images"] == "2/2"
    assert table["anchor"]["dpsnr_at_equal_bpp"] > 0
    # identical images: both data-set curve conventions give the same exact answer
    assert table["anchor"]["bd_rate_mean_psnr_curve"] == pytest.approx(-20.0, abs=1e-6)
    assert table["anchor"]["bd_rate_mean_mse_curve"] == pytest.approx(-20.0, abs=1e-6)
    assert table["anchor"]["curve_images"] == 2
    assert "| anchor | -20.0 % | 2/2 | -20.0 % | -20.0 % |" in text


def test_curve_conventions_differ_when_images_differ():
    """Mean-of-PSNR and PSNR-of-mean-MSE curves: equal on one image, apart on unlike images."""
    rows = []
    for im, shift in (("easy", 6.0), ("hard", 0.0)):
        for q, bpp in enumerate([0.2, 0.4, 0.8, 1.6]):
            base = 25.0 + shift + 4.0 * np.log2(bpp / 0.2)
            rows.append({"image": im, "codec": "a", "param": q, "bpp": bpp, "psnr": base})
            # b is better on the easy image only
            rows.append({"image": im, "codec": "b", "param": q, "bpp": bpp,
                         "psnr": base + (1.0 if im == "easy" else 0.0)})
    bd_psnr, n = rd.curve_bd_rate(rows, "a", "b", "psnr")
    bd_mse, _ = rd.curve_bd_rate(rows, "a", "b", "mse")
    assert n == 2 and bd_psnr < bd_mse < 0      # the MSE mean is dominated by the hard image
    one = [r for r in rows if r["image"] == "easy"]
    assert rd.curve_bd_rate(one, "a", "b", "psnr")[0] == pytest.approx(
        rd.curve_bd_rate(one, "a", "b", "mse")[0], abs=1e-9)


@pytest.mark.skipif(not KODIM23.exists(), reason="needs ../shared/data/kodak")
def test_one_run_writes_csv_table_and_both_latent_codings(tmp_path, monkeypatch):
    monkeypatch.setattr(rd, "RESULTS", tmp_path)
    rd.main(["--size", "24", "--images", "kodim23", "--lmbdas", "0.02,0.002", "--iterations", "4",
             "--codecs", "jpeg,webp", "--workers", "1", "--latent-coding", "round,uq",
             "--tag", "plumbing"])
    lines = (tmp_path / "rd_plumbing.csv").read_text().splitlines()
    assert lines[0].startswith("# command: python -m benchmarks.rd --size 24")
    rows = list(csv.DictReader(lines[1:]))
    codecs = {r["codec"] for r in rows}
    assert {"inrcodec-auto", "inrcodec-auto-uq", "jpeg", "webp"} <= codecs
    ours = [r for r in rows if r["codec"].startswith("inrcodec")]
    assert len(ours) == 4
    for r in ours:      # bpp from the real file size of a 24x24 crop
        assert float(r["bpp"]) == pytest.approx(8 * int(r["bytes"]) / 24 ** 2)
        assert np.isfinite(float(r["psnr"])) and float(r["macs_per_pixel"]) > 0
    md = (tmp_path / "rd_plumbing.md").read_text()
    assert "| inrcodec-auto-uq vs |" in md and "| inrcodec-auto vs |" in md
    assert ("`auto` is the codec's default preset, picked by image size and λ: on 24x24, "
            "`low` at λ 0.02, `low` at λ 0.002.") in md
    summary = json.loads((tmp_path / "rd_plumbing.json").read_text())
    assert "auto: uq vs round" in summary and "webp" in summary["inrcodec-auto"]


# ------------------------------------------------------------------- Cool-chic peer plumbing
# A fake Cool-chic checkout (two scripts and a config) run through the real harness: the
# runner, the torchvision stand-in, the thread pinning, the log parsing and the scoring. The
# real Cool-chic is never run by the test suite (minutes per point); benchmarks/coolchic.py
# says how to run it.

FAKE_ENCODE = r'''
import json, os, sys
import numpy as np
import torch
from PIL import Image

args = sys.argv[1:]
def opt(name, default=None):
    for i, a in enumerate(args):
        if a == name:
            return args[i + 1]
        if a.startswith(name + "="):
            return a.split("=", 1)[1]
    return default

# what the harness promises Cool-chic: one thread, the stand-in torchvision, absolute paths
assert os.environ["OMP_NUM_THREADS"] == "1" and torch.get_num_threads() == 1
import torchvision
from torchvision.transforms.functional import to_tensor
assert "coolchic_shim" in torchvision.__file__, torchvision.__file__
pic = Image.open(opt("-i"))
x = to_tensor(pic)
ref = np.asarray(pic, dtype=np.uint8).transpose(2, 0, 1).astype(np.float32) / 255
assert x.dtype == torch.float32 and np.array_equal(x.numpy(), ref)
try:
    torchvision.models.vgg16()
    raise SystemExit("the stand-in's vgg16 should raise")
except RuntimeError as e:
    assert "stand-in" in str(e)
assert os.path.isfile(opt("--dec_cfg_residue")) and os.path.isdir(opt("--workdir"))
os.chdir(opt("--workdir"))              # as Cool-chic does: every path must be absolute
info = {"input": opt("-i"), "lmbda": float(opt("--lmbda")), "n_itr": opt("--n_itr"),
        "debug": "--debug" in args}
payload = json.dumps(info).encode()
open(opt("-o"), "wb").write(payload + b" " * (400 - len(payload)))   # a 400-byte "bitstream"
print("Device                    : cpu")
print("residue decoder:     1039 MAC / pixel")
print("Results at the end of the phase:")
print("--------------------------------")
print("loss       nn_bpp     latent_bpp dist_db    psnr_db    rate_bpp   time_sec   itr")
print("1.0        0.1        0.2        30.0       30.0       0.3        12.5       2000")
print("loss        psnr_db      rate_bpp    lmbda   seq_name   n_pixels")
print("2.0         41.1234567   0.5         0.01    input      576")
sys.exit(0)
'''

FAKE_DECODE = r'''
import argparse, json
import numpy as np
from PIL import Image
ap = argparse.ArgumentParser()
ap.add_argument("-i"); ap.add_argument("-o")
a = ap.parse_args()
info = json.loads(open(a.i, "rb").read().decode().strip())
img = np.asarray(Image.open(info["input"]), dtype=np.int16)
out = img.copy()
out[::2, ::2, 0] += np.where(img[::2, ::2, 0] < 255, 1, -1).astype(np.int16)  # one code off
Image.fromarray(out.astype(np.uint8)).save(a.o)
'''


@pytest.fixture
def fake_checkout(tmp_path):
    root = tmp_path / "coolchic"
    (root / "cfg" / "dec" / "intra").mkdir(parents=True)
    (root / "cfg" / "dec" / "intra" / "mop.cfg").write_text("arm_residue = 10,2/stabiliser\n")
    (root / "cc_encode.py").write_text(FAKE_ENCODE + '\n# version 5.0.1, June 2026\n')
    (root / "cc_decode.py").write_text(FAKE_DECODE)
    return root


def _crop(h=24, w=24):
    return np.random.default_rng(3).integers(0, 256, (h, w, 3), dtype=np.uint8)


def test_coolchic_jobs_and_arguments(fake_checkout):
    setup = coolchic.make_setup(fake_checkout, sys.executable)
    assert setup.curve == "coolchic-mop"
    with pytest.raises(coolchic.CoolchicError, match="2000"):
        coolchic.make_jobs(["a"], 24, [0.01], 200, 0, setup)
    jobs = coolchic.make_jobs(["a", "b"], 24, [0.01, 0.001], 2000, 7, setup)
    assert [(j.image, j.lmbda) for j in jobs] == [("a", 0.01), ("a", 0.001), ("b", 0.01),
                                                  ("b", 0.001)]
    args = coolchic.encode_args(jobs[0], "/x/in.png", "/x/o.cool", "/x/w")
    assert args[:6] == ["-i", "/x/in.png", "-o", "/x/o.cool", "--workdir", "/x/w"]
    assert f"--dec_cfg_residue={fake_checkout / 'cfg/dec/intra/mop.cfg'}" in args
    assert args[-4:] == ["--lmbda", "0.01", "--n_itr", "2000"]
    debug = coolchic.make_setup(fake_checkout, sys.executable, debug=True)
    job = coolchic.make_jobs(["a"], 24, [0.01], 10, 0, debug)[0]   # any budget under --debug
    assert coolchic.encode_args(job, "i", "o", "w")[-1] == "--debug"
    env = coolchic.subprocess_env(setup)
    assert env["OMP_NUM_THREADS"] == "1" and env["MKL_NUM_THREADS"] == "1"
    assert env["PYTHONPATH"].split(os.pathsep)[0] == str(coolchic.SHIM)
    assert coolchic.version(setup) == "5.0.1"
    with pytest.raises(coolchic.CoolchicError, match="not a Cool-chic checkout"):
        coolchic.make_setup(fake_checkout / "cfg", sys.executable)


def test_coolchic_log_parsing():
    log = ("Device                    : cpu\n\nresidue decoder:     1039 MAC / pixel\n"
           "Results at the end of the phase:\n------\n"
           "loss  nn_bpp  psnr_db  time_sec  itr\n1.2  0.1  31.0  230.5  1500\n"
           "Results at the end of the phase:\n------\n"
           "loss  nn_bpp  psnr_db  time_sec  itr\n1.1  0.1  31.5  250.0  2000\n"
           "loss   psnr_db   rate_bpp   lmbda\n2.0    31.6000   0.41    0.004\n"
           'INRCODEC_HARNESS {"seconds": 3.5, "exit": 0}\n')
    assert coolchic.parse_device(log) == "cpu"
    assert coolchic.parse_macs(log) == 1039.0
    assert coolchic.parse_training(log) == (250.0, 2000)     # the last phase: cumulative
    assert coolchic.parse_results(log) == {"loss": "2.0", "psnr_db": "31.6000",
                                           "rate_bpp": "0.41", "lmbda": "0.004"}
    assert coolchic.parse_marker(log) == {"seconds": 3.5, "exit": 0}
    with pytest.raises(coolchic.CoolchicError, match="INRCODEC_HARNESS"):
        coolchic.parse_marker("Traceback ...")
    assert coolchic.parse_macs("nothing") is None and coolchic.parse_training("") is None


def test_coolchic_point_through_the_real_harness(fake_checkout, monkeypatch, tmp_path):
    from benchmarks.metrics import psnr
    img = _crop()
    monkeypatch.setattr(rd, "load_crop", lambda name, size: img)
    setup = coolchic.make_setup(fake_checkout, sys.executable, keep=str(tmp_path / "keep"))
    info = coolchic.check(setup)
    assert info["threads"] == 1 and "coolchic_shim" in info["torchvision_file"]
    job = coolchic.make_jobs(["kodimXX"], 24, [0.01], 2000, 0, setup)[0]
    row = coolchic.coolchic_point(job)
    expected = img.astype(np.int16)
    expected[::2, ::2, 0] += np.where(img[::2, ::2, 0] < 255, 1, -1).astype(np.int16)
    assert row["codec"] == "coolchic-mop" and row["param"] == 0.01
    assert row["bytes"] == 400 and row["bpp"] == pytest.approx(8 * 400 / 24 ** 2)
    assert row["psnr"] == pytest.approx(psnr(img, expected.astype(np.uint8)))
    assert row["macs_per_pixel"] == 1039.0 and row["device"] == "cpu"
    assert row["peer_psnr"] == pytest.approx(41.1234567)
    assert (row["train_s"], row["train_iterations"]) == (12.5, 2000)
    assert row["iterations"] == 2000 and 0 < row["encode_s"] < 60 and 0 < row["decode_s"] < 60
    kept = list((tmp_path / "keep").iterdir())
    assert len(kept) == 1 and (kept[0] / "encode.log").is_file()
    cool = json.loads((kept[0] / "image.cool").read_bytes().decode().strip())
    assert cool["lmbda"] == 0.01 and cool["n_itr"] == "2000" and not cool["debug"]


def test_coolchic_failure_is_reported(fake_checkout, monkeypatch):
    monkeypatch.setattr(rd, "load_crop", lambda name, size: _crop())
    (fake_checkout / "cc_encode.py").write_text("import sys\nprint('boom')\nsys.exit(3)\n")
    setup = coolchic.make_setup(fake_checkout, sys.executable)
    job = coolchic.make_jobs(["x"], 24, [0.01], 2000, 0, setup)[0]
    with pytest.raises(coolchic.CoolchicError, match=r"(?s)encode failed \(exit 3\).*boom"):
        coolchic.coolchic_point(job)


@pytest.mark.skipif(not KODIM23.exists(), reason="needs ../shared/data/kodak")
def test_rd_run_with_the_coolchic_peer(fake_checkout, tmp_path, monkeypatch):
    monkeypatch.setattr(rd, "RESULTS", tmp_path)
    rd.main(["--size", "24", "--images", "kodim23", "--lmbdas", "0.02", "--preset", "none",
             "--codecs", "jpeg", "--workers", "1", "--coolchic", str(fake_checkout),
             "--coolchic-python", sys.executable, "--tag", "ccfake"])
    lines = (tmp_path / "rd_ccfake.csv").read_text().splitlines()
    rows = list(csv.DictReader(lines[1:]))
    cc = [r for r in rows if r["codec"] == "coolchic-mop"]
    assert [float(r["param"]) for r in cc] == [0.02]
    assert float(cc[0]["bpp"]) == pytest.approx(8 * 400 / 24 ** 2)
    assert all(r["macs_per_pixel"] == "1039.0" and r["iterations"] == "2000" for r in cc)
    md = (tmp_path / "rd_ccfake.md").read_text()
    assert "| coolchic-mop vs |" in md and "coolchic-mop: Cool-chic 5.0.1 from" in md
    assert "BD-rate, PSNR-of-mean-MSE curves" in md
    assert "coolchic-mop decoder: 1039 MACs/pixel at this size" in md
    summary = json.loads((tmp_path / "rd_ccfake.json").read_text())
    assert "bd_rate_mean_mse_curve" in summary["coolchic-mop (peer)"]["jpeg"]
    # the same peer points again, read from that run's CSV instead of run (--peer-from)
    rd.main(["--size", "24", "--images", "kodim23", "--lmbdas", "0.02", "--preset", "none",
             "--codecs", "jpeg", "--workers", "1", "--peer-from", str(tmp_path / "rd_ccfake.csv"),
             "--tag", "ccfrom"])
    md = (tmp_path / "rd_ccfrom.md").read_text()
    assert "| coolchic-mop vs |" in md and "its points are read from" in md
    rows = list(csv.DictReader((tmp_path / "rd_ccfrom.csv").read_text().splitlines()[1:]))
    assert [r["bpp"] for r in rows if r["codec"] == "coolchic-mop"] == [cc[0]["bpp"]]


def test_peer_points_read_a_committed_run_and_refuse_a_different_one(tmp_path):
    """--peer-from: the Cool-chic rows of the asked images and lambdas, typed as a live run's;
    a file made with other iterations, or lacking a point, is refused."""
    path = tmp_path / "rd_x.csv"
    path.write_text("# command: python -m benchmarks.rd --size 64 --iterations 300 --coolchic c\n"
                    "image,codec,param,bytes,bpp,psnr,encode_s,decode_s,iterations,device,"
                    "macs_per_pixel,peer_psnr,train_s,train_iterations\n"
                    "a,jpeg,10,100,0.2,25.0,0.1,0.1,,cpu,,,,\n"
                    "a,coolchic-mop,0.004,200,0.39,30.5,50,1,300,cpu,1039.0,30.5,40,300\n"
                    "a,coolchic-mop,0.001,300,0.59,32.5,50,1,300,cpu,1039.0,32.5,40,300\n")
    rows, command = rd.peer_points(path, ["a"], [0.004], 64, 300)
    assert command.startswith("python -m benchmarks.rd --size 64")
    assert [(r["codec"], r["param"], r["bpp"], r["iterations"]) for r in rows] == \
        [("coolchic-mop", 0.004, 0.39, 300)]
    with pytest.raises(ValueError, match="--iterations 300"):
        rd.peer_points(path, ["a"], [0.004], 64, 2000)
    with pytest.raises(ValueError, match="lacks"):
        rd.peer_points(path, ["a", "b"], [0.004], 64, 300)
