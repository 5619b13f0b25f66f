"""Batch driver side, before and after the work: which inputs there are, where each output goes
(a tree mirroring the input), what an earlier run already wrote (resume), and writing outputs."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import InrcodecError
from ..files import write_atomic


@dataclass
class Job:
    rel: str        # input path relative to the input dir, POSIX style (the CSV's `path`)
    src: Path
    dst: Path
    video: bool = False     # decode: dst is a directory of frames


def cpu_count() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


def find_inputs(input_dir, suffixes, exclude=None) -> list[str]:
    """Sorted POSIX paths, relative to input_dir, of every file below it with one of `suffixes`
    (hidden files and the directory `exclude`, the output when it lies inside, left out)."""
    root = Path(input_dir)
    skip = Path(exclude).resolve() if exclude is not None else None
    if not root.exists():
        raise InrcodecError(f"{input_dir}: no such directory")
    if not root.is_dir():
        raise InrcodecError(f"{input_dir}: not a directory")
    found = []
    for dirpath, dirnames, filenames in os.walk(root, onerror=None):
        dirnames[:] = sorted(d for d in dirnames if Path(dirpath, d).resolve() != skip)
        for name in filenames:
            if Path(name).suffix.lower() in suffixes and not name.startswith("."):
                found.append(Path(dirpath, name).relative_to(root).as_posix())
    return sorted(found)


def make_output_dir(output_dir) -> Path:
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InrcodecError(f"{output_dir}: cannot create directory ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK):
        raise InrcodecError(f"{output_dir}: directory is not writable")
    return out


def _check_apart(input_dir, output_dir, decoding: bool) -> None:
    """An output tree never lands on its inputs: not the input directory itself (even with
    --force), nor, when decoding to images, a directory that holds the input directory (its
    mirrored PNGs could replace the photos there)."""
    src, out = Path(input_dir).resolve(), Path(output_dir).resolve()
    if src == out:
        raise InrcodecError(f"{output_dir}: is the input directory; give another output directory")
    if decoding and out in src.parents:
        raise InrcodecError(f"{output_dir}: holds the input directory {input_dir}; its decoded "
                            "images could replace files there; give another output directory")


def plan_jobs(input_dir, output_dir, suffixes, out_suffix: str, what: str, is_video=None):
    """(output dir, jobs, clashes: rel -> why it cannot be written). is_video(src path): whether
    the input decodes to a directory (named as the output without its suffix)."""
    _check_apart(input_dir, output_dir, decoding=out_suffix != ".inr")
    rels = find_inputs(input_dir, suffixes, exclude=output_dir)
    if not rels:
        raise InrcodecError(f"{input_dir}: no {what} found (looked for {', '.join(suffixes)})")
    out = make_output_dir(output_dir)
    jobs, clashes, owner = [], {}, {}
    for rel in rels:
        src = Path(input_dir) / rel
        video = bool(is_video and not_regular(src) is None and is_video(src))
        dst_rel = Path(rel).with_suffix("" if video else out_suffix).as_posix()
        job = Job(rel, src, out / dst_rel, video)
        if dst_rel in owner:        # a.png and a.jpg would both become a.inr
            clashes[rel] = f"output {dst_rel} is already written from {owner[dst_rel]}"
        else:
            owner[dst_rel] = rel
        jobs.append(job)
    parents = {parent.as_posix() for rel in owner for parent in Path(rel).parents}
    for job in jobs:                # video a.inr -> a/, while a/b.inr -> a/b.png
        dst_rel = job.dst.relative_to(out).as_posix()
        if job.rel not in clashes and dst_rel in parents:
            clashes[job.rel] = f"output {dst_rel} is also a directory of the mirrored tree"
    return out, jobs, clashes


def not_regular(path: Path) -> str | None:
    """Why a path found in the input tree is not read (a pipe, a device, a socket: reading one
    could block the batch or never end), or None for a regular file."""
    from ..files import file_kind
    kind = file_kind(path)
    if kind == "file":
        return None
    if kind in ("missing", "unreadable"):
        return f"cannot read ({kind})"
    return f"not a regular file (a {kind}); not read"


def write_output(job: Job, data: bytes) -> None:
    try:
        job.dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InrcodecError(f"{job.dst.parent}: cannot create directory ({exc.strerror or exc})") from None
    write_atomic(job.dst, data, force=True)


def write_frames(job: Job, pngs: list) -> None:
    """A clip's frames as the directory job.dst (video/frame_writer.py)."""
    from ..video.frame_writer import replace_frame_directory
    replace_frame_directory(job.dst, pngs)


def existing_inr(path: Path):
    """(bytes, width, height) of a complete, parseable image-mode .inr at path (what encode-batch
    writes); None if absent, corrupt or of another mode (it is encoded again)."""
    from .. import modes
    from ..bitstream import MODE_IMAGE
    from ..files import read_container
    if not_regular(path) is not None:
        return None
    try:
        data = read_container(path)
        mode, parsed = modes.parse(data)
        if mode.byte != MODE_IMAGE:
            return None
        g = mode.geometry(parsed)
    except (OSError, InrcodecError):
        return None
    return len(data), g.width, g.height


def existing_image(path: Path):
    """(width, height) of a readable image at path; None if absent or unreadable."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        import imageio.v3 as iio
        shape = iio.improps(path).shape
    except Exception:
        return None
    return (shape[1], shape[0]) if len(shape) >= 2 else None


def mode_of_file(path: Path):
    """The Mode a file claims from its first bytes (the full checks come later), or None."""
    from .. import modes
    from ..bitstream import MAGIC
    if not_regular(path) is not None:
        return None
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + 3)
        return modes.of(head)
    except (OSError, InrcodecError):
        return None


def is_clip_file(path: Path) -> bool:
    """Whether the file starts like an .inr file of a mode that decodes to frames."""
    mode = mode_of_file(path)
    return mode is not None and mode.kind == "video"


def existing_frames(directory: Path, src: Path):
    """(width, height, frames) if `directory` holds exactly the frames of the clip .inr `src`
    (frame_0000.png ..., each a readable image of the clip's size, no other frame_*.png), else
    None."""
    from .. import modes
    from ..video.frame_writer import FRAME_NAME, frame_name
    if not directory.is_dir():
        return None
    from ..files import read_container
    try:
        mode, parsed = modes.parse(read_container(src))
        g = mode.geometry(parsed)
        names = {p.name for p in directory.iterdir() if FRAME_NAME.fullmatch(p.name)}
    except (OSError, InrcodecError):
        return None
    expected = [frame_name(k, g.frames) for k in range(g.frames)]
    if names != set(expected):
        return None
    for name in expected:
        if existing_image(directory / name) != (g.width, g.height):
            return None
    return g.width, g.height, g.frames


def size_of(path: Path):
    try:
        return path.stat().st_size
    except OSError:
        return None
