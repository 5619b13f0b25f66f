"""The compiled latent decoder (entropy/compiled.py) against its definitions: constriction's range
decoder symbol by symbol, and the numpy + constriction wavefront decoder on whole layouts."""
from __future__ import annotations

import sys
import zlib
from dataclasses import replace

import constriction
import numpy as np
import pytest
import torch

from inrcodec.arch import MEDIUM_IFCE, PRESETS
from inrcodec.entropy import coder, compiled, engine, sections
from inrcodec.entropy.dither import latent_dither
from inrcodec.entropy.int_arm import IntArm, IntLayer
from inrcodec.entropy.laplace import (LATENT_MAX, N_SCALES, N_WEIGHT_SCALES, SCALES, WEIGHT_MAX,
                                      WEIGHT_SCALES, latent_frequencies)
from inrcodec.entropy.weights import quantize
from inrcodec.errors import InrcodecError
from inrcodec.model.arm import Arm
from inrcodec.model.latents import LatentLayout
from inrcodec.video.layout import VideoLayout



def constriction_stream(symbols, locs, ks) -> np.ndarray:
    """locs: int64 in 2^-MU_BITS units; ks: scale indices."""
    enc = constriction.stream.queue.RangeEncoder()
    enc.encode((symbols + LATENT_MAX).astype(np.int32), coder._CATEGORICAL,
               latent_frequencies(locs, ks))
    return sections.section_words(sections.section_bytes(enc))


def constriction_decode(dec, locs, ks):
    return dec.decode(coder._CATEGORICAL, latent_frequencies(locs, ks)) - LATENT_MAX


def compiled_symbols(words, locs, ks):
    out = np.zeros(len(locs), np.int64)
    status, n, past_end = compiled.decode_laplace(words, locs.astype(np.int64), ks.astype(np.int64),
                                                  out)
    return status, out[:n], past_end


@pytest.mark.parametrize("seed", range(4))
def test_coder_reads_constrictions_streams(seed):
    """Every scale, locations on the ARM's 2^-8 grid and off it (dithered), symbols over the
    whole alphabet including the leaky tails: the same symbols back, the stream ends exactly, and
    a valid stream never reads more than MAX_WORDS_PAST_END words past its end."""
    rng = np.random.default_rng(seed)
    n = 6000
    ks = rng.integers(0, N_SCALES, n)
    locs = rng.integers(-LATENT_MAX * 256, LATENT_MAX * 256 + 1, n)       # the ARM's grid
    locs[::3] -= rng.integers(-128, 128, len(locs[::3]))                # dithered locations
    typical = np.round(rng.laplace(locs / 256, SCALES[ks]))
    anywhere = rng.integers(-LATENT_MAX, LATENT_MAX + 1, n)
    symbols = np.clip(np.where(rng.random(n) < 0.9, typical, anywhere), -LATENT_MAX, LATENT_MAX)
    for length in (1, 2, 17, n):                                       # short streams end early
        words = constriction_stream(symbols[:length], locs[:length], ks[:length])
        status, back, past_end = compiled_symbols(words, locs[:length], ks[:length])
        assert status == compiled.OK
        assert np.array_equal(back, symbols[:length])
        assert past_end <= compiled.MAX_WORDS_PAST_END


def test_coder_agrees_with_constriction_on_garbage():
    """Random words are a stream too: the same symbols as constriction, an invalid state exactly
    where constriction reports one, and the same verdict on whether the data was used up."""
    rng = np.random.default_rng(3)
    seen_invalid = seen_left_over = 0
    for _ in range(200):
        n = int(rng.integers(1, 2000))
        words = rng.integers(0, 2 ** 32, int(rng.integers(0, 40)), dtype=np.uint64).astype(np.uint32)
        locs = rng.integers(-LATENT_MAX * 256 - 128, LATENT_MAX * 256 + 128, n)
        ks = rng.integers(0, N_SCALES, n)
        status, back, _ = compiled_symbols(words, locs, ks)
        dec = constriction.stream.queue.RangeDecoder(words.copy())
        if status == compiled.INVALID:
            seen_invalid += 1
            k = len(back)
            ref = constriction_decode(dec, locs[:k], ks[:k]) if k else np.zeros(0)
            assert np.array_equal(ref, back)
            with pytest.raises(Exception):
                constriction_decode(dec, locs[k:k + 1], ks[k:k + 1])
        else:
            ref = constriction_decode(dec, locs, ks)
            assert np.array_equal(ref, back)
            assert (status == compiled.OK) == dec.maybe_exhausted()
            seen_left_over += status in (compiled.LEFT_OVER, compiled.BAD_END)
    assert seen_invalid and seen_left_over         # both outcomes were exercised


@pytest.mark.parametrize("seed", range(3))
def test_weight_decoder_reads_constrictions_streams(seed):
    """Groups of weights at several scales, coded by constriction: the compiled decoder gives
    every weight back, and the same groups as constriction's decoder."""
    rng = np.random.default_rng(seed)
    groups = []
    for _ in range(int(rng.integers(1, 8))):
        j = int(rng.integers(0, N_WEIGHT_SCALES))
        n = int(rng.integers(0, 400))
        x = np.clip(np.round(rng.laplace(0, WEIGHT_SCALES[j] * rng.uniform(0.2, 5), n)),
                    -WEIGHT_MAX, WEIGHT_MAX).astype(np.int64)
        x[:2] = [WEIGHT_MAX, -WEIGHT_MAX][:n]                        # the alphabet's ends
        groups.append((x.reshape(-1, 1) if seed == 1 else x, j))
    data = coder.encode_weight_groups(groups)
    specs = [(x.shape, j) for x, j in groups]
    got = coder.decode_weight_groups(data, specs, compiled)
    ref = coder.decode_weight_groups(data, specs)
    for (x, _), a, b in zip(groups, got, ref):
        assert np.array_equal(a, x) and np.array_equal(b, x) and a.shape == x.shape


def test_weight_decoder_agrees_with_constriction_on_garbage():
    """Random bytes as a weight section: the same weights or the same refusal as constriction."""
    rng = np.random.default_rng(4)
    outcomes = set()
    for _ in range(150):
        data = rng.integers(0, 256, int(rng.integers(0, 60)), dtype=np.uint8).tobytes()
        specs = [((int(rng.integers(0, 30)),), int(rng.integers(0, N_WEIGHT_SCALES)))
                 for _ in range(int(rng.integers(1, 4)))]
        try:
            ref = coder.decode_weight_groups(data, specs)
        except InrcodecError as exc:
            with pytest.raises(InrcodecError, match=str(exc)):
                coder.decode_weight_groups(data, specs, compiled)
            outcomes.add(str(exc))
            continue
        got = coder.decode_weight_groups(data, specs, compiled)
        assert all(np.array_equal(a, b) for a, b in zip(got, ref))
        outcomes.add("ok")
    assert len(outcomes) >= 2                  # decoded and refused streams both exercised


def int_arm_for(arch, n_inputs, rng, fractional_inputs=False):
    """A random quantized integer ARM reading n_inputs contexts, with some zero weights (RDOQ),
    and one all-zero 4x4 block per layer where it has one (the compiled ARM skips those)."""
    def int_layers(float_layers):
        out = []
        for layer in float_layers:
            w = quantize(rng.normal(0, 0.4, tuple(layer.weight.shape)), 30)
            w[rng.random(w.shape) < 0.2] = 0
            w[-4:, :4] = 0        # [out, in]: last four outputs, first four inputs
            out.append(IntLayer(w, quantize(rng.normal(0, 0.5, tuple(layer.bias.shape)), 26),
                                30, 26))
        return out

    arm = Arm(arch, n_inputs)
    return IntArm(int_layers(arm.layers), fractional_inputs, int_layers(arm.ifce))


def n_contexts(layout) -> int:
    """The ARM's input width: spatial context, then inter-grid features."""
    return len(layout.deltas) + layout.arch.ifce_features


# every preset, `medium` with inter-grid features and side grids (MEDIUM_IFCE), with two channels, and
# without side grids
ARCHS = {**PRESETS, "medium ifce": MEDIUM_IFCE,
         "medium 2ch+hyper1": replace(MEDIUM_IFCE, latent_channels=2,
                                                 hyper_grids=1),
         "low+ifce2": replace(PRESETS["low"], ifce_levels=2, ifce_features=3)}


def random_buffer(layout, rng, spread=2.0):
    buf = np.zeros(layout.buffer_size, np.int64)
    buf[layout.pos_idx] = np.clip(np.round(rng.laplace(0, spread, layout.n_latents)),
                                  -LATENT_MAX, LATENT_MAX)
    return buf


@pytest.mark.parametrize("arch", list(ARCHS))
@pytest.mark.parametrize("size", [(1, 1), (5, 3), (37, 53), (70, 300)])
@pytest.mark.parametrize("dithered", [False, True])
def test_compiled_decode_matches_reference(arch, size, dithered):
    """The compiled decoder and the numpy + constriction one agree on every latent, for every
    preset, coarser-grid context, and universal quantization's dither."""
    rng = np.random.default_rng(zlib.crc32(repr((arch, size, dithered)).encode()))
    layout = LatentLayout(ARCHS[arch], *size)
    arm = int_arm_for(layout.arch, n_contexts(layout), rng, fractional_inputs=dithered)
    buf = random_buffer(layout, rng)
    dither = latent_dither(layout.valid_mask()) if dithered else None
    data = coder.encode_latents(layout, arm, buf, dither)
    reference = coder.decode_latents_reference(layout, arm, data, dither)
    assert np.array_equal(reference, buf)
    assert np.array_equal(coder.decode_latents(layout, arm, data, dither, engine="compiled"), buf)
    values = coder.decode_latent_values(layout, arm, data, dithered, engine="compiled")
    assert np.array_equal(values, buf if dither is None else np.where(layout.valid_mask(), buf + dither, 0))


def test_compiled_decode_of_a_video_group():
    rng = np.random.default_rng(11)
    layout = VideoLayout(PRESETS["low"], 9, 3, 11, 13)
    arm = int_arm_for(layout.arch, len(layout.deltas), rng)
    buf = random_buffer(layout, rng)
    data = coder.encode_latents(layout, arm, buf)
    assert np.array_equal(coder.decode_latents_reference(layout, arm, data), buf)
    assert np.array_equal(coder.decode_latents(layout, arm, data, engine="compiled"), buf)


def test_short_and_overlong_sections_are_refused():
    """A section cut short fails while decoding (not after every claimed latent); cut by a few
    bytes only, it is refused exactly when the reference decoder refuses it (a range coder may
    decode a tail cut to valid symbols; the file's CRC catches those); bytes after the last
    symbol are data left over."""
    rng = np.random.default_rng(5)
    layout = LatentLayout(PRESETS["medium"], 64, 96)
    arm = int_arm_for(layout.arch, n_contexts(layout), rng)
    data = coder.encode_latents(layout, arm, random_buffer(layout, rng, spread=6.0))
    for cut in (0, 4, len(data) // 2):
        with pytest.raises(InrcodecError, match="ends before its last latent"):
            coder.decode_latents(layout, arm, data[:cut], engine="compiled")
    refused = 0
    for cut in range(len(data) - 24, len(data)):
        try:
            expected = coder.decode_latents_reference(layout, arm, data[:cut])
        except InrcodecError:
            refused += 1
            with pytest.raises(InrcodecError, match="last latent"):
                coder.decode_latents(layout, arm, data[:cut], engine="compiled")
        else:
            assert np.array_equal(coder.decode_latents(layout, arm, data[:cut], engine="compiled"),
                                  expected)
    assert refused > 12
    with pytest.raises(InrcodecError, match="left over"):
        coder.decode_latents(layout, arm, data + bytes(rng.integers(1, 256, 8, dtype=np.uint8)),
                             engine="compiled")


def test_a_claimed_huge_grid_with_a_tiny_section_fails_fast():
    """The hostile case of issue 22: a header claiming 8192 x 8192 with a few KB of latents must
    stop early (out of words or an invalid state), not decode 90 M latents of zeros."""
    import time
    rng = np.random.default_rng(6)
    layout = LatentLayout(MEDIUM_IFCE, 8192, 8192)
    arm = int_arm_for(layout.arch, n_contexts(layout), rng)
    garbage = rng.integers(0, 256, 3000, dtype=np.uint8).tobytes()
    assert engine.load_compiled()        # numba's first compile in a new venv is not the decode
    t0 = time.perf_counter()
    with pytest.raises(InrcodecError):
        coder.decode_latent_values(layout, arm, garbage, engine="compiled")
    assert time.perf_counter() - t0 < 5.0


def test_auto_engine_picks_the_reference_for_small_pictures_until_the_loop_is_loaded(monkeypatch):
    """A fresh process decodes small pictures in numpy (loading numba costs more there), large
    ones and everything once the compiled loop is loaded compiled; same values either way."""
    engine.set_loaded(False)
    assert not engine.uses_compiled(engine.COMPILED_MIN_LATENTS - 1)
    assert engine.uses_compiled(engine.COMPILED_MIN_LATENTS)
    rng = np.random.default_rng(8)
    layout = LatentLayout(PRESETS["low"], 40, 50)
    arm = int_arm_for(layout.arch, n_contexts(layout), rng)
    buf = random_buffer(layout, rng)
    data = coder.encode_latents(layout, arm, buf)
    assert np.array_equal(coder.decode_latents(layout, arm, data), buf)
    assert not engine.compiled_loaded()
    engine.load_compiled()
    assert engine.uses_compiled(1)
    assert np.array_equal(coder.decode_latents(layout, arm, data), buf)


def test_a_file_decodes_to_the_same_image_before_and_after_the_compiled_loops_load(encoded,
                                                                                monkeypatch):
    """A fresh process decodes a small file with numpy latents and torch upsampling, one that
    has loaded numba with its loops for both: the same image."""
    import inrcodec
    _, data, _ = encoded
    engine.set_loaded(False)
    before = inrcodec.decode(data)
    assert not engine.compiled_loaded()
    assert engine.load_compiled()
    assert np.array_equal(inrcodec.decode(data), before)


def test_the_writer_keeps_the_zero_words_a_decoder_could_not_tell_from_a_short_section():
    """Latents at the alphabet's first symbol, as likely as the model says, code to zero words.
    The writer drops at most MAX_DROPPED_ZERO_WORDS of them, so both decoders read such a section
    back; dropping them all (the old writer) leaves one that needs more words past its end than
    the compiled decoder allows a valid section (it refuses it as short)."""
    n = 5000
    symbols = np.full(n, -LATENT_MAX)
    locs, ks = np.full(n, -LATENT_MAX * 256), np.full(n, 40)      # ~0.02 bits each
    enc = constriction.stream.queue.RangeEncoder()
    enc.encode((symbols + LATENT_MAX).astype(np.int32), coder._CATEGORICAL,
               latent_frequencies(locs, ks))
    words = enc.get_compressed()
    zero_tail = len(words) - (np.flatnonzero(words)[-1] + 1 if words.any() else 0)
    assert zero_tail > sections.MAX_DROPPED_ZERO_WORDS + 1          # the case this test is about
    kept = sections.section_bytes(enc)
    assert len(kept) == 4 * (len(words) - sections.MAX_DROPPED_ZERO_WORDS)
    status, out, past_end = compiled_symbols(sections.section_words(kept), locs, ks)
    assert status == compiled.OK and np.array_equal(out, symbols)
    assert past_end <= compiled.MAX_WORDS_PAST_END
    dec = sections.range_decoder(kept)
    assert np.array_equal(constriction_decode(dec, locs, ks), symbols)
    assert dec.maybe_exhausted()
    all_stripped = words.astype("<u4").tobytes().rstrip(b"\0")
    assert compiled_symbols(sections.section_words(all_stripped), locs, ks)[2] > compiled.MAX_WORDS_PAST_END


def test_decoding_falls_back_to_the_reference_where_the_compiled_loop_cannot_load(monkeypatch):
    """Where numba cannot load or cache the loop (a read-only install and home), "auto" decodes
    with numpy, warning once, and load_compiled says it could not."""
    import inrcodec.entropy as entropy
    monkeypatch.delattr(entropy, "compiled")
    monkeypatch.setitem(sys.modules, "inrcodec.entropy.compiled", None)     # import fails
    monkeypatch.setattr(engine, "_unavailable", None)
    engine.set_loaded(False)
    monkeypatch.setattr(engine, "COMPILED_MIN_LATENTS", 1)
    rng = np.random.default_rng(9)
    layout = LatentLayout(PRESETS["low"], 30, 20)
    arm = int_arm_for(layout.arch, n_contexts(layout), rng)
    buf = random_buffer(layout, rng)
    data = coder.encode_latents(layout, arm, buf)
    with pytest.warns(RuntimeWarning, match="compiled latent decoder cannot be loaded"):
        assert np.array_equal(coder.decode_latents(layout, arm, data), buf)
    assert not engine.uses_compiled(10 ** 9) and not engine.load_compiled()
    assert np.array_equal(coder.decode_latents(layout, arm, data), buf)     # no second warning
    with pytest.raises(ImportError):
        coder.decode_latents(layout, arm, data, engine="compiled")
    with pytest.raises(ValueError, match="unknown latent decoder"):
        coder.decode_latents(layout, arm, data, engine="numpy")
