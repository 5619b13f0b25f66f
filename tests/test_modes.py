"""The mode table (inrcodec/modes.py): every dispatcher goes through it, so a mode registered at
run time (tests/toy_mode.py) is decoded, described and batch-decoded with no other file edited;
and every encoder takes the one EncodeOptions, numpy scalars included."""
from __future__ import annotations

import csv
import json

import imageio.v3 as iio
import numpy as np
import pytest

import inrcodec
from inrcodec import bitstream, modes
from inrcodec.errors import InrcodecError
from inrcodec.options import EncodeOptions

from cli_helpers import assert_one_line_error, run
from hostile_files import flat_image_file
from toy_mode import MODE as TOY, TOY_BYTE, pack


@pytest.fixture
def toy():
    modes.register(TOY)
    yield TOY
    modes.unregister(TOY_BYTE)


def _picture(h=6, w=9, c=3, seed=0):
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def test_every_built_in_mode_is_in_the_table():
    for byte, name, kind in ((bitstream.MODE_IMAGE, "image", "image"),
                             (bitstream.MODE_VIDEO, "video", "video"),
                             (bitstream.MODE_REC, "rec", "image")):
        mode = modes.by_byte(byte)
        assert (mode.byte, mode.name, mode.kind) == (byte, name, kind)
        assert modes.by_name(name) is mode


def test_an_unknown_mode_is_a_clear_error():
    data = bitstream.pack(201, b"", [])
    with pytest.raises(InrcodecError, match="unknown coding mode 201"):
        inrcodec.decode(data)


def test_a_registered_mode_decodes_through_the_library(toy):
    image = _picture()
    assert np.array_equal(inrcodec.decode(pack(image)), image)
    assert modes.info(pack(image))["mode"] == "toy"
    with pytest.raises(InrcodecError, match="max-pixels"):
        inrcodec.decode(pack(image), max_pixels=10)


def test_a_registered_mode_through_the_command_line(toy, tmp_path, capsys):
    image = _picture(5, 7, 1)
    path = tmp_path / "t.inr"
    path.write_bytes(pack(image))
    code, out, _ = run(["info", path], capsys)
    assert code == 0 and "toy, 7x5, 1 channel(s)" in out and "raw: true" in out
    code, out, _ = run(["info", path, "--json"], capsys)
    assert code == 0 and json.loads(out)["mode"] == "toy"
    code, _, _ = run(["decode", path, "-o", tmp_path / "t.png"], capsys)
    assert code == 0
    assert np.array_equal(iio.imread(tmp_path / "t.png"), image[:, :, 0])
    code, _, err = run(["decode", path, "-o", tmp_path / "u.png", "--max-pixels", "10"], capsys)
    assert_one_line_error(code, err, "max-pixels")


def test_a_registered_mode_through_decode_batch(toy, tmp_path, capsys):
    """The batch workers are other processes: the mode travels with each file's bytes."""
    tree = tmp_path / "coded"
    tree.mkdir()
    image = _picture(4, 6, 3, seed=1)
    (tree / "t.inr").write_bytes(pack(image))
    (tree / "i.inr").write_bytes(flat_image_file(8, 8))
    code, out, _ = run(["decode-batch", tree, "-o", tmp_path / "out", "--workers", 1], capsys)
    assert code == 0 and "2 decoded, 0 skipped, 0 failed" in out
    assert np.array_equal(iio.imread(tmp_path / "out" / "t.png"), image)
    with open(tmp_path / "out" / "results.csv") as f:
        rows = {r["path"]: r for r in csv.DictReader(f)}
    assert rows["t.inr"]["status"] == "ok" and rows["t.inr"]["width"] == "6"


def test_options_take_numpy_scalars_with_one_check():
    o = EncodeOptions(lmbda=np.float32(0.004), iterations=np.int64(3), seed=np.uint64(7))
    assert (type(o.lmbda), type(o.iterations), type(o.seed)) == (float, int, int)
    assert o.steps("cpu") == 3 and EncodeOptions().steps("cuda") == 10000
    assert EncodeOptions(time_budget=np.float64(2)).steps("cpu") is None
    for bad, fragment in (({"lmbda": 0}, "lmbda"), ({"lmbda": np.float32(1e9)}, "lmbda"),
                          ({"iterations": -1}, "iterations"), ({"iterations": 2.5}, "iterations"),
                          ({"seed": 1 << 64}, "seed"), ({"seed": True}, "seed"),
                          ({"time_budget": 0.0}, "time budget"), ({"device": "tpu"}, "device"),
                          ({"preset": "huge"}, "preset"),
                          ({"iterations": 5, "time_budget": 1.0}, "not both")):
        with pytest.raises(InrcodecError, match=fragment):
            EncodeOptions(**bad)
    with pytest.raises(InrcodecError, match="unknown encode option"):
        EncodeOptions.build(quality=5)


def test_every_encoder_takes_numpy_scalars(photo):
    """The image, video and rec encoders share EncodeOptions: numpy scalars work in each."""
    from inrcodec.variational import encode_rec_with_report
    from inrcodec.video import decode_video, encode_video_with_report
    image = np.ascontiguousarray(photo[:8, :8])
    scalars = dict(lmbda=np.float32(1e-3), iterations=np.int64(2), seed=np.uint64(3), device="cpu")
    data, report = inrcodec.encode_with_report(image, **scalars)
    assert report["iterations"] == 2 and isinstance(report["lmbda"], float)
    json.dumps(report)
    data, report = encode_video_with_report(np.stack([image, image]), 25, group=np.int64(2),
                                            **scalars)
    assert isinstance(report["lmbda"], float) and decode_video(data).shape == (2, 8, 8, 3)
    json.dumps(report)
    data, report = encode_rec_with_report(image, **{**scalars, "iterations": np.int64(3)})
    assert report["iterations"] == 3 and inrcodec.decode(data).shape == (8, 8, 3)
    json.dumps(report)
    options = EncodeOptions(lmbda=np.float32(2e-3), iterations=np.int64(2))
    assert inrcodec.decode(inrcodec.encode(image, options, device="cpu")).shape == (8, 8, 3)
