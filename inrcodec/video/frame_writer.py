"""Writing a decoded clip, group by group, without ever leaving a half-written output.

Output: a directory of lossless PNG frames (frame_0000.png, ...; bit-exact), a .y4m file
(written here: YUV 4:4:4, BT.601 full range, flagged XCOLORRANGE=FULL; RGB -> YUV rounding makes
it slightly lossy, about 50 dB; grey clips are written as Cmono, exactly), or on request a
lossy .mp4/.mkv/.mov/.avi re-encoded with x264.
"""
from __future__ import annotations

import os
import re
import shutil
import tempfile
from fractions import Fraction
from pathlib import Path

import numpy as np

from .. import files, image_files
from ..errors import InrcodecError

LOSSY_OUTPUT_SUFFIXES = {".mp4", ".mkv", ".mov", ".avi"}
FRAME_NAME = re.compile(r"frame_(\d{4,})\.png")


def frame_name(k: int, total: int) -> str:
    """Name of frame k of `total` in a directory of decoded frames: frame_0000.png, ..."""
    return f"frame_{k:0{max(4, len(str(total - 1)))}d}.png"


def rgb_to_yuv444(frame: np.ndarray) -> np.ndarray:
    """uint8 [H, W, 3] RGB -> uint8 [3, H, W] Y, Cb, Cr (BT.601, full range)."""
    x = frame.astype(np.float64)
    r, g, b = x[..., 0], x[..., 1], x[..., 2]
    y = 0.299 * r + 0.587 * g + 0.114 * b
    cb = 128.0 + (b - y) / 1.772
    cr = 128.0 + (r - y) / 1.402
    return np.clip(np.round(np.stack([y, cb, cr])), 0, 255).astype(np.uint8)


def clip_output_kind(path: str | os.PathLike) -> str:
    """'dir', 'y4m' or 'lossy' from the output path (a path without a suffix is a directory)."""
    p = Path(path)
    suffix = p.suffix.lower()
    if str(path) == files.STDIO:
        raise InrcodecError("a video decodes to a directory of PNG frames, a .y4m or a video "
                            "file: give -o")
    if p.is_dir() or str(path).endswith(("/", os.sep)) or not suffix:
        return "dir"
    if suffix == ".y4m":
        return "y4m"
    if suffix in LOSSY_OUTPUT_SUFFIXES:
        return "lossy"
    raise InrcodecError(f"{path}: a video decodes to a directory of PNG frames, a .y4m file, or "
                        f"(lossy) {', '.join(sorted(LOSSY_OUTPUT_SUFFIXES))}")


class FrameWriter:
    """Writes a decoded clip group by group; `finish()` makes it appear, `abort()` cleans up."""

    def __init__(self, path, force: bool, width: int, height: int, channels: int, fps: Fraction,
                 frames: int):
        self.path, self.force = Path(path), force
        self.width, self.height, self.channels, self.fps = width, height, channels, fps
        self.total, self.written = frames, 0
        self.kind = clip_output_kind(path)
        self._tmp = None
        try:
            if self.kind == "dir":
                self._open_dir()
            else:
                if files.output_kind(self.path) != "file":
                    raise InrcodecError(f"{path}: a video is written to a directory, a .y4m or a "
                                        "video file, not to stdout, a device or a pipe")
                files.check_writable(self.path, force)
                fd, tmp = tempfile.mkstemp(prefix=files.temp_prefix(self.path),
                                           suffix=self.path.suffix, dir=self.path.parent)
                self._tmp = Path(tmp)
                if self.kind == "y4m":
                    self._file = os.fdopen(fd, "wb")
                    colour = "Cmono" if channels == 1 else "C444 XCOLORRANGE=FULL"
                    self._file.write(f"YUV4MPEG2 W{width} H{height} F{fps.numerator}:"
                                     f"{fps.denominator} Ip A1:1 {colour}\n".encode())
                else:
                    os.close(fd)
                    self._open_ffmpeg()
        except OSError as exc:
            self.abort()
            raise InrcodecError(f"{path}: cannot write ({exc.strerror})") from None

    # -- directory of PNGs: a new directory is filled under a temporary name, then renamed
    def _open_dir(self):
        p = self.path
        if p.exists() and not p.is_dir():
            raise InrcodecError(f"{p}: exists and is not a directory")
        if p.is_dir():
            if any(p.iterdir()) and not self.force:
                raise InrcodecError(f"{p}: directory already exists and is not empty "
                                    "(use --force to write the frames into it)")
            if not os.access(p, os.W_OK):
                raise InrcodecError(f"{p}: directory is not writable")
            self._dir = p
            return
        parent = p.parent if str(p.parent) else Path(".")
        if not parent.is_dir():
            raise InrcodecError(f"{p}: directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise InrcodecError(f"{p}: directory {parent} is not writable")
        self._tmp = Path(tempfile.mkdtemp(prefix=files.temp_prefix(p), dir=parent))
        self._dir = self._tmp

    def _open_ffmpeg(self):
        try:
            import imageio_ffmpeg
        except ImportError:
            raise InrcodecError("writing video files needs imageio-ffmpeg (pip install imageio-ffmpeg)") from None
        even = self.width % 2 == 0 and self.height % 2 == 0
        self._ffmpeg = imageio_ffmpeg.write_frames(
            str(self._tmp), (self.width, self.height),
            pix_fmt_in="gray" if self.channels == 1 else "rgb24",
            pix_fmt_out="yuv420p" if even else "yuv444p", fps=float(self.fps), codec="libx264",
            quality=None, macro_block_size=1, output_params=["-crf", "12"])
        self._ffmpeg.send(None)

    def write(self, frames: np.ndarray) -> None:
        """frames: uint8 [T, H, W, C]."""
        try:
            for frame in frames:
                if self.kind == "dir":
                    image_files.write_image(self._dir / frame_name(self.written, self.total), frame,
                                         True)
                elif self.kind == "y4m":
                    planes = frame[..., 0] if self.channels == 1 else rgb_to_yuv444(frame)
                    self._file.write(b"FRAME\n" + np.ascontiguousarray(planes).tobytes())
                else:
                    self._ffmpeg.send(np.ascontiguousarray(frame).tobytes())
                self.written += 1
        except OSError as exc:
            raise InrcodecError(f"{self.path}: cannot write ({exc.strerror})") from None

    def finish(self) -> None:
        try:
            if self.kind == "y4m":
                self._file.close()
            elif self.kind == "lossy":
                self._ffmpeg.close()
            if self.kind == "dir":
                if self.force:      # frames left over from a longer clip decoded here before
                    for old in self._dir.iterdir():
                        m = FRAME_NAME.fullmatch(old.name)
                        if m and int(m.group(1)) >= self.written:
                            old.unlink()
                if self._tmp is not None:
                    if os.path.lexists(self.path):
                        raise InrcodecError(f"{self.path}: appeared while decoding; not replaced")
                    os.chmod(self._tmp, 0o777 & ~files.current_umask())    # mkdtemp made it private
                    os.rename(self._tmp, self.path)
            else:
                if os.path.lexists(self.path) and not self.force:
                    raise InrcodecError(f"{self.path}: already exists (use --force to replace it)")
                if files.output_kind(self.path) != "file":    # never replace a device or pipe
                    raise InrcodecError(f"{self.path}: became a special file while decoding; "
                                        "not replaced")
                os.chmod(self._tmp, 0o666 & ~files.current_umask())        # mkstemp made it private
                os.replace(self._tmp, self.path)
            self._tmp = None
        except OSError as exc:
            raise InrcodecError(f"{self.path}: cannot write ({exc.strerror})") from None
        finally:
            self.abort()

    def abort(self) -> None:
        """Remove whatever a failed decode left behind (temporary names only)."""
        for name in ("_file",):
            f = getattr(self, name, None)
            if f is not None and not f.closed:
                f.close()
        ff = getattr(self, "_ffmpeg", None)
        if ff is not None and self._tmp is not None:
            try:
                ff.close()
            except Exception:
                pass
        if self._tmp is not None:
            if self._tmp.is_dir():
                shutil.rmtree(self._tmp, ignore_errors=True)
            elif self._tmp.exists():
                self._tmp.unlink()
            self._tmp = None


def replace_frame_directory(dst: Path, pngs: list) -> None:
    """Write a clip's frames (PNG bytes) as dst/frame_0000.png ...: filled under a temporary name
    in the same parent, then renamed into place, so an interruption leaves no partial directory.
    An existing directory there (decoded before, or incomplete) is replaced only if it holds
    nothing but frame files (decode-batch's writer; FrameWriter streams a decode instead)."""
    dst = Path(dst)
    if dst.exists() and not dst.is_dir():
        raise InrcodecError(f"{dst}: exists and is not a directory")
    if dst.is_dir():
        others = [p.name for p in dst.iterdir() if not FRAME_NAME.fullmatch(p.name)]
        if others:
            raise InrcodecError(f"{dst}: holds files other than decoded frames ({others[0]}); "
                                "not replaced")
    tmp = old = None
    try:
        dst.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=files.temp_prefix(dst), suffix=".tmp", dir=dst.parent))
        for k, png in enumerate(pngs):
            (tmp / frame_name(k, len(pngs))).write_bytes(png)
        os.chmod(tmp, 0o777 & ~files.current_umask())        # mkdtemp made it private
        if dst.is_dir():
            old = Path(tempfile.mkdtemp(prefix=files.temp_prefix(dst), suffix=".old", dir=dst.parent))
            os.rename(dst, old / dst.name)
            try:
                os.rename(tmp, dst)
            except BaseException:
                os.rename(old / dst.name, dst)
                raise
        else:
            os.rename(tmp, dst)
        tmp = None
    except OSError as exc:
        raise InrcodecError(f"{dst}: cannot write ({exc.strerror or exc})") from None
    finally:
        for leftover in (tmp, old):
            if leftover is not None:
                shutil.rmtree(leftover, ignore_errors=True)
