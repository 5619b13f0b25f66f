"""Quick check that every available classical codec round-trips: 256x256 crop, 3 qualities each.

Run from the repo root:  python -m benchmarks.smoke_classical [path/to/image.png]
"""

from __future__ import annotations

import sys

import imageio.v3 as iio

from .classical import CODECS, available_codecs, quality_for_bpp
from .metrics import bpp, psnr

DEFAULT_IMAGE = "/work/shared/data/kodak/kodim01.png"


def centre_crop(img, size=256):
    h, w = img.shape[:2]
    y, x = (h - size) // 2, (w - size) // 2
    return img[y:y + size, x:x + size, :3].copy()


def main(argv: list[str]) -> None:
    img = centre_crop(iio.imread(argv[0] if argv else DEFAULT_IMAGE))
    h, w = img.shape[:2]
    print(f"image {h}x{w}")
    for name, (ok, detail) in available_codecs().items():
        if not ok:
            print(f"{name:8s} skipped ({detail})")
            continue
        print(f"{name:8s} {detail}")
        encode, sweep = CODECS[name]
        for q in (sweep[1], sweep[len(sweep) // 2], sweep[-2]):
            r = encode(img, q)
            print(f"    q={q:3d}  bpp={bpp(r.nbytes, h, w):6.3f}  PSNR={psnr(img, r.decoded):6.2f} dB"
                  f"  enc={r.encode_s * 1e3:7.1f} ms  dec={r.decode_s * 1e3:6.1f} ms")
        q, nbytes, dec = quality_for_bpp(name, img, 0.5)
        print(f"    target 0.5 bpp -> q={q} bpp={bpp(nbytes, h, w):.3f} PSNR={psnr(img, dec):.2f} dB")


if __name__ == "__main__":
    main(sys.argv[1:])
