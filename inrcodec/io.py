"""Reading images and writing outputs: validation up front, atomic writes, no silent overwrites."""
from __future__ import annotations

import os
import tempfile
import warnings
from pathlib import Path

import imageio.v3 as iio
import numpy as np

from .errors import InrcodecError

LOSSLESS_SUFFIXES = {".png", ".ppm", ".pgm", ".pnm", ".bmp", ".tif", ".tiff"}
MAX_INPUT_BYTES = 1 << 30


def read_image(path: str | os.PathLike) -> np.ndarray:
    """Any still image imageio reads -> uint8 [H, W, 1|3]. Opaque alpha is dropped; real alpha,
    16-bit/float samples and multi-frame files are refused with a clear message."""
    p = Path(path)
    if not p.exists():
        raise InrcodecError(f"{path}: no such file")
    if p.is_dir():
        raise InrcodecError(f"{path}: is a directory")
    if p.stat().st_size == 0:
        raise InrcodecError(f"{path}: file is empty")
    if p.stat().st_size > MAX_INPUT_BYTES:
        raise InrcodecError(f"{path}: file is larger than 1 GiB")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = iio.imread(p, index=0)
    except Exception as exc:  # imageio/Pillow raise many types for bad files
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise InrcodecError(f"{path}: cannot read as an image ({reason[:200]})") from None
    image = np.asarray(image)
    if image.ndim == 3 and image.shape[2] in (2, 4):
        alpha = image[..., -1]
        full = np.iinfo(image.dtype).max if image.dtype.kind in "ui" else 1.0
        if not np.all(alpha == full):
            raise InrcodecError(f"{path}: images with transparency are not supported; flatten the alpha channel first")
        image = image[..., :-1]
    if image.ndim not in (2, 3) or (image.ndim == 3 and image.shape[2] not in (1, 3)):
        raise InrcodecError(f"{path}: unsupported image layout {image.shape} (multi-frame or multi-channel)")
    if image.dtype != np.uint8:
        if image.dtype == bool:
            image = image.astype(np.uint8) * 255
        else:
            raise InrcodecError(f"{path}: {image.dtype} samples are not supported (8-bit images only)")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.size == 0:
        raise InrcodecError(f"{path}: image has zero size")
    return np.ascontiguousarray(image)


def read_bytes(path: str | os.PathLike) -> bytes:
    p = Path(path)
    if not p.exists():
        raise InrcodecError(f"{path}: no such file")
    if p.is_dir():
        raise InrcodecError(f"{path}: is a directory")
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror})") from None


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Fail early (before a long fit) if the output cannot or must not be written."""
    p = Path(path)
    if p.is_dir():
        raise InrcodecError(f"{path}: is a directory")
    if p.exists() and not force:
        raise InrcodecError(f"{path}: already exists (use --force to overwrite)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InrcodecError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InrcodecError(f"{path}: directory {parent} is not writable")
    return p


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: bytes, force: bool) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written file."""
    p = check_writable(path, force)
    fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())   # mkstemp makes 0600; a new file normally gets 0666-umask
        if p.exists() and not force:   # appeared meanwhile
            raise InrcodecError(f"{path}: already exists (use --force to overwrite)")
        os.replace(tmp, p)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot write ({exc.strerror})") from None
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


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
