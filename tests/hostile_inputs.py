"""Hostile inputs for the command-line tests of issue 31 (tests/test_hostile_cli.py): corrupt
images that Pillow's own strict load refuses, pipes / sockets / device nodes, a runner for
`python -m inrcodec` in a fresh process (timeouts, memory limits, its own session), and a
look at a process tree through /proc.

Nothing here imports inrcodec: the tests drive the program only through its command line, so
they survive a reorganisation of the package.
"""
from __future__ import annotations

import errno
import fcntl
import io
import os
import re
import resource
import signal
import socket
import stat
import struct
import subprocess
import sys
import threading
import time
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageFile

ROOT = Path(__file__).resolve().parents[1]
ASSET = ROOT / "assets" / "kodim23_crop256.png"


def small_rgb(height: int = 24, width: int = 32) -> np.ndarray:
    """A textured crop of the shipped Kodak image (uint8 [H, W, 3])."""
    with Image.open(ASSET) as im:
        return np.ascontiguousarray(np.asarray(im.convert("RGB"))[100:100 + height, 60:60 + width])


def image_bytes(array: np.ndarray, fmt: str, **options) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(array).save(buf, fmt, **options)
    return buf.getvalue()


# ------------------------------------------------------------------------------------------------
# Pillow's strict load: the reference for what a corrupt image is

def pillow_strict(data: bytes) -> Image.Image:
    """Image.open + n_frames + load() with truncated images refused (Pillow's default); raises
    what Pillow raises. The returned image is loaded (its file is no longer needed)."""
    old = ImageFile.LOAD_TRUNCATED_IMAGES
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            im = Image.open(io.BytesIO(data))
            getattr(im, "n_frames", 1)          # a broken frame chain is a broken file
            im.load()
            return im
    finally:
        ImageFile.LOAD_TRUNCATED_IMAGES = old


def pillow_refuses(data: bytes) -> bool:
    try:
        pillow_strict(data)
    except Exception:
        return True
    return False


# ------------------------------------------------------------------------------------------------
# Corrupt images: one flipped bit (or a cut) in the compressed pixel data, found by a
# deterministic search so that Pillow's strict load refuses the result

CORRUPT_KINDS = ("png", "png-palette", "jpeg", "webp", "tiff", "tiff-ifd")
CORRUPT_SUFFIX = {"png": ".png", "png-palette": ".png", "jpeg": ".jpg", "webp": ".webp",
                  "tiff": ".tif", "tiff-ifd": ".tif"}


def _png_chunks(data: bytes):
    """(type, start of data, length) of each chunk."""
    pos, out = 8, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        out.append((kind, pos + 8, length))
        pos += 12 + length
    return out


def fix_png_crcs(data: bytes | bytearray) -> bytes:
    """Recompute every chunk's CRC, so a change inside a chunk reaches the decoder."""
    b = bytearray(data)
    for kind, start, length in _png_chunks(bytes(b)):
        if start + length + 4 <= len(b):
            b[start + length:start + length + 4] = struct.pack(
                ">I", zlib.crc32(bytes(b[start - 4:start + length])))
    return bytes(b)


def _first_refused_flip(data: bytes, offsets, fix=lambda b: bytes(b)) -> bytes:
    for i in offsets:
        for bit in range(8):
            b = bytearray(data)
            b[i] ^= 1 << bit
            candidate = fix(b)
            if pillow_refuses(candidate):
                return candidate
    raise AssertionError("no single-bit flip in the pixel data makes Pillow refuse the file")


def _middle_out(start: int, end: int) -> list[int]:
    mid = (start + end) // 2
    return list(range(mid, end)) + list(range(start, mid))


def corrupt_image(kind: str) -> bytes:
    """The bytes of a small image of the given kind whose compressed pixel data is damaged
    (PNG, RGB or palette: one bit of the IDAT stream, CRC recomputed so only the decoder can
    tell; JPEG: the scan cut in the middle; WebP: one bit of the VP8 data; TIFF: one bit of a
    deflate strip), or, for "tiff-ifd", one bit of the directory such that Pillow cannot open the
    file while another TIFF reader (imageio's bundled one) still returns pixels. Pillow's strict
    load refuses every one."""
    image = small_rgb()
    if kind in ("png", "png-palette"):
        if kind == "png":
            data = image_bytes(image, "PNG")
        else:
            buf = io.BytesIO()
            Image.fromarray(image).quantize(16).save(buf, "PNG")
            data = buf.getvalue()
        _, start, length = next(c for c in _png_chunks(data) if c[0] == b"IDAT")
        out = _first_refused_flip(data, _middle_out(start + 2, start + length - 4), fix_png_crcs)
    elif kind == "jpeg":
        data = image_bytes(image, "JPEG", quality=90)
        sos = data.index(b"\xff\xda")
        scan = sos + 2 + struct.unpack(">H", data[sos + 2:sos + 4])[0]
        out = data[:(scan + len(data)) // 2]
    elif kind == "webp":
        data = image_bytes(image, "WEBP", quality=80)
        out = _first_refused_flip(data, _middle_out(40, len(data)))
    elif kind == "tiff":
        data = image_bytes(image, "TIFF", compression="tiff_deflate")
        with Image.open(io.BytesIO(data)) as im:
            start, length = im.tag_v2[273], im.tag_v2[279]     # StripOffsets, StripByteCounts
        start = start[0] if isinstance(start, tuple) else start
        length = length[0] if isinstance(length, tuple) else length
        out = _first_refused_flip(data, _middle_out(start + 2, start + length))
    elif kind == "tiff-ifd":
        out = _tiff_ifd_flip(image)
    else:
        raise ValueError(kind)
    assert pillow_refuses(out), kind
    return out


def _tiff_ifd_flip(image: np.ndarray) -> bytes:
    import imageio.v3 as iio
    data = image_bytes(image, "TIFF")
    ifd = struct.unpack("<I", data[4:8])[0]
    n = struct.unpack("<H", data[ifd:ifd + 2])[0]
    for i in range(ifd, ifd + 2 + 12 * n):
        for bit in range(8):
            b = bytearray(data)
            b[i] ^= 1 << bit
            b = bytes(b)
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    Image.open(io.BytesIO(b))
                continue                        # Pillow still opens it
            except Exception:
                pass
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    iio.imread(b, index=0, extension=".tif")
            except Exception:
                continue
            return b
    pytest.skip("no directory flip that Pillow refuses and another reader accepts "
                "(the installed imageio plugins changed)")


# ------------------------------------------------------------------------------------------------
# What the codec must return for an image file: Pillow's strict pixels, converted as README says

def strict_expected(data: bytes):
    """("refuse", None): Pillow's strict load refuses the bytes (or they hold several frames,
    which README says are refused), so the codec must refuse them.
    ("pixels", uint8 [H, W, 1|3]): the pixels the codec must return if it reads the file (it may
    still refuse: more than 8 bits, alpha, CMYK ...). ("any", None): a mode this oracle does not
    mirror (transparency, exotic modes); only "no crash" is checked then."""
    from PIL import ImageOps
    try:
        im = pillow_strict(data)
    except Exception:
        return "refuse", None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if getattr(im, "n_frames", 1) != 1:
                return "refuse", None
            mode = im.mode
            if "transparency" in im.info or mode not in ("1", "L", "P", "RGB"):
                return "any", None
            try:                                # a broken EXIF block: shown as stored
                orientation = int(im.getexif().get(0x0112, 1) or 1)
            except Exception:
                orientation = 1
            if mode == "1":
                im = im.convert("L")
            elif mode == "P":
                palette = np.asarray(im.getpalette() or [], np.int64)
                rgb = palette[:len(palette) - len(palette) % 3].reshape(-1, 3)
                grey = rgb.size > 0 and bool(np.all(rgb == rgb[:, :1]))
                im = im.convert("L" if grey else "RGB")
            if orientation != 1:
                im = ImageOps.exif_transpose(im)
            a = np.array(im)
        except Exception:
            return "any", None
    return "pixels", (a[:, :, None] if a.ndim == 2 else a)


def image_fuzz_seeds() -> dict[str, bytes]:
    """Small valid files of every still-image format the fuzzing mutates: name -> bytes."""
    rgb = small_rgb(24, 32)
    palette = io.BytesIO()
    Image.fromarray(rgb).quantize(16).save(palette, "PNG")
    return {
        "rgb.png": image_bytes(rgb, "PNG"),
        "grey.png": image_bytes(rgb[:, :, 1], "PNG"),
        "palette.png": palette.getvalue(),
        "rgb.jpg": image_bytes(rgb, "JPEG", quality=90),
        "lossy.webp": image_bytes(rgb, "WEBP", quality=80),
        "lossless.webp": image_bytes(rgb, "WEBP", lossless=True),
        "deflate.tif": image_bytes(rgb, "TIFF", compression="tiff_deflate"),
        "rgb.bmp": image_bytes(rgb, "BMP"),
        "rgb.ppm": image_bytes(rgb, "PPM"),
    }


def mutate_image(data: bytes, rng, png: bool) -> bytes:
    """One seeded mutation: 1-3 bit flips, a byte overwritten, or a cut; for a PNG, half the time
    the chunk CRCs are recomputed so the change gets past them into the decoder."""
    b = bytearray(data)
    kind = rng.choice(("flip", "flip", "byte", "cut"))
    if kind == "flip":
        for _ in range(rng.choice((1, 1, 2, 3))):
            i = rng.randrange(len(b))
            b[i] ^= 1 << rng.randrange(8)
    elif kind == "byte":
        b[rng.randrange(len(b))] = rng.choice((0, 0xFF, rng.randrange(256)))
    else:
        del b[rng.randrange(1, len(b)):]
    if png and rng.random() < 0.5:
        return fix_png_crcs(b)
    return bytes(b)


# ------------------------------------------------------------------------------------------------
# Files that are not regular files

class FifoWriter:
    """A FIFO at `path` whose writer (a thread) waits for a reader and writes `data` once.
    The writer polls with a non-blocking open, so nothing blocks if nobody ever reads."""

    def __init__(self, path: Path, data: bytes, patience: float = 60.0):
        self.path, self.data, self.patience = Path(path), data, patience
        os.mkfifo(self.path)
        self.stop = threading.Event()
        self.written = 0
        self.thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join(5)

    def _run(self):
        deadline = time.monotonic() + self.patience
        while not self.stop.is_set() and time.monotonic() < deadline:
            try:
                fd = os.open(self.path, os.O_WRONLY | os.O_NONBLOCK)
            except OSError as exc:
                if exc.errno != errno.ENXIO:       # ENXIO: no reader yet
                    return
                time.sleep(0.05)
                continue
            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
            try:
                view = memoryview(self.data)
                while view:
                    n = os.write(fd, view)
                    self.written += n
                    view = view[n:]
            except OSError:                        # the reader went away
                pass
            finally:
                os.close(fd)
            if self.written:
                return                             # else a reader only peeked: offer it again


def unix_socket(path: Path) -> socket.socket:
    """A listening UNIX socket bound at `path` (bound from its directory: socket paths are
    limited to ~107 bytes). Close it when done; the file stays."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    cwd = os.getcwd()
    try:
        os.chdir(Path(path).parent)
        s.bind(Path(path).name)
    finally:
        os.chdir(cwd)
    s.listen(1)
    return s


def char_device_like(path: Path, real: str) -> Path:
    """A character device node at `path` with the numbers of `real` (e.g. /dev/null, /dev/zero):
    a copy of the node, never the real device. Skips the test where mknod is not allowed or the
    file system does not honour device nodes."""
    rdev = os.stat(real).st_rdev
    try:
        os.mknod(path, stat.S_IFCHR | 0o666, rdev)
    except (PermissionError, OSError) as exc:
        pytest.skip(f"cannot create a device node here ({exc})")
    try:
        os.close(os.open(path, os.O_RDONLY))
    except OSError as exc:
        os.unlink(path)
        pytest.skip(f"device nodes do not work on this file system ({exc})")
    return Path(path)


def is_char_device(path: Path) -> bool:
    try:
        return stat.S_ISCHR(os.lstat(path).st_mode)
    except FileNotFoundError:
        return False


# ------------------------------------------------------------------------------------------------
# The program in a fresh process

@dataclass
class Result:
    code: int | None        # None: killed at the timeout
    out: bytes
    err: str
    seconds: float

    @property
    def timed_out(self) -> bool:
        return self.code is None


def cli(*args, cwd=None, input: bytes | None = None, timeout: float = 60,
        address_space: int | None = None, env: dict | None = None) -> Result:
    """`python -m inrcodec ARGS` in its own session (so it and its children can be killed as a
    group), stdin from `input` (a pipe) or /dev/null, optionally under RLIMIT_AS. A run that
    outlasts `timeout` is killed, with everything in its process group, and reported as such."""
    environment = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1",
                   **(env or {})}
    environment.pop("INRCODEC_DEBUG", None)

    def limit():
        if address_space is not None:
            resource.setrlimit(resource.RLIMIT_AS, (address_space, address_space))

    start = time.monotonic()
    proc = subprocess.Popen([sys.executable, "-m", "inrcodec", *[str(a) for a in args]],
                            cwd=cwd, env=environment, start_new_session=True,
                            stdin=subprocess.DEVNULL if input is None else subprocess.PIPE,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=limit)
    try:
        out, err = proc.communicate(input, timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        kill_group(proc.pid)
        out, err = proc.communicate()
        code = None
    finally:
        if proc.poll() is None:
            kill_group(proc.pid)
            proc.wait()
    return Result(code, out, err.decode(errors="replace"), time.monotonic() - start)


def kill_group(pgid: int) -> None:
    try:
        os.killpg(pgid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def assert_error_line(r: Result, fragment: str = "") -> str:
    """The error contract: in time, a non-zero exit, stderr exactly one line
    `inrcodec: error: ...`, no traceback. Returns that line."""
    assert not r.timed_out, f"still running after {r.seconds:.0f} s (a hang): {r.err[-500:]}"
    assert r.code != 0, f"exit 0; stderr: {r.err[-500:]}"
    lines = r.err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inrcodec: error: "), r.err[-2000:]
    assert "Traceback" not in r.err
    assert fragment.lower() in lines[0].lower(), lines[0]
    return lines[0]


# ------------------------------------------------------------------------------------------------
# Process trees, from /proc

def _stat_fields(pid: int):
    """(state, ppid) of a process, or None if it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    rest = text[text.rindex(")") + 2:].split()
    return rest[0], int(rest[1])


def descendants(pid: int) -> set[int]:
    """Every live process below `pid` (children, grandchildren ...)."""
    parents = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            fields = _stat_fields(int(entry))
            if fields is not None:
                parents[int(entry)] = fields[1]
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, parent in parents.items() if parent in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    """Running (a zombie waiting for its reaper counts as gone)."""
    fields = _stat_fields(pid)
    return fields is not None and fields[0] not in ("Z", "X")


def cmdline(pid: int) -> str:
    try:
        raw = Path(f"/proc/{pid}/cmdline").read_bytes()
        return raw.replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


# ------------------------------------------------------------------------------------------------
# Numbers in help texts and messages (item 3)

_POWER = re.compile(r"(\d+)\s*\^\s*(\d+)(?:\s*-\s*(\d+))?")            # 2^64-1
_NUMBER = re.compile(r"(?<![\w.^])-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?(?![\w^])")
_DEFAULT = re.compile(r"default\s*:?\s*(?:is\s+)?-?[\d.][\w.^+-]*", re.I)
_IMPLIED_ZERO = re.compile(r"\b(positive|non-?negative)\b", re.I)


def numbers_in(text: str, drop_defaults: bool = False) -> set:
    """The numbers a text states, exactly (Fractions): 1e3, 0.5, 2^64-1, -1; 'positive' and
    'non-negative' state the bound 0. Sizes like 512x768 are not single numbers and are left out.
    drop_defaults: leave out the number right after 'default' (a default is not a range)."""
    from fractions import Fraction
    if drop_defaults:
        text = _DEFAULT.sub(" ", text)
    text = _POWER.sub(lambda m: str(int(m[1]) ** int(m[2]) - int(m[3] or 0)), text)
    text = text.replace("..", " .. ")
    found = set()
    for token in _NUMBER.findall(text):
        try:
            found.add(Fraction(token.rstrip(".")))
        except (ValueError, ZeroDivisionError):
            pass
    if _IMPLIED_ZERO.search(text):
        found.add(Fraction(0))
    return found


def option_help(help_text: str, option: str) -> str:
    """The help of one option in an argparse --help listing, as one line of text."""
    lines = help_text.splitlines()
    for i, line in enumerate(lines):
        invocation = re.split(r"\s{2,}", line.strip(), maxsplit=1)
        names = [n.strip().split(" ")[0] for n in invocation[0].split(",")]
        if line.startswith("  -") and option in names:
            parts = invocation[1:]
            for more in lines[i + 1:]:
                if not more.startswith("   "):       # the next option, a heading, a blank
                    break
                parts.append(more.strip())
            return " ".join(parts)
    raise AssertionError(f"{option} is not in the help:\n{help_text}")


def image_case(data: bytes, suffix: str, directory: Path, read_image) -> tuple[str, str | None]:
    """One image-reader fuzz case (item 1's oracle): ("refused" | "read" | "left out", the
    failure or None). The reader must refuse the bytes (InrcodecError) or return exactly the
    pixels of Pillow's strict load; claimed sizes beyond 4 Mpx are left out (both readers would
    allocate them). tests/test_hostile_cli.py and scripts/fuzz.py --images run it."""
    from inrcodec.errors import InrcodecError
    try:
        with Image.open(io.BytesIO(data)) as im:
            if im.size[0] * im.size[1] > 1 << 22:
                return "left out", None
    except Exception:
        pass
    path = directory / f"case{suffix}"
    path.write_bytes(data)
    verdict, expected = strict_expected(data)
    try:
        got = read_image(path)
    except InrcodecError:
        return "refused", None
    except Exception as exc:
        return "read", f"{type(exc).__name__}: {str(exc)[:100]}"
    if verdict == "refuse":
        return "read", "read although Pillow's strict load refuses it"
    if verdict == "pixels" and not (got.dtype == np.uint8 and got.shape == expected.shape
                                    and np.array_equal(got, expected)):
        return "read", f"pixels differ from Pillow's strict load ({got.shape} vs {expected.shape})"
    if verdict == "any" and not (got.dtype == np.uint8 and got.ndim == 3 and got.shape[2] in (1, 3)):
        return "read", f"not an 8-bit picture: {got.dtype} {got.shape}"
    return "read", None
