"""Pixel arrays as every encoder takes them: uint8 [H, W, C], C = 1 (grey) or 3 (RGB)."""
from __future__ import annotations

import numpy as np

from .bitstream import MAX_PIXELS, MAX_SIDE
from .errors import InrcodecError


def validate_image(image) -> np.ndarray:
    """The picture as uint8 [H, W, 1|3] (an [H, W] grey array gains its channel axis), or a
    clear refusal."""
    if not isinstance(image, np.ndarray):
        raise InrcodecError("image must be a numpy array")
    if image.ndim == 2:
        image = image[:, :, None]
    if image.ndim != 3 or image.shape[2] not in (1, 3):
        shape = "x".join(map(str, image.shape))
        if image.ndim == 3 and image.shape[2] in (2, 4):
            raise InrcodecError("images with an alpha channel are not supported; flatten it first")
        raise InrcodecError(f"expected an HxW grey or HxWx3 RGB image, got shape {shape}")
    if image.dtype != np.uint8:
        raise InrcodecError(f"expected 8-bit samples, got {image.dtype}")
    h, w = image.shape[:2]
    if h == 0 or w == 0:
        raise InrcodecError("image has zero size")
    if h * w > MAX_PIXELS or max(h, w) > MAX_SIDE:
        raise InrcodecError(f"image of {w}x{h} is too large")
    return image
