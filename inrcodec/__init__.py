"""inrcodec: compress an image by overfitting a tiny neural network to it.

    data = inrcodec.encode(image_uint8_hwc, lmbda=1e-3, preset="low")
    image = inrcodec.decode(data)

The encoder (inrcodec.encoder, with the training code in inrcodec.fit) is imported on first use
only, so decoding never loads it.
"""
from .decode import decode
from .errors import InrcodecError

__all__ = ["encode", "decode", "encode_with_report", "InrcodecError"]
__version__ = "0.1.0"


def encode(image, **kwargs) -> bytes:
    """Encode a uint8 image [H, W, C] (or [H, W] grey) into .inr bytes; see encode_with_report."""
    from .encoder import encode as _encode
    return _encode(image, **kwargs)


def encode_with_report(image, **kwargs):
    """(file bytes, report): keyword arguments lmbda, preset, iterations, device, seed, progress."""
    from .encoder import encode_with_report as _encode_with_report
    return _encode_with_report(image, **kwargs)
