#!/usr/bin/env python
"""Fuzz the decoders with hostile .inr files whose CRC is valid (an attacker recomputes it).

Each case mutates one of a few valid seed files (all modes: image round / uq, rec, video):
bit flips and byte overwrites, header integers set to extreme values (0, 2^15, 2^27 + 1, 2^63,
...), sections cut, emptied, extended, swapped, dropped or duplicated, headers spliced onto
another file's sections, mode and version bytes changed; then the CRC is recomputed. The case
then runs `info` and a full decode in a worker process with an address-space limit
(resource.setrlimit), under a per-case alarm. A case fails on:

- any exception that is not InrcodecError (a traceback for a user), or an InrcodecError that says
  "out of memory" (the memory estimate should have refused the file first);
- a decode that outlasts --case-timeout (a hang, or work not bounded by the file);
- a peak memory above 1.5x what inrcodec.limits estimated for the file (plus 64 MiB);
- a decoded picture whose shape differs from what `info` says;
- the worker dying (a crash inside a C library): the case it was running is reported and the
  worker is restarted after it.

    python scripts/fuzz.py --cases 100000 --workers 2                # the long run
    python scripts/fuzz.py --cases 2000 --inputs a.inr b.inr         # seeds of your own
    python scripts/fuzz.py --replay fuzz-failures/case_17.inr        # one saved file
    python scripts/fuzz.py --images --cases 200000                   # the image reader instead

--images fuzzes what `inrcodec encode` reads instead: small valid PNG (RGB, grey, palette), JPEG,
WebP, TIFF, BMP and PPM files with bit flips, overwritten bytes and cuts (PNG chunk CRCs
recomputed half the time), each of which the reader must refuse or read as exactly the pixels of
Pillow's strict load (tests/hostile_inputs.py: image_case; tests/test_hostile_cli.py runs 1350).

Without --inputs the seeds are built here (flat files of every mode, no fitting) plus, unless
--no-real, a few short real fits (~30 s). Exit status 0 when no case failed. tests/test_fuzz.py runs
a short form of this (a few thousand cases) in the test suite.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import signal
import struct
import subprocess
import sys
import tempfile
import time
import zlib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from inrcodec.bitstream import MAGIC, write_varint  # noqa: E402  (after the path set-up)

EXTREMES = sorted({0, 1, 2, 3, 4, 5, 7, 8, 9, 12, 13, 15, 16, 24, 25, 26, 31, 32, 33, 52, 53, 63,
                   64, 65, 96, 97, 127, 128, 255, 256, 1000, 4095, 4096, 8191, 8192, 16383, 16384,
                   32767, 32768, 32769, 65535, 65536, (1 << 20), (1 << 20) + 1, 1 << 24, 1 << 26,
                   (1 << 27) - 1, 1 << 27, (1 << 27) + 1, (1 << 31) - 1, 1 << 31, (1 << 32) - 1,
                   1 << 32, 1 << 53, (1 << 63) - 1, 1 << 63, (1 << 64) - 1, 1 << 64, 1 << 70})
MIB = 1 << 20


# ------------------------------------------------------------------------------------------------
# The container, rebuilt by hand (with bitstream's varints) so a mutation can write what
# bitstream.pack would refuse: any version, mode, section count or length

def read_varints(data: bytes) -> list[int]:
    """Every complete varint of a header, in order (a trailing partial one is dropped)."""
    out, value, shift = [], 0, 0
    for byte in data:
        value |= (byte & 0x7F) << shift
        shift += 7
        if not byte & 0x80:
            out.append(value)
            value, shift = 0, 0
    return out


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def pack(version: int, mode: int, header: bytes, sections: list[bytes]) -> bytes:
    body = bytearray(MAGIC) + bytes([version & 0xFF, mode & 0xFF])
    body += write_varint(len(header)) + header + write_varint(len(sections))
    for s in sections:
        body += write_varint(len(s))
    for s in sections:
        body += s
    return with_crc(bytes(body))


def split(data: bytes):
    from inrcodec import bitstream
    c = bitstream.unpack(data)
    return c.version, c.mode, c.header, list(c.sections)


# ------------------------------------------------------------------------------------------------
# Mutations: (seeds, rng) -> (bytes, description)

def _rand_bytes(rng: random.Random, n: int) -> bytes:
    return bytes(rng.getrandbits(8) for _ in range(n))


def _extreme(rng: random.Random) -> int:
    v = rng.choice(EXTREMES)
    return v if rng.random() < 0.8 else max(0, v + rng.randint(-3, 3))


def m_flip(seed, rng):
    body = bytearray(seed[:-4])
    k = rng.choice((1, 1, 2, 3, 8))
    for _ in range(k):
        i = rng.randrange(len(body))
        body[i] ^= 1 << rng.randrange(8)
    return with_crc(bytes(body)), f"flip {k} bits"


def m_bytes(seed, rng):
    body = bytearray(seed[:-4])
    k = rng.choice((1, 2, 4))
    for _ in range(k):
        body[rng.randrange(len(body))] = rng.choice((0, 0xFF, 0x80, 0x7F, rng.getrandbits(8)))
    return with_crc(bytes(body)), f"set {k} bytes"


def m_insert_delete(seed, rng):
    body = bytearray(seed[:-4])
    i = rng.randrange(len(body))
    if rng.random() < 0.5:
        body[i:i] = _rand_bytes(rng, rng.choice((1, 2, 7)))
        return with_crc(bytes(body)), f"insert at {i}"
    del body[i:i + rng.choice((1, 2, 7))]
    return with_crc(bytes(body)), f"delete at {i}"


def m_header_ints(seed, rng):
    version, mode, header, sections = split(seed)
    ints = read_varints(header)
    k = rng.choice((1, 1, 1, 2, 3))
    where = []
    for _ in range(k):
        i = rng.randrange(len(ints))
        ints[i] = _extreme(rng) if rng.random() < 0.8 else rng.getrandbits(rng.choice((4, 8, 16, 32)))
        where.append(f"{i}={ints[i]}")
    header = b"".join(write_varint(v) for v in ints)
    return pack(version, mode, header, sections), "header ints " + ",".join(where)


def m_header_size(seed, rng):
    """The picture size (the first two header integers; video: also frames) set together."""
    version, mode, header, sections = split(seed)
    ints = read_varints(header)
    r = rng.random()
    if r < 0.3:
        a, b = _extreme(rng), _extreme(rng)
    elif r < 0.6:
        a, b = rng.choice((64, 100, 256, 333, 700, 1024)), rng.choice((64, 100, 256, 333, 700, 1024))
    else:      # large pictures, up to the format's limits: what the memory checks are for
        sides = (1024, 1500, 2048, 3000, 4096, 8192, 11585, 16384, 32768)
        a, b = rng.choice(sides), rng.choice(sides)
    ints[0], ints[1] = a, b
    if mode == 1 and rng.random() < 0.5:
        ints[3] = _extreme(rng)
    header = b"".join(write_varint(v) for v in ints)
    return pack(version, mode, header, sections), f"size {a}x{b}"


def m_header_bytes(seed, rng):
    version, mode, header, sections = split(seed)
    h = bytearray(header)
    op = rng.randrange(3)
    if op == 0 and h:
        del h[rng.randrange(len(h)):]
    elif op == 1:
        h += _rand_bytes(rng, rng.choice((1, 3, 10)))
    elif h:
        h[rng.randrange(len(h))] = rng.getrandbits(8)
    return pack(version, mode, bytes(h), sections), f"header bytes op {op}"


def m_sections(seed, rng):
    version, mode, header, sections = split(seed)
    ops = ["truncate", "extend", "empty", "random", "swap", "drop", "dup", "zeros"]
    op = rng.choice(ops)
    i = rng.randrange(len(sections)) if sections else 0
    if not sections:
        sections = [_rand_bytes(rng, 5)]
    elif op == "truncate":
        sections[i] = sections[i][:rng.randrange(len(sections[i]) + 1)]
    elif op == "extend":
        sections[i] = sections[i] + _rand_bytes(rng, rng.choice((1, 4, 64, 1000)))
    elif op == "empty":
        sections[i] = b""
    elif op == "random":
        sections[i] = _rand_bytes(rng, max(1, len(sections[i])))
    elif op == "zeros":
        sections[i] = b"\0" * rng.choice((1, 4, 64, 4096))
    elif op == "swap" and len(sections) > 1:
        j = rng.randrange(len(sections))
        sections[i], sections[j] = sections[j], sections[i]
    elif op == "drop":
        del sections[i]
    else:
        sections.insert(i, sections[i])
    return pack(version, mode, header, sections), f"section {i} {op}"


def m_splice(seed, rng, seeds):
    other = rng.choice(seeds)
    v1, mode1, h1, s1 = split(seed)
    _, mode2, h2, s2 = split(other)
    if rng.random() < 0.5:
        return pack(v1, mode1, h1, s2), "splice header onto other sections"
    return pack(v1, mode2, h1, s1), "mode of another file"


def m_container(seed, rng):
    version, mode, header, sections = split(seed)
    op = rng.randrange(3)
    if op == 0:
        return pack(version, rng.choice((0, 1, 2, 3, 255)), header, sections), "mode byte"
    if op == 1:
        return pack(rng.choice((0, version - 1, version + 1, 255)), mode, header, sections), "version byte"
    body = bytearray(MAGIC) + bytes([version, mode]) + write_varint(len(header)) + header
    n = _extreme(rng) if rng.random() < 0.5 else len(sections)
    body += write_varint(n)
    for s in sections:
        body += write_varint(len(s) if rng.random() < 0.7 else _extreme(rng))
    for s in sections:
        body += s
    return with_crc(bytes(body)), f"section table n={n}"


MUTATORS = [(m_flip, 3), (m_bytes, 2), (m_insert_delete, 1), (m_header_ints, 4), (m_header_size, 2),
            (m_header_bytes, 1), (m_sections, 3), (m_splice, 1), (m_container, 1)]


def mutate(seeds: list[bytes], rng: random.Random) -> tuple[bytes, str]:
    seed_index = rng.randrange(len(seeds))
    seed = seeds[seed_index]
    fns, weights = zip(*MUTATORS)
    fn = rng.choices(fns, weights)[0]
    data, desc = fn(seed, rng, seeds) if fn is m_splice else fn(seed, rng)
    if rng.random() < 0.15:         # a second mutation on top, now and then
        fn2 = rng.choices(fns, weights)[0]
        try:
            data, desc2 = fn2(data, rng, seeds) if fn2 is m_splice else fn2(data, rng)
            desc += " + " + desc2
        except Exception:           # the first mutation left no valid container to split
            pass
    return data, f"seed {seed_index}: {desc}"


# ------------------------------------------------------------------------------------------------
# Seeds

def build_seeds(real: bool) -> list[bytes]:
    from hostile_files import flat_image_file, flat_video_file, rec_file
    from inrcodec.arch import PRESETS, Architecture
    seeds = [flat_image_file(16, 19, 3, PRESETS["medium"]),
             flat_image_file(13, 21, 1, PRESETS["low"], "uq"),
             flat_image_file(9, 40, 3, Architecture(n_levels=3, latent_channels=2)),
             rec_file(16, 18, 3, n_blocks=8),
             rec_file(12, 10, 1, n_blocks=3, kl_bits=6),
             flat_video_file(12, 14, frames=3, group=2)]
    if real:
        import numpy as np
        import imageio.v3 as iio
        import inrcodec
        img = iio.imread(ROOT / "assets" / "kodim23_crop256.png")[:, :, :3]
        crop = np.ascontiguousarray(img[100:124, 60:90])
        seeds.append(inrcodec.encode(crop, iterations=150, device="cpu"))
        seeds.append(inrcodec.encode(np.ascontiguousarray(crop[:, :, 0]), iterations=100,
                                     latent_coding="uq", device="cpu"))
        from inrcodec.variational.encoder import encode_with_report
        seeds.append(encode_with_report(np.ascontiguousarray(crop[:12, :14]), bpp=2.0,
                                        iterations=20)[0])
        from fractions import Fraction
        from inrcodec.video.encoder import encode_video_with_report
        frames = np.stack([img[100:112, 60 + k:74 + k] for k in range(3)])
        seeds.append(encode_video_with_report(frames, Fraction(25), iterations=60, group=2,
                                              device="cpu")[0])
    return seeds


# ------------------------------------------------------------------------------------------------
# Running one case (in the worker)

class CaseTimeout(BaseException):
    """Raised by the alarm; a BaseException so no decoder's `except Exception` swallows it."""


def _on_alarm(signum, frame):
    raise CaseTimeout()


def _status_bytes(field: str) -> int:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    return 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def estimate(data: bytes) -> int | None:
    """inrcodec.limits' memory estimate for the file, when its header parses."""
    from inrcodec import bitstream
    try:
        mode = bitstream.peek_mode(data)
        if mode == bitstream.MODE_IMAGE:
            from inrcodec.image.decode import decode_memory, parse
            return decode_memory(parse(data).header)
        if mode == bitstream.MODE_REC:
            from inrcodec.variational.decode import decode_memory, parse
            return decode_memory(parse(data).header)
        if mode == bitstream.MODE_VIDEO:
            from inrcodec.video.decode import decode_memory, parse
            return decode_memory(parse(data).header)
    except Exception:
        return None
    return None


def run_case(data: bytes, max_pixels: int | None, timeout: float) -> tuple[str, str]:
    """('ok' | 'refused' | 'fail', detail)."""
    import numpy as np
    from inrcodec import bitstream
    from inrcodec.modes import info as file_info
    from inrcodec.errors import InrcodecError
    measure = _reset_peak()
    base = _status_bytes("VmRSS")
    signal.setitimer(signal.ITIMER_REAL, timeout)
    start = time.perf_counter()
    try:
        try:
            info = file_info(data)
            if bitstream.peek_mode(data) == bitstream.MODE_VIDEO:
                from inrcodec.video.decode import decode_groups, parse
                frames = list(decode_groups(parse(data), max_pixels))
                out = np.concatenate(frames)
                expected = (info["frames"], info["height"], info["width"], info["channels"])
            else:
                import inrcodec
                out = inrcodec.decode(data, max_pixels=max_pixels)
                expected = (info["height"], info["width"], info["channels"])
            outcome = ("ok", "") if out.shape == expected and out.dtype == np.uint8 else \
                ("fail", f"decoded shape {out.shape} {out.dtype}, info says {expected}")
        except InrcodecError as exc:
            text = str(exc)
            outcome = ("fail", f"InrcodecError: {text}") if "out of memory" in text else ("refused", text)
        except CaseTimeout:
            raise
        except BaseException as exc:   # noqa: BLE001 - anything else is a bug
            outcome = ("fail", f"{type(exc).__name__}: {' '.join(str(exc).split())[:300]}")
    except CaseTimeout:
        outcome = ("fail", f"hang: still running after {timeout:g} s")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
    seconds = time.perf_counter() - start
    if measure and outcome[0] != "fail":
        peak = _status_bytes("VmHWM") - base
        need = estimate(data)
        if need is not None and peak > 1.5 * need + 64 * MIB:
            outcome = ("fail", f"peak memory {peak / MIB:.0f} MiB above 1.5x the estimate "
                               f"{need / MIB:.0f} MiB ({outcome[0]}: {outcome[1][:100]})")
    return outcome[0], f"{outcome[1]} [{seconds:.2f} s]"


def _limit_memory(args, seeds) -> None:
    """RLIMIT_AS: --memory-limit in all, or --memory-headroom above what the process maps once
    torch, inrcodec and a first decode of every seed are loaded (torch builds differ by GBs)."""
    import inrcodec.cli, inrcodec.variational.decode, inrcodec.video.decode  # noqa: F401
    limit = args.memory_limit
    if args.memory_headroom:
        for data in seeds:
            run_case(data, args.max_pixels, 60.0)
        limit = _status_bytes("VmSize") + args.memory_headroom
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def worker(args) -> int:
    import torch
    torch.set_num_threads(1)
    signal.signal(signal.SIGALRM, _on_alarm)
    seeds = [Path(p).read_bytes() for p in args.inputs]
    if args.compiled:              # every case through the compiled latent decoder, small or not
        from inrcodec.entropy.engine import load_compiled
        load_compiled()
    _limit_memory(args, seeds)
    from inrcodec.entropy import engine
    counts = {"ok": 0, "refused": 0, "fail": 0}
    for i in range(args.start, args.cases, args.stride):
        if not args.compiled:      # as a fresh `inrcodec decode`: small files in numpy, even
            engine.set_loaded(False)      # after a large case has loaded the compiled loop
        rng = random.Random(f"{args.seed}:{i}")
        data, desc = mutate(seeds, rng)
        print(f"case {i}", flush=True)
        status, detail = run_case(data, args.max_pixels, args.case_timeout)
        counts[status] += 1
        if status == "fail":
            print("FAIL " + json.dumps({"case": i, "mutation": desc, "detail": detail}), flush=True)
            if args.save:
                Path(args.save).mkdir(parents=True, exist_ok=True)
                (Path(args.save) / f"case_{i}.inr").write_bytes(data)
    print("DONE " + json.dumps(counts), flush=True)
    return 0


# ------------------------------------------------------------------------------------------------
# The driver

def fuzz_images(args) -> int:
    """The image reader against Pillow's strict load, in this process (one alarm per case)."""
    from collections import Counter

    from hostile_inputs import image_case, image_fuzz_seeds, mutate_image
    from inrcodec.image_files import read_image
    signal.signal(signal.SIGALRM, _on_alarm)
    seeds = list(image_fuzz_seeds().items())
    counts, failures = Counter(), 0
    with tempfile.TemporaryDirectory(prefix="inrcodec-image-fuzz-") as tmp:
        for i in range(args.cases):
            name, seed = seeds[i % len(seeds)]
            rng = random.Random(f"{args.seed}:{i}")
            data = mutate_image(seed, rng, name.endswith(".png"))
            signal.alarm(max(1, int(args.case_timeout)))
            try:
                status, failure = image_case(data, Path(name).suffix, Path(tmp), read_image)
            except CaseTimeout:
                status, failure = "read", f"still reading after {args.case_timeout} s"
            finally:
                signal.alarm(0)
            counts[status] += 1
            if failure:
                failures += 1
                print(f"FAIL {name} case {i}: {failure}", flush=True)
                if args.save:
                    Path(args.save).mkdir(parents=True, exist_ok=True)
                    (Path(args.save) / f"image_case_{i}{Path(name).suffix}").write_bytes(data)
    if not args.quiet or failures:
        print(f"{args.cases} image cases: {dict(counts)}, {failures} failed")
    return 1 if failures else 0


def parse_size(text: str) -> int:
    t = text.strip().upper()
    mult = {"K": 1 << 10, "M": 1 << 20, "G": 1 << 30}.get(t[-1:], 1)
    return int(float(t[:-1] if t[-1:] in "KMG" else t) * mult)


def drive(args) -> int:
    tmp = None
    if not args.inputs:
        tmp = tempfile.TemporaryDirectory(prefix="inrcodec-fuzz-")
        seeds = build_seeds(real=not args.no_real)
        args.inputs = []
        for k, data in enumerate(seeds):
            path = Path(tmp.name) / f"seed_{k}.inr"
            path.write_bytes(data)
            args.inputs.append(str(path))
    deadline = time.monotonic() + args.time_limit if args.time_limit else None
    failures, totals = [], {"ok": 0, "refused": 0, "fail": 0}
    workers = max(1, args.workers)
    # worker w takes cases w, w + workers, ...; a worker that dies is restarted after its case
    pending = {w: w for w in range(workers)}
    procs = {}

    def start(w, first):
        cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--inputs", *args.inputs,
               "--cases", str(args.cases), "--seed", str(args.seed), "--start", str(first),
               "--stride", str(workers), "--case-timeout", str(args.case_timeout),
               "--memory-limit", str(args.memory_limit or 0),
               "--memory-headroom", str(args.memory_headroom or 0)]
        if args.max_pixels is not None:
            cmd += ["--max-pixels", str(args.max_pixels)]
        if args.compiled:
            cmd += ["--compiled"]
        if args.save:
            cmd += ["--save", args.save]
        env = dict(os.environ, OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1")
        procs[w] = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                    env=env)

    for w, first in pending.items():
        if first < args.cases:
            start(w, first)
    import threading
    results: dict[int, tuple] = {}

    def collect(w):
        p = procs[w]
        last, done = None, None
        for line in p.stdout:
            line = line.rstrip("\n")
            if line.startswith("case "):
                last = int(line.split()[1])
            elif line.startswith("FAIL "):
                failures.append(json.loads(line[5:]))
                if not args.quiet:
                    print(line, flush=True)
            elif line.startswith("DONE "):
                done = json.loads(line[5:])
        p.wait()
        results[w] = (last, done, p.returncode, p.stderr.read()[-2000:])

    while procs:
        threads = {w: threading.Thread(target=collect, args=(w,), daemon=True) for w in procs}
        for t in threads.values():
            t.start()
        for w, t in threads.items():
            remaining = None if deadline is None else max(0.0, deadline - time.monotonic())
            t.join(remaining)
            if t.is_alive():                        # over the whole run's time limit
                for p in procs.values():
                    p.kill()
                for t2 in threads.values():
                    t2.join(10)
                print(f"fuzz: time limit of {args.time_limit:g} s reached", file=sys.stderr)
                failures.append({"case": None, "mutation": "", "detail": "time limit reached"})
                procs = {}
                break
        else:
            restart = {}
            for w in list(procs):
                last, done, rc, err = results[w]
                if done is not None:
                    for k in totals:
                        totals[k] += done[k]
                    continue
                failures.append({"case": last, "mutation": "see --replay",
                                 "detail": f"worker died (exit {rc}) during this case: "
                                           f"{' '.join(err.split())[-400:]}"})
                totals["fail"] += 1
                if last is not None and last + workers < args.cases:
                    restart[w] = last + workers
            procs = {}
            for w, first in restart.items():
                start(w, first)
    summary = {"cases": args.cases, "seed": args.seed, **totals, "failures": failures}
    print(json.dumps(summary))
    if tmp is not None:
        tmp.cleanup()
    return 1 if failures else 0


def replay(args) -> int:
    signal.signal(signal.SIGALRM, _on_alarm)
    data = Path(args.replay).read_bytes()
    _limit_memory(args, [])
    status, detail = run_case(data, args.max_pixels, args.case_timeout)
    print(status, detail)
    return 1 if status == "fail" else 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--inputs", nargs="+", default=None, help="seed .inr files (default: built here)")
    ap.add_argument("--cases", type=int, default=20000, help="number of mutated files (default 20000)")
    ap.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    ap.add_argument("--workers", type=int, default=1, help="worker processes (default 1)")
    ap.add_argument("--memory-limit", type=parse_size, default=0,
                    help="address-space limit of each worker, e.g. 3G (default: see --memory-headroom)")
    ap.add_argument("--memory-headroom", type=parse_size, default=parse_size("2G"),
                    help="address-space limit as this much above what a worker maps after its "
                         "imports (default 2G; 0 with no --memory-limit: no limit)")
    ap.add_argument("--case-timeout", type=float, default=10.0,
                    help="seconds one case may take (default 10)")
    ap.add_argument("--time-limit", type=float, default=None, help="seconds for the whole run")
    ap.add_argument("--max-pixels", type=int, default=None,
                    help="decode limit passed to the decoders (default: the library's)")
    ap.add_argument("--no-real", action="store_true", help="built seeds: skip the short real fits")
    ap.add_argument("--save", default=None, metavar="DIR", help="write failing files here")
    ap.add_argument("--replay", default=None, metavar="FILE", help="run one file as a case")
    ap.add_argument("--quiet", action="store_true", help="print only the summary")
    ap.add_argument("--compiled", action="store_true",
                    help="load the compiled latent decoder first, so that small files use it too")
    ap.add_argument("--images", action="store_true",
                    help="fuzz the image reader (encode's input) instead of the decoders")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--start", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--stride", type=int, default=1, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.max_pixels is None:
        from inrcodec.limits import DEFAULT_MAX_PIXELS
        args.max_pixels = DEFAULT_MAX_PIXELS
    if args.images:
        return fuzz_images(args)
    if args.replay:
        return replay(args)
    if args.worker:
        return worker(args)
    return drive(args)


if __name__ == "__main__":
    sys.exit(main())
