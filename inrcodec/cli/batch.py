"""`inrcodec encode-batch` and `decode-batch`: the batch library (batch/) and its summary line."""
from __future__ import annotations

import sys
from pathlib import Path


def _report(rows, output_dir, verb: str, quiet: bool) -> int:
    from ..batch import RESULTS_NAME
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "failed")}
    if not quiet:
        print(f"{counts['ok']} {verb}, {counts['skipped']} skipped, {counts['failed']} failed")
    if counts["failed"]:
        sys.stderr.write(f"inrcodec: error: {counts['failed']} of {len(rows)} "
                         f"{'images' if verb == 'encoded' else 'files'} failed "
                         f"(see {Path(output_dir) / RESULTS_NAME})\n")
        return 1
    return 0


def cmd_encode_batch(args) -> int:
    from ..batch import encode_batch
    from .encode import _require_torch
    _require_torch()
    from ..options import EncodeOptions
    options = EncodeOptions.build(lmbda=args.lmbda, preset=args.preset, iterations=args.iterations,
                                  time_budget=args.time_budget, device=args.device, seed=args.seed)
    rows = encode_batch(args.input_dir, args.output, executor=args.executor, workers=args.workers,
                        ray_address=args.ray_address, gpus_per_task=args.gpus_per_task,
                        progress=not args.quiet, options=options)
    return _report(rows, args.output, "encoded", args.quiet)


def cmd_decode_batch(args) -> int:
    from ..batch import decode_batch
    rows = decode_batch(args.input_dir, args.output, executor=args.executor, workers=args.workers,
                        ray_address=args.ray_address, force=args.force, progress=not args.quiet)
    return _report(rows, args.output, "decoded", args.quiet)
