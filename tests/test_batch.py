"""Batch encoding/decoding of a directory tree (inrcodec.batch, `encode-batch` / `decode-batch`).

Kept fast: three tiny crops, 5 fitting steps, two worker processes; each run of the local
executor pays a few seconds of worker start-up (spawn + import torch)."""
from __future__ import annotations

import contextlib
import csv
import io as _stdio
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

import inrcodec
from inrcodec import batch
from inrcodec.batch import plan as batch_plan
from inrcodec.cli import main
from inrcodec.errors import InrcodecError

ROOT = Path(__file__).resolve().parents[1]
SHAPES = {"a.png": (16, 16, 3), "sub/b.png": (12, 20, 3), "sub/deeper/c.png": (18, 14, 3)}
ITER = ["--iterations", "5"]


def run(argv):
    """main(argv) -> (exit code, stdout, stderr), usable from module-scoped fixtures."""
    out, err = _stdio.StringIO(), _stdio.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            code = main([str(a) for a in argv])
        except SystemExit as exc:       # argparse's usage errors exit from inside main()
            code = exc.code
    return code, out.getvalue(), err.getvalue()


def read_csv(path: Path) -> dict[str, dict]:
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return {r["path"]: r for r in rows}


def assert_one_line_error(code, err, fragment=""):
    assert code != 0
    lines = [ln for ln in err.strip().splitlines() if ln.startswith("inrcodec:")]
    assert len(lines) == 1 and lines[0].startswith("inrcodec: error: "), err
    assert "Traceback" not in err
    assert fragment.lower() in lines[0].lower(), lines[0]


@pytest.fixture(scope="module")
def tree(tmp_path_factory, photo) -> Path:
    """photos/ with three crops in a nested tree and one file that only pretends to be a PNG."""
    root = tmp_path_factory.mktemp("batch") / "photos"
    offsets = {"a.png": (0, 0), "sub/b.png": (40, 40), "sub/deeper/c.png": (100, 100)}
    for rel, (h, w, _) in SHAPES.items():
        y, x = offsets[rel]
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(root / rel, photo[y:y + h, x:x + w])
    (root / "sub" / "bad.png").write_bytes(b"not an image")
    (root / "notes.txt").write_text("not an input")
    return root


@pytest.fixture(scope="module")
def first_run(tree):
    out = tree.parent / "coded"
    code, stdout, stderr = run(["encode-batch", tree, "-o", out, "--workers", 2, *ITER])
    return code, stdout, stderr, out


def copy_of(first_run, tmp_path) -> Path:
    dst = tmp_path / "coded"
    shutil.copytree(first_run[3], dst)
    return dst


def test_encode_batch_writes_mirrored_tree_and_csv(first_run, tree):
    code, stdout, stderr, out = first_run
    assert code == 1                                    # one input failed
    assert "3 encoded, 0 skipped, 1 failed" in stdout
    assert_one_line_error(code, stderr, "1 of 4 images failed")
    assert "results.csv" in stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file()) == \
        ["a.inr", "results.csv", "sub/b.inr", "sub/deeper/c.inr"]
    rows = read_csv(out / "results.csv")
    assert list(rows) == ["a.png", "sub/b.png", "sub/bad.png", "sub/deeper/c.png"]
    with open(out / "results.csv") as f:
        assert f.readline().strip() == ",".join(batch.ENCODE_FIELDS)
    for rel, (h, w, _) in SHAPES.items():
        row, inr = rows[rel], out / Path(rel).with_suffix(".inr")
        assert row["status"] == "ok" and row["error"] == "" and row["device"] == "cpu"
        assert int(row["bytes"]) == inr.stat().st_size
        assert float(row["bpp"]) == pytest.approx(8 * inr.stat().st_size / (h * w), rel=1e-5)
        assert float(row["psnr"]) > 10 and float(row["encode_seconds"]) > 0
        assert inrcodec.decode(inr.read_bytes()).shape == (h, w, 3)
    bad = rows["sub/bad.png"]
    assert bad["status"] == "failed" and bad["bytes"] == "" and "cannot read as an image" in bad["error"]
    assert "\n" not in bad["error"]


def test_encode_batch_resumes(first_run, tree, tmp_path):
    out = copy_of(first_run, tmp_path)
    before = {rel: (out / Path(rel).with_suffix(".inr")).read_bytes() for rel in SHAPES}

    code, stdout, _ = run(["encode-batch", tree, "-o", out, *ITER, "--quiet"])
    assert code == 1 and stdout == ""                   # --quiet: no summary, bad.png still fails
    rows = read_csv(out / "results.csv")
    assert {rel: rows[rel]["status"] for rel in SHAPES} == dict.fromkeys(SHAPES, "skipped")
    for rel in SHAPES:
        assert int(rows[rel]["bytes"]) == len(before[rel]) and rows[rel]["psnr"] == ""
    assert rows["sub/bad.png"]["status"] == "failed"

    # An interrupted earlier run: one output missing, one cut short. Exactly those two are redone.
    (out / "a.inr").unlink()
    (out / "sub" / "b.inr").write_bytes(before["sub/b.png"][:40])
    code, stdout, _ = run(["encode-batch", tree, "-o", out, "--workers", 2, *ITER])
    assert code == 1 and "2 encoded, 1 skipped, 1 failed" in stdout
    rows = read_csv(out / "results.csv")
    assert [rows[rel]["status"] for rel in SHAPES] == ["ok", "ok", "skipped"]
    for rel in SHAPES:
        inr = out / Path(rel).with_suffix(".inr")
        assert int(rows[rel]["bytes"]) == inr.stat().st_size
        inrcodec.decode(inr.read_bytes())               # complete and valid
    assert (out / "sub" / "deeper" / "c.inr").read_bytes() == before["sub/deeper/c.png"]
    assert not list(out.rglob("*.tmp"))


def test_decode_batch(first_run, tmp_path):
    coded = copy_of(first_run, tmp_path)
    (coded / "sub" / "broken.inr").write_bytes(b"INR garbage")
    out = tmp_path / "decoded"
    code, stdout, stderr = run(["decode-batch", coded, "-o", out, "--workers", 2])
    assert code == 1 and "3 decoded, 0 skipped, 1 failed" in stdout
    assert_one_line_error(code, stderr, "1 of 4 files failed")
    rows = read_csv(out / "results.csv")
    with open(out / "results.csv") as f:
        assert f.readline().strip() == ",".join(batch.DECODE_FIELDS)
    for rel, shape in SHAPES.items():
        src = coded / Path(rel).with_suffix(".inr")
        png = out / Path(rel).with_suffix(".png")
        row = rows[Path(rel).with_suffix(".inr").as_posix()]
        image = iio.imread(png)
        assert image.shape == shape
        np.testing.assert_array_equal(image, inrcodec.decode(src.read_bytes()))
        assert row["status"] == "ok" and int(row["bytes"]) == src.stat().st_size
        assert (int(row["height"]), int(row["width"])) == shape[:2]
    broken = rows["sub/broken.inr"]
    assert broken["status"] == "failed" and broken["error"] and not (out / "sub" / "broken.png").exists()

    (coded / "sub" / "broken.inr").unlink()
    code, stdout, _ = run(["decode-batch", coded, "-o", out])
    assert code == 0 and "0 decoded, 3 skipped, 0 failed" in stdout
    assert {r["status"] for r in read_csv(out / "results.csv").values()} == {"skipped"}
    code, stdout, _ = run(["decode-batch", coded, "-o", out, "--force", "--workers", 1])
    assert code == 0 and "3 decoded, 0 skipped, 0 failed" in stdout


def test_a_long_decode_batch_loads_the_compiled_decoder_in_its_worker(first_run, tmp_path,
                                                                      monkeypatch):
    """8 files or more a worker: each worker loads the compiled latent decoder first; the images
    are the ones a fresh `inrcodec decode` (numpy latent decoder at this size) gives."""
    coded = tmp_path / "coded"
    coded.mkdir()
    sources = sorted(first_run[3].rglob("*.inr"))
    for k in range(8):
        shutil.copy(sources[k % len(sources)], coded / f"f{k}.inr")
    asked = []
    from inrcodec.batch import executors
    real_run = executors.run
    monkeypatch.setattr(executors, "run", lambda *a, **k: asked.append(a[5]) or real_run(*a, **k))
    code, stdout, _ = run(["decode-batch", coded, "-o", tmp_path / "out", "--workers", 1])
    assert code == 0 and "8 decoded, 0 skipped, 0 failed" in stdout
    assert asked == [{"load_compiled": True}]
    for k in range(8):
        np.testing.assert_array_equal(iio.imread(tmp_path / "out" / f"f{k}.png"),
                                      inrcodec.decode((coded / f"f{k}.inr").read_bytes()))


CLIP = ROOT / "tests" / "data" / "carphone_4f_32x32.y4m"
CLIP_FRAMES = [f"frame_{k:04d}.png" for k in range(3)]


@pytest.fixture(scope="module")
def mixed(tmp_path_factory, photo) -> Path:
    """coded/ with a grid-mode image, a rec-mode image and (in sub/) a 3-frame 16x16 video in two
    groups, each fitted for 5 steps: only their decoding matters here."""
    root = tmp_path_factory.mktemp("mixed") / "coded"
    (root / "sub").mkdir(parents=True)
    image = np.ascontiguousarray(photo[:16, :16])
    (root / "img.inr").write_bytes(inrcodec.encode(image, iterations=5, device="cpu"))
    from inrcodec.variational.encoder import encode_with_result
    small = np.ascontiguousarray(photo[100:112, 100:112])
    (root / "rec.inr").write_bytes(encode_with_result(small, bpp=3.0, iterations=5, seed=5)[0])
    from inrcodec.video import encode_video
    from inrcodec.video.clip_reader import open_clip
    frames = np.ascontiguousarray(np.stack(list(open_clip(CLIP, frames=3).frames))[:, 8:24, 8:24])
    video = encode_video(frames, 25, iterations=5, group=2, device="cpu")
    (root / "sub" / "clip.inr").write_bytes(video)
    return root


def test_decode_batch_images_and_videos(mixed, tmp_path):
    out = tmp_path / "decoded"
    code, stdout, stderr = run(["decode-batch", mixed, "-o", out, "--workers", 1])
    assert code == 0 and "3 decoded, 0 skipped, 0 failed" in stdout, stderr
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("*")) == \
        ["img.png", "rec.png", "results.csv", "sub", "sub/clip",
         *[f"sub/clip/{name}" for name in CLIP_FRAMES]]
    for name in ("img", "rec"):
        np.testing.assert_array_equal(iio.imread(out / f"{name}.png"),
                                      inrcodec.decode((mixed / f"{name}.inr").read_bytes()))
    # the same frames as `inrcodec decode clip.inr -o clip/`
    ref = tmp_path / "ref"
    assert run(["decode", mixed / "sub" / "clip.inr", "-o", ref])[0] == 0
    assert sorted(p.name for p in ref.iterdir()) == CLIP_FRAMES
    for name in CLIP_FRAMES:
        np.testing.assert_array_equal(iio.imread(out / "sub" / "clip" / name),
                                      iio.imread(ref / name))
    with open(out / "results.csv") as f:
        assert f.readline().strip() == ",".join(batch.DECODE_FIELDS)
    rows = read_csv(out / "results.csv")
    assert {k: (r["status"], r["width"], r["height"], r["frames"]) for k, r in rows.items()} == {
        "img.inr": ("ok", "16", "16", "1"), "rec.inr": ("ok", "12", "12", "1"),
        "sub/clip.inr": ("ok", "16", "16", "3")}
    assert int(rows["sub/clip.inr"]["bytes"]) == (mixed / "sub" / "clip.inr").stat().st_size
    assert float(rows["sub/clip.inr"]["decode_seconds"]) > 0

    # A second run skips all three (no worker is started).
    stamp = {p: p.stat().st_mtime_ns for p in out.rglob("*.png")}
    code, stdout, _ = run(["decode-batch", mixed, "-o", out])
    assert code == 0 and "0 decoded, 3 skipped, 0 failed" in stdout
    rows = read_csv(out / "results.csv")
    assert {k: (r["status"], r["frames"]) for k, r in rows.items()} == {
        "img.inr": ("skipped", "1"), "rec.inr": ("skipped", "1"), "sub/clip.inr": ("skipped", "3")}
    assert {p: p.stat().st_mtime_ns for p in out.rglob("*.png")} == stamp

    # A frame directory missing a frame is not done: it is decoded again and replaced whole.
    (out / "sub" / "clip" / CLIP_FRAMES[1]).unlink()
    code, stdout, _ = run(["decode-batch", mixed, "-o", out, "--workers", 1])
    assert code == 0 and "1 decoded, 2 skipped, 0 failed" in stdout
    assert sorted(p.name for p in (out / "sub" / "clip").iterdir()) == CLIP_FRAMES
    assert sorted(p.name for p in (out / "sub").iterdir()) == ["clip"]      # no temporary dirs
    np.testing.assert_array_equal(iio.imread(out / "sub" / "clip" / CLIP_FRAMES[1]),
                                  iio.imread(ref / CLIP_FRAMES[1]))


def test_frame_directory_writes_are_atomic(tmp_path):
    """Interrupted while writing frames: nothing under the output's name (and an older complete
    directory stays as it was); a directory holding other files is never replaced."""
    from inrcodec.image_files import encode_image_file
    png = encode_image_file(np.zeros((4, 4, 3), np.uint8), ".png")

    class Interrupted(list):
        def __iter__(self):
            yield self[0]
            raise KeyboardInterrupt

    out = tmp_path / "out"
    job = batch_plan.Job("clip.inr", tmp_path / "clip.inr", out / "sub" / "clip", True)
    with pytest.raises(KeyboardInterrupt):
        batch_plan.write_frames(job, Interrupted([png] * 3))
    assert [p.name for p in (out / "sub").iterdir()] == []
    batch_plan.write_frames(job, [png] * 3)
    assert sorted(p.name for p in job.dst.iterdir()) == CLIP_FRAMES
    with pytest.raises(KeyboardInterrupt):
        batch_plan.write_frames(job, Interrupted([png] * 2))
    assert sorted(p.name for p in job.dst.iterdir()) == CLIP_FRAMES
    assert [p.name for p in (out / "sub").iterdir()] == ["clip"]
    batch_plan.write_frames(job, [png] * 2)                    # a shorter clip replaces it whole
    assert sorted(p.name for p in job.dst.iterdir()) == CLIP_FRAMES[:2]
    (job.dst / "notes.txt").write_text("mine")
    with pytest.raises(InrcodecError, match="other than decoded frames"):
        batch_plan.write_frames(job, [png] * 3)
    assert (job.dst / "notes.txt").read_text() == "mine"
    assert [p.name for p in (out / "sub").iterdir()] == ["clip"]


def test_video_output_directory_clash(tmp_path):
    """A video a.inr decodes to a/, which the tree's own a/ (a/b.inr -> a/b.png) also needs."""
    tree = tmp_path / "coded"
    (tree / "a").mkdir(parents=True)
    (tree / "a.inr").write_bytes(b"x")
    (tree / "a" / "b.inr").write_bytes(b"x")
    out, jobs, clashes = batch_plan.plan_jobs(tree, tmp_path / "o", (".inr",), ".png", ".inr files",
                                     is_video=lambda p: p.name == "a.inr")
    assert [(j.rel, j.dst.relative_to(out).as_posix(), j.video) for j in jobs] == \
        [("a.inr", "a", True), ("a/b.inr", "a/b.png", False)]
    assert list(clashes) == ["a.inr"] and "a" in clashes["a.inr"]


@pytest.mark.parametrize("argv,fragment", [
    (["encode-batch", "{tmp}/missing", "-o", "{tmp}/o"], "no such directory"),
    (["encode-batch", "{tmp}/file.png", "-o", "{tmp}/o"], "not a directory"),
    (["encode-batch", "{tmp}/empty", "-o", "{tmp}/o"], "no images"),
    (["decode-batch", "{tmp}/empty", "-o", "{tmp}/o"], "no .inr files"),
    (["encode-batch", "{tmp}/empty", "-o", "{tmp}/o", "--workers", "0"], "workers"),
    (["encode-batch", "{tmp}/empty", "-o", "{tmp}/o", "--gpus-per-task", "1"], "--executor ray"),
    (["encode-batch", "{tmp}/empty", "-o", "{tmp}/o", "--ray-address", "auto"], "--executor ray"),
    (["encode-batch", "{tmp}/empty", "-o", "{tmp}/o", "--iterations", "5", "--time-budget", "3"],
     "not allowed with"),
    (["encode-batch", "{tmp}/empty", "-o", "{tmp}/o", "--executor", "dask"], "invalid choice"),
    (["encode-batch", "{tmp}/empty"], "required"),
])
def test_batch_usage_errors(tmp_path, argv, fragment):
    (tmp_path / "empty" / "sub").mkdir(parents=True)
    (tmp_path / "empty" / "sub" / "readme.txt").write_text("no images here")
    (tmp_path / "file.png").write_bytes(b"x")
    code, _, err = run([a.format(tmp=tmp_path) for a in argv])
    assert_one_line_error(code, err, fragment)


def test_ray_missing_is_one_line_error(tree, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)      # `import ray` now raises ImportError
    code, _, err = run(["encode-batch", tree, "-o", tmp_path / "o", "--executor", "ray", *ITER])
    assert code == 1
    assert err.strip() == 'inrcodec: error: the ray executor needs Ray: pip install -e ".[cluster]"'
    with pytest.raises(InrcodecError, match="needs Ray"):
        batch.decode_batch(tree, tmp_path / "o", executor="ray")


def test_python_api_validation_and_inputs(tree, tmp_path):
    with pytest.raises(InrcodecError, match="unknown encode option"):
        batch.encode_batch(tree, tmp_path / "o", lmbda=1e-3, quality=5)
    with pytest.raises(InrcodecError, match="either iterations or a time budget"):
        batch.encode_batch(tree, tmp_path / "o", iterations=5, time_budget=1.0)
    with pytest.raises(InrcodecError, match="preset"):
        batch.encode_batch(tree, tmp_path / "o", preset="huge")
    assert batch.find_inputs(tree, batch.IMAGE_SUFFIXES) == \
        ["a.png", "sub/b.png", "sub/bad.png", "sub/deeper/c.png"]
    assert batch.find_inputs(tree, batch.IMAGE_SUFFIXES, exclude=tree / "sub") == ["a.png"]

    # a.png and a.PPM would both become a.inr: the second is refused, not silently overwritten.
    d = tmp_path / "clash"
    d.mkdir()
    (d / "a.png").write_bytes(b"x")
    (d / "a.PPM").write_bytes(b"x")
    (d / ".hidden.png").write_bytes(b"x")
    _, jobs, clashes = batch_plan.plan_jobs(d, tmp_path / "clash_out", batch.IMAGE_SUFFIXES, ".inr", "images")
    assert [j.rel for j in jobs] == ["a.PPM", "a.png"]
    assert list(clashes) == ["a.png"] and "a.inr" in clashes["a.png"]


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX signals")
def test_ctrl_c_leaves_no_partial_files(tree, tmp_path):
    """SIGINT to the whole process group (what Ctrl-C in a terminal does): exit 130, one line,
    workers gone, no .inr and no temporary file, a valid results.csv."""
    out = tmp_path / "coded"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "inrcodec", "encode-batch", str(tree), "-o", str(out),
         "--workers", "2", "--iterations", "100000", "--quiet"],
        env=env, start_new_session=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    try:
        deadline = time.monotonic() + 60
        while not (out / "results.csv").exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        time.sleep(1.5)                     # workers starting up or fitting
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130
    assert err.strip() == "inrcodec: error: interrupted"
    files = sorted(p.relative_to(out).as_posix() for p in out.rglob("*") if p.is_file())
    assert files == ["results.csv"]
    rows = read_csv(out / "results.csv")
    assert [r["status"] for r in rows.values()] == ["failed"]        # only bad.png got done


def test_ray_executor(tree, tmp_path, first_run):
    ray = pytest.importorskip("ray", reason="Ray not installed (pip install -e .[cluster])")
    assert not ray.is_initialized()
    out = tmp_path / "coded"
    rows = batch.encode_batch(tree, out, executor="ray", workers=2, progress=False, iterations=5)
    assert not ray.is_initialized()                     # the local instance we started is gone
    by_path = {r["path"]: r for r in rows}
    assert [by_path[rel]["status"] for rel in SHAPES] == ["ok"] * 3
    assert by_path["sub/bad.png"]["status"] == "failed"
    for rel, (h, w, _) in SHAPES.items():
        inr = out / Path(rel).with_suffix(".inr")
        assert by_path[rel]["bytes"] == inr.stat().st_size
        assert inrcodec.decode(inr.read_bytes()).shape == (h, w, 3)
    assert read_csv(out / "results.csv")["a.png"]["status"] == "ok"
