"""Variational mode (`--mode rec`): a Bayesian coordinate network whose weights are sent by
relative-entropy coding (COMBINER, Guo et al. 2023; RECOMBINER, He et al. 2024) instead of being
quantized.

    model.py    the coordinate network (encoder and decoder): flat weights -> image
    codec.py    header, prior, block partition and per-block seeds (encoder and decoder)
    decode.py   the decode path; imports nothing from fit.py
    fit.py      encoder only: posterior fit (beta-ELBO), progressive block coding with fine-tuning
    encoder.py  encoder only: rate target, packing, round-trip check, report

    from inrcodec.variational import encode_rec, decode_rec
    data = encode_rec(image_uint8_hwc, bpp=0.3)
    image = decode_rec(data)
"""
from .decode import decode as decode_rec
from .decode import is_rec_data

__all__ = ["encode_rec", "encode_rec_with_report", "decode_rec", "is_rec_data"]


def encode_rec(image, **kwargs) -> bytes:
    from .encoder import encode as _encode
    return _encode(image, **kwargs)


def encode_rec_with_report(image, **kwargs):
    from .encoder import encode_with_report as _encode
    return _encode(image, **kwargs)
