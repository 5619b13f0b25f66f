"""The short form of scripts/fuzz.py: a few thousand CRC-valid hostile files, each decoded in a
worker under an address-space limit and a per-case alarm. Fails on any error that is not an
InrcodecError, an "out of memory" (the estimate should have refused first), a hang, a decode
above its memory estimate, or a worker crash. Small files decode their latents in numpy unless
the compiled decoder is loaded, so a second run loads it first (--compiled). About 40 s on one
CPU thread."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from hostile_files import flat_image_file, flat_video_file, rec_file

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="RLIMIT_AS and /proc: Linux")
@pytest.mark.parametrize("latent_decoder, cases", [("auto", 3000), ("compiled", 1500)])
def test_fuzz_decoders(tmp_path, encoded, latent_decoder, cases):
    from inrcodec.arch import PRESETS, Architecture
    seeds = {
        "real.inr": encoded[1],                                  # a real fit (37x53, low)
        "flat_uq_grey.inr": flat_image_file(13, 21, 1, PRESETS["low"], "uq"),
        "flat_two_channels.inr": flat_image_file(9, 40, 3, Architecture(n_levels=3, latent_channels=2)),
        "rec.inr": rec_file(16, 18, 3, n_blocks=8),
        "rec_grey.inr": rec_file(12, 10, 1, n_blocks=3, kl_bits=6),
        "video.inr": flat_video_file(12, 14, frames=3, group=2),
    }
    paths = []
    for name, data in seeds.items():
        (tmp_path / name).write_bytes(data)
        paths.append(str(tmp_path / name))
    cmd = [sys.executable, str(ROOT / "scripts" / "fuzz.py"), "--inputs", *paths,
           "--cases", str(cases), "--seed", "0", "--memory-headroom", "700M",
           "--max-pixels", str(1 << 21), "--case-timeout", "10", "--time-limit", "240",
           "--save", str(tmp_path / "failures"), "--quiet"]
    if latent_decoder == "compiled":
        cmd += ["--compiled"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=ROOT,
                       env=dict(os.environ, OMP_NUM_THREADS="1"))
    summary = json.loads(r.stdout.strip().splitlines()[-1])
    assert summary["failures"] == [], json.dumps(summary["failures"][:10], indent=1)
    assert r.returncode == 0, r.stderr[-2000:]
    assert summary["ok"] + summary["refused"] == cases
    # the mutations reach the decoders, not only the CRC/container checks
    assert summary["ok"] > cases // 20 and summary["refused"] > cases // 2
