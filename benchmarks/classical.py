"""Classical-codec anchors (JPEG, WebP, AVIF, HEIC, JPEG XL) run fully in memory via Pillow.

Every encoder takes an RGB uint8 array (H, W, 3) and a quality setting and returns
``CodecResult(nbytes, decoded, encode_s, decode_s)`` so the RD script can treat all codecs
alike. ``nbytes`` is the size of the complete file (container headers included), which is
what a fair bpp comparison against a self-contained neural bitstream needs.

Threading: encoders/decoders that expose a thread knob are pinned to ``THREADS`` (default 1)
so timings are single-core and comparable; HEIC (x265) is asked for one thread-pool thread.
"""

from __future__ import annotations

import functools
import io
import time
from typing import Callable, NamedTuple

import numpy as np
from PIL import Image, features

from .metrics import bpp as _bpp

THREADS = 1


class CodecResult(NamedTuple):
    nbytes: int
    decoded: np.ndarray
    encode_s: float
    decode_s: float


class CodecUnavailable(RuntimeError):
    """Raised when a codec's plugin/library is missing; the message says why."""


# --------------------------------------------------------------------------- plumbing


def _to_pil(image: np.ndarray) -> Image.Image:
    a = np.asarray(image)
    if a.dtype != np.uint8 or a.ndim != 3 or a.shape[2] != 3:
        raise ValueError(f"expected uint8 RGB array (H, W, 3), got {a.dtype} {a.shape}")
    return Image.fromarray(np.ascontiguousarray(a))


def _roundtrip(image: np.ndarray, fmt: str, **save_kw) -> CodecResult:
    """Encode to an in-memory file with Pillow, decode it back, and time both halves."""
    pil = _to_pil(image)
    buf = io.BytesIO()
    t0 = time.perf_counter()
    pil.save(buf, format=fmt, **save_kw)
    encode_s = time.perf_counter() - t0
    data = buf.getvalue()
    t0 = time.perf_counter()
    with Image.open(io.BytesIO(data)) as im:
        im.load()
        decoded = np.array(im.convert("RGB"), dtype=np.uint8)
    decode_s = time.perf_counter() - t0
    if decoded.shape != image.shape:
        raise RuntimeError(f"{fmt}: decoded shape {decoded.shape} != input {image.shape}")
    return CodecResult(len(data), decoded, encode_s, decode_s)


@functools.lru_cache(maxsize=None)
def _ensure_avif() -> str:
    """Make Pillow able to write AVIF; returns which implementation is used."""
    if features.check("avif"):
        try:
            from PIL import _avif

            codecs = f", {_avif.codec_versions()}"
        except Exception:  # private module; detail only
            codecs = ""
        return f"Pillow built-in AVIF (libavif {features.version('avif')}{codecs})"
    try:
        import pillow_avif  # noqa: F401  (registers the plugin on import)
    except ImportError as e:
        raise CodecUnavailable(
            "Pillow has no AVIF support and pillow-avif-plugin is not installed"
        ) from e
    return f"pillow-avif-plugin {getattr(pillow_avif, '__version__', '?')}"


@functools.lru_cache(maxsize=None)
def _ensure_heif() -> str:
    try:
        import pillow_heif
    except ImportError as e:
        raise CodecUnavailable("pillow-heif not installed") from e
    info = pillow_heif.libheif_info()
    if not info.get("HEIF"):
        raise CodecUnavailable("pillow-heif has no HEVC encoder (x265) in this build")
    pillow_heif.options.DECODE_THREADS = THREADS
    pillow_heif.register_heif_opener()
    return f"pillow-heif {pillow_heif.__version__}, libheif {info.get('libheif')}, {info['HEIF']}"


@functools.lru_cache(maxsize=None)
def _ensure_jxl() -> str:
    try:
        import pillow_jxl  # noqa: F401  (registers the plugin on import)
        from pillow_jxl import JpegXLImagePlugin
    except ImportError as e:
        raise CodecUnavailable("pillow-jxl-plugin not installed") from e
    JpegXLImagePlugin.DECODE_THREADS = THREADS  # module-level knob read by the decoder
    from importlib.metadata import version

    return f"pillow-jxl-plugin {version('pillow-jxl-plugin')}"


# --------------------------------------------------------------------------- encoders


def encode_jpeg(image: np.ndarray, quality: int, subsampling: str = "4:2:0") -> CodecResult:
    """libjpeg(-turbo) via Pillow; quality 1..95, Huffman tables optimised (optimize=True)."""
    return _roundtrip(image, "JPEG", quality=int(quality), subsampling=subsampling, optimize=True)


def encode_jpeg444(image: np.ndarray, quality: int) -> CodecResult:
    return encode_jpeg(image, quality, subsampling="4:4:4")


def encode_webp(image: np.ndarray, quality: int, method: int = 6) -> CodecResult:
    """libwebp lossy (always 4:2:0), slowest/best method=6; quality 0..100."""
    return _roundtrip(image, "WEBP", quality=int(quality), method=method, lossless=False)


def encode_avif(
    image: np.ndarray, quality: int, subsampling: str = "4:4:4", speed: int = 6
) -> CodecResult:
    """libavif (aom encoder in the Pillow wheel); quality 0..100, speed 0 (best) .. 10.

    speed=6 is Pillow's default; speed 4 gains ~0.3 dB at ~7x the encode time.
    """
    _ensure_avif()
    return _roundtrip(
        image, "AVIF", quality=int(quality), subsampling=subsampling, speed=speed,
        max_threads=THREADS,
    )


def encode_avif420(image: np.ndarray, quality: int, speed: int = 6) -> CodecResult:
    return encode_avif(image, quality, subsampling="4:2:0", speed=speed)


def encode_heic(image: np.ndarray, quality: int, subsampling: str = "4:2:0") -> CodecResult:
    """HEVC still image (x265 via libheif / pillow-heif); quality 0..100."""
    _ensure_heif()
    return _roundtrip(
        image, "HEIF", quality=int(quality), subsampling=subsampling,
        enc_params={"x265:pools": str(THREADS)},
    )


def encode_heic444(image: np.ndarray, quality: int) -> CodecResult:
    return encode_heic(image, quality, subsampling="4:4:4")


def encode_jxl(image: np.ndarray, quality: int, effort: int = 7) -> CodecResult:
    """libjxl lossy (VarDCT) via pillow-jxl-plugin; quality 0..99 (100 means lossless, refused)."""
    _ensure_jxl()
    return _roundtrip(image, "JXL", quality=int(quality), effort=effort, num_threads=THREADS)


# --------------------------------------------------------------------------- registry

EncodeFn = Callable[[np.ndarray, int], CodecResult]

# every sweep starts at the encoder's lowest setting, so the overlap the BD-rate is computed
# over reaches as low a rate as each codec can go
_JPEG_Q = [1, 5, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]
_Q100 = [0, 5, 15, 25, 35, 45, 55, 65, 75, 85, 95]

#: name -> (encode function, default quality sweep)
CODECS: dict[str, tuple[EncodeFn, list[int]]] = {
    "jpeg": (encode_jpeg, _JPEG_Q),
    "jpeg444": (encode_jpeg444, _JPEG_Q),
    "webp": (encode_webp, _Q100),
    "avif": (encode_avif, _Q100),
    "avif420": (encode_avif420, _Q100),
    "heic": (encode_heic, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]),
    "heic444": (encode_heic444, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90]),
    "jxl": (encode_jxl, [0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 95]),
}

#: name -> inclusive (min, max) quality accepted by the encoder; bpp grows with quality.
QUALITY_RANGE: dict[str, tuple[int, int]] = {
    "jpeg": (1, 95), "jpeg444": (1, 95),
    "webp": (0, 100),
    "avif": (0, 100), "avif420": (0, 100),
    "heic": (0, 100), "heic444": (0, 100),
    "jxl": (0, 99),
}

_PROBES: dict[str, Callable[[], str]] = {
    "avif": _ensure_avif, "avif420": _ensure_avif,
    "heic": _ensure_heif, "heic444": _ensure_heif,
    "jxl": _ensure_jxl,
}


@functools.lru_cache(maxsize=None)
def _probe(name: str) -> tuple[bool, str]:
    try:
        detail = _PROBES[name]() if name in _PROBES else f"Pillow {Image.__version__}"
        tiny = np.zeros((16, 16, 3), np.uint8)
        tiny[4:12, 4:12] = (200, 30, 90)
        encode, qualities = CODECS[name]
        encode(tiny, qualities[len(qualities) // 2])
        return True, detail
    except CodecUnavailable as e:
        return False, str(e)
    except Exception as e:  # a plugin that imports but cannot encode/decode
        return False, f"probe encode failed: {type(e).__name__}: {e}"


def available_codecs() -> dict[str, tuple[bool, str]]:
    """name -> (usable, detail). detail is the library/version when usable, else why not.

    Each codec is probed with a real 16x16 encode+decode, so "usable" means it actually works.
    """
    return {name: _probe(name) for name in CODECS}


def quality_for_bpp(
    codec: str, image: np.ndarray, target_bpp: float, **encode_kw
) -> tuple[int, int, np.ndarray]:
    """Quality whose bpp is closest to ``target_bpp`` (for PSNR-at-equal-bpp comparisons).

    Bisection over the integer quality range, assuming size grows with quality (true for all
    codecs here up to small local wiggles), then the closer of the two bracketing settings
    wins. Returns (quality, nbytes, decoded). Out-of-range targets clamp to the range ends.
    """
    encode = CODECS[codec][0]
    lo, hi = QUALITY_RANGE[codec]
    h, w = image.shape[:2]
    cache: dict[int, CodecResult] = {}

    def rate(q: int) -> float:
        if q not in cache:
            cache[q] = encode(image, q, **encode_kw)
        return _bpp(cache[q].nbytes, h, w)

    if target_bpp <= rate(lo):
        best = lo
    elif target_bpp >= rate(hi):
        best = hi
    else:
        while hi - lo > 1:  # invariant: rate(lo) < target < rate(hi)
            mid = (lo + hi) // 2
            if rate(mid) < target_bpp:
                lo = mid
            else:
                hi = mid
        # Non-monotone wiggles can leave a better setting among those evaluated.
        best = min(cache, key=lambda q: (abs(rate(q) - target_bpp), q))
    r = cache[best]
    return best, r.nbytes, r.decoded
