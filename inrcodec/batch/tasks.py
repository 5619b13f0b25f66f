"""Batch worker side: pure functions of (payload, options) that never touch the file system, and
the set-up of a local or Ray worker process."""
from __future__ import annotations

import time

from ..errors import InrcodecError


def one_line(exc: BaseException) -> str:
    """An exception as a results.csv error cell."""
    from ..limits import is_memory_error, out_of_memory
    if not isinstance(exc, InrcodecError) and is_memory_error(exc):
        exc = out_of_memory("coding this input")   # a resource failure, not a bug or a bad file
    text = " ".join(str(exc).split())
    if not isinstance(exc, InrcodecError):
        text = f"internal error: {type(exc).__name__}: {text}" if text else f"internal error: {type(exc).__name__}"
    return text[:500]


def encode_task(image, options: dict) -> dict:
    """options: {"options": EncodeOptions}. The encoder's own warnings (a time budget that
    allowed few steps) come back as "warning", for the row's error cell: a worker prints
    nothing."""
    import warnings
    try:
        from ..image.encoder import encode_with_report
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            data, report = encode_with_report(image, options["options"], progress=False)
    except Exception as exc:
        return {"error": one_line(exc)}
    notes = [str(w.message) for w in caught if "inrcodec" in (w.filename or "")]
    return {"data": data, "bpp": report["bpp"], "psnr": report["psnr"],
            "encode_seconds": report["encode_seconds"], "device": report["device"],
            **({"warning": "; ".join(notes)} if notes else {})}


def decode_task(payload, options: dict) -> dict:
    """(.inr bytes, its Mode) -> {"data": PNG bytes, ...} for a picture, {"pngs": [PNG bytes of
    each frame], ...} for a clip. The Mode travels with the bytes, so a worker decodes any mode
    the driver knows (modes.register included)."""
    data, mode = payload
    try:
        from ..image_files import encode_image_file
        if options.get("load_compiled"):     # a worker of a long batch: worth ~0.8 s once
            from ..entropy.engine import load_compiled
            load_compiled()
        from ..limits import DEFAULT_MAX_PIXELS
        start = time.perf_counter()
        parsed = mode.parse(data)
        g = mode.geometry(parsed)
        pngs, seconds = [], 0.0
        for frames in mode.frames(parsed, DEFAULT_MAX_PIXELS):
            seconds += time.perf_counter() - start
            pngs += [encode_image_file(frame, ".png") for frame in frames]
            start = time.perf_counter()
        if len(pngs) != g.frames:
            raise InrcodecError(f"internal: {len(pngs)} frames decoded, the header says {g.frames}")
    except Exception as exc:
        return {"error": one_line(exc)}
    row = {"width": g.width, "height": g.height, "frames": g.frames, "decode_seconds": seconds}
    return {**row, "pngs": pngs} if mode.kind == "video" else {**row, "data": pngs[0]}


TASKS = {"encode": encode_task, "decode": decode_task}


def init_local_worker(threads: int, counter, gpus: int) -> None:
    """ProcessPoolExecutor initializer: the driver handles Ctrl-C; split the cores; pick a GPU."""
    import signal
    import threading

    import torch
    from tqdm import tqdm

    from ..memory import retain_freed_memory
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


def ray_task(kind: str, payload, options: dict) -> dict:
    import ray
    import torch
    from ..memory import retain_freed_memory
    cpus = ray.get_runtime_context().get_assigned_resources().get("CPU", 1)
    torch.set_num_threads(max(1, int(cpus)))
    retain_freed_memory()
    return TASKS[kind](payload, options)
