"""The format is pinned (docs/format.md): the weight-group table against the modules, and the
golden files of the current FORMAT_VERSION, one per mode, against what they decode to.

The golden files are made by scripts/make_golden.py. This test fails until the current
FORMAT_VERSION has its files, so every format change regenerates them on purpose."""
from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from inrcodec.arch import PRESETS
from inrcodec.bitstream import FORMAT_VERSION
from inrcodec.model.params import MODULE_NAMES, build_modules, coded_groups, group_names, \
    grouped_parameters

ROOT = Path(__file__).resolve().parents[1]
GOLDEN = ROOT / "tests" / "golden"
sys.path.insert(0, str(ROOT / "scripts"))
from make_golden import golden_hashes  # noqa: E402

ARCHS = {**PRESETS,
         "deep": replace(PRESETS["medium"], arm_hidden=(8, 8, 8), synthesis_hidden=(6, 6),
                         synthesis_residual=3),
         "flat": replace(PRESETS["lowest"], arm_hidden=(), synthesis_hidden=(),
                         synthesis_residual=0, upsampling_taps=4)}


@pytest.mark.parametrize("name", list(ARCHS))
def test_the_modules_hold_exactly_the_tables_weight_groups(name):
    """Every parameter of every decoder module is in exactly one coded group, in the table's
    order (a reordered attribute in a module would otherwise change the format silently)."""
    arch = ARCHS[name]
    modules = build_modules(arch, 3)
    table = coded_groups(arch)
    assert list(table) == list(MODULE_NAMES)
    for m in MODULE_NAMES:
        groups = grouped_parameters(modules[m])
        assert [(g, [n for n, _ in params]) for g, params in groups.items()] == table[m], m
        assert sorted(n for _, names in table[m] for n in names) == \
            sorted(n for n, _ in modules[m].named_parameters())
    assert group_names(arch) == {m: [g for g, _ in table[m]] for m in MODULE_NAMES}


# one file per mode; image_preset: a preset's code stands for its architecture (format 8), on a
# picture larger than format 8's tiles (format 9)
GOLDEN_NAMES = ("image", "image_preset", "video", "rec")


def test_the_current_format_version_has_its_golden_files():
    missing = [f"v{FORMAT_VERSION}_{m}.inr" for m in GOLDEN_NAMES
               if not (GOLDEN / f"v{FORMAT_VERSION}_{m}.inr").exists()]
    assert not missing and (GOLDEN / f"v{FORMAT_VERSION}_hashes.json").exists(), \
        f"format {FORMAT_VERSION} has no golden files: run python scripts/make_golden.py"


@pytest.mark.parametrize("mode", GOLDEN_NAMES)
def test_golden_files_decode_to_their_hashes(mode):
    """Latents (rec: weights) and pixels are decoded in integers: the same on every machine
    (test_fixed_point.py also checks them without CPU extensions)."""
    expected = json.loads((GOLDEN / f"v{FORMAT_VERSION}_hashes.json").read_text())[mode]
    data = (GOLDEN / f"v{FORMAT_VERSION}_{mode}.inr").read_bytes()
    got = golden_hashes(mode, data)
    assert got["latents"] == expected["latents"], "the decoded latents changed: a format change"
    assert got["shape"] == expected["shape"]
    assert got["pixels"] == expected["pixels"], "the decoded pixels changed"


def test_the_golden_files_of_older_versions_are_refused():
    """Files of an earlier format would decode to something else now: each is refused in one
    line naming its version."""
    from inrcodec import decode
    from inrcodec.errors import InrcodecError
    older = sorted(p for p in GOLDEN.glob("v*_*.inr") if not p.name.startswith(f"v{FORMAT_VERSION}_"))
    assert older                    # format 5's files at least
    for path in older:
        version = int(path.name[1:path.name.index("_")])
        with pytest.raises(InrcodecError, match=f"unsupported format version {version} "):
            decode(path.read_bytes())


def test_a_golden_file_of_another_version_is_refused():
    from inrcodec import decode
    from inrcodec.errors import InrcodecError
    data = bytearray((GOLDEN / f"v{FORMAT_VERSION}_image.inr").read_bytes())
    data[3] = FORMAT_VERSION - 1
    with pytest.raises(InrcodecError, match=f"unsupported format version {FORMAT_VERSION - 1}"):
        decode(bytes(data))
