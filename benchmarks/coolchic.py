"""Cool-chic (Orange's overfitted image codec) as a peer codec in the RD benchmark.

Cool-chic is run as an external program from a checkout (``benchmarks.rd --coolchic DIR``),
never imported into our process: each RD point is one ``cc_encode.py`` and one ``cc_decode.py``
subprocess, run by Cool-chic's own interpreter (``--coolchic-python``, or $COOLCHIC_PYTHON)
through ``benchmarks/coolchic_run.py``, which pins torch to one thread, seeds it, and times the
script without its imports. The points are scored like every other codec's: rate = the real size
of the ``.cool`` file over the crop's pixels, PSNR = ``benchmarks.metrics.psnr`` of the decoded
PNG against the very crop our codec sees. Cool-chic's own PSNR is kept as ``peer_psnr`` as a
check (it is on 8-bit output too and matches ours to ~1e-6 dB: a gap means the images differ),
and the seconds and count of its gradient steps as ``train_s`` / ``train_iterations``
(``encode_s`` also holds its post-training quantization search and weight RDOQ, a fixed cost,
and the check decode its encoder runs).

Set-up (its own venv, outside the repo; CPU-only machine):

    python -m venv ../ccvenv && ../ccvenv/bin/pip install torch==2.13.0
    ../ccvenv/bin/pip install --no-deps torchvision==0.28.0
    ../ccvenv/bin/pip install numpy pillow einops fvcore ConfigArgParse scipy constriction==0.4.2

then ``--coolchic-python ../ccvenv/bin/python`` (or COOLCHIC_PYTHON). ``check()`` (run by rd.py
before any fit) fails early if it cannot import Cool-chic's encoder that way.

torchvision: on a CPU build of torch the PyPI torchvision wheel does not import, and Cool-chic
only needs its ``to_tensor``. ``benchmarks/coolchic_shim/`` is a stand-in package put first on
the subprocesses' PYTHONPATH (see its README for what it provides and why results are unchanged).

Rate term: Cool-chic minimises ``MSE + lmbda * bits / (H * W)`` (``coolchic/training/loss.py``:
MSE over the three RGB channels of images in [0, 1], rate in bits per *pixel*, not per
sub-pixel), which is our codec's ``MSE + lmbda * bpp`` (``inrcodec/fit/train.py``) exactly, so
both are given the same lambdas. Its published Kodak points use lambda 1e-4 ... 2e-2.

Iterations: ``--n_itr`` is its whole budget, warm-up included (5 candidates x 50 steps, the best 2
x 50 more below 4000 iterations, then 500 hard-rounding steps at the end); its intra preset
refuses fewer than 2000. ``debug=True`` uses its ``--debug`` preset instead (about 100 steps, for
smoke runs of the plumbing only, never for results).

MACs/pixel: parsed from its encoder log (``residue decoder: N MAC / pixel``), which depends on
the image size through its automatic latent and hyperlatent resolutions.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
SHIM = HERE / "coolchic_shim"
RUNNER = HERE / "coolchic_run.py"
MARKER = "INRCODEC_HARNESS"
CURVE = "coolchic-mop"
DEFAULT_CFG = "cfg/dec/intra/mop.cfg"
MIN_ITERATIONS = 2000                 # PresetIntra refuses fewer
THREAD_VARS = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS",
               "NUMEXPR_NUM_THREADS", "VECLIB_MAXIMUM_THREADS")


class CoolchicError(RuntimeError):
    """Cool-chic could not be run, or its output could not be read (the message says why)."""


@dataclass(frozen=True)
class CoolchicSetup:
    """Where Cool-chic is and how to run it; the same for every point of a run."""
    checkout: str                     # folder with cc_encode.py, cc_decode.py, cfg/
    python: str                       # interpreter of Cool-chic's venv
    cfg: str = DEFAULT_CFG            # decoder config, relative to the checkout
    debug: bool = False               # Cool-chic's --debug preset (smoke runs only)
    keep: str | None = None           # keep each point's work folder under this folder
    timeout_s: float | None = None    # per subprocess

    @property
    def curve(self) -> str:
        return f"coolchic-{Path(self.cfg).stem}"


@dataclass(frozen=True)
class CoolchicJob:
    image: str
    size: int
    lmbda: float
    iterations: int
    seed: int
    setup: CoolchicSetup


def make_setup(checkout: str | os.PathLike, python: str | None = None, *,
               cfg: str = DEFAULT_CFG, debug: bool = False, keep: str | None = None,
               timeout_s: float | None = None) -> CoolchicSetup:
    """Validate a checkout and pick its interpreter (python, else $COOLCHIC_PYTHON, else ours)."""
    root = Path(checkout).expanduser().resolve()
    for rel in ("cc_encode.py", "cc_decode.py", cfg):
        if not (root / rel).is_file():
            raise CoolchicError(f"{root} is not a Cool-chic checkout: {rel} is missing")
    py = python or os.environ.get("COOLCHIC_PYTHON") or sys.executable
    if shutil.which(py) is None and not Path(py).is_file():
        raise CoolchicError(f"Cool-chic interpreter {py!r} not found")
    return CoolchicSetup(checkout=str(root), python=py, cfg=cfg, debug=debug,
                         keep=str(Path(keep).resolve()) if keep else None, timeout_s=timeout_s)


def make_jobs(images, size, lmbdas, iterations, seed, setup: CoolchicSetup) -> list[CoolchicJob]:
    """One job per (image, lambda); refuses budgets Cool-chic's intra preset would refuse."""
    if not setup.debug and iterations < MIN_ITERATIONS:
        raise CoolchicError(f"Cool-chic's intra preset needs --n_itr >= {MIN_ITERATIONS}, got "
                            f"{iterations} (debug=True runs its --debug preset for smoke tests)")
    return [CoolchicJob(im, size, float(lm), int(iterations), seed, setup)
            for im in images for lm in lmbdas]


def version(setup: CoolchicSetup) -> str:
    """Cool-chic's version as its encoder's banner prints it ('5.0.1'), or '?'."""
    text = (Path(setup.checkout) / "cc_encode.py").read_text(encoding="utf-8", errors="replace")
    m = re.search(r"version\s+(\d+(?:\.\d+)+)", text)
    return m.group(1) if m else "?"


def subprocess_env(setup: CoolchicSetup) -> dict[str, str]:
    """Our environment, pinned to one thread, with the torchvision stand-in first on the path."""
    env = dict(os.environ)
    env.update({k: "1" for k in THREAD_VARS})
    env["PYTHONPATH"] = os.pathsep.join([str(SHIM), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHONDONTWRITEBYTECODE"] = "1"          # the checkout may be read-only
    env.pop("PYTHONSTARTUP", None)
    return env


def runner_command(setup: CoolchicSetup, script: str, args: list[str], seed: int | None,
                   check: bool = False) -> list[str]:
    cmd = [setup.python, str(RUNNER), "--threads", "1"]
    if seed is not None:
        cmd += ["--seed", str(seed)]
    if check:
        cmd.append("--check")
    return cmd + [str(Path(setup.checkout) / script), *args]


def encode_args(job: CoolchicJob, png: str, cool: str, workdir: str) -> list[str]:
    s = job.setup
    args = ["-i", png, "-o", cool, "--workdir", workdir,
            f"--dec_cfg_residue={Path(s.checkout) / s.cfg}", "--lmbda", repr(job.lmbda)]
    return args + (["--debug"] if s.debug else ["--n_itr", str(job.iterations)])


def check(setup: CoolchicSetup) -> dict:
    """Import what cc_encode.py imports in Cool-chic's interpreter, through the stand-in; returns
    {'torch', 'torchvision', 'torchvision_file', 'threads', 'version'}. Raises CoolchicError."""
    with tempfile.TemporaryDirectory(prefix="cc_check_") as tmp:
        log = _run(setup, runner_command(setup, "cc_encode.py", [], None, check=True), tmp,
                   "check")
    info = parse_marker(log, "check")
    info["version"] = version(setup)
    return info


def _run(setup: CoolchicSetup, cmd: list[str], cwd: str, what: str) -> str:
    """Run one command, stdout and stderr together into cwd/<what>.log; return the log text."""
    log_path = Path(cwd) / f"{what}.log"
    with open(log_path, "w") as log:
        try:
            proc = subprocess.run(cmd, cwd=cwd, env=subprocess_env(setup), stdout=log,
                                  stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                  timeout=setup.timeout_s)
        except subprocess.TimeoutExpired:
            raise CoolchicError(f"Cool-chic {what} ran past {setup.timeout_s} s; log "
                                f"{log_path}") from None
    text = log_path.read_text(errors="replace")
    if proc.returncode != 0:
        tail = "\n".join(text.splitlines()[-25:])
        raise CoolchicError(f"Cool-chic {what} failed (exit {proc.returncode}): "
                            f"{' '.join(cmd)}\n{tail}")
    return text


# ------------------------------------------------------------------------- reading its logs

def parse_marker(log: str, what: str = "run") -> dict:
    """The JSON of the runner's last INRCODEC_HARNESS line."""
    for line in reversed(log.splitlines()):
        if line.startswith(MARKER + " "):
            return json.loads(line[len(MARKER) + 1:])
    raise CoolchicError(f"Cool-chic {what}: no {MARKER} line in its output (did it crash?)")


def parse_macs(log: str) -> float | None:
    """MACs per decoded pixel of the residue (intra) decoder, from the encoder's log."""
    m = re.findall(r"residue decoder:\s*([0-9.]+)\s*MAC\s*/\s*pixel", log)
    return float(m[-1]) if m else None


def parse_device(log: str) -> str:
    m = re.findall(r"^Device\s*:\s*(\S+)", log, flags=re.M)
    return m[-1] if m else "?"


def parse_results(log: str) -> dict[str, str]:
    """The encoder's closing results table (a header line starting with 'loss', then values)."""
    lines = log.splitlines()
    for i in range(len(lines) - 2, -1, -1):
        head = lines[i].split()
        if head[:1] == ["loss"] and "psnr_db" in head and "rate_bpp" in head:
            values = lines[i + 1].split()
            if len(values) == len(head):
                return dict(zip(head, values))
    return {}


def parse_training(log: str) -> tuple[float, int] | None:
    """(seconds, iterations) of its gradient steps, warm-up included, from the last
    'Results at the end of the phase' table (its quantization and weight RDOQ come after)."""
    lines = log.splitlines()
    for i in range(len(lines) - 1, -1, -1):
        if lines[i].startswith("Results at the end of the phase"):
            for j in range(i + 1, min(i + 6, len(lines) - 1)):
                head = lines[j].split()
                if head[:1] == ["loss"] and "time_sec" in head and "itr" in head:
                    values = lines[j + 1].split()
                    try:
                        return (float(values[head.index("time_sec")]),
                                int(values[head.index("itr")]))
                    except (ValueError, IndexError):
                        return None
    return None


# ------------------------------------------------------------------------------ one point

def coolchic_point(job: CoolchicJob) -> dict:
    """Encode and decode one crop with Cool-chic; one benchmark row (same fields as rd.py's)."""
    import imageio.v3 as iio
    from benchmarks.metrics import psnr
    from benchmarks.rd import load_crop
    s = job.setup
    img = load_crop(job.image, job.size)
    h, w = img.shape[:2]
    if s.keep:
        Path(s.keep).mkdir(parents=True, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=f"cc_{job.image}_{job.lmbda:g}_", dir=s.keep)
    try:
        png, cool, out = (str(Path(tmp) / n) for n in ("input.png", "image.cool", "decoded.png"))
        workdir = Path(tmp) / "work"
        workdir.mkdir()
        iio.imwrite(png, img)
        enc_cmd = runner_command(s, "cc_encode.py", encode_args(job, png, cool, str(workdir)),
                                 job.seed)
        enc_log = _run(s, enc_cmd, tmp, "encode")
        enc = parse_marker(enc_log, "encode")
        if not Path(cool).is_file():
            raise CoolchicError(f"Cool-chic encode wrote no bitstream at {cool}")
        dec_log = _run(s, runner_command(s, "cc_decode.py", ["-i", cool, "-o", out], None),
                       tmp, "decode")
        dec = parse_marker(dec_log, "decode")
        decoded = iio.imread(out)
        if decoded.ndim != 3 or decoded.shape[:2] != (h, w):
            raise CoolchicError(f"Cool-chic decoded {decoded.shape}, expected {(h, w, 3)}")
        nbytes = Path(cool).stat().st_size
        reported = parse_results(enc_log)
        training = parse_training(enc_log)
        return {"image": job.image, "codec": s.curve, "param": job.lmbda, "bytes": nbytes,
                "bpp": 8 * nbytes / (h * w),
                "psnr": psnr(img, decoded[:, :, :3].astype("uint8")),
                "encode_s": enc["seconds"], "decode_s": dec["seconds"],
                "iterations": "debug" if s.debug else job.iterations,
                "device": parse_device(enc_log), "macs_per_pixel": parse_macs(enc_log) or "",
                "peer_psnr": float(reported["psnr_db"]) if "psnr_db" in reported else "",
                "train_s": training[0] if training else "",
                "train_iterations": training[1] if training else ""}
    finally:
        if not s.keep:
            shutil.rmtree(tmp, ignore_errors=True)
