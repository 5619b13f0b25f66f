"""Command line: encode / decode / info / profile / encode-batch / decode-batch.

Every failure a user can cause ends as one line `inrcodec: error: ...` on stderr and a non-zero
exit (2 for bad usage, 1 otherwise); set INRCODEC_DEBUG=1 to see tracebacks of internal errors.
This package owns argparse and everything printed; the library packages print nothing.

    arguments.py   the parser: commands, flags, types, help
    encode.py      encode (image, rec mode, video)
    decode.py      decode, info, profile (every mode through modes.py)
    info_text.py   info as text
    batch.py       encode-batch, decode-batch
"""
from __future__ import annotations

import os
import sys

from ..errors import InrcodecError
from ..limits import is_memory_error
from .arguments import build_parser


def _commands() -> dict:
    from .batch import cmd_decode_batch, cmd_encode_batch
    from .decode import cmd_decode, cmd_info, cmd_profile
    from .encode import cmd_encode
    return {"encode": cmd_encode, "decode": cmd_decode, "info": cmd_info, "profile": cmd_profile,
            "encode-batch": cmd_encode_batch, "decode-batch": cmd_decode_batch}


EXIT_BROKEN_PIPE = 141     # 128 + SIGPIPE: what `cat`, `ls` ... exit with when a reader goes away


def _quiet_stdout() -> None:
    """After a closed pipe: point stdout at /dev/null so the interpreter's final flush is silent."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):   # stdout without a file descriptor (tests)
        pass


def _one_line_warning(message, category, filename, lineno, line=None) -> str:
    """Warnings as users see errors: one line, no source location."""
    text = str(message)
    return (text if text.startswith("inrcodec: ") else f"inrcodec: warning: {text}") + "\n"


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised where the program is: it unwinds as Ctrl-C does (workers stopped,
    temporary files removed), then exits 143."""


def _terminate(signum, frame):
    raise Terminated


EXIT_INTERRUPTED, EXIT_TERMINATED = 130, 143      # 128 + SIGINT, 128 + SIGTERM


def main(argv: list[str] | None = None) -> int:
    import signal
    import warnings
    try:
        args = build_parser().parse_args(argv)
    except MemoryError:
        sys.stderr.write("inrcodec: error: out of memory while starting\n")
        return 1
    warnings.formatwarning = _one_line_warning
    previous = signal.getsignal(signal.SIGTERM)
    if previous in (signal.SIG_DFL, None):
        try:
            signal.signal(signal.SIGTERM, _terminate)
        except ValueError:       # not the main thread: leave SIGTERM as it is
            previous = "left"
    try:
        from ..memory import retain_freed_memory
        retain_freed_memory()    # a short-lived process whose fits reuse the same activations
        code = _commands()[args.command](args)
        if sys.stdout is not None:
            sys.stdout.flush()   # a closed pipe shows here, not at exit
        return code
    except BrokenPipeError:      # e.g. `inrcodec info x.inr | head -1`: the reader has all it wants
        _quiet_stdout()
        return EXIT_BROKEN_PIPE
    except InrcodecError as exc:
        sys.stderr.write(f"inrcodec: error: {exc}\n")
        return 1
    except Terminated:
        sys.stderr.write("inrcodec: error: terminated\n")
        return EXIT_TERMINATED
    except KeyboardInterrupt:
        sys.stderr.write("inrcodec: error: interrupted\n")
        return EXIT_INTERRUPTED
    except Exception as exc:  # never a traceback for users
        if is_memory_error(exc):
            text = " ".join(str(exc).split())[:200]
            sys.stderr.write(f"inrcodec: error: out of memory ({type(exc).__name__}"
                             f"{': ' + text if text else ''})\n")
            return 1
        if os.environ.get("INRCODEC_DEBUG"):
            raise
        sys.stderr.write(f"inrcodec: error: internal error: {type(exc).__name__}: {exc}\n")
        return 1
    finally:
        if previous in (signal.SIG_DFL, None):
            signal.signal(signal.SIGTERM, previous or signal.SIG_DFL)


if __name__ == "__main__":
    sys.exit(main())
