"""Files as bytes: bounded reads of inputs, and outputs that never replace a user's file without
--force.

Inputs: a regular file, a pipe (`-` for stdin, /dev/stdin, a named pipe: read as a stream, up to
the caller's limit; a named pipe nobody writes to is given up after WRITER_WAIT_SECONDS), never a
device or a socket. Outputs: a regular file, written to a temporary file beside the target and
renamed into place (never half-written); `-` (stdout), a character device such as /dev/null or a
named pipe someone reads, written as a stream; never a directory, a block device or a socket, and
no special file is ever replaced by a regular one.
"""
from __future__ import annotations

import errno
import os
import select
import stat
import sys
import tempfile
from pathlib import Path

from .errors import InrcodecError

STDIO = "-"                    # as an input: stdin; as an output: stdout
WRITER_WAIT_SECONDS = 10.0     # how long a named pipe may stay without a writer
TEMP_NAME_CHARS = 64           # of the target's name in a temporary name (names <= 255 bytes)


def _kind(mode: int) -> str:
    for test, name in ((stat.S_ISREG, "file"), (stat.S_ISDIR, "directory"),
                       (stat.S_ISFIFO, "pipe"), (stat.S_ISCHR, "character device"),
                       (stat.S_ISBLK, "block device"), (stat.S_ISSOCK, "socket")):
        if test(mode):
            return name
    return "special file"


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (resolved, or the same inode: hard links); never for
    stdin/stdout."""
    if STDIO in (str(a), str(b)):
        return False
    pa, pb = Path(a), Path(b)
    try:
        if pa.resolve() == pb.resolve():
            return True
        return pa.exists() and pb.exists() and os.path.samefile(pa, pb)
    except OSError:
        return False


# ------------------------------------------------------------------------------------ inputs

def input_kind(path: str | os.PathLike) -> str:
    """"file", "pipe" (stdin, /dev/stdin, a named pipe) or a refusal saying what the path is."""
    if str(path) == STDIO:
        if sys.stdin is None or sys.stdin.isatty():
            raise InrcodecError("-: stdin is a terminal; pipe a file in (... | inrcodec ... -)")
        return "pipe"
    try:
        mode = os.stat(path).st_mode
    except FileNotFoundError:
        raise InrcodecError(f"{path}: no such file") from None
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    kind = _kind(mode)
    if kind == "directory":
        raise InrcodecError(f"{path}: is a directory")
    if kind not in ("file", "pipe"):
        raise InrcodecError(f"{path}: is a {kind}, not a file")
    return kind


def _open_pipe(path: str | os.PathLike):
    """A binary stream of a pipe: stdin, or a named pipe once a writer has written to it (given
    up after WRITER_WAIT_SECONDS, so a pipe nobody writes to is an error, not a hang)."""
    if str(path) == STDIO:
        return os.fdopen(os.dup(sys.stdin.fileno()), "rb")
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    poller = select.poll()
    poller.register(fd, select.POLLIN)
    if not poller.poll(int(WRITER_WAIT_SECONDS * 1000)):
        os.close(fd)
        raise InrcodecError(f"{path}: a pipe that nothing was written to in "
                            f"{WRITER_WAIT_SECONDS:.0f} s")
    os.set_blocking(fd, True)
    return os.fdopen(fd, "rb")


def open_input(path: str | os.PathLike, limit: int, what: str = "file"):
    """(binary stream, size or None for a pipe) of an input of at most `limit` bytes (a regular
    file over it is refused from its size, before reading)."""
    kind = input_kind(path)
    if kind == "pipe":
        return _open_pipe(path), None
    size = os.stat(path).st_size
    if size > limit:
        raise InrcodecError(f"{path}: {size} bytes, more than any {what} this build reads "
                            f"({limit} bytes)")
    try:
        return open(path, "rb"), size
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_stream(stream, path, limit: int, what: str = "file") -> bytes:
    """Everything left in a stream, refused once it runs past `limit` bytes."""
    chunks, total = [], 0
    try:
        while True:
            chunk = stream.read(min(1 << 20, limit + 1 - total))
            if not chunk:
                return b"".join(chunks)
            chunks.append(chunk)
            total += len(chunk)
            if total > limit:
                raise InrcodecError(f"{path}: more than {limit} bytes, more than any {what} this "
                                    "build reads")
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None


def read_bytes(path: str | os.PathLike, limit: int = 1 << 30, what: str = "file") -> bytes:
    """The bytes of an input (a file or a pipe) of at most `limit` bytes."""
    stream, _ = open_input(path, limit, what)
    with stream:
        return read_stream(stream, path, limit, what)


def read_container(path: str | os.PathLike) -> bytes:
    """The bytes of an .inr file, read no further than the container says the file runs
    (bitstream.container_length): /dev/zero, a forged or padded file, a pipe that never ends are
    refused after reading the container's first bytes."""
    from .bitstream import MAX_FILE_BYTES, container_length
    from .limits import ensure_memory
    stream, size = open_input(path, MAX_FILE_BYTES, "inrcodec file")
    with stream:
        head, total = b"", None
        try:
            while total is None:
                chunk = stream.read(4096 if len(head) < 4096 else len(head))
                if not chunk:
                    return head           # shorter than its length fields: unpack says how
                head += chunk
                total = container_length(head)
        except OSError as exc:
            raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if size is not None and size != total:
            raise InrcodecError(f"{path}: corrupt or truncated inrcodec file ({size} bytes; its "
                                f"container says {total})")
        if total > MAX_FILE_BYTES:
            raise InrcodecError(f"{path}: corrupt inrcodec file (its container claims {total} "
                                "bytes)")
        ensure_memory(total, f"reading {path}")
        parts, have = [head], len(head)
        try:
            while have < total:
                chunk = stream.read(min(1 << 24, total - have))
                if not chunk:
                    break              # cut short: unpack says so
                parts.append(chunk)
                have += len(chunk)
            more = stream.read(1) if have == total else b""
        except OSError as exc:
            raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
        if have > total or more:
            raise InrcodecError(f"{path}: corrupt inrcodec file (data after its end)")
        return b"".join(parts)


# ----------------------------------------------------------------------------------- outputs

def output_kind(path: str | os.PathLike) -> str:
    """"stdout", "stream" (an existing character device or named pipe: written as it is, never
    replaced), "file" (created or, with --force, replaced), or a refusal."""
    if str(path) == STDIO:
        return "stdout"
    text = str(path)
    if text.endswith(("/", os.sep)):
        raise InrcodecError(f"{path}: names a directory; give a file name")
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "file"
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot write ({exc.strerror or exc})") from None
    kind = _kind(mode)
    if kind in ("character device", "pipe"):
        return "stream"
    if kind == "directory":
        raise InrcodecError(f"{path}: is a directory")
    if kind in ("block device", "socket"):
        raise InrcodecError(f"{path}: is a {kind}; not written")
    return "file"


def check_writable(path: str | os.PathLike, force: bool) -> Path:
    """Fail early (before a long fit) if the output cannot or must not be written."""
    p = Path(path)
    kind = output_kind(path)
    if kind != "file":
        return p
    if os.path.lexists(p) and not force:
        what = "a symbolic link" if p.is_symlink() else "a file"
        raise InrcodecError(f"{path}: already exists as {what} (use --force to replace it)")
    parent = p.parent if str(p.parent) else Path(".")
    if not parent.is_dir():
        raise InrcodecError(f"{path}: directory {parent} does not exist")
    if not os.access(parent, os.W_OK):
        raise InrcodecError(f"{path}: directory {parent} is not writable")
    # os.access can say yes where creating a file fails (read-only or full file system, quotas,
    # network mounts, root squash): create the temporary file write_atomic will need, now
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(p), suffix=".tmp", dir=parent)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot create a file in {parent} ({exc.strerror or exc})") from None
    os.close(fd)
    try:
        os.unlink(tmp)
    except OSError:
        pass
    return p


def temp_prefix(p: Path) -> str:
    """A temporary name's start: the target's name, cut so the whole name stays legal."""
    return f".{p.name[:TEMP_NAME_CHARS]}."


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_stream(path: str | os.PathLike, data: bytes) -> None:
    """stdout, a character device, or a named pipe that a reader has open (never waits for one)."""
    try:
        if str(path) == STDIO:
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
            return
        fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.ENXIO:
            raise InrcodecError(f"{path}: a named pipe that nothing reads") from None
        raise InrcodecError(f"{path}: cannot write ({exc.strerror or exc})") from None
    try:
        os.set_blocking(fd, True)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot write ({exc.strerror or exc})") from None


def write_atomic(path: str | os.PathLike, data: bytes, force: bool) -> None:
    """Write to a temporary file beside the target, then rename: never a half-written file.
    stdout, a character device or a named pipe are written as streams."""
    p = check_writable(path, force)
    if output_kind(path) != "file":
        _write_stream(path, data)
        return
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=temp_prefix(p), suffix=".tmp", dir=p.parent)
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o666 & ~current_umask())   # mkstemp makes 0600; a new file normally gets 0666-umask
        if os.path.lexists(p) and not force:   # appeared meanwhile
            raise InrcodecError(f"{path}: already exists (use --force to replace it)")
        if output_kind(path) != "file":        # became a device or pipe meanwhile: never replaced
            raise InrcodecError(f"{path}: became a special file while writing; not replaced")
        os.replace(tmp, p)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot write ({exc.strerror or exc})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
