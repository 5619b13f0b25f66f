"""The variational (`rec`) encoder: validate -> fit + progressive coding -> pack -> verify."""
from __future__ import annotations

import time

import numpy as np

from .. import bitstream
from ..channel_sim import encode_indices
from ..errors import InrcodecError
from ..options import REC_BPP, EncodeOptions, check, check_iterations, plain_float, plain_int
from ..pixels import validate_image
from . import model
from .codec import MAX_KL_BITS, RecHeader
from .decode import decode_weights, parse, render_weights
from .estimates import check_rec_encode
from .fit import fit_and_code
from .model import RecArch

DEFAULT_KL_BITS = 12          # per-block KL budget: search time ~2^(kl + 4) candidates per block


def default_arch(height: int, width: int) -> RecArch:
    return RecArch()


def _fixed_bytes(h: int, w: int, c: int, arch: RecArch, seed: int, kl_bits: int, guess_blocks: int) -> int:
    """Container + header bytes of a file with one index section (for the rate target)."""
    n_groups = len(model.groups(arch, h, w, c))
    header = RecHeader(h, w, c, arch, seed, kl_bits, max(1, guess_blocks), [-40] * n_groups)
    return len(bitstream.pack(bitstream.MODE_REC, header.to_bytes(), [b""])) + 2


def encode_with_report(image: np.ndarray, options: EncodeOptions | None = None,
                       **kwargs) -> tuple[bytes, dict]:
    """Encode in rec mode; (file bytes, report measured on the decoded file). Keywords: see
    encode_with_result."""
    data, report, _ = encode_with_result(image, options, **kwargs)
    return data, report


def encode_with_result(image: np.ndarray, options: EncodeOptions | None = None, *,
                       bpp: float | None = None, progress: bool = False,
                       kl_bits: int = DEFAULT_KL_BITS, arch: RecArch | None = None,
                       finetune_steps: int | None = None, lr: float = 4e-2, **option_values):
    """(file bytes, report, fit.FitResult): the FitResult holds the sampled weights and indices.

    Options: options.EncodeOptions, or its fields as keywords (lmbda, iterations, seed, device;
    rec mode fits on the CPU, for a number of steps). Rate: `bpp` (a target for the whole file;
    beta is adapted to meet it) or `lmbda` (fixed beta: the loss is MSE + lmbda * KL bits per
    pixel, as the grid codec's MSE + lmbda * bpp); neither: lmbda's default."""
    start = time.perf_counter()
    image = validate_image(image)
    option_values.setdefault("device", "cpu")
    opts = EncodeOptions.build(options, **option_values)
    if opts.device not in ("cpu", "auto"):
        raise InrcodecError("rec mode fits on the CPU only (--device cpu or auto)")
    if opts.time_budget is not None:
        raise InrcodecError("rec mode fits for a number of steps, not a time budget (use iterations)")
    bpp, kl_bits = plain_float(bpp), plain_int(kl_bits)
    if opts.lmbda is not None and bpp is not None:
        raise InrcodecError("give either --bpp or --lmbda, not both")
    if bpp is not None:
        bpp = check("bpp", bpp, REC_BPP)
    lmbda = opts.lmbda_or_default if bpp is None else None
    iterations = opts.steps("cpu")
    if iterations < 1:
        check_iterations(iterations, minimum=1)
    if not isinstance(kl_bits, int) or not 1 <= kl_bits <= MAX_KL_BITS:
        raise InrcodecError(f"kl_bits must be an integer in 1..{MAX_KL_BITS}")
    seed = opts.seed
    h, w, c = image.shape
    check_rec_encode(h, w, c)          # before any large allocation
    arch = arch or default_arch(h, w)
    target_bits = None
    if bpp is not None:
        guess = int(bpp * h * w / (kl_bits + 2))
        target_bits = bpp * h * w - 8 * _fixed_bytes(h, w, c, arch, seed, kl_bits, guess)
        if target_bits < kl_bits + 4:
            raise InrcodecError(f"--bpp {bpp} is too low for a {w}x{h} image: the header alone "
                                f"takes {bpp * h * w / 8 - target_bits / 8:.0f} bytes")

    res = fit_and_code(image, arch, seed=seed, iterations=iterations, kl_bits=kl_bits,
                       lmbda=lmbda, target_bits=target_bits, finetune_steps=finetune_steps, lr=lr,
                       progress=progress)
    header = RecHeader(h, w, c, arch, seed, kl_bits, res.n_blocks, res.prior_codes)
    data = bitstream.pack(bitstream.MODE_REC, header.to_bytes(), [encode_indices(res.indices, kl_bits)])

    # Verify: the file must rebuild exactly the weights we sampled; measure on the decoded image.
    parsed = parse(data)
    decoded = decode_weights(parsed)
    if not np.array_equal(decoded, res.weights):
        raise InrcodecError("internal: weights did not survive the round trip (please report)")
    out = render_weights(parsed.header, decoded)
    mse = np.mean((out.astype(np.float64) - image.astype(np.float64)) ** 2)
    report = {
        "bytes": len(data),
        "bpp": 8.0 * len(data) / (h * w),
        "psnr": float(10 * np.log10(255.0 ** 2 / mse)) if mse > 0 else float("inf"),
        "macs_per_pixel": model.macs_per_pixel(arch, c),
        "encode_seconds": time.perf_counter() - start,
        "fit_seconds": res.stats["fit_seconds"],
        "coding_seconds": res.stats["coding_seconds"],
        "iterations": iterations,
        "mode": "rec",
        "device": "cpu",
        "width": w, "height": h, "channels": c,
        "lmbda": lmbda, "target_bpp": bpp,
        "blocks": res.n_blocks, "kl_bits_per_block": kl_bits,
        "weights": res.stats["weights"],
        "kl_bits_total": res.stats["kl_bits_total"], "search_seconds": res.stats["search_seconds"],
        "blocks_capped": res.stats["blocks_capped"],
        "fit_psnr_mean": res.stats["fit_psnr_mean"], "fit_psnr_sample": res.stats["fit_psnr_sample"],
        "architecture": arch.describe(),
        "sections": {"indices": len(parsed.sections["indices"])},
        "header_bytes": parsed.header_bytes,
    }
    return data, report, res


def encode(image: np.ndarray, options: EncodeOptions | None = None, **kwargs) -> bytes:
    return encode_with_report(image, options, **kwargs)[0]
