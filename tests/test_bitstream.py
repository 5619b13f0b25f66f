"""The container and header: corrupt, truncated and hostile files must fail cleanly."""
from __future__ import annotations

import numpy as np
import pytest

import inrcodec
from inrcodec import bitstream
from inrcodec.arch import PRESETS
from inrcodec.image.decode import parse
from inrcodec.errors import InrcodecError
from inrcodec.image.header import ImageHeader
from inrcodec.model.params import build_modules, group_names


def test_header_is_small(encoded):
    _, data, report = encoded
    assert report["header_bytes"] == parse(data).header_bytes
    assert report["header_bytes"] <= 45     # magic, version, mode, sizes, preset, steps, CRC
    assert report["header_bytes"] + sum(report["sections"].values()) == len(data)


def test_header_roundtrip_all_presets():
    for name, arch in PRESETS.items():
        pairs = [(m, g) for m, groups in group_names(arch).items() for g in groups]
        quant = {mg: (i + 3, i + 5) for i, mg in enumerate(pairs)}
        h = ImageHeader(37, 5000, 3, arch, name, quant)
        back = ImageHeader.from_bytes(h.to_bytes())
        assert back == h


def test_a_preset_header_names_its_architecture_by_code_alone():
    """Format 8: a preset's architecture fields are not written (the preset code stands for
    them); the same architecture as a custom one spells them out and reads back the same."""
    from dataclasses import replace
    arch = PRESETS["medium"]
    quant = {(m, g): (7, 9) for m, groups in group_names(arch).items() for g in groups}
    named = ImageHeader(256, 256, 3, arch, "medium", quant).to_bytes()
    custom = ImageHeader(256, 256, 3, arch, None, quant).to_bytes()
    assert len(custom) - len(named) == len(arch.to_fields())
    assert ImageHeader.from_bytes(custom).arch == ImageHeader.from_bytes(named).arch == arch
    with pytest.raises(InrcodecError, match="not preset"):      # a preset name must mean it
        ImageHeader(256, 256, 3, replace(arch, arm_context=12), "medium", quant).to_bytes()


def test_each_weight_tensor_is_its_own_coded_group():
    """Steps and scales are chosen per weight tensor; a module's biases share one group."""
    for arch in PRESETS.values():
        modules = build_modules(arch, 3)
        for m, names in group_names(arch).items():
            weights = [n for n, _ in modules[m].named_parameters() if not n.endswith("bias")]
            assert names == weights + ["bias"]


@pytest.mark.parametrize("cut", [0, 1, 3, 5, 10, 40, -5, -1])
def test_truncated_file(encoded, cut):
    _, data, _ = encoded
    with pytest.raises(InrcodecError):
        inrcodec.decode(data[:cut] if cut else b"")


def test_every_single_bit_flip_in_the_first_bytes_is_detected(encoded):
    _, data, _ = encoded
    for pos in list(range(0, 64)) + list(range(len(data) - 40, len(data))):
        for bit in (0, 3, 7):
            bad = bytearray(data)
            bad[pos] ^= 1 << bit
            with pytest.raises(InrcodecError):
                inrcodec.decode(bytes(bad))


def test_wrong_magic_and_version(encoded):
    _, data, _ = encoded
    with pytest.raises(InrcodecError, match="magic"):
        inrcodec.decode(b"PNG" + data[3:])
    bad = bytearray(data)
    bad[3] = 99
    with pytest.raises(InrcodecError, match="version"):
        inrcodec.decode(bytes(bad))


def test_random_bytes():
    rng = np.random.default_rng(0)
    for n in (1, 7, 100, 5000):
        with pytest.raises(InrcodecError):
            inrcodec.decode(rng.integers(0, 256, n, dtype=np.uint8).tobytes())
        with pytest.raises(InrcodecError):
            inrcodec.decode(b"INR" + bytes([bitstream.FORMAT_VERSION, 0]) + rng.integers(0, 256, n, dtype=np.uint8).tobytes())


def test_hostile_files_with_valid_crc(encoded):
    """An attacker can recompute the CRC: the parser itself must still refuse nonsense."""
    _, data, _ = encoded
    c = bitstream.unpack(data)
    hostile = [
        bitstream.pack(0, c.header + b"\x00", c.sections),                    # trailing header
        bitstream.pack(0, c.header[:5], c.sections),                          # short header
        bitstream.pack(0, b"\xff\xff\x03" + c.header[3:], c.sections),        # 65535 rows...
        bitstream.pack(0, b"\x80\x80\x80\x80\x80\x80\x80\x80\x80\x80\x01", c.sections),
        bitstream.pack(0, c.header, c.sections[:2]),                          # missing sections
        bitstream.pack(0, c.header, c.sections + [b"x"]),
        bitstream.pack(7, c.header, c.sections),                              # unknown mode
        bitstream.pack(0, c.header, [s + b"\x5a" * 64 for s in c.sections]),  # data left over
    ]
    for bad in hostile:
        with pytest.raises(InrcodecError):
            inrcodec.decode(bad)


def test_absurd_declared_size_is_refused_before_allocating(encoded):
    _, data, _ = encoded
    c = bitstream.unpack(data)
    h = ImageHeader.from_bytes(c.header)
    h.height, h.width = 30000, 30000
    with pytest.raises(InrcodecError, match="size"):
        inrcodec.decode(bitstream.pack(0, h.to_bytes(), c.sections))


def test_decode_rejects_non_bytes():
    with pytest.raises(InrcodecError):
        inrcodec.decode("not bytes")


def test_encode_rejects_bad_arrays():
    for bad in [np.zeros((4, 4, 4), np.uint8), np.zeros((4, 4, 3), np.float32),
                np.zeros((0, 4, 3), np.uint8), np.zeros((2, 2, 2, 3), np.uint8), [[1, 2]]]:
        with pytest.raises(InrcodecError):
            inrcodec.encode(bad, iterations=1)
    with pytest.raises(InrcodecError):
        inrcodec.encode(np.zeros((4, 4, 3), np.uint8), lmbda=-1.0, iterations=1)
    with pytest.raises(InrcodecError):
        inrcodec.encode(np.zeros((4, 4, 3), np.uint8), preset="enormous", iterations=1)
