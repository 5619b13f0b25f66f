"""Where a fit runs: "auto" (CUDA when there is one), "cpu" or "cuda"."""
from __future__ import annotations

import torch

from ..errors import InrcodecError
from ..options import DEVICES


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise InrcodecError("--device cuda requested but no CUDA device is available")
    if device not in DEVICES:
        raise InrcodecError(f"unknown device {device!r} ({', '.join(DEVICES)})")
    return torch.device(device)
