"""Picture files: reading any still image as a viewer shows it (or refusing it with the reason),
and writing decoded pictures as lossless files. Byte-level file handling is in files.py."""
from __future__ import annotations

import io
import os
import re
import warnings
from pathlib import Path
from typing import Callable

import imageio.v3 as iio
import numpy as np

from .errors import InrcodecError
from .files import open_input, read_stream, write_atomic

LOSSLESS_SUFFIXES = {".png", ".ppm", ".pgm", ".pnm", ".bmp", ".tif", ".tiff"}
MAX_INPUT_BYTES = 1 << 30


SizeCheck = Callable[[int, int, int], None]    # (height, width, channels) -> None or raise


def read_image(path: str | os.PathLike, check_size: SizeCheck | None = None) -> np.ndarray:
    """Any still image Pillow reads -> uint8 [H, W, 1|3], as a viewer shows it.

    - 8-bit grey and RGB are read as they are; 1-bit becomes 0/255 grey; palette images become
      RGB (or grey when the palette is grey).
    - An alpha channel (RGBA, grey + alpha, or a palette with a transparent entry) is dropped if
      every pixel is opaque, otherwise refused.
    - EXIF orientation is applied (a portrait phone photo stays portrait).
    - Refused with the reason: a file Pillow's strict load refuses (corrupt or truncated: never
      half a picture), more than 8 bits per sample (16-bit PNG/TIFF, PPM/PGM with maxval over
      255, float), CMYK and other colour spaces, multi-frame files (animated GIF/PNG/WebP,
      multi-page TIFF).
    - A pipe (`-` for stdin, a named pipe) is read up to MAX_INPUT_BYTES; a device or a socket is
      refused (files.py).

    check_size(height, width, channels) is called once the size is known from the file's header,
    before the pixels are decoded (the encoder's memory check)."""
    from PIL import Image, UnidentifiedImageError

    stream, size = open_input(path, MAX_INPUT_BYTES, "image")
    with stream:
        if size is None:                       # a pipe: its bytes, bounded
            stream = io.BytesIO(read_stream(stream, path, MAX_INPUT_BYTES, "image"))
            size = len(stream.getvalue())
        if size == 0:
            raise InrcodecError(f"{path}: file is empty")
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                im = Image.open(stream)
        except UnidentifiedImageError:
            raise InrcodecError(f"{path}: cannot read as an image (not a format this build "
                                "reads)") from None
        except OSError as exc:
            if getattr(exc, "errno", None):
                raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
            raise InrcodecError(f"{path}: cannot read as an image ({_reason(exc)})") from None
        except Exception as exc:  # Pillow raises many types for bad files
            raise InrcodecError(f"{path}: cannot read as an image ({_reason(exc)})") from None
        with im, warnings.catch_warnings():
            warnings.simplefilter("ignore")        # Pillow's notes on damaged metadata
            return _from_pillow(im, path, check_size)


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
    return text[:200]


_PALETTE_MODES = ("P", "PA")
_GREY_MODES = ("1", "L", "LA", "La")
_RGB_MODES = ("RGB", "RGBA", "RGBa", "RGBX")


def _sample_bits(im) -> int:
    """Bits per sample the file stores, as far as Pillow tells: a 16-bit RGB(A) PNG or TIFF opens
    in an 8-bit mode (Pillow keeps the top byte), recognisable only by its raw mode."""
    if im.format == "PPM":                 # maxval decides: 1000 -> 10 bits, 65535 -> 16
        for tile in getattr(im, "tile", None) or []:
            args = tile[3] if len(tile) > 3 else None
            if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], int):
                return max(8, int(args[1]).bit_length())
            if args == "I;16B":
                return 16
    if im.mode.startswith("I;16") or im.mode in ("I", "F"):
        return 16 if im.mode.startswith("I;16") else 32
    bits = 8
    for tile in getattr(im, "tile", None) or []:
        args = tile[3] if len(tile) > 3 else None
        raw = args if isinstance(args, str) else (args[0] if isinstance(args, tuple) and args
                                                  and isinstance(args[0], str) else "")
        m = re.fullmatch(r"[A-Z]+;(16|32)[BLNSF]*", raw)    # RGB;16B, RGBA;16L, LA;16B, F;32F
        if m and not raw.startswith("BGR"):                    # BGR;15, BGR;16: 5-6-5 BMP, 8-bit
            bits = max(bits, int(m.group(1)))
    return bits


def _orientation(im, loaded: bool) -> int:
    """The EXIF orientation (1: as stored). Before the pixels are loaded only where reading it
    loads nothing: Pillow reads a PNG's EXIF by loading the picture and swallowing its errors,
    so that waits for the strict load."""
    if not loaded and im.format == "PNG" and "exif" not in im.info:
        return 1
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return int(im.getexif().get(0x0112, 1) or 1)
    except Exception:           # a broken EXIF block is not worth refusing the picture for
        return 1


def _from_pillow(im, path, check_size: SizeCheck | None) -> np.ndarray:
    from PIL import Image, ImageFile, ImageOps
    try:
        frames = getattr(im, "n_frames", 1)      # walks the frame chain: a broken one is a broken file
    except Exception as exc:
        raise InrcodecError(f"{path}: cannot read as an image ({_reason(exc)})") from None
    if frames > 1:
        raise InrcodecError(f"{path}: has {frames} frames (animated or multi-page); only still "
                            "images are encoded (a video goes in as a video file or a directory of frames)")
    mode = im.mode
    if _sample_bits(im) > 8:
        raise InrcodecError(f"{path}: {_sample_bits(im)}-bit samples are not supported (8-bit "
                            "images only); convert it to 8 bits per sample first")
    if mode == "CMYK":
        raise InrcodecError(f"{path}: CMYK images are not supported; convert it to RGB first "
                            "(with its colour profile, for faithful colours)")
    if mode not in _PALETTE_MODES + _GREY_MODES + _RGB_MODES + ("YCbCr",):
        raise InrcodecError(f"{path}: {mode} images are not supported (8-bit grey or RGB only)")
    width, height = im.size
    if width == 0 or height == 0:
        raise InrcodecError(f"{path}: image has zero size")
    channels = 1 if mode in _GREY_MODES else 3    # a palette's greyness is known after load
    if _orientation(im, loaded=False) in (5, 6, 7, 8):
        height, width = width, height
    if check_size is not None:
        check_size(height, width, channels)
    old_limit, old_truncated = Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            Image.MAX_IMAGE_PIXELS = None      # our own limits apply (check_size, the encoder's)
            ImageFile.LOAD_TRUNCATED_IMAGES = False      # a damaged file is refused, never half read
            im.load()
            orientation = _orientation(im, loaded=True)
            grey_palette = False
            if mode in _PALETTE_MODES:
                palette = im.getpalette() or []
                rgb = np.asarray(palette[:len(palette) - len(palette) % 3], np.int64).reshape(-1, 3)
                grey_palette = rgb.size > 0 and bool(np.all(rgb == rgb[:, :1]))
            has_alpha = mode in ("RGBA", "RGBa", "LA", "La", "PA") or (
                mode in _PALETTE_MODES + ("L", "RGB") and "transparency" in im.info)
            if has_alpha:
                im = im.convert("LA" if channels == 1 else "RGBA")
            elif mode == "1" or grey_palette:
                im = im.convert("L")
            elif mode in _PALETTE_MODES + ("YCbCr", "RGBX"):
                im = im.convert("RGB")
            if orientation != 1:
                im = ImageOps.exif_transpose(im)
            image = np.array(im)          # a writable copy (asarray of an Image is read-only)
    except InrcodecError:
        raise
    except MemoryError:
        raise InrcodecError(f"{path}: out of memory while reading a {width}x{height} image") from None
    except Exception as exc:
        raise InrcodecError(f"{path}: cannot read as an image ({_reason(exc)})") from None
    finally:
        Image.MAX_IMAGE_PIXELS, ImageFile.LOAD_TRUNCATED_IMAGES = old_limit, old_truncated
    return _finish(image, path)


def _finish(image: np.ndarray, path) -> np.ndarray:
    """The array Pillow gave (uint8, its alpha still there): opaque alpha dropped, transparency
    refused, the layout checked, grey given its channel axis."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        alpha = image[..., -1]
        if not np.all(alpha == 255):
            raise InrcodecError(f"{path}: images with transparency are not supported; flatten the alpha channel first")
        image = image[..., :-1]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise InrcodecError(f"{path}: unsupported image layout {image.shape} (multi-frame or multi-channel)")
    if image.dtype != np.uint8:
        raise InrcodecError(f"{path}: {image.dtype} samples are not supported (8-bit images only)")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.size == 0:
        raise InrcodecError(f"{path}: image has zero size")
    return np.ascontiguousarray(image)


def encode_image_file(image: np.ndarray, suffix: str) -> bytes:
    """uint8 [H, W, C] -> bytes of a lossless image file of the given suffix."""
    suffix = suffix.lower()
    if suffix not in LOSSLESS_SUFFIXES:
        raise InrcodecError(f"output must be a lossless image ({', '.join(sorted(LOSSLESS_SUFFIXES))}), got '{suffix or 'no extension'}'")
    if image.shape[2] == 1:
        image = image[:, :, 0]
    return iio.imwrite("<bytes>", image, extension=suffix)


def write_image(path: str | os.PathLike, image: np.ndarray, force: bool) -> None:
    write_atomic(path, encode_image_file(image, Path(path).suffix), force)
