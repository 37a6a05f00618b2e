"""``polytok compress`` end to end through the top-level CLI."""

from __future__ import annotations

import json

from polytok.cli import main

TEXT = (
    "Refunds are issued within 30 days of purchase if the item is unused. To request a refund, "
    "email support with your order number. Shipping is free for orders over fifty dollars. "
    "Our office is closed on public holidays. The founder likes cycling and old movies."
)


def test_compress_file(tmp_path, capsys) -> None:
    path = tmp_path / "ctx.txt"
    path.write_text(TEXT)
    argv = ["compress", "--model", "gpt-4o", "--query", "how do I get a refund"]
    assert main([*argv, "--ratio", "0.4", str(path)]) == 0
    out, err = capsys.readouterr()
    assert "refund" in out.lower() and len(out) < len(TEXT)
    assert "tokens for gpt-4o" in err
    assert main([*argv, "--ratio", "0.4", "--json", "--validate", str(path)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["compressed_tokens"] <= report["target_tokens"]
    assert set(report["validation"]["scores"]) == {"rouge-l", "embedding", "query-retention"}


def test_compress_errors(tmp_path, capsys) -> None:
    path = tmp_path / "ctx.txt"
    path.write_text(TEXT)
    assert main(["compress", "--ratio", "1.5", str(path)]) == 2
    assert "(0, 1]" in capsys.readouterr().err
    assert main(["compress", "--ratio", "0.5", "--model", "nope-9", str(path)]) == 2
    assert "unknown model" in capsys.readouterr().err
    assert main(["compress", str(path)]) == 2
    assert "exactly one" in capsys.readouterr().err
    assert main(["compress", "--ratio", "0.5", str(tmp_path / "missing.txt")]) == 2
    (tmp_path / "empty.txt").write_text("")
    assert main(["compress", "--ratio", "0.5", str(tmp_path / "empty.txt")]) == 2
    assert "empty" in capsys.readouterr().err
