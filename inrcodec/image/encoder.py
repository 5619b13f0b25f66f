"""The image encoder: validate -> fit -> choose weight steps -> entropy-code -> verify by decoding."""
from __future__ import annotations

import time

import numpy as np
import torch

from .. import bitstream, limits
from ..arch import Architecture, preset as get_preset, resolve_preset
from ..complexity import macs_per_pixel
from ..entropy import coder
from ..errors import InrcodecError
from ..fit.device import resolve_device
from ..fit.model import FitModel
from ..fit.quantize import choose_steps
from ..fit.train import DEFAULT_SCHEDULE, Schedule, fit
from ..model import fixed_point
from ..model.coded import coded_groups
from ..options import EncodeOptions
from ..pixels import validate_image
from .decode import SECTION_NAMES, decode_latent_buffer, int_arm_from, parse
from .header import LATENT_CODINGS, ImageHeader


def _pack(header: ImageHeader, ints: dict, buffer: np.ndarray, layout,
          dither: np.ndarray | None) -> bytes:
    sections = coded_sections(header.quant, ints, buffer, layout, dither)
    return bitstream.pack(bitstream.MODE_IMAGE, header.to_bytes(), sections)


def coded_sections(quant: dict, ints: dict, buffer: np.ndarray, layout,
                   dither: np.ndarray | None = None) -> list[bytes]:
    """The ARM, upsampling, synthesis and latent sections (video codes one such set per group),
    the weights in the format's order (model/coded.py). dither: the shared latent dither under
    --latent-coding uq (entropy/dither.py), else None."""
    sections = []
    for name, groups in coded_groups(layout.arch).items():
        payload = []
        for g, tensors in groups:
            flat = [ints[(name, t)].ravel() for t in tensors]
            arr = np.concatenate(flat) if flat else np.zeros(0, np.int64)
            payload.append((arr, quant[(name, g)][1]))
        sections.append(coder.encode_weight_groups(payload))
    int_arm = int_arm_from(layout.arch, quant, ints, dither is not None)
    sections.append(coder.encode_latents(layout, int_arm, buffer, dither))
    return sections


def encode_with_report(image: np.ndarray, options: EncodeOptions | None = None, *,
                       progress: bool = False, arch: Architecture | None = None,
                       latent_coding: str = "round", schedule: Schedule | None = None,
                       **option_values) -> tuple[bytes, dict]:
    """Encode and return (file bytes, report with real bytes/bpp/psnr of the decoded image).

    Options (options.EncodeOptions, or its fields as keywords: lmbda, preset, iterations,
    time_budget, seed, device); time_budget (seconds) fits for that wall-clock time instead of a
    number of iterations. latent_coding: "round" (default) or "uq", universal quantization of
    the latents with a shared dither (entropy/dither.py). arch: a custom Architecture instead of
    the preset. schedule: fitting-schedule knobs (fit/train.py; tuning)."""
    start = time.perf_counter()
    image = validate_image(image)
    opts = EncodeOptions.build(options, **option_values)
    if latent_coding not in LATENT_CODINGS:
        raise InrcodecError(f"unknown latent coding {latent_coding!r} ({' or '.join(LATENT_CODINGS)})")
    dev = resolve_device(opts.device)
    lmbda, iterations, time_budget, seed = (opts.lmbda_or_default, opts.steps(dev.type),
                                            opts.time_budget, opts.seed)
    preset = opts.preset
    h, w, c = image.shape
    if arch is None:
        preset = resolve_preset(preset, h * w, lmbda)
        arch = get_preset(preset)
    else:
        preset = None
    limits.check_image_encode(arch, h, w, c, dev)     # before any large allocation
    torch.manual_seed(seed)
    target = torch.from_numpy(image).to(dev).permute(2, 0, 1)[None].float() / 255.0
    model = FitModel(arch, h, w, c, latent_coding=latent_coding).to(dev)
    schedule = schedule or DEFAULT_SCHEDULE
    summary = fit(model, target, lmbda, iterations, progress=progress, time_budget=time_budget,
                  schedule=schedule)
    model = model.cpu()
    quant, ints, buffer = choose_steps(model, target.cpu(), lmbda, progress=progress,
                                       rdoq=schedule.weight_rdoq)
    header = ImageHeader(h, w, c, arch, preset, quant, latent_coding)
    dither = None if model.dither is None else model.dither.double().numpy()
    data = _pack(header, ints, buffer, model.layout, dither)

    # Verify: the file must decode to exactly the latents we coded, then measure the real result.
    parsed = parse(data)
    layout, networks, decoded, values = decode_latent_buffer(parsed)
    if not np.array_equal(decoded, buffer):
        raise InrcodecError("internal: latents did not survive the round trip (please report)")
    out = fixed_point.render(layout, networks, values)
    mse = np.mean((out.astype(np.float64) - image.astype(np.float64)) ** 2)
    report = {
        "bytes": len(data),
        "bpp": 8.0 * len(data) / (h * w),
        "psnr": float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else float("inf"),
        "macs_per_pixel": macs_per_pixel(arch, h, w, c)["total"],
        "encode_seconds": time.perf_counter() - start,
        "fit_seconds": summary["fit_seconds"],
        "iterations": summary["iterations"],
        "time_budget": time_budget,
        "latent_bytes_estimate": summary["latent_bits"] / 8,   # float model at the end of the fit
        "mode": "image",
        "latent_coding": latent_coding,
        "preset": preset or "custom",
        "device": dev.type,
        "width": w, "height": h, "channels": c,
        "lmbda": lmbda,
        "sections": {name: len(parsed.sections[name]) for name in SECTION_NAMES},
        "header_bytes": parsed.header_bytes,
    }
    return data, report


def encode(image: np.ndarray, **kwargs) -> bytes:
    """Encode a uint8 image [H, W, C] (or [H, W] grey) into .inr bytes."""
    return encode_with_report(image, **kwargs)[0]
