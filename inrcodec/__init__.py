"""inrcodec: compress an image by overfitting a tiny neural network to it.

    data = inrcodec.encode(image_uint8_hwc, lmbda=1e-3, preset="low")
    image = inrcodec.decode(data)          # any .inr file: a picture [H, W, C], a clip [N, H, W, C]

The encoder (inrcodec.image.encoder, with the training code in inrcodec.fit) is imported on first
use only, so decoding never loads it.
"""
from .errors import InrcodecError
from .modes import decode
from .options import EncodeOptions

__all__ = ["encode", "decode", "encode_with_report", "EncodeOptions", "InrcodecError"]
__version__ = "0.1.0"


def encode(image, options=None, **kwargs) -> bytes:
    """Encode a uint8 image [H, W, C] (or [H, W] grey) into .inr bytes; see encode_with_report."""
    return encode_with_report(image, options, **kwargs)[0]


def encode_with_report(image, options=None, **kwargs):
    """(file bytes, report): options (an EncodeOptions) or keyword arguments lmbda, preset,
    iterations, time_budget, device, seed; also progress, latent_coding."""
    from .image.encoder import encode_with_report as _encode_with_report
    return _encode_with_report(image, options, **kwargs)
