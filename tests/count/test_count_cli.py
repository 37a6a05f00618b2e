"""``polytok count`` / ``polytok models`` / ``polytok serve`` through the real entry point."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time

import httpx
import pytest

from polytok.cli import main


def test_count_files_and_stdin(tmp_path, capsys, monkeypatch) -> None:
    a, b = tmp_path / "a.txt", tmp_path / "b.txt"
    a.write_text("Hello, world!", encoding="utf-8")
    b.write_text("Hello, world! Hello, world!", encoding="utf-8")
    assert main(["count", "--model", "gpt-4o", str(a), str(b)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out == [f"4\t{a}", f"8\t{b}", "12\ttotal"]
    monkeypatch.setattr(sys, "stdin", io.StringIO("Hello, world!"))
    assert main(["count", "-m", "claude-sonnet-4-5", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert rows[0]["file"] == "-" and rows[0]["exact"] is False
    assert main(["count", "-m", "gpt-4o", str(tmp_path / "missing.txt")]) == 2


def test_models(capsys) -> None:
    assert main(["models", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    assert any(r["model"] == "gpt-4o" for r in rows)
    assert main(["models"]) == 0
    assert "o200k_base" in capsys.readouterr().out


@pytest.mark.slow
def test_serve_subprocess(unused_port) -> None:
    """``polytok serve`` as a user runs it (a new interpreter imports every subsystem's CLI)."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "polytok.cli", "serve", "--host", "127.0.0.1", "--port", str(unused_port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                r = httpx.post(
                    f"http://127.0.0.1:{unused_port}/count-tokens",
                    json={"text": "Hello, world!", "model_id": "gpt-4"},
                )
                break
            except httpx.TransportError:
                assert proc.poll() is None and time.monotonic() < deadline, (
                    proc.stderr.read().decode() if proc.stderr else ""
                )
                time.sleep(0.1)
        assert r.json()["count"] == 4
    finally:
        proc.terminate()
        proc.wait(timeout=10)
