"""inrcodec: compress an image by overfitting a tiny neural network to it.

    data = inrcodec.encode(image_uint8_hwc, lmbda=1e-3, preset="low")
    image = inrcodec.decode(data)
"""
from .decode import decode
from .encode import encode, encode_with_report
from .errors import InrcodecError

__all__ = ["encode", "decode", "encode_with_report", "InrcodecError"]
__version__ = "0.1.0"
