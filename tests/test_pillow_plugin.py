"""Pillow opens .inr pictures after `import inrcodec.pillow_plugin` (inrcodec/pillow_plugin.py)."""
from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image, UnidentifiedImageError

import inrcodec
import inrcodec.pillow_plugin  # noqa: F401  (registers the plugin)
from inrcodec.bitstream import FORMAT_VERSION

from conftest import ROOT

GOLDEN = ROOT / "tests" / "golden"


def test_a_picture_opens_as_its_decode():
    path = GOLDEN / f"v{FORMAT_VERSION}_image.inr"
    im = Image.open(path)
    assert (im.format, im.mode) == ("INR", "RGB")
    decoded = inrcodec.decode(path.read_bytes())
    assert im.size == (decoded.shape[1], decoded.shape[0])
    np.testing.assert_array_equal(np.asarray(im), decoded)
    out = io.BytesIO()
    im.save(out, "PNG")
    np.testing.assert_array_equal(np.asarray(Image.open(out)), decoded)


def test_grey_and_rec_pictures(tmp_path):
    from hostile_files import flat_image_file
    path = tmp_path / "g.inr"
    path.write_bytes(flat_image_file(9, 7, channels=1))
    im = Image.open(path)
    assert im.mode == "L" and im.size == (7, 9)
    rec = GOLDEN / f"v{FORMAT_VERSION}_rec.inr"
    np.testing.assert_array_equal(np.asarray(Image.open(rec)), inrcodec.decode(rec.read_bytes()))


def test_a_video_or_a_damaged_file_is_not_opened_as_a_picture(tmp_path):
    with pytest.raises(UnidentifiedImageError):
        Image.open(GOLDEN / f"v{FORMAT_VERSION}_video.inr")
    data = (GOLDEN / f"v{FORMAT_VERSION}_image.inr").read_bytes()
    cut = tmp_path / "cut.inr"
    cut.write_bytes(data[:-9])
    with pytest.raises(UnidentifiedImageError):
        Image.open(cut)
