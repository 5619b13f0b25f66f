"""Make the golden files of the current format version: one small real .inr file per mode, and
the SHA-256 of what each decodes to.

    python scripts/make_golden.py            # writes tests/golden/v{FORMAT_VERSION}_{name}.inr
                                             # and tests/golden/v{FORMAT_VERSION}_hashes.json

Run it when the format changes (FORMAT_VERSION goes up): tests/test_format.py fails until the new
version has its files, so every format change regenerates them on purpose. Keep the older
versions' files: the test checks they are refused with a clear message. Every hash is portable:
latents (and rec weights) and pixels are decoded in integers, the same on every machine.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
GOLDEN = ROOT / "tests" / "golden"


def golden_hashes(mode: str, data: bytes) -> dict:
    """{"latents": sha256 of the decoded latent symbols (rec: the rebuilt weights), "pixels":
    sha256 of the decoded uint8 pixels}: what tests/test_format.py recomputes."""
    import hashlib

    import inrcodec
    if mode.startswith("image"):
        from inrcodec.image.decode import decode_latent_buffer, parse
        latents = decode_latent_buffer(parse(data))[2]
    elif mode == "video":
        from inrcodec.video.decode import decode_group_latents, parse
        parsed = parse(data)
        latents = np.concatenate([decode_group_latents(parsed.header, g, sections)[2]
                                  for g, sections in enumerate(parsed.groups)])
    else:
        from inrcodec.variational.decode import decode_weights, parse
        latents = decode_weights(parse(data))
    pixels = inrcodec.decode(data)

    def sha(a):
        return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()
    return {"latents": sha(latents), "latents_dtype": str(latents.dtype), "pixels": sha(pixels),
            "shape": list(pixels.shape)}


def main() -> None:
    import imageio.v3 as iio
    import torch

    import inrcodec
    from inrcodec.arch import MEDIUM_IFCE
    from inrcodec.bitstream import FORMAT_VERSION
    from inrcodec.variational import encode_rec
    from inrcodec.video import encode_video
    from inrcodec.video.clip_reader import open_clip
    torch.set_num_threads(1)
    photo = iio.imread(ROOT / "assets" / "kodim23_crop256.png")[:, :, :3]
    crop = np.ascontiguousarray(photo[100:132, 90:130])            # 40x32, textured
    clip = np.stack(list(open_clip(ROOT / "tests" / "data" / "carphone_4f_32x32.y4m").frames))[:3, :16, :16]
    files = {
        # format 7's inter-grid features and side grids (arch.MEDIUM_IFCE)
        "image": inrcodec.encode(crop, lmbda=1e-4, arch=MEDIUM_IFCE, iterations=400, device="cpu"),
        # format 8: a preset's header carries its code, not its architecture fields; 80x208
        # pixels, larger than format 8's 64x192 tiles, so its latents pin format 9's tiles
        "image_preset": inrcodec.encode(np.ascontiguousarray(photo[40:120, 24:232]), lmbda=1e-3,
                                        preset="low", iterations=200, device="cpu"),
        "video": encode_video(clip, 25, lmbda=1e-3, group=2, iterations=200, device="cpu"),
        "rec": encode_rec(np.ascontiguousarray(crop[:16, :16]), lmbda=1e-3, iterations=200),
    }
    GOLDEN.mkdir(exist_ok=True)
    hashes = {}
    for mode, data in files.items():
        (GOLDEN / f"v{FORMAT_VERSION}_{mode}.inr").write_bytes(data)
        hashes[mode] = golden_hashes(mode, data)
        print(f"v{FORMAT_VERSION}_{mode}.inr: {len(data)} bytes, decodes to {hashes[mode]['shape']}")
    (GOLDEN / f"v{FORMAT_VERSION}_hashes.json").write_text(json.dumps(hashes, indent=1) + "\n")


if __name__ == "__main__":
    main()
