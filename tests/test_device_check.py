"""scripts/device_check.py: its CPU-side logic (no GPU here), as a dry run on the CPU."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
import torch

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "device_check.py"


def _script():
    spec = importlib.util.spec_from_file_location("device_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules["device_check"] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_exits_with_a_clear_message_without_an_accelerator(capsys):
    if torch.cuda.is_available() or torch.backends.mps.is_available():
        pytest.skip("an accelerator is present")
    check = _script()
    with pytest.raises(SystemExit) as exit_info:
        check.pick_device("auto")
    assert exit_info.value.code == 2
    assert "no accelerator found" in capsys.readouterr().err
    assert check.pick_device("cpu") == torch.device("cpu")


def test_table_has_one_row_per_check():
    check = _script()
    rows = [check.Row("a", 0.5, None, 2.0), check.Row("b", 0.25, 12.0, 0.5, "n")]
    text = check.table(rows, torch.device("cpu"), check.SMALL)
    assert "| a | 0.5000 | - | 2.0000 | 4.0x |  |" in text
    assert "| b | 0.2500 | 12 | 0.5000 | 2.0x | n |" in text


@pytest.mark.slow
def test_dry_run_on_cpu_writes_the_table(tmp_path):
    out = tmp_path / "check.md"
    res = subprocess.run(
        [sys.executable, str(SCRIPT), "--device", "cpu", "--small", "--out", str(out)],
        capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert res.returncode == 0, res.stderr[-3000:]
    rows = [line for line in out.read_text().splitlines() if line.startswith("| ")][1:]
    names = [r.split(" | ")[0].lstrip("| ") for r in rows]
    for expected in ("GoldSpreading", "ResoFormer", "RQVAE", "GPT2LM", "GlyphGPT2",
                     "PolyTokenizer", "StaticEmbedder", "gpt2: 4 training", "resoformer: 4",
                     "RQ-KMeans fit"):  # fmt: skip
        assert any(n.startswith(expected) for n in names), (expected, names)
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert float(cells[1]) > 0 and float(cells[3]) > 0 and cells[4].endswith("x")
