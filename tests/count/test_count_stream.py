"""Streamed counts equal whole-text counts at every chunk boundary; bad input to ``count`` is named
(reliability W3.1-W3.5)."""

from __future__ import annotations

import io
import random
import sys

import pytest

from polytok.cli import main
from polytok.count import TokenCounter
from polytok.count import stream as stream_module
from polytok.count.stream import count_stream, read_text_stream

PARTS = [
    "Hello, world! ", "don't ", "I'll ", "HelloWorld ", "  \n\n  ", "\t", "12345678 ", "3.14159",
    "日本語のテキストです。", "😀😀 ", "Ceci n'est pas une pipe.\n", "    def f(x):\n        return x\n",
    "\r\n", "ÀÉÎÕÜ ", "¿Qué? ", "a" * 40, " " * 30, "\n", "<|endoftext|>", "ß", "...", "!!!",
]  # fmt: skip


def _text(seed: int, n: int = 600) -> str:
    rng = random.Random(seed)
    return "".join(rng.choice(PARTS) for _ in range(n))


def _chunks(text: str, seed: int) -> list[str]:
    rng = random.Random(seed)
    out, i = [], 0
    while i < len(text):
        step = rng.randint(1, 97)
        out.append(text[i : i + step])
        i += step
    return out


@pytest.mark.parametrize("model", ["gpt-4o", "gpt-4", "gpt2", "claude-sonnet-4-5"])
def test_stream_equals_whole_text_at_every_boundary(model, monkeypatch) -> None:
    monkeypatch.setattr(stream_module, "MIN_SEGMENT_CHARS", 64)  # cut often
    counter = TokenCounter(cache=None)
    for seed in range(6):
        text = _text(seed)
        whole = counter.count(model, text)
        streamed = count_stream(counter, model, _chunks(text, seed))
        assert streamed.count == whole.count, (model, seed)
        assert (streamed.strategy, streamed.exact) == (whole.strategy, whole.exact)
    assert count_stream(counter, model, []).count == 0


def test_read_text_stream_refuses_binary_and_large_input() -> None:
    good = "naïve café ".encode() * 10
    assert "".join(read_text_stream(io.BytesIO(good), "x")) == good.decode()
    with pytest.raises(
        ValueError, match=r"bin\.dat is not UTF-8 text \(invalid byte 0xc8 at byte 3\)"
    ):
        list(read_text_stream(io.BytesIO(b"abc\xc8\x01"), "bin.dat"))
    with pytest.raises(ValueError, match="NUL byte at byte 2"):
        list(read_text_stream(io.BytesIO(b"ab\0cd"), "z"))
    with pytest.raises(ValueError, match="larger than the limit of 8 bytes"):
        list(read_text_stream(io.BytesIO(b"0123456789"), "big", max_bytes=8))
    with pytest.raises(ValueError, match="ends inside a UTF-8 sequence"):
        list(read_text_stream(io.BytesIO("é".encode()[:1]), "cut"))


def test_count_cli_bad_inputs(tmp_path, capsys, monkeypatch) -> None:
    (tmp_path / "somedir").mkdir()
    (tmp_path / "bin.dat").write_bytes(b"\xc8\x00\x01binary")
    cases = {
        str(tmp_path / "somedir"): "is a directory; pass the files in it",
        str(tmp_path / "bin.dat"): f"{tmp_path / 'bin.dat'} looks binary",
    }
    for path, message in cases.items():
        assert main(["count", "-m", "gpt-4o", path]) == 2
        err = capsys.readouterr().err
        assert message in err and "Traceback" not in err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\xff\xfe\x80 junk")))
    assert main(["count", "-m", "gpt-4o"]) == 2
    assert "stdin is not UTF-8 text" in capsys.readouterr().err
    hf = tmp_path / "hf.yaml"
    hf.write_text("not: [valid")
    (tmp_path / "in.txt").write_text("hi")
    assert (
        main(["count", "-m", "gpt-4o", "--hf-tokenizers", str(hf), str(tmp_path / "in.txt")]) == 2
    )
    assert "is not valid YAML/JSON text" in capsys.readouterr().err


def test_count_dev_zero_and_size_limit(tmp_path, capsys) -> None:
    assert main(["count", "-m", "gpt-4o", "/dev/zero"]) == 2  # refused at once, nothing buffered
    assert "/dev/zero looks binary (a NUL byte at byte 0)" in capsys.readouterr().err
    big = tmp_path / "big.txt"
    text = _text(7, 20_000)  # ~ 200 KB: streamed in segments
    big.write_text(text, encoding="utf-8")
    assert main(["count", "-m", "gpt-4o", str(big)]) == 0
    expected = TokenCounter(cache=None).count("gpt-4o", text).count
    assert capsys.readouterr().out.split("\t")[0] == str(expected)
    assert main(["count", "-m", "gpt-4o", "--max-bytes", "64K", str(big)]) == 2
    assert "larger than the limit of 65536 bytes" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["count", "-m", "gpt-4o", "--max-bytes", "lots", str(big)])
