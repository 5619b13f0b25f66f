"""The variational (`rec`) format: header, prior, block partition and seeds (encoder and decoder).

    container mode 2 (bitstream.MODE_REC); header = varints:
        height, width, channels, architecture fields (model.RecArch.to_fields),
        seed, kl_bits (per-block KL budget, whole bits), n_blocks,
        one zigzag prior code per group (model.groups): sigma_p = 2^(code / 8)
    one section: the n_blocks candidate indices, coded by inrcodec.channel_sim.encode_indices(kl_bits)

The weight vector (model.py) is sent by relative-entropy coding. Its entries are put in a
pseudo-random order (`permutation`, from the file seed) and that order is cut into `n_blocks`
contiguous runs of equal length (the first n mod n_blocks runs one longer), so the partition
costs one number. Block b is the sample chosen by the Poisson functional representation among
candidates drawn from the prior N(0, sigma_p^2) of its entries under `block_seed(seed, b)`;
decode_gaussian rebuilds it bit for bit. The prior is a zero-mean Gaussian per group whose
scale is quantized to 1/8 of an octave, so both sides hold the same float64 values.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..bitstream import Reader, write_varint
from ..errors import InrcodecError
from ..bitstream import MAX_PIXELS, MAX_SIDE
from .. import prng
from ..channel_sim import decode_gaussian
from . import model
from .model import RecArch

PRIOR_STEPS_PER_OCTAVE = 8
PRIOR_CODE_RANGE = (-240, 120)        # sigma_p in [2^-30, 2^15]
MAX_KL_BITS = 24
STREAM_PERMUTATION = 16               # prng streams of the file seed (channel_sim/ uses 0..2)
STREAM_BLOCKS = 17


def zigzag(v: int) -> int:
    return 2 * v if v >= 0 else -2 * v - 1


def unzigzag(u: int) -> int:
    return u // 2 if u % 2 == 0 else -(u + 1) // 2


def prior_code(sigma: float) -> int:
    """The nearest code of a prior scale (clamped to the representable range)."""
    code = int(np.round(np.log2(max(float(sigma), 1e-300)) * PRIOR_STEPS_PER_OCTAVE))
    return int(np.clip(code, *PRIOR_CODE_RANGE))


def prior_sigma(code: int) -> float:
    """2^(code/8), exact in float64 on every machine (a power of two times a tabled root)."""
    octave, step = divmod(code, PRIOR_STEPS_PER_OCTAVE)
    return float(np.ldexp(_ROOTS[step], octave))


# 2^(k/8) for k = 0..7, written out so no libm call is involved
_ROOTS = [1.0, 1.0905077326652577, 1.189207115002721, 1.2968395546510096, 1.4142135623730951,
          1.5422108254079407, 1.681792830507429, 1.8340080864093424]


@dataclass
class RecHeader:
    height: int
    width: int
    channels: int
    arch: RecArch
    seed: int
    kl_bits: int
    n_blocks: int
    prior_codes: list[int] = field(default_factory=list)

    @property
    def n_weights(self) -> int:
        return model.n_weights(self.arch, self.height, self.width, self.channels)

    def to_bytes(self) -> bytes:
        ints = [self.height, self.width, self.channels, *self.arch.to_fields(), self.seed,
                self.kl_bits, self.n_blocks, *(zigzag(c) for c in self.prior_codes)]
        return b"".join(write_varint(v) for v in ints)

    @classmethod
    def from_bytes(cls, data: bytes) -> "RecHeader":
        r = Reader(data, "header")
        height, width, channels = r.varint(), r.varint(), r.varint()
        if not (1 <= height <= MAX_SIDE and 1 <= width <= MAX_SIDE and height * width <= MAX_PIXELS):
            raise InrcodecError(f"corrupt header: implausible image size {width}x{height}")
        if channels not in (1, 3):
            raise InrcodecError(f"corrupt header: {channels} channels")
        arch = RecArch.from_fields(r.varint)
        seed, kl_bits, n_blocks = r.varint(), r.varint(), r.varint()
        if seed > prng.MASK64:
            raise InrcodecError("corrupt header: seed out of range")
        if not 1 <= kl_bits <= MAX_KL_BITS:
            raise InrcodecError(f"corrupt header: block budget of {kl_bits} bits")
        n = model.n_weights(arch, height, width, channels)
        if not 1 <= n_blocks <= n:
            raise InrcodecError(f"corrupt header: {n_blocks} blocks for {n} weights")
        n_groups = len(model.groups(arch, height, width, channels))
        codes = [unzigzag(r.varint()) for _ in range(n_groups)]
        if any(not PRIOR_CODE_RANGE[0] <= c <= PRIOR_CODE_RANGE[1] for c in codes):
            raise InrcodecError("corrupt header: prior scale out of range")
        if not r.at_end():
            raise InrcodecError("corrupt header: trailing bytes")
        return cls(height, width, channels, arch, seed, kl_bits, n_blocks, codes)


def permutation(seed: int, n: int) -> np.ndarray:
    """The coding order of the n weights: a stable argsort of n portable 64-bit words."""
    keys = prng.words(seed, STREAM_PERMUTATION, np.arange(n, dtype=np.uint64), 1)[:, 0]
    return np.argsort(keys, kind="stable")


def block_bounds(n: int, n_blocks: int) -> np.ndarray:
    """Start offsets (into the permuted order) of the n_blocks runs, plus n at the end."""
    base, extra = divmod(n, n_blocks)
    sizes = np.full(n_blocks, base, dtype=np.int64)
    sizes[:extra] += 1
    return np.concatenate(([0], np.cumsum(sizes)))


def block_seed(seed: int, block: int) -> int:
    """The channel-simulation seed of one block, from the file seed and the block index."""
    key = prng.stream_key(seed, STREAM_BLOCKS)
    return prng.mix64_int(key + (block + 1) * prng.GAMMA_ROW)


def prior_sigmas(header: RecHeader) -> np.ndarray:
    """sigma_p of every entry of the flat weight vector (float64 [n])."""
    per_group = np.array([prior_sigma(c) for c in header.prior_codes])
    return per_group[model.group_index(header.arch, header.height, header.width, header.channels)]


def blocks(header: RecHeader) -> list[np.ndarray]:
    """The flat-vector indices of every block, in coding order."""
    order = permutation(header.seed, header.n_weights)
    bounds = block_bounds(order.size, header.n_blocks)
    return [order[bounds[b]:bounds[b + 1]] for b in range(header.n_blocks)]


def weights_from_indices(header: RecHeader, indices: list[int]) -> np.ndarray:
    """Rebuild the flat float64 weight vector from the block indices (the decoder's only work)."""
    if len(indices) != header.n_blocks:
        raise InrcodecError("corrupt inrcodec file: wrong number of block indices")
    sigma = prior_sigmas(header)
    out = np.zeros(header.n_weights)
    for b, idx in enumerate(blocks(header)):
        out[idx] = decode_gaussian(indices[b], np.zeros(idx.size), sigma[idx], block_seed(header.seed, b))
    return out
