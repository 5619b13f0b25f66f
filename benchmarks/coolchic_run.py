"""Runs one Cool-chic script (cc_encode.py / cc_decode.py) unchanged, pinned and timed.

Executed by Cool-chic's own interpreter (its venv), not ours, so it needs only the standard
library and torch. benchmarks/coolchic.py calls it as

    python benchmarks/coolchic_run.py --threads 1 --seed 0 SCRIPT [ARGS...]

It pins torch to --threads intra-op and inter-op threads (OMP_NUM_THREADS and friends are set by
the caller too), seeds torch's generator (Cool-chic seeds nothing itself, so its runs would
otherwise differ from one to the next), imports the modules the script imports at its top
level (found by parsing it, or named by --preimport) so that their import time is not counted,
then runs SCRIPT as __main__ with ARGS as its command line and prints one line

    INRCODEC_HARNESS {"seconds": <wall time of the script itself>, "exit": <its exit code>}

last on stdout. --check imports the modules and prints versions instead of running anything.
"""
from __future__ import annotations

import argparse
import ast
import importlib
import json
import os
import runpy
import sys
import time

MARKER = "INRCODEC_HARNESS"


def top_level_imports(script: str) -> list[str]:
    """Modules imported by the script's module-level statements (not those inside its
    ``if __name__ == "__main__":`` block or functions), in order."""
    with open(script, encoding="utf-8") as f:
        tree = ast.parse(f.read(), filename=script)
    mods = []
    for node in tree.body:
        if isinstance(node, ast.Import):
            mods += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            mods.append(node.module)
    return mods


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--preimport", default="auto",
                    help="comma-separated modules, or auto: those the script imports at its "
                         "top level")
    ap.add_argument("--check", action="store_true")
    ap.add_argument("script")
    ap.add_argument("args", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)

    script = os.path.abspath(a.script)
    sys.path.insert(0, os.path.dirname(script))      # as `python SCRIPT` would
    import torch
    torch.set_num_threads(a.threads)
    try:
        torch.set_num_interop_threads(a.threads)
    except RuntimeError:                              # already set (only allowed once)
        pass
    if a.seed is not None:
        torch.manual_seed(a.seed)
    mods = top_level_imports(script) if a.preimport == "auto" else a.preimport.split(",")
    for mod in filter(None, mods):
        importlib.import_module(mod)
    if a.check:
        import torchvision
        print(MARKER, json.dumps({"torch": torch.__version__,
                                  "torchvision": getattr(torchvision, "__version__", "?"),
                                  "torchvision_file": torchvision.__file__,
                                  "threads": torch.get_num_threads()}), flush=True)
        return 0
    sys.argv = [script, *a.args]
    start = time.perf_counter()
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as e:
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    seconds = time.perf_counter() - start
    sys.stdout.flush()
    print(f"\n{MARKER}", json.dumps({"seconds": seconds, "exit": code}), flush=True)
    return code


if __name__ == "__main__":
    sys.exit(main())
