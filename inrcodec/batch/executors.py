"""Running batch tasks: a local process pool (spawn) or one Ray task per input. The driver reads
every input, ships it to a worker and writes what comes back (batch/plan.py), so workers never
touch the output tree."""
from __future__ import annotations

import contextlib

from ..errors import InrcodecError
from .plan import cpu_count
from .tasks import TASKS, init_local_worker, one_line, ray_task

RAY_MISSING = 'the ray executor needs Ray: pip install -e ".[cluster]"'


def check(executor, workers, ray_address, gpus_per_task):
    from ..options import GPUS_PER_TASK, WORKERS
    from ..options import check as in_range
    if executor not in ("local", "ray"):
        raise InrcodecError(f"unknown executor {executor!r} (local or ray)")
    if workers is not None:
        in_range("--workers", workers, WORKERS)
    if gpus_per_task is not None:
        in_range("--gpus-per-task", gpus_per_task, GPUS_PER_TASK)
    if executor == "ray":
        import_ray()        # fail before any work if Ray is missing
    if executor == "local" and ray_address:
        raise InrcodecError("--ray-address needs --executor ray")
    if gpus_per_task is not None and executor == "local":
        raise InrcodecError("--gpus-per-task needs --executor ray")


def run(kind, todo, prepare, finish, results, options, executor, workers, ray_address,
         gpus_per_task, device) -> None:
    results.start()
    if not todo:
        return

    def submit_all(submit):
        """Yield (job, handle) for every job whose input could be read; failed rows otherwise."""
        for job in todo:
            try:
                payload = prepare(job)
            except Exception as exc:     # one bad input is one failed row, whatever went wrong
                results.add({"path": job.rel, "status": "failed", "error": one_line(exc)})
                continue
            yield job, submit(payload)

    def done(job, result):
        try:
            row = finish(job, result)
        except InrcodecError as exc:        # e.g. the output could not be written
            row = {"path": job.rel, "status": "failed", "error": one_line(exc)}
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
        from ..fit.device import resolve_device
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
                                   initializer=init_local_worker, initargs=(threads, counter, gpus))

    def submit(payload):
        with _children_ignore_sigint():
            return pool.submit(TASKS[kind], payload, options)

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


def import_ray():
    try:
        import ray
    except ImportError:
        raise InrcodecError(RAY_MISSING) from None
    return ray


def _run_ray(kind, n, submit_all, done, options, workers, ray_address, gpus_per_task,
             device) -> None:
    import logging

    ray = import_ray()
    started = False
    if not ray.is_initialized():
        kwargs = {"address": ray_address} if ray_address else {"num_cpus": workers or min(n, cpu_count())}
        try:
            ray.init(**kwargs, logging_level=logging.ERROR, include_dashboard=False,
                     log_to_driver=False)
        except Exception as exc:
            where = f"at {ray_address}" if ray_address else "locally"
            raise InrcodecError(f"cannot start or reach Ray {where}: {one_line(exc)}") from None
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
        remote = ray.remote(ray_task).options(num_cpus=1, num_gpus=gpus_per_task or 0,
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
                    result = {"error": f"Ray task failed: {one_line(exc)}"[:500]}
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
