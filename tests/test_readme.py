"""The README's ```python blocks run, in order, in one namespace (```py blocks need a finished
training run and are shown only). Its first block holds the two setup commands."""

from __future__ import annotations

import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README.read_text(), flags=re.S)


def test_readme_opens_with_the_two_setup_commands():
    first = blocks("bash")[0].strip().splitlines()
    assert len(first) == 2
    assert first[0].endswith("python train.py") and first[1].endswith("pytest")


def test_readme_python_blocks_run(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": "readme"}
    code = blocks("python")
    assert code, "the README has no runnable python block"
    for block in code:
        exec(compile(block, str(README), "exec"), namespace)
