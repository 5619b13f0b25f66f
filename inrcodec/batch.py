"""Batch encoding/decoding of a directory tree, on this machine or on a Ray cluster.

    rows = encode_batch("photos/", "coded/", workers=2, lmbda=1e-3, iterations=2000)
    rows = encode_batch("photos/", "coded/", executor="ray", ray_address="auto", gpus_per_task=1)
    rows = decode_batch("coded/", "decoded/")

No scheduler of our own: the local executor is a `concurrent.futures.ProcessPoolExecutor` (spawn),
the cluster one is one Ray task per image. The driver (this process) reads every input, ships the
pixels (or .inr bytes) to a worker and writes what comes back, so workers never touch the output
tree: a cluster needs no shared file system, and an interrupted run leaves no half-written file
(outputs go through `io.write_atomic`: a temporary file beside the target, then a rename).

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
"""
from __future__ import annotations

import contextlib
import csv
import io as _stdio
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from . import io
from .errors import InrcodecError

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".ppm", ".pgm", ".bmp", ".tif", ".tiff", ".webp")
ENCODE_FIELDS = ("path", "status", "bytes", "bpp", "psnr", "encode_seconds", "device", "error")
DECODE_FIELDS = ("path", "status", "bytes", "width", "height", "frames", "decode_seconds",
                 "error")
RESULTS_NAME = "results.csv"
ENCODE_OPTIONS = ("lmbda", "preset", "iterations", "time_budget", "device", "seed")
RAY_MISSING = 'the ray executor needs Ray: pip install -e ".[cluster]"'
CSV_EVERY_SECONDS = 2.0


# ---------------------------------------------------------------------------------------------
# Worker side: pure functions of (payload, options); they never touch the file system.

def _one_line(exc: BaseException) -> str:
    from .limits import is_memory_error, out_of_memory
    if not isinstance(exc, InrcodecError) and is_memory_error(exc):
        exc = out_of_memory("coding this input")   # a resource failure, not a bug or a bad file
    text = " ".join(str(exc).split())
    if not isinstance(exc, InrcodecError):
        text = f"internal error: {type(exc).__name__}: {text}" if text else f"internal error: {type(exc).__name__}"
    return text[:500]


def _encode_task(image, options: dict) -> dict:
    try:
        from .encoder import encode_with_report
        data, report = encode_with_report(image, progress=False, **options)
    except Exception as exc:
        return {"error": _one_line(exc)}
    return {"data": data, "bpp": report["bpp"], "psnr": report["psnr"],
            "encode_seconds": report["encode_seconds"], "device": report["device"]}


def _decode_task(data: bytes, options: dict) -> dict:
    """An image (grid or rec mode) -> {"data": PNG bytes, ...}; a video -> {"pngs": [PNG bytes
    of each frame], ...}."""
    try:
        from .bitstream import MODE_VIDEO, peek_mode
        if peek_mode(data) == MODE_VIDEO:
            return _decode_video_task(data)
        from .decode import decode
        if options.get("load_compiled"):     # a worker of a long batch: worth ~0.8 s once
            from .entropy.coder import load_compiled
            load_compiled()
        start = time.perf_counter()
        image = decode(data)
        seconds = time.perf_counter() - start
        png = io.encode_image_file(image, ".png")
    except Exception as exc:
        return {"error": _one_line(exc)}
    h, w = image.shape[:2]
    return {"data": png, "width": w, "height": h, "frames": 1, "decode_seconds": seconds}


def _decode_video_task(data: bytes) -> dict:
    from .video.decode import decode_groups, parse
    start = time.perf_counter()
    parsed = parse(data)
    pngs, seconds = [], 0.0
    for frames in decode_groups(parsed):
        seconds += time.perf_counter() - start
        pngs += [io.encode_image_file(frame, ".png") for frame in frames]
        start = time.perf_counter()
    h = parsed.header
    if len(pngs) != h.frames:
        raise InrcodecError(f"internal: {len(pngs)} frames decoded, the header says {h.frames}")
    return {"pngs": pngs, "width": h.width, "height": h.height, "frames": h.frames,
            "decode_seconds": seconds}


_TASKS = {"encode": _encode_task, "decode": _decode_task}


def _init_local_worker(threads: int, counter, gpus: int) -> None:
    """ProcessPoolExecutor initializer: the driver handles Ctrl-C; split the cores; pick a GPU."""
    import signal
    import threading

    import torch
    from tqdm import tqdm

    from .memory import retain_freed_memory
    retain_freed_memory()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # tqdm would create a multiprocessing lock (a named semaphore) that a worker stopped on Ctrl-C
    # never releases ("leaked semaphore" warnings); workers show no bars, a thread lock will do.
    tqdm.set_lock(threading.RLock())
    torch.set_num_threads(threads)
    try:
        torch.set_num_interop_threads(1)
    except RuntimeError:
        pass
    if gpus:
        with counter.get_lock():
            index = counter.value
            counter.value += 1
        torch.cuda.set_device(index % gpus)


def _ray_task(kind: str, payload, options: dict) -> dict:
    import ray
    import torch
    from .memory import retain_freed_memory
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    retain_freed_memory()
    return _TASKS[kind](payload, options)


# ---------------------------------------------------------------------------------------------
# Driver side.

@dataclass
class _Job:
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


def _make_output_dir(output_dir) -> Path:
    out = Path(output_dir)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InrcodecError(f"{output_dir}: cannot create directory ({exc.strerror or exc})") from None
    if not os.access(out, os.W_OK):
        raise InrcodecError(f"{output_dir}: directory is not writable")
    return out


def _plan(input_dir, output_dir, suffixes, out_suffix: str, what: str, is_video=None):
    """(output dir, jobs, clashes: rel -> why it cannot be written). is_video(src path): whether
    the input decodes to a directory (named as the output without its suffix)."""
    rels = find_inputs(input_dir, suffixes, exclude=output_dir)
    if not rels:
        raise InrcodecError(f"{input_dir}: no {what} found (looked for {', '.join(suffixes)})")
    out = _make_output_dir(output_dir)
    jobs, clashes, owner = [], {}, {}
    for rel in rels:
        src = Path(input_dir) / rel
        video = bool(is_video and is_video(src))
        dst_rel = Path(rel).with_suffix("" if video else out_suffix).as_posix()
        job = _Job(rel, src, out / dst_rel, video)
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


class _Results:
    """Rows by input path; results.csv rewritten atomically (throttled) as they arrive."""

    def __init__(self, path: Path, fields, total: int, verb: str, progress: bool):
        self.path, self.fields, self.rows = path, fields, {}
        self.total, self.verb, self.progress = total, verb, progress
        self.last_write = 0.0
        self.bar = None

    def start(self) -> None:
        """Show the progress bar; rows added before (skipped files) count as done already."""
        from tqdm import tqdm
        self.bar = tqdm(total=self.total, initial=len(self.rows), desc=self.verb,
                        unit="image" if self.verb == "encode" else "file",
                        disable=not self.progress, file=sys.stderr, dynamic_ncols=True,
                        smoothing=0.1)

    def add(self, row: dict) -> None:
        self.rows[row["path"]] = {f: row.get(f) for f in self.fields}
        if self.bar is not None:
            self.bar.update(1)
            failed = sum(r["status"] == "failed" for r in self.rows.values())
            if failed:
                self.bar.set_postfix(failed=failed, refresh=False)
        if time.monotonic() - self.last_write >= CSV_EVERY_SECONDS:
            self.write()

    def write(self) -> None:
        buf = _stdio.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.fields)
        for key in sorted(self.rows):
            writer.writerow([_cell(self.rows[key][f]) for f in self.fields])
        io.write_atomic(self.path, buf.getvalue().encode(), force=True)
        self.last_write = time.monotonic()

    def close(self) -> list[dict]:
        """Close the bar (before any error message is printed) and write the CSV; idempotent."""
        if self.bar is not None:
            self.bar.close()
        self.write()
        return [self.rows[k] for k in sorted(self.rows)]


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6g}"
    return str(value)


def _write_output(job: _Job, data: bytes) -> None:
    try:
        job.dst.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InrcodecError(f"{job.dst.parent}: cannot create directory ({exc.strerror or exc})") from None
    io.write_atomic(job.dst, data, force=True)


def _existing_inr(path: Path):
    """(bytes, width, height) of a complete, parseable .inr at path; None if absent or corrupt."""
    from .decode import parse
    if not path.is_file():
        return None
    try:
        data = path.read_bytes()
        header = parse(data).header
    except (OSError, InrcodecError):
        return None
    return len(data), header.width, header.height


def _existing_image(path: Path):
    """(width, height) of a readable image at path; None if absent or unreadable."""
    if not path.is_file() or path.stat().st_size == 0:
        return None
    try:
        import imageio.v3 as iio
        shape = iio.improps(path).shape
    except Exception:
        return None
    return (shape[1], shape[0]) if len(shape) >= 2 else None


def _is_video_inr(path: Path) -> bool:
    """Whether the file starts like a video .inr (the mode byte; the full checks come later)."""
    from .bitstream import MAGIC, MODE_VIDEO, peek_mode
    try:
        with open(path, "rb") as f:
            head = f.read(len(MAGIC) + 3)
    except OSError:
        return False
    return peek_mode(head) == MODE_VIDEO


def _existing_frames(directory: Path, src: Path):
    """(width, height, frames) if `directory` holds exactly the frames of the video .inr `src`
    (frame_0000.png ..., each a readable image of the clip's size, no other frame_*.png), else
    None."""
    from .video.decode import parse
    from .video.io import FRAME_NAME, frame_name
    if not directory.is_dir():
        return None
    try:
        h = parse(src.read_bytes()).header
        names = {p.name for p in directory.iterdir() if FRAME_NAME.fullmatch(p.name)}
    except (OSError, InrcodecError):
        return None
    expected = [frame_name(k, h.frames) for k in range(h.frames)]
    if names != set(expected):
        return None
    for name in expected:
        if _existing_image(directory / name) != (h.width, h.height):
            return None
    return h.width, h.height, h.frames


def _write_frames(job: _Job, pngs: list) -> None:
    """Write a video's frames as job.dst/frame_0000.png ...: filled under a temporary name in the
    same parent, then renamed into place, so an interruption leaves no partial directory. An
    existing directory there (decoded before, or incomplete) is replaced only if it holds nothing
    but frame files."""
    import shutil
    import tempfile

    from .video.io import FRAME_NAME, frame_name
    dst = job.dst
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
        tmp = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent))
        for k, png in enumerate(pngs):
            (tmp / frame_name(k, len(pngs))).write_bytes(png)
        os.chmod(tmp, 0o777 & ~io.current_umask())        # mkdtemp made it private
        if dst.is_dir():
            old = Path(tempfile.mkdtemp(prefix=f".{dst.name}.", suffix=".old", dir=dst.parent))
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


def _check_common(executor, workers, ray_address, gpus_per_task):
    if executor not in ("local", "ray"):
        raise InrcodecError(f"unknown executor {executor!r} (local or ray)")
    if workers is not None and (not isinstance(workers, int) or workers < 1):
        raise InrcodecError(f"--workers must be a positive integer, got {workers}")
    if executor == "ray":
        _import_ray()       # fail before any work if Ray is missing
    if executor == "local" and ray_address:
        raise InrcodecError("--ray-address needs --executor ray")
    if gpus_per_task is not None:
        if executor == "local":
            raise InrcodecError("--gpus-per-task needs --executor ray")
        if not (isinstance(gpus_per_task, (int, float)) and math.isfinite(gpus_per_task)
                and gpus_per_task >= 0):
            raise InrcodecError(f"--gpus-per-task must be a number >= 0, got {gpus_per_task}")


def encode_batch(input_dir, output_dir, *, executor: str = "local", workers: int | None = None,
                 ray_address: str | None = None, gpus_per_task: float | None = None,
                 progress: bool = True, **encode_options) -> list[dict]:
    """Encode every image under input_dir to output_dir/<relative path>.inr; return the CSV rows.

    encode_options: lmbda, preset, iterations, time_budget, device, seed (as encode_with_report)."""
    unknown = sorted(set(encode_options) - set(ENCODE_OPTIONS))
    if unknown:
        raise InrcodecError(f"unknown encode option(s): {', '.join(unknown)}")
    options = {k: v for k, v in encode_options.items() if v is not None}
    if "iterations" in options and "time_budget" in options:
        raise InrcodecError("give either iterations or a time budget, not both")
    if "preset" in options:
        from .arch import PRESET_CHOICES
        if options["preset"] not in PRESET_CHOICES:
            raise InrcodecError(f"unknown preset {options['preset']!r} ({', '.join(PRESET_CHOICES)})")
    _check_common(executor, workers, ray_address, gpus_per_task)
    if executor == "local":
        from .encoder import resolve_device
        resolve_device(options.get("device", "auto"))     # e.g. cuda asked for but absent
    out, jobs, clashes = _plan(input_dir, output_dir, IMAGE_SUFFIXES, ".inr", "images")
    results = _Results(out / RESULTS_NAME, ENCODE_FIELDS, len(jobs), "encode", progress)

    todo = []
    for job in jobs:
        if job.rel in clashes:
            results.add({"path": job.rel, "status": "failed", "error": clashes[job.rel]})
            continue
        existing = _existing_inr(job.dst)
        if existing is None:
            todo.append(job)
            continue
        n, w, h = existing
        results.add({"path": job.rel, "status": "skipped", "bytes": n, "bpp": 8.0 * n / (w * h)})

    def prepare(job):
        return io.read_image(job.src)

    def finish(job, result):
        row = {"path": job.rel}
        if "error" in result:
            return {**row, "status": "failed", "error": result["error"]}
        data = result.pop("data")
        _write_output(job, data)
        return {**row, "status": "ok", "bytes": len(data), **result}

    _run("encode", todo, prepare, finish, results, options, executor, workers, ray_address,
         gpus_per_task, options.get("device", "auto"))
    return results.close()


def decode_batch(input_dir, output_dir, *, executor: str = "local", workers: int | None = None,
                 ray_address: str | None = None, force: bool = False,
                 progress: bool = True) -> list[dict]:
    """Decode every .inr under input_dir to output_dir/<relative path>.png (a video: to the
    directory output_dir/<relative path without .inr>/ of PNG frames); return the CSV rows."""
    _check_common(executor, workers, ray_address, None)
    out, jobs, clashes = _plan(input_dir, output_dir, (".inr",), ".png", ".inr files",
                               is_video=_is_video_inr)
    results = _Results(out / RESULTS_NAME, DECODE_FIELDS, len(jobs), "decode", progress)
    todo = []
    for job in jobs:
        if job.rel in clashes:
            results.add({"path": job.rel, "status": "failed", "bytes": _size(job.src),
                         "error": clashes[job.rel]})
            continue
        if force:
            existing = None
        elif job.video:
            existing = _existing_frames(job.dst, job.src)
        else:
            size = _existing_image(job.dst)
            existing = None if size is None else (*size, 1)
        if existing is None:
            todo.append(job)
            continue
        results.add({"path": job.rel, "status": "skipped", "bytes": _size(job.src),
                     "width": existing[0], "height": existing[1], "frames": existing[2]})

    def prepare(job):
        return io.read_bytes(job.src)

    def finish(job, result):
        row = {"path": job.rel, "bytes": _size(job.src)}
        if "error" in result:
            return {**row, "status": "failed", "error": result["error"]}
        if job.video != ("pngs" in result):
            return {**row, "status": "failed", "error": "the file changed while the batch ran"}
        if job.video:
            _write_frames(job, result.pop("pngs"))
        else:
            _write_output(job, result.pop("data"))
        return {**row, "status": "ok", **result}

    # 8 files or more a worker: each worker loads the compiled latent decoder once, which costs
    # about what it saves on one or two pictures (entropy/coder.py, COMPILED_MIN_LATENTS)
    pool = max(1, min(workers or cpu_count(), len(todo)))
    options = {"load_compiled": len(todo) >= 8 * pool}
    _run("decode", todo, prepare, finish, results, options, executor, workers, ray_address, None,
         "cpu")
    return results.close()


def _size(path: Path):
    try:
        return path.stat().st_size
    except OSError:
        return None


def _run(kind, todo, prepare, finish, results, options, executor, workers, ray_address,
         gpus_per_task, device) -> None:
    results.start()
    if not todo:
        return

    def submit_all(submit):
        """Yield (job, handle) for every job whose input could be read; failed rows otherwise."""
        for job in todo:
            try:
                payload = prepare(job)
            except InrcodecError as exc:
                results.add({"path": job.rel, "status": "failed", "error": _one_line(exc)})
                continue
            yield job, submit(payload)

    def done(job, result):
        try:
            row = finish(job, result)
        except InrcodecError as exc:        # e.g. the output could not be written
            row = {"path": job.rel, "status": "failed", "error": _one_line(exc)}
        results.add(row)

    try:
        if executor == "ray":
            _run_ray(kind, len(todo), submit_all, done, options, workers, ray_address,
                     gpus_per_task, device)
        else:
            _run_local(kind, len(todo), submit_all, done, options, workers, device)
    finally:
        results.close()     # whatever happened, the CSV on disk describes what is done


def _run_local(kind, n, submit_all, done, options, workers, device) -> None:
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    from concurrent.futures.process import BrokenProcessPool

    import torch

    gpus = 0
    if kind == "encode":
        from .encoder import resolve_device
        if resolve_device(device).type == "cuda":
            gpus = torch.cuda.device_count()
    cores = cpu_count()
    if workers is None:
        workers = gpus or min(n, cores)
    workers = max(1, min(workers, n))
    threads = max(1, cores // workers)
    ctx = multiprocessing.get_context("spawn")
    counter = ctx.Value("i", 0) if gpus else None     # hands out GPU indices to the workers

    def new_pool():
        return ProcessPoolExecutor(max_workers=workers, mp_context=ctx,
                                   initializer=_init_local_worker, initargs=(threads, counter, gpus))

    def submit(payload):
        with _children_ignore_sigint():
            return pool.submit(_TASKS[kind], payload, options)

    pool = new_pool()
    inflight = {}
    jobs = submit_all(submit)
    try:
        exhausted = False
        while True:
            while not exhausted and len(inflight) < 2 * workers:
                item = next(jobs, None)
                if item is None:
                    exhausted = True
                else:
                    inflight[item[1]] = item[0]
            if not inflight:
                break
            finished, _ = wait(list(inflight), timeout=1.0, return_when=FIRST_COMPLETED)
            broken = False
            for fut in finished:
                job = inflight.pop(fut)
                try:
                    result = fut.result()
                except BrokenProcessPool:
                    broken = True
                    result = {"error": "a worker process died (out of memory?)"}
                done(job, result)
            if broken:      # the pool is unusable now: start a new one for what is left
                for fut, job in list(inflight.items()):
                    done(job, {"error": "a worker process died (out of memory?)"})
                inflight.clear()
                pool.shutdown(wait=True, cancel_futures=True)
                pool = new_pool()
    except BaseException:
        _stop_pool(pool, inflight)
        del pool, jobs     # let the executor's queues be freed now, not at interpreter exit
        raise
    pool.shutdown(wait=True)


@contextlib.contextmanager
def _children_ignore_sigint():
    """Worker processes started in here (spawn: ProcessPoolExecutor.submit starts them) begin
    with SIGINT ignored, so a Ctrl-C while they import torch prints no traceback from them: the
    driver alone handles it. (A Ctrl-C during these few milliseconds is lost.)"""
    import signal
    import threading
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _stop_pool(pool, inflight) -> None:
    """Ctrl-C or an error: drop queued work and stop the workers now (they write nothing)."""
    for fut in inflight:
        fut.cancel()
    for proc in list((getattr(pool, "_processes", None) or {}).values()):   # private, but stable
        if proc.is_alive():
            proc.terminate()
    pool.shutdown(wait=True, cancel_futures=True)


def _import_ray():
    try:
        import ray
    except ImportError:
        raise InrcodecError(RAY_MISSING) from None
    return ray


def _run_ray(kind, n, submit_all, done, options, workers, ray_address, gpus_per_task,
             device) -> None:
    import logging

    ray = _import_ray()
    started = False
    if not ray.is_initialized():
        kwargs = {"address": ray_address} if ray_address else {"num_cpus": workers or min(n, cpu_count())}
        try:
            ray.init(**kwargs, logging_level=logging.ERROR, include_dashboard=False,
                     log_to_driver=False)
        except Exception as exc:
            where = f"at {ray_address}" if ray_address else "locally"
            raise InrcodecError(f"cannot start or reach Ray {where}: {_one_line(exc)}") from None
        started = True
    refs = {}
    try:
        cluster = ray.cluster_resources()
        cluster_gpus = cluster.get("GPU", 0)
        if gpus_per_task is None:
            gpus_per_task = 1 if (kind == "encode" and cluster_gpus > 0 and device != "cpu") else 0
        if (gpus_per_task > 0 or device == "cuda") and cluster_gpus == 0:
            raise InrcodecError("the Ray cluster has no GPUs (--gpus-per-task / --device cuda)")
        if device == "cuda" and gpus_per_task == 0:
            raise InrcodecError("--device cuda needs --gpus-per-task > 0")
        if workers is None:
            if gpus_per_task > 0:
                workers = max(1, int(cluster_gpus / gpus_per_task))
            else:
                workers = max(1, int(cluster.get("CPU", 1)))
        remote = ray.remote(_ray_task).options(num_cpus=1, num_gpus=gpus_per_task or 0,
                                               max_retries=1)
        jobs = submit_all(lambda payload: remote.remote(kind, payload, options))
        exhausted = False
        while True:
            while not exhausted and len(refs) < 2 * workers:
                item = next(jobs, None)
                if item is None:
                    exhausted = True
                else:
                    refs[item[1]] = item[0]
            if not refs:
                break
            ready, _ = ray.wait(list(refs), num_returns=1, timeout=1.0)
            for ref in ready:
                job = refs.pop(ref)
                try:
                    result = ray.get(ref)
                except ray.exceptions.RayError as exc:
                    result = {"error": f"Ray task failed: {_one_line(exc)}"[:500]}
                done(job, result)
    except BaseException:
        for ref in refs:
            try:
                ray.cancel(ref, force=True)
            except Exception:
                pass
        raise
    finally:
        if started:
            ray.shutdown()


# ---------------------------------------------------------------------------------------------
# Command line glue (cli.py imports this module lazily).

def _report(rows, output_dir, verb: str, quiet: bool) -> int:
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "skipped", "failed")}
    if not quiet:
        print(f"{counts['ok']} {verb}, {counts['skipped']} skipped, {counts['failed']} failed")
    if counts["failed"]:
        sys.stderr.write(f"inrcodec: error: {counts['failed']} of {len(rows)} "
                         f"{'images' if verb == 'encoded' else 'files'} failed "
                         f"(see {Path(output_dir) / RESULTS_NAME})\n")
        return 1
    return 0


def cli_encode_batch(args) -> int:
    rows = encode_batch(args.input_dir, args.output, executor=args.executor, workers=args.workers,
                        ray_address=args.ray_address, gpus_per_task=args.gpus_per_task,
                        progress=not args.quiet, lmbda=args.lmbda, preset=args.preset,
                        iterations=args.iterations, time_budget=args.time_budget,
                        device=args.device, seed=args.seed)
    return _report(rows, args.output, "encoded", args.quiet)


def cli_decode_batch(args) -> int:
    rows = decode_batch(args.input_dir, args.output, executor=args.executor, workers=args.workers,
                        ray_address=args.ray_address, force=args.force, progress=not args.quiet)
    return _report(rows, args.output, "decoded", args.quiet)
