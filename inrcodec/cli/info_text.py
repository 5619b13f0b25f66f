"""`inrcodec info` as text: one printer per mode that has a layout of its own, and a plain
key: value listing for any other mode (modes.py), so a new mode prints without edits here."""
from __future__ import annotations

import json


def _sections(info: dict) -> None:
    for name, n in info["sections"].items():
        print(f"  {name:>18}: {n} bytes")


def _image(path: str, info: dict) -> None:
    print(f"{path}: inrcodec format {info['format_version']}, {info['mode']}, "
          f"{info['width']}x{info['height']}, {info['channels']} channel(s)")
    print(f"  preset {info['preset']}: {json.dumps(info['architecture'])}")
    if info["latent_coding"] != "round":
        print("  latents: universal quantization (shared dither)")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp), {info['macs_per_pixel']:.0f} MACs/pixel")
    _sections(info)


def _video(path: str, info: dict) -> None:
    print(f"{path}: inrcodec format {info['format_version']}, video, {info['width']}x"
          f"{info['height']}, {info['channels']} channel(s)")
    print(f"  {info['frames']} frames at {info['fps']:.3f} fps ({info['fps_fraction']}), "
          f"{info['duration_seconds']:.2f} s, {info['groups']} group(s) of up to "
          f"{info['group_size']} frames")
    print(f"  preset {info['preset']}: {json.dumps(info['architecture'])}, "
          f"ARM sees {info['temporal_context']} previous-frame latents")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp, {info['kbps']:.1f} kbit/s), "
          f"{info['macs_per_pixel']:.0f} MACs/pixel")
    _sections(info)


def _rec(path: str, info: dict) -> None:
    print(f"{path}: inrcodec format {info['format_version']}, rec (relative-entropy coded weights), "
          f"{info['width']}x{info['height']}, {info['channels']} channel(s)")
    print(f"  network: {json.dumps(info['architecture'])}, {info['weights']} weights")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp), {info['blocks']} blocks of <= "
          f"{info['kl_bits_per_block']} bits KL, {info['macs_per_pixel']:.0f} MACs/pixel")
    _sections(info)


def _plain(path: str, info: dict) -> None:
    print(f"{path}: inrcodec format {info['format_version']}, {info['mode']}, "
          f"{info['width']}x{info['height']}, {info['channels']} channel(s)")
    print(f"  {info['bytes']} bytes ({info['bpp']:.4f} bpp), {info['macs_per_pixel']:.0f} MACs/pixel")
    for key, value in info.items():
        if key not in ("format_version", "mode", "width", "height", "channels", "bytes", "bpp",
                       "macs_per_pixel", "sections"):
            print(f"  {key}: {json.dumps(value)}")
    _sections(info)


PRINTERS = {"image": _image, "video": _video, "rec": _rec}


def print_info(path: str, info: dict) -> None:
    PRINTERS.get(info["mode"], _plain)(path, info)
