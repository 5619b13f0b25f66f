"""How a range coder's output becomes a section's bytes, and back: constriction's u32 words,
little-endian, with trailing zero words dropped by the writer and read back as zeros.

At most MAX_DROPPED_ZERO_WORDS whole zero words are dropped, so no valid section needs more than
1 + MAX_DROPPED_ZERO_WORDS words past its end: that is what lets the compiled decoder refuse a
section that runs out early (entropy/compiled.py), and what image/decode.py's section-length
bound allows for.
"""
from __future__ import annotations

import numpy as np
import constriction

from ..errors import InrcodecError

MAX_DROPPED_ZERO_WORDS = 4


def section_bytes(encoder) -> bytes:
    """A constriction range encoder's words as little-endian bytes, trailing zero bytes dropped
    (implied on decode) but never more than MAX_DROPPED_ZERO_WORDS whole zero words."""
    words = encoder.get_compressed().astype("<u4")
    nonzero = np.flatnonzero(words)
    zero_tail = words.size - (int(nonzero[-1]) + 1 if nonzero.size else 0)
    if zero_tail > MAX_DROPPED_ZERO_WORDS:
        return words[:words.size - MAX_DROPPED_ZERO_WORDS].tobytes()
    return words.tobytes().rstrip(b"\0")


def section_words(data: bytes) -> np.ndarray:
    """The u32 words of a section (its last partial word zero-padded)."""
    return np.frombuffer(data + b"\0" * ((-len(data)) % 4), "<u4").astype(np.uint32)


def range_decoder(data: bytes):
    return constriction.stream.queue.RangeDecoder(section_words(data))


def check_consumed(dec) -> None:
    """Every byte of a section must have been needed: leftovers mean a corrupt or forged file."""
    if not dec.maybe_exhausted():
        raise InrcodecError("data left over after the last symbol")
