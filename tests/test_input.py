"""Reading input images as README says: what is converted, what is refused, and why (issue 22)."""
from __future__ import annotations

import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from inrcodec import image_files
from inrcodec.errors import InrcodecError

from cli_helpers import assert_one_line_error, run


def _png16(path, array: np.ndarray) -> None:
    """A 16-bit PNG (grey, RGB or RGBA) written by hand: Pillow cannot write 16-bit colour."""
    h, w, c = array.shape
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[c]
    raw = b"".join(b"\0" + array[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind, body):
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    path.write_bytes(b"\x89PNG\r\n\x1a\n"
                     + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


@pytest.fixture
def rgb(photo) -> np.ndarray:
    return np.ascontiguousarray(photo[40:48, 60:70])      # 8 x 10


@pytest.mark.parametrize("channels", [3, 4, 1])
def test_16_bit_png_is_refused_not_truncated(tmp_path, rgb, channels):
    """Pillow opens a 16-bit RGB(A) PNG in 8-bit mode (keeping the top byte): silent damage."""
    a = rgb.astype(np.uint16) * 257 + 3
    a = np.dstack([a, np.full(a.shape[:2], 65535, np.uint16)]) if channels == 4 else a[:, :, :channels]
    _png16(tmp_path / "deep.png", a)
    with pytest.raises(InrcodecError, match="16-bit samples are not supported"):
        image_files.read_image(tmp_path / "deep.png")


def test_palette_with_transparency(tmp_path, rgb, capsys):
    pal = Image.fromarray(rgb).quantize(16)
    used = np.unique(np.asarray(pal))
    pal.save(tmp_path / "see_through.png", transparency=int(used[0]))
    code, _, err = run(["encode", tmp_path / "see_through.png", "--iterations", 1], capsys)
    assert_one_line_error(code, err, "transparency")
    # a transparent entry no pixel uses leaves the picture opaque: read as RGB
    unused = next(k for k in range(256) if k not in used)
    pal.save(tmp_path / "opaque.png", transparency=unused)
    image = image_files.read_image(tmp_path / "opaque.png")
    assert image.shape == (8, 10, 3)
    assert np.array_equal(image, np.asarray(pal.convert("RGB")))
    # a grey palette is read as one grey channel
    grey = Image.fromarray(rgb[:, :, 1]).convert("P")
    grey.save(tmp_path / "grey_palette.png")
    assert np.array_equal(image_files.read_image(tmp_path / "grey_palette.png")[:, :, 0], rgb[:, :, 1])


@pytest.mark.parametrize("suffix", [".gif", ".tif", ".png"])
def test_multi_frame_files_are_refused(tmp_path, rgb, suffix):
    frames = [Image.fromarray(np.roll(rgb, k, axis=1)) for k in range(3)]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(InrcodecError, match="has 3 frames"):
        image_files.read_image(path)


def test_cmyk_gets_its_true_reason(tmp_path):
    Image.new("CMYK", (10, 8), (10, 20, 30, 40)).save(tmp_path / "print.jpg")
    with pytest.raises(InrcodecError, match="CMYK images are not supported") as exc:
        image_files.read_image(tmp_path / "print.jpg")
    assert "transparency" not in str(exc.value)


@pytest.mark.parametrize("orientation,expected", [
    (1, lambda a: a),
    (3, lambda a: a[::-1, ::-1]),
    (6, lambda a: np.rot90(a, -1)),       # the camera was turned right: shown rotated clockwise
    (8, lambda a: np.rot90(a, 1)),
    (2, lambda a: a[:, ::-1]),
])
def test_exif_orientation_is_applied(tmp_path, rgb, orientation, expected):
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(tmp_path / "phone.png", exif=exif.tobytes())
    image = image_files.read_image(tmp_path / "phone.png")
    assert np.array_equal(image, expected(rgb))


def test_plain_inputs_still_read(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    assert np.array_equal(image_files.read_image(tmp_path / "a.png"), rgb)
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "g.png")
    assert np.array_equal(image_files.read_image(tmp_path / "g.png")[:, :, 0], rgb[:, :, 0])
    Image.fromarray(rgb[:, :, 0] > 128).save(tmp_path / "bw.png")
    assert set(np.unique(image_files.read_image(tmp_path / "bw.png"))) <= {0, 255}
    Image.fromarray(rgb).save(tmp_path / "a.bmp")
    assert np.array_equal(image_files.read_image(tmp_path / "a.bmp"), rgb)
    Image.fromarray(rgb).save(tmp_path / "a.ppm")
    image = image_files.read_image(tmp_path / "a.ppm")
    assert np.array_equal(image, rgb) and image.flags.writeable
    Image.fromarray(rgb).save(tmp_path / "a.jpg", quality=95)
    assert np.abs(image_files.read_image(tmp_path / "a.jpg").astype(int) - rgb).mean() < 8


def test_size_is_checked_before_the_pixels_are_decoded(tmp_path, rgb):
    Image.fromarray(rgb).save(tmp_path / "a.png")
    seen = []

    def refuse(h, w, c):
        seen.append((h, w, c))
        raise InrcodecError("too big")
    with pytest.raises(InrcodecError, match="too big"):
        image_files.read_image(tmp_path / "a.png", check_size=refuse)
    assert seen == [(8, 10, 3)]
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(rgb[:, :, 0]).save(tmp_path / "r.png", exif=exif.tobytes())
    with pytest.raises(InrcodecError):
        image_files.read_image(tmp_path / "r.png", check_size=refuse)
    assert seen[-1] == (10, 8, 1)              # the size as shown, after the rotation
