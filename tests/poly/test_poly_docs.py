"""Every ```python block of docs/poly.md runs (in order, one namespace)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[2] / "docs" / "poly.md"


@pytest.mark.slow
def test_docs_python_blocks_run(tmp_path, monkeypatch):
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    assert len(blocks) >= 5
    monkeypatch.chdir(tmp_path)
    namespace: dict = {}
    for block in blocks:
        code = block.replace("/tmp/", f"{tmp_path}{os.sep}")
        exec(compile(code, str(DOC), "exec"), namespace)
