"""The decoder's fixed-point upsampling and synthesis (inrcodec/model/fixed_point.py): the numba
loops give the numpy definition's values bit for bit, the arithmetic stays exact at the bounds,
the decoded bytes do not depend on the thread count, the picture is the float model's to within
a level, and decoding imports no torch."""
from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from inrcodec.model import fixed_point as fp
from inrcodec.model import fixed_point_compiled as nb

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"


@pytest.mark.parametrize("taps", [4, 8])
@pytest.mark.parametrize("n,a,b,h,w", [(1, 1, 1, 1, 1), (1, 1, 1, 2, 2), (2, 5, 7, 9, 13),
                                       (3, 9, 4, 17, 8), (1, 33, 49, 65, 97)])
def test_compiled_upsampling_is_the_numpy_definition(taps, n, a, b, h, w):
    rng = np.random.default_rng(a * 100 + b + taps)
    x = np.floor(rng.uniform(-fp.ACTIVATION_LIMIT, fp.ACTIVATION_LIMIT, (n, a, b)) / 64)
    half = rng.integers(-32767, 32768, taps // 2).astype(np.float64) * 5
    phase = np.ascontiguousarray(fp.phase_taps(half, taps))
    inv_q = 2.0 ** -16
    ref = fp.up2_axis(fp.up2_axis(x, phase, inv_q, w, axis=2), phase, inv_q, h, axis=1)
    got = nb.up2_cols(nb.up2_rows(x, phase, inv_q, fp.ACTIVATION_LIMIT, w), phase, inv_q,
                      fp.ACTIVATION_LIMIT, np.empty((n, h, w)))
    assert got.shape == (n, h, w)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("c,h,w", [(1, 1, 1), (3, 2, 5), (3, 17, 11), (1, 64, 3), (5, 4, 9)])
def test_compiled_residual_layer_is_the_numpy_definition(c, h, w):
    rng = np.random.default_rng(c * 1000 + h * 10 + w)
    x = np.floor(rng.uniform(-fp.ACTIVATION_LIMIT, fp.ACTIVATION_LIMIT, (c, h, w)))
    layer = fp.FixedMap(rng.integers(-32767, 32768, (c, c, 3, 3)).astype(np.float64) * 8,
                        2.0 ** -16, np.floor(rng.uniform(-2 ** 20, 2 ** 20, c)))
    ref = fp.residual3x3(x, layer)
    got = nb.residual3x3(x, layer.weight, layer.inv_q, layer.bias, fp.ACTIVATION_LIMIT)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("widths", [(7, 24, 3), (12, 8, 8, 1), (3, 3), (1, 1), (5, 13, 6, 2),
                                    (28, 40, 3)])
def test_compiled_pointwise_layers_are_the_numpy_definition(widths):
    rng = np.random.default_rng(sum(widths))
    n = 1000
    x = np.floor(rng.uniform(-2 ** 22, 2 ** 22, (widths[0], n)))
    layers = [fp.FixedMap(rng.integers(-32767, 32768, (b, a)).astype(np.float64) * 6,
                          2.0 ** -rng.integers(3, 17), np.floor(rng.uniform(-2 ** 20, 2 ** 20, b)))
              for a, b in zip(widths[:-1], widths[1:])]
    layers[0].weight[:, 0] = 0.0                      # zero weights are skipped: same values
    ref = fp.pointwise(x, layers)
    networks = fp.FixedNetworks(None, 8, layers, [])
    got = nb.pointwise_layers(x, *networks.packed_pointwise(), fp.ACTIVATION_LIMIT)
    np.testing.assert_array_equal(got, ref)


def test_sums_at_the_bounds_are_exact():
    """Largest activations times largest weights over the widest fan-in: the float64 sum is the
    exact integer sum (Python ints), whatever the order."""
    rng = np.random.default_rng(5)
    n = fp.MAX_FAN_IN
    x = rng.choice([-fp.ACTIVATION_LIMIT, fp.ACTIVATION_LIMIT], (n, 64))
    w = rng.choice([-32767 * 8.0, 32767 * 8.0], (3, n))
    exact = [[sum(int(w[o, i]) * int(x[i, j]) for i in range(n)) for j in range(64)]
             for o in range(3)]
    assert (w @ x == np.array(exact, dtype=np.float64)).all()
    assert (w[:, ::-1] @ x[::-1] == w @ x).all()
    assert max(abs(v) for row in exact for v in row) < 2 ** 53


def test_rounding_is_half_up_and_clamped():
    s = np.array([-3.0, -2.0, -1.0, 1.0, 2.0, 3.0, 2.0 ** 60, -2.0 ** 60])
    out = fp._round_shift(s.copy(), 0.5)
    np.testing.assert_array_equal(out, [-1, -1, 0, 1, 1, 2, fp.ACTIVATION_LIMIT, -fp.ACTIVATION_LIMIT])


def test_output_bytes_round_and_clamp():
    one = fp.ONE
    x = np.array([[[-one, 0.0, one / 255 / 2, one / 2, one, 2 * one]]])
    np.testing.assert_array_equal(fp.to_uint8(x)[0, :, 0], [0, 0, 1, 128, 255, 255])


@pytest.mark.parametrize("planes,hidden,channels,n_res,h,w", [
    (7, (24,), 3, 2, 37, 29), (7, (24,), 3, 2, 1, 1), (3, (), 1, 1, 40, 5), (5, (8, 6), 3, 3, 16, 300),
    (4, (12,), 3, 0, 17, 9), (9, (40,), 1, 2, 2, 260)])
def test_compiled_synthesis_bytes_are_the_numpy_definition(planes, hidden, channels, n_res, h, w):
    """The fused, band-by-band synthesis and byte conversion against the layer-by-layer numpy
    form, across band edges (BAND rows), block edges (BLOCK pixels), tiny pictures and zero
    weights; values spread over the bytes' whole range and past it."""
    rng = np.random.default_rng(planes * 100 + h + w)
    x = np.floor(rng.uniform(-2 ** 17, 2 ** 17, (planes, h, w)))
    widths = (planes, *hidden, channels)
    pointwise = [fp.FixedMap(rng.integers(-2000, 2000, (b, a)).astype(np.float64) * 3,
                             2.0 ** -12, np.floor(rng.uniform(-2 ** 15, 2 ** 17, b)))
                 for a, b in zip(widths[:-1], widths[1:])]
    pointwise[0].weight[: widths[1] // 2] = 0.0                   # outputs of zero weights
    residual = [fp.FixedMap(rng.integers(-3000, 3000, (channels, channels, 3, 3)).astype(np.float64),
                            2.0 ** -12, np.floor(rng.uniform(-2 ** 14, 2 ** 14, channels)))
                for _ in range(n_res)]
    networks = fp.FixedNetworks(None, 8, pointwise, residual)
    ref = fp.to_uint8(fp.synthesise(x, networks))
    if h * w > 100:                          # the test spans the bytes' whole range
        assert 0 < (ref == 255).mean() < 1 and 0 < (ref == 0).mean() < 1
    got = fp.pixels_of(x, networks, compiled=True)
    assert got.dtype == np.uint8 and got.shape == (h, w, channels)
    np.testing.assert_array_equal(got, ref)


@pytest.mark.parametrize("levels,taps,h,w,n_res", [(7, 8, 37, 53, 2), (2, 4, 16, 17, 1),
                                                   (4, 8, 1, 1, 2), (3, 8, 33, 300, 0)])
def test_compiled_upsampled_synthesis_is_the_numpy_definition(levels, taps, h, w, n_res):
    """The last x2 step's vertical half done band by band inside the synthesis
    (upsampled_synthesis_bytes) against numpy's upsampling, synthesis and bytes."""
    rng = np.random.default_rng(levels * 1000 + h + w)
    grids = [np.floor(rng.uniform(-2 ** 17, 2 ** 17, (1, -(-h // 2 ** k), -(-w // 2 ** k))))
             for k in range(levels)]
    half = fp.FixedMap(rng.integers(-20000, 20000, taps // 2).astype(np.float64) * 3, 2.0 ** -16)
    widths = (levels, 12, 3)
    pointwise = [fp.FixedMap(rng.integers(-2000, 2000, (b, a)).astype(np.float64) * 3, 2.0 ** -12,
                             np.floor(rng.uniform(-2 ** 15, 2 ** 17, b)))
                 for a, b in zip(widths[:-1], widths[1:])]
    residual = [fp.FixedMap(rng.integers(-3000, 3000, (3, 3, 3, 3)).astype(np.float64),
                            2.0 ** -12, np.floor(rng.uniform(-2 ** 14, 2 ** 14, 3)))
                for _ in range(n_res)]
    networks = fp.FixedNetworks(half, taps, pointwise, residual)
    ref = fp.to_uint8(fp.synthesise(fp.upsample(grids, half, taps), networks))
    phase = np.ascontiguousarray(fp.phase_taps(half.weight, taps))
    got = nb.upsampled_synthesis_bytes(grids[0], fp.last_step_rows(grids, half, taps), phase,
                                       half.inv_q, *networks.packed_pointwise(),
                                       *networks.packed_residual(3), fp.ACTIVATION_LIMIT, fp.ONE)
    np.testing.assert_array_equal(got, ref)
    np.testing.assert_array_equal(fp.upsample(grids, half, taps, compiled=True),
                                  fp.upsample(grids, half, taps))


def test_the_fixed_picture_is_the_float_models_within_a_level(encoded):
    """The decoded (fixed-point) picture against the fit's float render of the same integers:
    at most one level apart, almost everywhere equal (integerization costs ~nothing)."""
    import torch
    import inrcodec
    from inrcodec.image.decode import decode_latent_buffer, parse
    from inrcodec.entropy.weights import dequantize
    from inrcodec.model.params import build_modules, grouped_parameters
    from inrcodec.model.render import render
    from inrcodec.image.decode import load_networks
    image, data, _ = encoded
    parsed = parse(data)
    h = parsed.header
    layout, _, _, values = decode_latent_buffer(parsed)
    _, _, ints = load_networks(h, parsed.sections, dithered=h.dithered)
    modules = build_modules(h.arch, h.channels)
    with torch.no_grad():
        for name in ("upsampling", "synthesis"):
            for g, params in grouped_parameters(modules[name]).items():
                for pname, p in params:
                    p.copy_(torch.from_numpy(dequantize(ints[(name, pname)], h.quant[(name, g)][0])))
        float_image = render(layout, modules["upsampling"], modules["synthesis"],
                             torch.from_numpy(values))[0].clamp(0, 1).mul(255).round()
    fixed = inrcodec.decode(data).astype(np.float64)
    diff = np.abs(fixed - float_image.permute(1, 2, 0).numpy())
    assert diff.max() <= 1 and (diff > 0).mean() < 0.01


def _decoded_hash(path: Path, env: dict) -> str:
    code = ("import hashlib, sys, inrcodec; "
            "d = inrcodec.decode(open(sys.argv[1], 'rb').read()); "
            "print(hashlib.sha256(d.tobytes()).hexdigest(), 'torch' in sys.modules)")
    r = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **env}, timeout=120)
    assert r.returncode == 0, r.stderr
    return r.stdout.split()


@pytest.mark.parametrize("mode", ["image", "video"])
def test_decoded_bytes_do_not_depend_on_threads_nor_import_torch(mode):
    from inrcodec.bitstream import FORMAT_VERSION
    path = GOLDEN / f"v{FORMAT_VERSION}_{mode}.inr"
    one = _decoded_hash(path, {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"})
    two = _decoded_hash(path, {"OMP_NUM_THREADS": "2", "OPENBLAS_NUM_THREADS": "2"})
    assert one == two
    assert one[1] == "False", "decoding imported torch"
    data = path.read_bytes()
    import inrcodec
    from inrcodec.entropy import engine
    engine.set_loaded(True)          # numba's loops in this process: the same bytes
    assert hashlib.sha256(inrcodec.decode(data).tobytes()).hexdigest() == one[0]


def test_without_torch_decode_works_and_encode_says_what_is_missing(tmp_path):
    """A decode-only install (no PyTorch): decode, info and the Pillow plugin work; encode is a
    one-line error that names what is missing. (torch made unimportable in a fresh process.)"""
    from inrcodec.bitstream import FORMAT_VERSION
    block = tmp_path / "sitecustomize.py"
    block.write_text("import sys\nsys.modules['torch'] = None\n")
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{ROOT}"}
    golden = GOLDEN / f"v{FORMAT_VERSION}_image.inr"

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "inrcodec", *map(str, args)],
                              capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120)
    r = cli("decode", golden, "-o", tmp_path / "x.png")
    assert r.returncode == 0, r.stderr
    assert cli("info", golden).returncode == 0
    assert cli("decode", GOLDEN / f"v{FORMAT_VERSION}_video.inr", "-o", tmp_path / "v").returncode == 0
    r = cli("encode", tmp_path / "x.png", "-o", tmp_path / "y.inr", "--iterations", 1)
    assert r.returncode == 1 and r.stderr.count("\n") == 1 and "needs PyTorch" in r.stderr, r.stderr
    r = subprocess.run([sys.executable, "-c", "import inrcodec.pillow_plugin; from PIL import Image;"
                        f"print(Image.open({str(golden)!r}).size)"], capture_output=True, text=True,
                       env=env, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "(40, 32)", r.stderr


@pytest.mark.slow
@pytest.mark.parametrize("mode", ["image", "video"])
def test_golden_hashes_hold_without_cpu_extensions(mode, tmp_path):
    """numba compiled for a generic CPU and numpy told to use no SIMD extensions decode the
    golden files to the committed hashes (slow: numba compiles its loops again for that CPU)."""
    import json
    from inrcodec.bitstream import FORMAT_VERSION
    expected = json.loads((GOLDEN / f"v{FORMAT_VERSION}_hashes.json").read_text())[mode]["pixels"]
    code = ("import hashlib, sys, inrcodec; from inrcodec.entropy import engine; "
            "engine.load_compiled(); d = inrcodec.decode(open(sys.argv[1], 'rb').read()); "
            "print(hashlib.sha256(d.tobytes()).hexdigest())")
    env = {**os.environ, "PYTHONPATH": str(ROOT), "NUMBA_CPU_NAME": "generic",
           "NPY_DISABLE_CPU_FEATURES": "AVX512F AVX512CD AVX512_SKX AVX2 FMA3 AVX F16C",
           "NUMBA_CACHE_DIR": str(tmp_path / "numba")}
    r = subprocess.run([sys.executable, "-c", code, str(GOLDEN / f"v{FORMAT_VERSION}_{mode}.inr")],
                       capture_output=True, text=True, env=env, timeout=900)
    assert r.returncode == 0, r.stderr[-2000:]
    assert r.stdout.strip() == expected
