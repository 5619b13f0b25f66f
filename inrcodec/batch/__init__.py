"""Batch encoding/decoding of a directory tree, on this machine or on a Ray cluster.

    rows = encode_batch("photos/", "coded/", workers=2, lmbda=1e-3, iterations=2000)
    rows = encode_batch("photos/", "coded/", executor="ray", ray_address="auto", gpus_per_task=1)
    rows = decode_batch("coded/", "decoded/")

No scheduler of our own: the local executor is a `concurrent.futures.ProcessPoolExecutor` (spawn),
the cluster one is one Ray task per image. The driver (this process) reads every input, ships the
pixels (or .inr bytes) to a worker and writes what comes back, so workers never touch the output
tree: a cluster needs no shared file system, and an interrupted run leaves no half-written file
(outputs go through `files.write_atomic`: a temporary file beside the target, then a rename).

Outputs mirror the input tree (`a/b.png` -> `OUTPUT_DIR/a/b.inr`, or `a/b.inr` -> `a/b.png`; a
video `a/c.inr` -> the directory `a/c/` of frame_0000.png ..., as `inrcodec decode a/c.inr -o
a/c/` writes it), with `OUTPUT_DIR/results.csv`, one row per input:

    encode: path,status,bytes,bpp,psnr,encode_seconds,device,error
    decode: path,status,bytes,width,height,frames,decode_seconds,error

`status` is ok, skipped or failed; `bytes` is the size of the .inr file in both; `frames` is 1 for
an image. Runs are resumable: an .inr that already exists and parses (CRC checked) is skipped, a
corrupt or partial one is encoded again; decoding skips existing readable PNGs, and frame
directories holding exactly the clip's frames (each a readable PNG of its size), unless
force=True. A frame directory is filled under a temporary name beside it and renamed into place.
One bad input becomes a failed row with its one-line error and the batch goes on. The CSV is
rewritten atomically as results arrive (at most every few seconds) and at the end, so an
interrupted run keeps a valid one.

    plan.py       inputs, the mirrored output tree, resume checks, writing outputs
    results.py    results.csv and the progress bar
    tasks.py      the worker side: encode or decode one payload
    executors.py  local process pool or Ray
"""
from __future__ import annotations

from . import executors

__all__ = ["encode_batch", "decode_batch", "find_inputs", "IMAGE_SUFFIXES", "ENCODE_FIELDS",
           "DECODE_FIELDS", "RESULTS_NAME"]
from .plan import (existing_frames, existing_image, existing_inr, find_inputs, is_clip_file,
                   not_regular, plan_jobs, size_of, write_frames, write_output)
from .results import Results

# what `inrcodec encode` reads too (Pillow): still images; a multi-frame GIF is a failed row
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".pnm", ".bmp", ".tif", ".tiff",
                  ".webp", ".gif", ".avif", ".ico")
ENCODE_FIELDS = ("path", "status", "bytes", "bpp", "psnr", "encode_seconds", "device", "error")
DECODE_FIELDS = ("path", "status", "bytes", "width", "height", "frames", "decode_seconds",
                 "error")
RESULTS_NAME = "results.csv"


def encode_batch(input_dir, output_dir, *, executor: str = "local", workers: int | None = None,
                 ray_address: str | None = None, gpus_per_task: float | None = None,
                 progress: bool = True, options=None, **option_values) -> list[dict]:
    """Encode every image under input_dir to output_dir/<relative path>.inr; return the CSV rows.

    options: an EncodeOptions, or its fields as keywords: lmbda, preset, iterations,
    time_budget, device, seed (as encode_with_report)."""
    from ..options import EncodeOptions
    options = EncodeOptions.build(options, **option_values)
    executors.check(executor, workers, ray_address, gpus_per_task)
    if executor == "local":
        from ..fit.device import resolve_device
        resolve_device(options.device)     # e.g. cuda asked for but absent
    out, jobs, clashes = plan_jobs(input_dir, output_dir, IMAGE_SUFFIXES, ".inr", "images")
    results = Results(out / RESULTS_NAME, ENCODE_FIELDS, len(jobs), "encode", progress)

    todo = []
    for job in jobs:
        why = clashes.get(job.rel) or not_regular(job.src)
        if why:
            results.add({"path": job.rel, "status": "failed", "error": why})
            continue
        existing = existing_inr(job.dst)
        if existing is None:
            todo.append(job)
            continue
        n, w, h = existing
        results.add({"path": job.rel, "status": "skipped", "bytes": n, "bpp": 8.0 * n / (w * h)})

    def prepare(job):
        from ..image_files import read_image
        return read_image(job.src)

    def finish(job, result):
        row = {"path": job.rel}
        if "error" in result:
            return {**row, "status": "failed", "error": result["error"]}
        data = result.pop("data")
        write_output(job, data)
        warning = result.pop("warning", None)       # kept in the row: the batch is ok
        return {**row, "status": "ok", "bytes": len(data), **result,
                **({"error": f"warning: {warning}"} if warning else {})}

    executors.run("encode", todo, prepare, finish, results, {"options": options}, executor,
                  workers, ray_address, gpus_per_task, options.device)
    return results.close()


def decode_batch(input_dir, output_dir, *, executor: str = "local", workers: int | None = None,
                 ray_address: str | None = None, force: bool = False,
                 progress: bool = True) -> list[dict]:
    """Decode every .inr under input_dir to output_dir/<relative path>.png (a clip: to the
    directory output_dir/<relative path without .inr>/ of PNG frames); return the CSV rows."""
    executors.check(executor, workers, ray_address, None)
    out, jobs, clashes = plan_jobs(input_dir, output_dir, (".inr",), ".png", ".inr files",
                              is_video=is_clip_file)
    results = Results(out / RESULTS_NAME, DECODE_FIELDS, len(jobs), "decode", progress)
    todo = []
    for job in jobs:
        why = clashes.get(job.rel) or not_regular(job.src)
        if why:
            results.add({"path": job.rel, "status": "failed", "bytes": size_of(job.src),
                         "error": why})
            continue
        if force:
            existing = None
        elif job.video:
            existing = existing_frames(job.dst, job.src)
        else:
            size = existing_image(job.dst)
            existing = None if size is None else (*size, 1)
        if existing is None:
            todo.append(job)
            continue
        results.add({"path": job.rel, "status": "skipped", "bytes": size_of(job.src),
                     "width": existing[0], "height": existing[1], "frames": existing[2]})

    def prepare(job):
        from .. import modes
        from ..files import read_container
        data = read_container(job.src)
        return data, modes.of(data)

    def finish(job, result):
        row = {"path": job.rel, "bytes": size_of(job.src)}
        if "error" in result:
            return {**row, "status": "failed", "error": result["error"]}
        if job.video != ("pngs" in result):
            return {**row, "status": "failed", "error": "the file changed while the batch ran"}
        if job.video:
            write_frames(job, result.pop("pngs"))
        else:
            write_output(job, result.pop("data"))
        return {**row, "status": "ok", **result}

    # 8 files or more a worker: each worker loads the compiled latent decoder once, which costs
    # about what it saves on one or two pictures (entropy/engine.py, COMPILED_MIN_LATENTS)
    pool = max(1, min(workers or executors.cpu_count(), len(todo)))
    options = {"load_compiled": len(todo) >= 8 * pool}
    executors.run("decode", todo, prepare, finish, results, options, executor, workers,
                  ray_address, None, "cpu")
    return results.close()
