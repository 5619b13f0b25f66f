import sys

try:
    from .cli import main
except MemoryError:              # under a tight `ulimit -v`: one line, as every other error
    sys.stderr.write("inrcodec: error: out of memory while starting\n")
    sys.exit(1)

sys.exit(main())
