"""Published full-size Kodak RD points, kept as commented CSVs so every number carries its source.

Each ``*.csv`` here has ``# key: value`` header comments (``name``, ``source``, ...; indented
``#   ...`` lines continue the previous key) followed by a ``bpp,psnr_db`` table. Lines that are
comments are never read as data, which is how unverified points are parked (see README.md).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

REFERENCE_DIR = Path(__file__).resolve().parent


def read_reference_csv(path: str | Path) -> tuple[str, np.ndarray, np.ndarray, dict[str, str]]:
    """Parse one reference file -> (name, bpp, psnr, metadata dict of the header comments)."""
    path = Path(path)
    meta: dict[str, str] = {}
    key = None
    rows: list[tuple[float, float]] = []
    header_seen = False
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line:
            continue
        if line.startswith("#"):
            body = line[1:]
            if body.startswith("   ") and key is not None:  # continuation line
                meta[key] += " " + body.strip()
            elif ":" in body:
                key, value = body.split(":", 1)
                key = key.strip()
                meta[key] = value.strip()
            continue
        if not header_seen:
            if [c.strip() for c in line.split(",")] != ["bpp", "psnr_db"]:
                raise ValueError(f"{path.name}: expected 'bpp,psnr_db' header, got {line!r}")
            header_seen = True
            continue
        b, p = (float(v) for v in line.split(","))
        rows.append((b, p))
    if not rows:
        raise ValueError(f"{path.name}: no data rows")
    arr = np.array(rows, dtype=np.float64)
    return meta.get("name", path.stem), arr[:, 0], arr[:, 1], meta


def load_reference_curves(directory: str | Path = REFERENCE_DIR) -> dict[str, tuple[np.ndarray, np.ndarray, str]]:
    """{name: (bpp array, psnr array, source string)} for every CSV in ``directory``."""
    curves: dict[str, tuple[np.ndarray, np.ndarray, str]] = {}
    for path in sorted(Path(directory).glob("*.csv")):
        name, bpp, psnr, meta = read_reference_csv(path)
        if name in curves:
            raise ValueError(f"duplicate reference curve name {name!r} ({path.name})")
        curves[name] = (bpp, psnr, meta.get("source", "unknown source"))
    return curves
