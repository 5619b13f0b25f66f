"""``to_tensor`` for 8-bit PIL images: the one torchvision function a Cool-chic image encode
runs."""
from __future__ import annotations

import numpy as np
import torch

EIGHT_BIT_MODES = ("L", "LA", "P", "RGB", "RGBA", "RGBX", "CMYK", "YCbCr", "LAB", "HSV")


def to_tensor(pic) -> torch.Tensor:
    """PIL image (8-bit mode) or uint8 HWC array -> float tensor CHW in [0, 1].

    Same result as torchvision's ``to_tensor`` for these inputs: the uint8 values, channels
    first, converted to the default float dtype and divided by 255.
    """
    if isinstance(pic, np.ndarray):
        if pic.dtype != np.uint8:
            raise TypeError(f"to_tensor stand-in: only uint8 arrays, got {pic.dtype}")
        arr = pic
    else:
        mode = getattr(pic, "mode", None)
        if mode not in EIGHT_BIT_MODES:
            raise TypeError(f"to_tensor stand-in: PIL mode {mode!r} is not an 8-bit mode "
                            f"(supported: {', '.join(EIGHT_BIT_MODES)})")
        arr = np.array(pic, dtype=np.uint8, copy=True)
    if arr.ndim == 2:
        arr = arr[:, :, None]
    img = torch.from_numpy(np.ascontiguousarray(arr)).permute(2, 0, 1).contiguous()
    return img.to(dtype=torch.get_default_dtype()).div(255)
