"""Files as bytes: bounded reads of inputs, and outputs written atomically (a temporary file
beside the target, then a rename) that never replace a user's file without --force."""
from __future__ import annotations

import os
import tempfile
from pathlib import Path

from .errors import InrcodecError


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (resolved, or the same inode: hard links)."""
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False


def input_file(path: str | os.PathLike) -> Path:
    """An input path that names a file, or a one-line refusal saying why it does not."""
    p = Path(path)
    if not p.exists():
        raise InrcodecError(f"{path}: no such file")
    if p.is_dir():
        raise InrcodecError(f"{path}: is a directory")
    return p


def read_bytes(path: str | os.PathLike) -> bytes:
    p = input_file(path)
    try:
        return p.read_bytes()
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror})") from None


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Fail early (before a long fit) if the output cannot or must not be written."""
    p = Path(path)
    if p.is_dir():
        raise InrcodecError(f"{path}: is a directory")
    if p.exists() and not force:
        raise InrcodecError(f"{path}: already exists (use --force to overwrite)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InrcodecError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InrcodecError(f"{path}: directory {parent} is not writable")
    # os.access can say yes where creating a file fails (read-only or full file system, quotas,
    # network mounts, root squash): create the temporary file write_atomic will need, now
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=parent)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot create a file in {parent} ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:
        pass
    return p


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_atomic(path: str | os.PathLike, data: bytes, force: bool) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written file."""
    p = check_writable(path, force)
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{p.name}.", suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())   # mkstemp makes 0600; a new file normally gets 0666-umask
        if p.exists() and not force:   # appeared meanwhile
            raise InrcodecError(f"{path}: already exists (use --force to overwrite)")
        os.replace(tmp, p)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
