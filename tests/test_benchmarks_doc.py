"""docs/benchmarks.md is generated from the subsystems' docs and must be up to date."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_benchmarks_page_is_up_to_date_and_complete():
    script = ROOT / "scripts" / "collect_benchmarks.py"
    out = subprocess.run([sys.executable, str(script), "--check"], capture_output=True, text=True)
    assert out.returncode == 0, out.stdout + out.stderr
    text = (ROOT / "docs" / "benchmarks.md").read_text(encoding="utf-8")
    for command in (
        "bench_train.py",
        "bench_count.py",
        "bench_sid.py",
        "bench_reso.py",
        "bench_glyph.py",
        "bench_poly.py",
        "bench_compress.py",
    ):
        assert command in text, f"docs/benchmarks.md does not say how to run {command}"
