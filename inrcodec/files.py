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


def file_kind(path: str | os.PathLike) -> str:
    """What a path is, following links: "file", "directory", "pipe", "character device",
    "block device", "socket", "missing" or "unreadable"."""
    try:
        return _kind(os.stat(path).st_mode)
    except FileNotFoundError:
        return "missing"
    except OSError:
        return "unreadable"


def _stdio_stat(fd: int):
    try:
        return os.fstat(fd)
    except (OSError, ValueError):
        return None


def same_file(a: str | os.PathLike, b: str | os.PathLike) -> bool:
    """Whether two paths name the same file (resolved, or the same inode: hard links); `-` is
    stdin as the first (an input), stdout as the second (an output), compared by inode too, so
    `decode x.inr -o - >> x.inr` is caught as `cat` catches it."""
    try:
        sa = _stdio_stat(0) if str(a) == STDIO else os.stat(a)
        sb = _stdio_stat(1) if str(b) == STDIO else os.stat(b)
    except OSError:
        sa = sb = None
    if sa is not None and sb is not None and stat.S_ISREG(sa.st_mode):
        return (sa.st_dev, sa.st_ino) == (sb.st_dev, sb.st_ino)
    if STDIO in (str(a), str(b)):
        return False
    try:
        return Path(a).resolve() == Path(b).resolve()
    except OSError:
        return False


def is_pipe_input(path: str | os.PathLike) -> bool:
    """Whether an input is stdin or a named pipe: it has no name to derive an output's from."""
    return str(path) == STDIO or file_kind(path) == "pipe"


# ------------------------------------------------------------------------------------ inputs

def input_kind(path: str | os.PathLike) -> str:
    """"file" or "pipe" (stdin, /dev/stdin, a named pipe), or a refusal saying what the path is
    (a directory, a device, a socket, a terminal)."""
    if str(path) == STDIO:
        st = _stdio_stat(0) if sys.stdin is not None else None
        if st is None:
            raise InrcodecError("-: stdin is closed; pipe a file in (... | inrcodec ... -)")
        if os.isatty(0):
            raise InrcodecError("-: stdin is a terminal; pipe a file in (... | inrcodec ... -)")
        kind, where = _kind(st.st_mode), "-: stdin"
    else:
        kind, where = file_kind(path), str(path)
        if kind == "missing":
            raise InrcodecError(f"{path}: no such file")
        if kind == "unreadable":
            try:
                os.stat(path)
            except OSError as exc:
                raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if kind == "directory":
        raise InrcodecError(f"{where}: is a directory")
    if kind not in ("file", "pipe"):
        raise InrcodecError(f"{where}: is a {kind}, not a file")
    return kind


def open_input(path: str | os.PathLike, limit: int, what: str = "file"):
    """(binary stream, size or None for a pipe) of an input of at most `limit` bytes: a regular
    file over it is refused from its size, before reading; a named pipe is given up after
    WRITER_WAIT_SECONDS without a writer (an error, not a hang). The path is opened without
    blocking and checked again by its descriptor, so a pipe swapped in after the check cannot
    hang the open."""
    kind = input_kind(path)
    try:
        fd = os.dup(0) if str(path) == STDIO else os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        st = os.fstat(fd)
        if _kind(st.st_mode) != kind:
            raise InrcodecError(f"{path}: changed while being opened")
        if kind == "pipe" and str(path) != STDIO:
            poller = select.poll()
            poller.register(fd, select.POLLIN)
            if not poller.poll(int(WRITER_WAIT_SECONDS * 1000)):
                raise InrcodecError(f"{path}: a pipe that nothing was written to in "
                                    f"{WRITER_WAIT_SECONDS:.0f} s")
        os.set_blocking(fd, True)
        if kind == "file" and st.st_size > limit:
            raise InrcodecError(f"{path}: {st.st_size} bytes, more than any {what} this build "
                                f"reads ({limit} bytes)")
        stream = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    return stream, (st.st_size if kind == "file" else None)


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
    """"stdout" (`-`, or a path to what stdout is, as /dev/stdout), "stream" (an existing
    character device or named pipe, or a link to one: written as it is, never replaced), "file"
    (created or, with --force, replaced: a link to a file is replaced itself, its target is
    untouched), or a refusal (a directory, a block device, a socket, a name ending in /)."""
    if str(path) == STDIO:
        return "stdout"
    if str(path).endswith(("/", os.sep)):
        raise InrcodecError(f"{path}: names a directory; give a file name")
    try:
        link = stat.S_ISLNK(os.lstat(path).st_mode)
    except FileNotFoundError:
        return "file"
    except OSError as exc:
        raise InrcodecError(f"{path}: cannot write ({exc.strerror or exc})") from None
    kind = file_kind(path)
    if kind == "missing" and link:
        return "file"                 # a dangling link: an existing name all the same
    out = _stdio_stat(1)
    try:
        target = os.stat(path)
    except OSError:
        target = None
    if out is not None and target is not None and \
            (out.st_dev, out.st_ino) == (target.st_dev, target.st_ino):
        return "stdout"
    if kind in ("character device", "pipe"):
        return "stream"
    if kind == "directory":
        raise InrcodecError(f"{path}: is a directory")
    if kind in ("block device", "socket", "special file"):
        raise InrcodecError(f"{path}: is a {kind}; not written")
    return "file"


def check_stdout(path: str | os.PathLike) -> None:
    """Refuse to send a file's bytes to stdout when stdout is a terminal, or closed."""
    if str(path) != STDIO:
        return
    if sys.stdout is None or _stdio_stat(1) is None:
        raise InrcodecError("stdout is closed: give -o FILE")
    if os.isatty(1):
        raise InrcodecError("stdout is a terminal: give -o FILE, or redirect stdout (> FILE)")


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
    """A temporary name's start: the target's name, cut to TEMP_NAME_CHARS bytes (names are
    limited in bytes, not characters) so the whole name stays legal."""
    return "." + os.fsdecode(os.fsencode(p.name)[:TEMP_NAME_CHARS]) + "."


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _write_stream(path: str | os.PathLike, data: bytes) -> None:
    """stdout, a character device, or a named pipe that a reader has open (never waits for one).
    A reader that goes away raises BrokenPipeError, which the command line ends quietly."""
    if output_kind(path) == "stdout":
        if sys.stdout is None or _stdio_stat(1) is None:
            raise InrcodecError("stdout is closed")
        sys.stdout.flush()
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    try:
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
