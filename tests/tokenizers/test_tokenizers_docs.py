"""The Python snippets in docs/tokenizers.md run as written."""

from __future__ import annotations

import re
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "tokenizers.md"


def test_doc_snippets_run() -> None:
    blocks = re.findall(r"```python\n(.*?)```", DOC.read_text(encoding="utf-8"), re.S)
    assert len(blocks) >= 3
    namespace: dict = {}
    for block in blocks:  # later snippets reuse names from earlier ones, as a reader would
        exec(compile(block, str(DOC), "exec"), namespace)
