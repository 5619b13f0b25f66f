"""The RD benchmark's plumbing on a tiny crop: real fits, real files, one run, every output."""
from __future__ import annotations

import csv
import json

import numpy as np
import pytest

from benchmarks import rd

KODIM23 = rd.KODAK / "kodim23.png"


def test_summarise_recovers_a_known_rate_factor():
    """A curve that needs 0.8x the bits of another at every PSNR has BD-rate -20 % against it."""
    rows = []
    for im in ("a", "b"):
        for bpp, psnr in [(0.2, 25.0), (0.4, 28.0), (0.8, 31.0), (1.6, 34.0)]:
            rows.append({"image": im, "codec": "anchor", "bpp": bpp, "psnr": psnr})
            rows.append({"image": im, "codec": "ours", "bpp": 0.8 * bpp, "psnr": psnr})
    _, table = rd.summarise(rows, "ours", ["anchor"])
    assert table["anchor"]["bd_rate_mean"] == pytest.approx(-20.0, abs=1e-6)
    assert table["anchor"]["bd_rate_images"] == "2/2"
    assert table["anchor"]["dpsnr_at_equal_bpp"] > 0


@pytest.mark.skipif(not KODIM23.exists(), reason="needs ../shared/data/kodak")
def test_one_run_writes_csv_table_and_both_latent_codings(tmp_path, monkeypatch):
    monkeypatch.setattr(rd, "RESULTS", tmp_path)
    rd.main(["--size", "24", "--images", "kodim23", "--lmbdas", "0.02,0.002", "--iterations", "4",
             "--codecs", "jpeg,webp", "--workers", "1", "--latent-coding", "round,uq",
             "--tag", "plumbing"])
    lines = (tmp_path / "rd_plumbing.csv").read_text().splitlines()
    assert lines[0].startswith("# command: python -m benchmarks.rd --size 24")
    rows = list(csv.DictReader(lines[1:]))
    codecs = {r["codec"] for r in rows}
    assert {"inrcodec-auto", "inrcodec-auto-uq", "jpeg", "webp"} <= codecs
    ours = [r for r in rows if r["codec"].startswith("inrcodec")]
    assert len(ours) == 4
    for r in ours:      # bpp from the real file size of a 24x24 crop
        assert float(r["bpp"]) == pytest.approx(8 * int(r["bytes"]) / 24 ** 2)
        assert np.isfinite(float(r["psnr"])) and float(r["macs_per_pixel"]) > 0
    md = (tmp_path / "rd_plumbing.md").read_text()
    assert "| inrcodec-auto-uq vs |" in md and "| inrcodec-auto vs |" in md
    assert "`auto` is the codec's default preset, picked by image size: `low` at 24x24." in md
    summary = json.loads((tmp_path / "rd_plumbing.json").read_text())
    assert "auto: uq vs round" in summary and "webp" in summary["inrcodec-auto"]
