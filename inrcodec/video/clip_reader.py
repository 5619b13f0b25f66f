"""Reading clips: video files and directories of frames, streamed a frame at a time.

Input, detected by suffix: video files (.mp4, .mkv, .avi, .mov, .webm, .y4m, ...) are decoded to
RGB by the ffmpeg binary that imageio-ffmpeg ships; a directory is read as numbered image frames
(natural sort: frame_2.png before frame_10.png). Frames are streamed: a reader yields one frame at
a time, so the encoder holds one group, never the clip.

A file cut short or damaged is an error, not a shorter clip: a .y4m is checked frame by frame
against its header (exactly, before anything is decoded), other containers by a quick demux-only
ffmpeg pass that looks for ffmpeg's own truncation/corruption warnings (when the whole clip is
read; with --frames ffmpeg stops early and the rest of the file is not looked at).
"""
from __future__ import annotations

import itertools
import os
import re
from dataclasses import dataclass, field
from fractions import Fraction
from pathlib import Path
from typing import Iterator

import numpy as np

from .. import files, image_files
from ..errors import InrcodecError

VIDEO_SUFFIXES = {".mp4", ".mkv", ".avi", ".mov", ".webm", ".m4v", ".mpg", ".mpeg", ".ts",
                  ".y4m", ".flv", ".wmv", ".ogv", ".3gp"}
FRAME_SUFFIXES = {".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm", ".bmp", ".tif", ".tiff",
                  ".webp"}


def is_video_input(path: str | os.PathLike) -> bool:
    """A directory (of numbered frames) or a file with a video suffix."""
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in VIDEO_SUFFIXES


@dataclass
class Clip:
    """A clip being read: frames are produced lazily by `frames` (uint8 [H, W, C])."""
    path: str
    frames: Iterator[np.ndarray]
    fps: Fraction | float | None      # None: the source has none (a folder); the caller decides
    count: int | None = None          # frames that will be read, when known in advance
    meta: dict = field(default_factory=dict)


def _natural_key(name: str):
    return [(0, int(part), "") if part.isdigit() else (1, 0, part)
            for part in re.split(r"(\d+)", name)]


def frame_files(directory: Path) -> list[Path]:
    found = [p for p in directory.iterdir()
             if p.is_file() and not p.name.startswith(".") and p.suffix.lower() in FRAME_SUFFIXES]
    return sorted(found, key=lambda p: _natural_key(p.name))


def _check_range(start: int, frames: int | None):
    if not (isinstance(start, int) and start >= 0):
        raise InrcodecError(f"--start must be a non-negative integer, got {start}")
    if frames is not None and not (isinstance(frames, int) and frames >= 1):
        raise InrcodecError(f"--frames must be a positive integer, got {frames}")


def open_clip(path: str | os.PathLike, start: int = 0, frames: int | None = None) -> Clip:
    """Open a clip for reading frames [start, start + frames) (to the end when frames is None)."""
    _check_range(start, frames)
    p = Path(path)
    kind = files.file_kind(p)
    if kind == "missing":
        raise InrcodecError(f"{path}: no such file or directory")
    if kind == "directory":
        return _open_directory(p, start, frames)
    if kind != "file":
        raise InrcodecError(f"{path}: is a {kind}; a video is read from a file (or a directory "
                            "of frames)")
    if p.stat().st_size == 0:
        raise InrcodecError(f"{path}: file is empty")
    complete = None
    if p.suffix.lower() == ".y4m":
        complete = check_y4m(p, None if frames is None else start + frames)
    return _open_video_file(p, start, frames, complete)


def _half(n: int) -> int:
    return (n + 1) // 2


# Bytes per frame of each .y4m colour space ffmpeg reads, for a W x H picture (8-bit samples; 9 to
# 16 bits take two bytes each); a name not listed here is left to ffmpeg, unchecked.
_Y4M_PLANES = {
    "420": lambda w, h: w * h + 2 * _half(w) * _half(h),
    "422": lambda w, h: w * h + 2 * _half(w) * h,
    "444": lambda w, h: 3 * w * h,
    "444alpha": lambda w, h: 4 * w * h,
    "411": lambda w, h: w * h + 2 * ((w + 3) // 4) * h,
    "mono": lambda w, h: w * h,
}
_Y4M_COLOUR = re.compile(r"(420|422|444|411|mono)(jpeg|mpeg2|paldv|alpha)?(?:p?(\d+))?")
_Y4M_MAX_LINE = 4096


def y4m_frame_bytes(header: bytes) -> int | None:
    """Plane bytes of one frame from a .y4m header line (without "YUV4MPEG2" checks beyond the
    W, H and C parameters); None if they are missing, invalid or a colour space not known here."""
    params = header.split()[1:]
    values = {}
    for token in params:
        key, value = token[:1].decode("latin-1"), token[1:].decode("latin-1")
        values.setdefault(key, value)
    try:
        w, h = int(values["W"]), int(values["H"])
    except (KeyError, ValueError):
        return None
    if w <= 0 or h <= 0:
        return None
    m = _Y4M_COLOUR.fullmatch(values.get("C", "420jpeg"))
    if not m:
        return None
    base, variant, depth = m.group(1), m.group(2), m.group(3)
    if variant == "alpha":
        if base != "444":
            return None
        base = "444alpha"
    bits = int(depth) if depth else 8
    if not 8 <= bits <= 16:
        return None
    return _Y4M_PLANES[base](w, h) * (1 if bits == 8 else 2)


def check_y4m(path: Path, frames: int | None = None) -> int | None:
    """Check that a .y4m file is its header followed by whole frames, each "FRAME" + optional
    parameters + "\\n" + the plane bytes: the number of frames, or None when the header is not
    one this check understands (ffmpeg then judges the file). A frame cut short (or one that does
    not start with FRAME) is an InrcodecError. Only the first `frames` frames are looked at when
    given: a file cut after them still yields them whole."""
    try:
        size = path.stat().st_size
        with open(path, "rb") as f:
            line = f.read(_Y4M_MAX_LINE).split(b"\n", 1)
            if len(line) < 2 or not line[0].startswith(b"YUV4MPEG2 "):
                return None
            plane_bytes = y4m_frame_bytes(line[0])
            if plane_bytes is None:
                return None
            pos = len(line[0]) + 1
            k = 0
            while pos < size and (frames is None or k < frames):
                f.seek(pos)
                head = f.read(_Y4M_MAX_LINE)
                if not head.startswith(b"FRAME"):
                    if b"FRAME".startswith(head):           # the file ends inside the marker
                        break
                    raise InrcodecError(f"{path}: corrupt video (frame {k} does not start with "
                                        f"FRAME, at byte {pos})")
                end = head.find(b"\n")
                if end < 0:
                    if len(head) < _Y4M_MAX_LINE:           # the file ends inside the line
                        break
                    raise InrcodecError(f"{path}: corrupt video (frame {k}'s FRAME line "
                                        f"is too long, at byte {pos})")
                if pos + end + 1 + plane_bytes > size:
                    break
                pos += end + 1 + plane_bytes
                k += 1
            else:
                return k
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror})") from None
    raise InrcodecError(f"{path}: truncated video (frame {k} is incomplete)")


def _open_directory(p: Path, start: int, frames: int | None) -> Clip:
    paths = frame_files(p)
    if not paths:
        raise InrcodecError(f"{p}: no image frames in this directory "
                            f"({', '.join(sorted(FRAME_SUFFIXES))})")
    if start >= len(paths):
        raise InrcodecError(f"{p}: --start {start} is past the last frame ({len(paths)} frames)")
    chosen = paths[start:start + frames if frames else None]

    def gen():
        shape = None
        for f in chosen:
            frame = image_files.read_image(f)
            if shape is not None and frame.shape != shape:
                raise InrcodecError(f"{f}: frame of shape {frame.shape}, the first frame's is "
                                    f"{shape}: all frames must have the same size and channels")
            shape = frame.shape
            yield frame
    return Clip(str(p), gen(), None, len(chosen), {"files": [f.name for f in chosen]})


def _ffmpeg_reason(exc: Exception) -> str:
    """One informative line out of an imageio-ffmpeg error (which quotes ffmpeg's stderr)."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    for ln in reversed(lines):
        if any(k in ln for k in ("Invalid", "invalid", "Error", "error", "not found", "No such")):
            return ln[:200]
    return (lines[0] if lines else type(exc).__name__)[:200]


# ffmpeg's words (warning level, from its demuxers) for a file that ends early or holds damaged
# packets; when one of them shows up the frames it decodes are not the whole clip, or not intact.
_FFMPEG_DAMAGE = ("partial file", "file ended prematurely", "corrupt input packet",
                  "packet corrupt")


def check_with_ffmpeg(path: Path) -> None:
    """Demux (no decoding: fast) the first video stream of the whole file and raise an
    InrcodecError if ffmpeg reports it truncated or corrupt. Formats without an index or size
    (e.g. MPEG-TS) cut at a packet boundary may pass: ffmpeg cannot tell."""
    import subprocess

    import imageio_ffmpeg
    cmd = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "warning",
           "-i", str(path), "-map", "0:v:0", "-c", "copy", "-f", "null", "-"]
    try:
        r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                           stderr=subprocess.PIPE)
    except OSError:
        return                   # no ffmpeg to ask: the read that follows will say so
    lines = r.stderr.decode("utf-8", "replace").splitlines()
    for word in _FFMPEG_DAMAGE:                 # the most telling message first
        for line in lines:
            if word in line.replace(str(path), "").lower():
                reason = re.sub(r"^(\[[^]]*\]\s*)+", "", line.strip())[:200]
                raise InrcodecError(f"{path}: truncated or corrupt video (ffmpeg: {reason})")


def _open_video_file(p: Path, start: int, frames: int | None,
                     complete: int | None = None) -> Clip:
    """complete: the number of frames in the file when already known exactly (a checked .y4m)."""
    try:
        import imageio_ffmpeg
    except ImportError:
        raise InrcodecError("reading video files needs imageio-ffmpeg (pip install imageio-ffmpeg)") from None
    output_params = ["-frames:v", str(start + frames)] if frames else None
    reader = imageio_ffmpeg.read_frames(str(p), pix_fmt="rgb24", output_params=output_params)
    try:
        meta = next(reader)
    except Exception as exc:
        reader.close()
        raise InrcodecError(f"{p}: cannot read as a video ({_ffmpeg_reason(exc)})") from None
    w, h = meta.get("size", (0, 0))
    if not (w and h):
        reader.close()
        raise InrcodecError(f"{p}: cannot read as a video (no frame size)")
    if frames is None and complete is None:      # a .y4m checked exactly needs no second look
        try:
            check_with_ffmpeg(p)
        except BaseException:
            reader.close()
            raise
    fps = meta.get("fps") or None
    count = None
    duration = meta.get("duration")
    if complete is not None:
        count = max(complete - start, 0)
    elif fps and duration:
        count = max(int(round(float(duration) * float(fps))) - start, 0)
    if count is not None and frames:
        count = min(count, frames)

    def gen():
        n = 0
        try:
            for k in itertools.count():
                try:
                    raw = next(reader)
                except StopIteration:
                    break
                except Exception as exc:
                    raise InrcodecError(f"{p}: cannot decode frame {k} ({_ffmpeg_reason(exc)})") from None
                if k < start:
                    continue
                if len(raw) != w * h * 3:
                    raise InrcodecError(f"{p}: frame {k} has an unexpected size")
                n += 1
                yield np.frombuffer(raw, np.uint8).reshape(h, w, 3).copy()
            if n == 0:
                raise InrcodecError(f"{p}: no frames" + (f" at or after --start {start}" if start else ""))
        finally:
            reader.close()
    return Clip(str(p), gen(), fps, count or None, meta)
