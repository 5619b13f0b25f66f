"""Video: layout (previous-frame context, wavefront), CLI round trip on a real clip, bit-exact
decoding, frame selection, folder input, and one-line errors for bad clips and bitstreams.

The clip is tests/data/carphone_4f_32x32.y4m: 4 frames, 32x32, 29.97 fps, cut from the standard
"carphone" sequence by scripts/make_test_clip.py.
"""
from __future__ import annotations

import json
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import imageio.v3 as iio
import numpy as np
import pytest

from inrcodec.arch import preset
from inrcodec.cli import main
from inrcodec.errors import InrcodecError
from inrcodec.model.latents import LatentLayout
from inrcodec.video.layout import DEFAULT_TEMPORAL_CONTEXT, VideoLayout, temporal_offsets

from cli_helpers import assert_one_line_error, run

ROOT = Path(__file__).resolve().parents[1]
CLIP = ROOT / "tests" / "data" / "carphone_4f_32x32.y4m"
ITERATIONS = 200          # enough for the latents to leave 0 on this clip (~5 s on one thread)


def psnr(a, b):
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return 10 * np.log10(255.0 ** 2 / mse)


@pytest.fixture(scope="module")
def source():
    from inrcodec.video.clip_reader import open_clip
    clip = open_clip(CLIP)
    return np.stack(list(clip.frames)), clip.fps


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    """(path, JSON report) of the real clip through the CLI: 2 groups of 2 frames."""
    out = tmp_path_factory.mktemp("video") / "clip.inr"
    code = main(["encode", str(CLIP), "-o", str(out), "--group", "2",
                 "--iterations", str(ITERATIONS), "--quiet"])
    assert code == 0
    from inrcodec.modes import info as file_info
    return out, file_info(out.read_bytes())


# ---------------------------------------------------------------------------------- layout

def _latent_map(layout: VideoLayout) -> dict[int, tuple[int, int, int, int]]:
    """flat index -> (frame, grid, i, j) for every latent."""
    where = {}
    n = layout.frame.n_latents
    starts = layout.frame._grid_starts
    for f in range(layout.frames):
        for k, (h, w) in enumerate(layout.grid_shapes):
            idx = layout.frame_pos[f, starts[k]:starts[k + 1]].reshape(h, w)
            for i in range(h):
                for j in range(w):
                    where[int(idx[i, j])] = (f, k, i, j)
        assert layout.frame_pos[f].size == n
    return where


def test_layout_context_covers_the_previous_frame():
    arch = preset("low")
    n_temporal = DEFAULT_TEMPORAL_CONTEXT
    lay = VideoLayout(arch, n_temporal, 3, 11, 13)
    where = _latent_map(lay)
    index = {v: p for p, v in where.items()}
    n_spatial = arch.arm_context
    assert lay.ctx_idx.shape == (lay.n_latents, n_spatial + n_temporal)
    frame_layout = LatentLayout(arch, 11, 13)
    for row, pos in enumerate(lay.pos_idx):
        f, k, i, j = where[int(pos)]
        ctx = lay.ctx_idx[row]
        # spatial part: the image layout's context, inside this frame
        k_row = row - f * lay.frame.n_latents
        assert np.array_equal(ctx[:n_spatial] - lay.frame_start(f), frame_layout.ctx_idx[k_row])
        # temporal part: same grid, co-located neighbourhood, previous frame (zero for frame 0)
        h, w = lay.grid_shapes[k]
        for (dy, dx), c in zip(temporal_offsets(n_temporal), ctx[n_spatial:]):
            inside = 0 <= i + dy < h and 0 <= j + dx < w
            if f > 0 and inside:
                assert where[int(c)] == (f - 1, k, i + dy, j + dx)
            else:
                assert int(c) not in where       # padding or the leading zero frame
    assert temporal_offsets(9)[0] == (0, 0)   # the co-located latent comes first


def test_wavefront_decodes_every_context_first():
    for temporal in (0, 1, 9, 25):
        lay = VideoLayout(preset("medium").for_video(), temporal, 4, 9, 14)
        step_of = np.full(lay.buffer_size, -1)
        step_of[lay.pos_idx] = lay.steps
        ctx_steps = step_of[lay.ctx_idx]
        valid = ctx_steps >= 0
        assert np.all(ctx_steps[valid] < np.broadcast_to(lay.steps[:, None], ctx_steps.shape)[valid])
        order, bounds = lay.wavefront
        assert np.array_equal(np.sort(order), np.arange(lay.n_latents))
        assert bounds[-1] == lay.n_latents
        if temporal:    # frames overlap in time: fewer steps than decoding frame after frame
            one = VideoLayout(preset("medium").for_video(), temporal, 1, 9, 14).wavefront[1].size - 1
            assert bounds.size - 1 < 4 * one


def test_float_arm_sees_the_previous_frame():
    """Changing a latent of frame 0 changes the ARM's prediction for the co-located latent of
    frame 1 (and nothing in frame 0 that precedes it)."""
    import torch
    from inrcodec.model.arm import Arm
    arch = preset("low")
    lay = VideoLayout(arch, 9, 2, 6, 6)
    torch.manual_seed(0)
    arm = Arm(arch, len(lay.deltas))
    ctx = torch.from_numpy(lay.ctx_idx)
    buf = torch.zeros(lay.buffer_size)
    base = arm(buf[ctx])[0]
    p0 = int(lay.frame_pos[0, 14])           # grid 0, (2, 2) of frame 0
    buf[p0] = 5.0
    changed = (arm(buf[ctx])[0] != base).nonzero().ravel().tolist()
    assert lay.frame.n_latents + 14 in changed     # co-located latent of frame 1
    assert all(r > 14 for r in changed)


# ------------------------------------------------------------------------ CLI, real clip

def test_real_clip_roundtrip(encoded, source, tmp_path, capsys):
    path, info = encoded
    frames, fps = source
    size = path.stat().st_size
    assert (info["mode"], info["frames"], info["width"], info["height"]) == ("video", 4, 32, 32)
    assert info["fps_fraction"] == "30000/1001" and abs(info["fps"] - 29.97) < 1e-2
    assert info["groups"] == 2 and info["group_size"] == 2
    assert info["bytes"] == size and info["bpp"] == pytest.approx(8 * size / (4 * 32 * 32))
    assert sum(info["sections"].values()) == size
    assert info["macs_per_pixel"] < 5000

    out = tmp_path / "frames"
    code, stdout, _ = run(["decode", path, "-o", out, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["frames"] == 4
    names = sorted(p.name for p in out.iterdir())
    assert names == [f"frame_{k:04d}.png" for k in range(4)]
    decoded = np.stack([iio.imread(out / n) for n in names])
    assert decoded.shape == frames.shape
    # a short fit, but it has learned the clip (and the 2nd frame of a group too)
    for k in range(4):
        flat = np.broadcast_to(frames[k].reshape(-1, 3).mean(0).round(), frames[k].shape)
        assert psnr(frames[k], decoded[k]) > psnr(frames[k], flat) + 3

    code, stdout, _ = run(["info", path], capsys)
    assert code == 0 and "4 frames at 29.970 fps" in stdout and "2 group(s)" in stdout


def test_encode_report_matches_the_file(tmp_path, source, capsys):
    frames, _ = source
    out = tmp_path / "r.inr"
    code, stdout, _ = run(["encode", CLIP, "-o", out, "--iterations", 0, "--frames", 3,
                           "--group", 2, "--json"], capsys)
    assert code == 0
    report = json.loads(stdout)
    assert report["bytes"] == out.stat().st_size and report["frames"] == 3
    assert report["bpp"] == pytest.approx(8 * out.stat().st_size / (3 * 32 * 32))
    from inrcodec.video import decode_video
    decoded = decode_video(out.read_bytes())
    assert report["psnr"] == pytest.approx(psnr(frames[:3], decoded), abs=1e-9)


def test_decoding_is_bit_exact(encoded, tmp_path):
    """Two decodes, one in a fresh interpreter on 2 threads, give identical frames and latents."""
    path, _ = encoded
    from inrcodec.video.decode import decode, decode_group_latents, parse
    data = path.read_bytes()
    a, b = decode(data), decode(data)
    assert np.array_equal(a, b)
    parsed = parse(data)
    buffers = [decode_group_latents(parsed.header, g, s)[2] for g, s in enumerate(parsed.groups)]
    assert any(np.any(buf != 0) for buf in buffers)       # the latents carry information
    code = ("import hashlib, sys, torch; torch.set_num_threads(2); "
            "from inrcodec.video import decode_video; "
            f"print(hashlib.sha256(decode_video(open({str(path)!r}, 'rb').read()).tobytes()).hexdigest())")
    env = {"OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin"}
    import os
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT,
                       env={**os.environ, **env}, check=True)
    import hashlib
    assert r.stdout.strip() == hashlib.sha256(a.tobytes()).hexdigest()


def test_frames_are_the_same_before_and_after_the_compiled_loops_load(encoded, monkeypatch):
    """numpy latents + torch upsampling, then numba's loops for both: the same frames."""
    from inrcodec.entropy import engine
    from inrcodec.video.decode import decode
    data = encoded[0].read_bytes()
    engine.set_loaded(False)
    before = decode(data)
    assert engine.load_compiled()
    assert np.array_equal(decode(data), before)


def test_fitted_arm_uses_the_previous_frame(encoded):
    """Zeroing the ARM's previous-frame weights changes the code length of the fitted latents."""
    from inrcodec.image.decode import load_networks
    from inrcodec.entropy.coder import latent_bits
    from inrcodec.entropy.int_arm import IntArm, IntLayer
    from inrcodec.video.decode import decode_group_latents, parse
    parsed = parse(encoded[0].read_bytes())
    h = parsed.header
    layout, _, buf = decode_group_latents(h, 0, parsed.groups[0])
    _, int_arm, ints = load_networks(h.group_view(0), parsed.groups[0],
                                     arm_inputs=len(layout.deltas))
    assert int_arm.layers[0][0].shape[0] == h.arch.arm_context + DEFAULT_TEMPORAL_CONTEXT
    assert h.temporal_context == DEFAULT_TEMPORAL_CONTEXT
    bits = latent_bits(layout, int_arm, buf)
    # rebuild the integer ARM with the temporal input columns of layer 0 set to zero
    bs = h.quant[0][("arm", "bias")][0]
    layers = []
    for k in range(len(h.arch.arm_hidden) + 1):
        ws = h.quant[0][("arm", f"layers.{k}.weight")][0]
        w = ints[("arm", f"layers.{k}.weight")].copy()
        if k == 0:
            w[:, h.arch.arm_context:] = 0
        layers.append(IntLayer(w, ints[("arm", f"layers.{k}.bias")], ws, bs))
    assert latent_bits(layout, IntArm(layers), buf) != bits


def test_y4m_and_mp4_outputs(encoded, tmp_path, capsys):
    path, _ = encoded
    y4m = tmp_path / "out.y4m"
    code, _, err = run(["decode", path, "-o", y4m], capsys)
    assert code == 0 and err == ""
    raw = y4m.read_bytes()
    header = raw.split(b"\n", 1)[0].decode()
    assert header.startswith("YUV4MPEG2 W32 H32 F30000:1001") and "C444" in header
    assert len(raw) == len(header) + 1 + 4 * (6 + 3 * 32 * 32)
    from inrcodec.video import decode_video
    from inrcodec.video.clip_reader import open_clip
    exact = decode_video(path.read_bytes())
    back = np.stack(list(open_clip(y4m).frames))          # read back by ffmpeg
    assert psnr(exact, back) > 45                          # only RGB->YUV rounding
    mp4 = tmp_path / "out.mp4"
    code, _, err = run(["decode", path, "-o", mp4], capsys)
    assert code == 0 and mp4.stat().st_size > 0
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("inrcodec: warning:") and "lossy" in lines[0]


def test_output_rules(encoded, tmp_path, capsys):
    path, _ = encoded
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "keep.txt").write_text("mine")
    code, _, err = run(["decode", path, "-o", taken], capsys)
    assert_one_line_error(code, err, "--force")
    code, _, _ = run(["decode", path, "-o", taken, "--force"], capsys)
    assert code == 0 and len(list(taken.glob("frame_*.png"))) == 4
    assert (taken / "keep.txt").read_text() == "mine"
    y4m = tmp_path / "x.y4m"
    y4m.write_bytes(b"precious")
    code, _, err = run(["decode", path, "-o", y4m], capsys)
    assert_one_line_error(code, err, "already exists")
    assert y4m.read_bytes() == b"precious"
    code, _, err = run(["decode", path, "-o", tmp_path / "x.gif"], capsys)
    assert_one_line_error(code, err, "directory of png frames")
    code, _, err = run(["decode", path, "-o", tmp_path / "missing" / "frames"], capsys)
    assert_one_line_error(code, err, "does not exist")
    # default output: INPUT_frames/ beside the input
    code, _, _ = run(["decode", path], capsys)
    assert code == 0 and len(list(path.with_name("clip_frames").glob("*.png"))) == 4


# ------------------------------------------------------------------ frame selection, folders

def test_start_and_frames_select_the_right_frames(source, tmp_path, capsys):
    from inrcodec.video.clip_reader import open_clip
    frames, _ = source
    part = np.stack(list(open_clip(CLIP, start=1, frames=2).frames))
    assert np.array_equal(part, frames[1:3])
    assert np.array_equal(np.stack(list(open_clip(CLIP, start=3).frames)), frames[3:])
    out = tmp_path / "part.inr"
    code, stdout, _ = run(["encode", CLIP, "-o", out, "--start", 1, "--frames", 2,
                           "--iterations", 0, "--json"], capsys)
    assert code == 0 and json.loads(stdout)["frames"] == 2 and json.loads(stdout)["start"] == 1
    code, _, err = run(["encode", CLIP, "-o", tmp_path / "none.inr", "--start", 9,
                        "--iterations", 0], capsys)
    assert_one_line_error(code, err, "no frames")


def test_folder_of_frames(source, tmp_path, capsys):
    frames, _ = source
    folder = tmp_path / "shots"
    folder.mkdir()
    for k, n in enumerate([10, 2, 1]):      # natural order: 1, 2, 10
        iio.imwrite(folder / f"img_{n}.png", frames[2 - k])
    (folder / "notes.txt").write_text("ignored")
    from inrcodec.video.clip_reader import open_clip
    clip = open_clip(folder)
    assert clip.meta["files"] == ["img_1.png", "img_2.png", "img_10.png"] and clip.fps is None
    assert np.array_equal(np.stack(list(clip.frames)), frames[:3])
    assert clip.count == 3
    assert [f for f in open_clip(folder, start=1, frames=1).meta["files"]] == ["img_2.png"]
    out = tmp_path / "shots.inr"
    code, stdout, _ = run(["encode", folder, "-o", out, "--iterations", 2, "--fps", "12",
                           "--json"], capsys)
    assert code == 0
    report = json.loads(stdout)
    assert report["frames"] == 3 and report["fps"] == 12 and report["groups"] == 1
    code, _, _ = run(["decode", out, "-o", tmp_path / "dec"], capsys)
    assert code == 0 and len(list((tmp_path / "dec").iterdir())) == 3
    # mixed sizes are refused, by name
    iio.imwrite(folder / "img_11.png", frames[0][:16])
    code, _, err = run(["encode", folder, "-o", tmp_path / "bad.inr", "--iterations", 0], capsys)
    assert_one_line_error(code, err, "same size")


# ------------------------------------------------------------------------------- errors

@pytest.mark.parametrize("name,content,fragment", [
    ("garbage.mp4", b"this is not a video at all" * 20, "cannot read as a video"),
    ("empty.mkv", b"", "empty"),
    ("bad.y4m", b"YUV4MPEG2 W0 H-3 Fx\nFRAME\n\x00\x00", "cannot read as a video"),
    ("missing.mp4", None, "no such file"),
])
def test_corrupt_video_input(tmp_path, capsys, name, content, fragment):
    bad = tmp_path / name
    if content is not None:
        bad.write_bytes(content)
    code, _, err = run(["encode", bad, "-o", tmp_path / "o.inr", "--iterations", 0], capsys)
    assert_one_line_error(code, err, fragment)
    assert not (tmp_path / "o.inr").exists()


def test_truncated_mp4_input(tmp_path, capsys, source):
    from fractions import Fraction
    from inrcodec.video.frame_writer import FrameWriter
    frames, _ = source
    good = tmp_path / "good.mp4"
    w = FrameWriter(good, False, 32, 32, 3, Fraction(25), 4)
    w.write(frames)
    w.finish()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(good.read_bytes()[:300])
    code, _, err = run(["encode", cut, "-o", tmp_path / "o.inr", "--iterations", 0], capsys)
    assert_one_line_error(code, err, str(cut))


# The committed clip: a 47-byte header, then 4 frames of "FRAME\n" + 32*32*3/2 bytes (C420jpeg).
Y4M_HEADER, Y4M_FRAME = 47, 6 + 32 * 32 * 3 // 2


@pytest.mark.parametrize("keep,frame", [
    (Y4M_HEADER + 4 * Y4M_FRAME - 1, 3),            # last frame one byte short
    (Y4M_HEADER + Y4M_FRAME + 700, 1),              # cut in the middle of frame 1's planes
    (Y4M_HEADER + 2 * Y4M_FRAME + 3, 2),            # cut inside frame 2's "FRAME" marker
    (Y4M_HEADER + 2 * Y4M_FRAME + 6, 2),            # frame 2's marker line and nothing else
])
def test_truncated_y4m_is_refused(tmp_path, capsys, keep, frame):
    """A .y4m cut inside a frame is an error naming the frame, not a clip of the frames before."""
    assert CLIP.stat().st_size == Y4M_HEADER + 4 * Y4M_FRAME
    cut = tmp_path / "clip.y4m"
    cut.write_bytes(CLIP.read_bytes()[:keep])
    out = tmp_path / "o.inr"
    code, stdout, err = run(["encode", cut, "-o", out, "--iterations", 0, "--quiet"], capsys)
    assert_one_line_error(code, err, f"{cut}: truncated video (frame {frame} is incomplete)")
    assert stdout == "" and not out.exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["clip.y4m"]     # no temporary file
    from inrcodec.video.clip_reader import open_clip
    with pytest.raises(InrcodecError, match=f"frame {frame} is incomplete"):
        open_clip(cut)


def test_y4m_cut_between_frames_or_after_the_wanted_ones(tmp_path, source):
    """A file cut exactly after a frame is a shorter, valid clip; with --frames only the frames
    asked for must be whole (a cut after them does not matter)."""
    from inrcodec.video.clip_reader import open_clip
    frames, _ = source
    cut = tmp_path / "clip.y4m"
    cut.write_bytes(CLIP.read_bytes()[:Y4M_HEADER + 3 * Y4M_FRAME])
    clip = open_clip(cut)
    assert clip.count == 3 and np.array_equal(np.stack(list(clip.frames)), frames[:3])
    cut.write_bytes(CLIP.read_bytes()[:Y4M_HEADER + 3 * Y4M_FRAME - 10])   # frame 2 is cut
    assert np.array_equal(np.stack(list(open_clip(cut, frames=2).frames)), frames[:2])
    with pytest.raises(InrcodecError, match="frame 2 is incomplete"):
        open_clip(cut, start=1, frames=2)


def test_y4m_frame_without_its_marker_is_refused(tmp_path, capsys):
    data = bytearray(CLIP.read_bytes())
    data[Y4M_HEADER + Y4M_FRAME:Y4M_HEADER + Y4M_FRAME + 5] = b"FRAMX"
    bad = tmp_path / "clip.y4m"
    bad.write_bytes(bytes(data))
    code, _, err = run(["encode", bad, "-o", tmp_path / "o.inr", "--iterations", 0], capsys)
    assert_one_line_error(code, err, "corrupt video (frame 1 does not start with FRAME")
    assert not (tmp_path / "o.inr").exists()


def test_y4m_frame_parameters_and_other_layouts(tmp_path):
    """FRAME lines may carry parameters; plane sizes follow the colour space (odd sizes round
    the chroma planes up)."""
    from inrcodec.video.clip_reader import check_y4m, y4m_frame_bytes
    data = CLIP.read_bytes()
    body = data[Y4M_HEADER:]
    with_params = data[:Y4M_HEADER] + body[:Y4M_FRAME].replace(b"FRAME\n", b"FRAME Ip XA=1\n") \
        + body[Y4M_FRAME:]
    clip = tmp_path / "p.y4m"
    clip.write_bytes(with_params)
    assert check_y4m(clip) == 4
    assert y4m_frame_bytes(b"YUV4MPEG2 W5 H3 F25:1") == 15 + 2 * 3 * 2          # 420jpeg
    assert y4m_frame_bytes(b"YUV4MPEG2 W5 H3 F25:1 C444") == 45
    assert y4m_frame_bytes(b"YUV4MPEG2 W5 H3 F25:1 C422p10") == 2 * (15 + 2 * 3 * 3)
    assert y4m_frame_bytes(b"YUV4MPEG2 W5 H3 Cmono") == 15
    assert y4m_frame_bytes(b"YUV4MPEG2 W0 H-3 Fx") is None       # left to ffmpeg to refuse
    assert y4m_frame_bytes(b"YUV4MPEG2 W5 H3 Cweird") is None


def test_truncated_mkv_input(tmp_path, capsys, source):
    """ffmpeg decodes the frames before the cut without complaint on its stdout; its demuxer's
    warning ("File ended prematurely") makes it an error, unless --frames asks for fewer."""
    from fractions import Fraction
    from inrcodec.video.clip_reader import open_clip
    from inrcodec.video.frame_writer import FrameWriter
    frames, _ = source
    clip = np.concatenate([frames, frames[::-1], frames])            # 12 frames
    good = tmp_path / "good.mkv"
    w = FrameWriter(good, False, 32, 32, 3, Fraction(25), len(clip))
    w.write(clip)
    w.finish()
    assert len(list(open_clip(good).frames)) == 12
    data = good.read_bytes()
    cut = tmp_path / "cut.mkv"
    cut.write_bytes(data[:len(data) * 9 // 10])
    out = tmp_path / "o.inr"
    code, _, err = run(["encode", cut, "-o", out, "--iterations", 0], capsys)
    assert_one_line_error(code, err, f"{cut}: truncated or corrupt video (ffmpeg:")
    assert not out.exists()
    assert len(list(open_clip(cut, frames=2).frames)) == 2


def _with_crc(body: bytes) -> bytes:
    return body + struct.pack("<I", zlib.crc32(body))


def test_corrupt_bitstream(encoded, tmp_path, capsys):
    path, _ = encoded
    data = path.read_bytes()
    cases = {
        "trunc.inr": data[:-7],
        "flipped.inr": data[:40] + bytes([data[40] ^ 0x10]) + data[41:],
        "header.inr": _with_crc(data[:7] + bytes([data[7] ^ 0x7F]) + data[8:-4]),
        "sections.inr": _with_crc(data[:-4] + b"\x01"),
        "latents.inr": _with_crc(data[:-40] + bytes(b ^ 0xA5 for b in data[-40:-4])),
    }
    for name, content in cases.items():
        bad = tmp_path / name
        bad.write_bytes(content)
        out = tmp_path / f"{name}.frames"
        code, _, err = run(["decode", bad, "-o", out], capsys)
        if name == "latents.inr" and code == 0:     # CRC-valid garbage may still decode
            continue
        assert_one_line_error(code, err)
        assert not out.exists() and not list(tmp_path.glob(f".{name}*"))
        code, _, err = run(["info", bad], capsys)
        if name in ("trunc.inr", "flipped.inr", "sections.inr"):
            assert_one_line_error(code, err)
        elif code:                  # info reads the header only: it may not notice
            assert_one_line_error(code, err)
    import inrcodec            # decodes every mode: a clip as its frames
    from inrcodec.video import decode_video
    np.testing.assert_array_equal(inrcodec.decode(data), decode_video(data))


@pytest.mark.parametrize("argv,fragment", [
    (["encode", "x.mp4", "--group", "0"], "1..64"),
    (["encode", "x.mp4", "--frames", "0"], ">= 1"),
    (["encode", "x.mp4", "--start", "-2"], ">= 0"),
    (["encode", "x.mp4", "--fps", "fast"], "frame rate"),
    (["encode", "x.mp4", "--fps", "0"], "(0, 2^20]"),
])
def test_bad_video_flags(argv, fragment, capsys):
    with pytest.raises(SystemExit) as exc:
        main(argv)
    _, err = capsys.readouterr()
    assert exc.value.code == 2
    assert_one_line_error(2, err, fragment)


def test_video_flags_refused_for_images(tmp_path, capsys, source):
    iio.imwrite(tmp_path / "a.png", source[0][0])
    code, _, err = run(["encode", tmp_path / "a.png", "--group", 4, "--iterations", 0], capsys)
    assert_one_line_error(code, err, "video input only")
    with pytest.raises(SystemExit) as exc:            # the range, from the parser (issue 31)
        run(["encode", CLIP, "-o", tmp_path / "g.inr", "--group", 65, "--iterations", 0], capsys)
    assert_one_line_error(exc.value.code, capsys.readouterr().err, "--group: must be in 1..64")


def test_profile_video(capsys):
    code, stdout, _ = run(["profile", "--video", "--json"], capsys)
    assert code == 0
    report = json.loads(stdout)
    assert report["video"] and report["temporal_context"] == DEFAULT_TEMPORAL_CONTEXT
    image = json.loads(run(["profile", "--json"], capsys)[1])["presets"]
    for name, p in report["presets"].items():
        assert p["macs_per_pixel"] < 5000
        assert p["components"]["arm"] > image[name]["components"]["arm"]
        assert p["components"]["synthesis"] == image[name]["components"]["synthesis"]


def test_video_decode_path_does_not_import_the_encoder(encoded, tmp_path):
    path, _ = encoded
    code = ("import sys; from inrcodec.cli import main; "
            f"rc = main(['decode', {str(path)!r}, '-o', {str(tmp_path / 'd')!r}]); "
            "bad = [m for m in sys.modules if m.startswith(('inrcodec.fit', 'inrcodec.image.encoder', "
            "'inrcodec.video.encoder', 'inrcodec.video.fit_model'))]; print(rc, bad)")
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert r.stdout.strip() == "0 []", r.stdout + r.stderr
