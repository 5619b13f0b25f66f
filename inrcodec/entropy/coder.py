"""constriction wrappers: integer weights and latents in, bytes out (and back).

Latents are coded in wavefront order (model/latents.py): the encoder codes them with constriction
in one call. Two decoders give the same values: the compiled loop of entropy/compiled.py, which
reads constriction's streams bit-exactly, and decode_latents_reference, the same decode in numpy
with constriction (one vectorised integer-ARM evaluation and one constriction call per wavefront
step), the definition the compiled one is tested against. decode_latent_values picks the
reference for small pictures in a process that has not loaded the compiled loop yet: loading it
costs more than it saves there.
"""
from __future__ import annotations

import functools

import numpy as np
import constriction

from ..errors import InrcodecError
from ..model.latents import LatentLayout
from .dither import latent_dither
from . import engine as engines
from .int_arm import IntArm
from .laplace import (LATENT_MAX, MU_BITS, N_WEIGHT_SCALES, WEIGHT_MAX, latent_frequencies,
                      latent_symbol_bits, weight_frequencies)
from .sections import check_consumed, range_decoder, section_bytes, section_words

# Every symbol is coded with constriction's categorical model, handed laplace.py's integer
# frequencies (which it turns into exactly those probabilities): no float model in between.
_CATEGORICAL = constriction.stream.model.Categorical(perfect=False)
_MU_SCALE = float(1 << MU_BITS)
ENCODE_CHUNK = 16384        # latents per constriction call: [n, 127] float64 frequencies, 16 MB


@functools.lru_cache(maxsize=8)
def _weight_model(scale_index: int):
    return constriction.stream.model.Categorical(weight_frequencies(scale_index), perfect=False)


def encode_weight_groups(groups: list[tuple[np.ndarray, int]]) -> bytes:
    """groups: (integer weights, weight-scale index) coded one after another in one stream."""
    enc = constriction.stream.queue.RangeEncoder()
    for ints, scale_index in groups:
        if ints.size:
            if np.abs(ints).max() > WEIGHT_MAX:
                raise InrcodecError("internal: weight out of codable range")
            enc.encode((ints.ravel() + WEIGHT_MAX).astype(np.int32), _weight_model(scale_index))
    return section_bytes(enc)


def decode_weight_groups(data: bytes, shapes_and_scales: list[tuple[tuple, int]],
                         compiled=None) -> list[np.ndarray]:
    """The integer weights of each (shape, scale index) group, coded one after another.
    compiled: entropy/compiled.py's module to decode with (the same symbols as constriction's,
    without building a 65535-symbol model per scale: ~0.4 ms each), or None for constriction."""
    if compiled is not None:
        return _decode_weight_groups_compiled(data, shapes_and_scales, compiled)
    dec = range_decoder(data)
    out = []
    for shape, scale_index in shapes_and_scales:
        n = int(np.prod(shape))
        if n == 0:
            out.append(np.zeros(shape, np.int64))
            continue
        try:
            vals = dec.decode(_weight_model(scale_index), n)
        except AssertionError:      # constriction's verdict on data no encoder could have written
            raise InrcodecError(_INVALID) from None
        out.append((vals.astype(np.int64) - WEIGHT_MAX).reshape(shape))
    check_consumed(dec)
    return out


_INVALID = "compressed data invalid for its entropy model"


def _decode_weight_groups_compiled(data: bytes, shapes_and_scales, compiled) -> list[np.ndarray]:
    counts = np.array([int(np.prod(shape)) for shape, _ in shapes_and_scales], np.int64)
    scales = np.array([j for _, j in shapes_and_scales], np.int64)
    if scales.size and (scales.min() < 0 or scales.max() >= N_WEIGHT_SCALES):
        raise InrcodecError("weight scale index out of range")     # header.read_quant refuses them
    flat = np.empty(int(counts.sum()), np.int64)
    status, _ = compiled.decode_weights(section_words(data), counts, scales, flat)
    if status == compiled.INVALID:
        raise InrcodecError(_INVALID)
    if status != compiled.OK:                   # constriction's maybe_exhausted() fails
        raise InrcodecError("data left over after the last symbol")
    ends = np.cumsum(counts)[:-1]
    return [part.reshape(shape) for part, (shape, _) in zip(np.split(flat, ends), shapes_and_scales)]


def dither_units(dither: np.ndarray) -> np.ndarray:
    """A dither (multiples of 2^-MU_BITS) as int64 in 2^-MU_BITS units (exact)."""
    return (dither * _MU_SCALE).astype(np.int64)


def latent_parameters(layout: LatentLayout, arm: IntArm, buffer: np.ndarray,
                      dither: np.ndarray | None = None):
    """Integer (mu, scale index) of every latent, batched: the encoder knows all contexts.

    With a dither (--latent-coding uq, entropy/dither.py) the contexts are the decoded values
    k + u, not the symbols k."""
    values = buffer if dither is None else buffer + dither
    return arm(values[layout.ctx_idx], _levels(layout))


def _levels(layout) -> np.ndarray | None:
    """Each latent's level (pos_idx order) where the ARM has inter-grid features, else None
    (video layouts have none)."""
    return layout.latent_levels if layout.n_sources else None


def latent_locations(layout: LatentLayout, mu: np.ndarray, dither: np.ndarray | None,
                     rows: slice = slice(None)) -> np.ndarray:
    """Laplace location of each symbol in 2^-MU_BITS units, int64 (of `rows` of the pos_idx
    order, for mu given for those): mu, or mu - u under universal quantization, since
    P(k) = P(y^ in [k + u - 1/2, k + u + 1/2]) = Laplace(mu - u) mass of [k - 1/2, k + 1/2]."""
    return mu if dither is None else mu - dither_units(dither[layout.pos_idx[rows]])


class LatentCodeLength:
    """Ideal code length in bits of these latents under an integer ARM, for many ARMs (the
    encoder's step search scores ~50): contexts, symbols and Laplace offsets are gathered once,
    and each ARM runs over row chunks, whose temporaries stay in cache and are reused, instead
    of fresh [n, K] float64 arrays per layer (3x faster at 768x512). The integer ARM's rows are
    exact whatever the batch, so the chunking changes no bit."""

    CHUNK = 16384

    def __init__(self, layout: LatentLayout, buffer: np.ndarray, dither: np.ndarray | None = None):
        values = buffer if dither is None else buffer + dither
        # float32 holds every context exactly (integers |k| <= 63, or k + u with u on a 2^-8
        # grid: at most 14 significant bits) in half the memory of float64; the ARM converts
        # each chunk to float64 for its exact matmuls
        self.contexts = values[layout.ctx_idx].astype(np.float32)
        self.symbols = buffer[layout.pos_idx].astype(np.int64)
        self.levels = _levels(layout)
        self.layout, self.dither = layout, dither
        self.bits = np.empty(len(self.symbols))

    def __call__(self, arm: IntArm) -> float:
        for start in range(0, len(self.symbols), self.CHUNK):
            rows = slice(start, start + self.CHUNK)
            mu, k = arm(self.contexts[rows], None if self.levels is None else self.levels[rows])
            loc = latent_locations(self.layout, mu, self.dither, rows)
            self.bits[rows] = latent_symbol_bits(self.symbols[rows], loc, k)
        return float(self.bits.sum())


def latent_bits(layout: LatentLayout, arm: IntArm, buffer: np.ndarray,
                dither: np.ndarray | None = None) -> float:
    """Code length in bits of the latents under the coding-time (integer) model."""
    return LatentCodeLength(layout, buffer, dither)(arm)


def encode_latents(layout: LatentLayout, arm: IntArm, buffer: np.ndarray,
                   dither: np.ndarray | None = None) -> bytes:
    """buffer: the flat padded int64 symbol buffer (padding zero); dither: see latent_parameters."""
    mu, k = latent_parameters(layout, arm, buffer, dither)
    order, _ = layout.wavefront
    symbols = buffer[layout.pos_idx][order]
    if np.abs(symbols).max(initial=0) > LATENT_MAX:
        raise InrcodecError("internal: latent out of codable range")
    locs, k = latent_locations(layout, mu, dither)[order], k[order]
    enc = constriction.stream.queue.RangeEncoder()
    for a in range(0, len(symbols), ENCODE_CHUNK):
        rows = slice(a, a + ENCODE_CHUNK)
        enc.encode((symbols[rows] + LATENT_MAX).astype(np.int32), _CATEGORICAL,
                   latent_frequencies(locs[rows], k[rows]))
    return section_bytes(enc)


def decode_latent_values(layout, arm: IntArm, data: bytes, dithered: bool = False,
                         engine: str = "auto") -> np.ndarray:
    """The float64 latent buffer (symbols, plus the dither under --latent-coding uq, at valid
    positions; zero padding). engine: "compiled" (entropy/compiled.py), "reference" (numpy +
    constriction, decode_latents_reference) or "auto": the compiled loop for large pictures or
    once it is loaded (load_compiled), else the reference (see COMPILED_MIN_LATENTS)."""
    compiled = engines.compiled_for(engine, layout.n_latents)
    if compiled is None:
        dither = latent_dither(layout.valid_mask()) if dithered else None
        return _reference_values(layout, arm, data, dither)
    words = section_words(data)
    buffer = np.zeros(layout.buffer_size, np.float64)
    weights, biases, widths = arm.packed()
    if (widths.max() > compiled.MAX_WIDTH or widths[0] + layout.n_sources > compiled.MAX_WIDTH
            or widths[-1] != 2
            or widths[0] != len(layout.deltas) + arm.features
            or arm.features != layout.arch.ifce_features):
        raise InrcodecError("the ARM does not match the latent layout")     # the loop trusts both
    if isinstance(layout, LatentLayout):
        # the wavefront order is generated inside the loop, and the dither computed there:
        # nothing per latent is built first
        ifce_weights, ifce_biases = arm.packed_ifce()
        status = compiled.decode_image(words, buffer, dithered, weights, biases, widths,
                                       ifce_weights, ifce_biases, **compiled.image_geometry(layout))
    else:
        order, bounds = layout.wavefront
        status = compiled.decode_ordered(words, buffer, np.ascontiguousarray(layout.pos_idx[order]),
                                         np.asarray(bounds, np.int64),
                                         np.asarray(layout.deltas, np.int64), dithered, weights,
                                         biases, widths)
    if status != compiled.OK:
        raise InrcodecError(compiled.STATUS_MESSAGES[status])
    return buffer


def symbols_of(values: np.ndarray, dithered: bool) -> np.ndarray:
    """The int64 symbols k of a decoded latent buffer: the values, or k + u with the dither u in
    [-1/2, 1/2), where floor(k + u + 1/2) = k (exact: every value has MU_BITS fractional bits)."""
    return (np.floor(values + 0.5) if dithered else values).astype(np.int64)


def decode_latents(layout, arm: IntArm, data: bytes, dither: np.ndarray | None = None,
                   engine: str = "auto") -> np.ndarray:
    """The int64 symbol buffer of a latent section; dither: entropy.dither.latent_dither's, if
    the latents were coded with one (add it to the symbols for the values)."""
    dithered = dither is not None
    return symbols_of(decode_latent_values(layout, arm, data, dithered, engine), dithered)


def decode_latents_reference(layout, arm: IntArm, data: bytes,
                             dither: np.ndarray | None = None) -> np.ndarray:
    """decode_latents in numpy and constriction: the compiled decoder's definition."""
    return symbols_of(_reference_values(layout, arm, data, dither), dither is not None)


def _reference_values(layout, arm: IntArm, data: bytes, dither: np.ndarray | None) -> np.ndarray:
    """Wavefront decode in numpy and constriction: each step's contexts are complete before the
    step starts. Returns the float64 latent buffer (symbols, plus the dither if any).

    The hot loop keeps latent values in a float64 buffer (integer-valued, or k + u with a dither)
    so contexts feed the ARM's BLAS matmul without conversions; one ARM call and one constriction
    call per step. Contexts are gathered as `pos + deltas` (one row pitch for all grids), so
    nothing per-latent is precomputed beyond the coding order and, with inter-grid features,
    the coarser latents each one reads and its level.
    """
    dec = range_decoder(data)
    buffer = np.zeros(layout.buffer_size, np.float64)
    order, bounds = layout.wavefront
    pos = layout.pos_idx[order]
    deltas = layout.deltas[None, :]
    levels = _levels(layout)

    def contexts(a, b):
        p = pos[a:b]
        ctx = buffer[p[:, None] + deltas]
        if levels is None:
            return p, ctx, None
        rows = order[a:b]         # the step's sources, not a whole reordered copy (memory)
        return p, np.concatenate([ctx, buffer[layout.source_idx[rows]]], axis=1), levels[rows]

    decode = dec.decode
    for a, b in zip(bounds[:-1].tolist(), bounds[1:].tolist()):
        p, ctx, lv = contexts(a, b)
        mu, k = arm(ctx, lv)
        u = 0.0 if dither is None else dither[p]
        loc = mu if dither is None else mu - dither_units(u)
        try:
            symbols = decode(_CATEGORICAL, latent_frequencies(loc, k))
        except AssertionError:      # constriction's verdict on data no encoder could have written
            raise InrcodecError("compressed data invalid for its entropy model") from None
        buffer[p] = (symbols - LATENT_MAX) + u
    check_consumed(dec)
    return buffer
