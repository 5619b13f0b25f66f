"""results.csv: one row per input, rewritten atomically (throttled) as results arrive, so an
interrupted run keeps a valid one; a progress bar on stderr."""
from __future__ import annotations

import csv
import io
import math
import sys
import time
from pathlib import Path

from ..files import write_atomic

CSV_EVERY_SECONDS = 2.0


class Results:
    """Rows by input path; results.csv rewritten atomically (throttled) as they arrive."""

    def __init__(self, path: Path, fields, total: int, verb: str, progress: bool):
        self.path, self.fields, self.rows = path, fields, {}
        self.total, self.verb, self.progress = total, verb, progress
        self.last_write = 0.0
        self.bar = None

    def start(self) -> None:
        """Show the progress bar; rows added before (skipped files) count as done already."""
        from tqdm import tqdm
        self.bar = tqdm(total=self.total, initial=len(self.rows), desc=self.verb,
                        unit="image" if self.verb == "encode" else "file",
                        disable=not self.progress, file=sys.stderr, dynamic_ncols=True,
                        smoothing=0.1)

    def add(self, row: dict) -> None:
        self.rows[row["path"]] = {f: row.get(f) for f in self.fields}
        if self.bar is not None:
            self.bar.update(1)
            failed = sum(r["status"] == "failed" for r in self.rows.values())
            if failed:
                self.bar.set_postfix(failed=failed, refresh=False)
        if time.monotonic() - self.last_write >= CSV_EVERY_SECONDS:
            self.write()

    def write(self) -> None:
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        writer.writerow(self.fields)
        for key in sorted(self.rows):
            writer.writerow([cell(self.rows[key][f]) for f in self.fields])
        write_atomic(self.path, buf.getvalue().encode(), force=True)
        self.last_write = time.monotonic()

    def close(self) -> list[dict]:
        """Close the bar (before any error message is printed) and write the CSV; idempotent."""
        if self.bar is not None:
            self.bar.close()
        self.write()
        return [self.rows[k] for k in sorted(self.rows)]


def cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "inf" if math.isinf(value) else f"{value:.6g}"
    return str(value)
