"""Chunking keeps code blocks and list runs whole and reproduces the original text."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from polytok.compress.chunking import separators, split_chunks
from polytok.compress.text import words

DOC = """# Setup guide

Install the package first. Then run the tests!  Does it work? 是的。很好。

```python
def main():

    print("Hello. World.")
```

- first item. It has two sentences.
- second item
  continued here

- third item after a blank line

Hor.
Before my God, I might not this believe. Mr. Smith agreed."""


def test_kinds_and_atomic_blocks() -> None:
    chunks = split_chunks(DOC)
    kinds = [c.kind for c in chunks]
    assert kinds[0] == "heading" and kinds.count("code") == 1 and kinds.count("list") == 1
    code = next(c for c in chunks if c.kind == "code")
    assert code.text.startswith("```python") and code.text.endswith("```")
    assert 'print("Hello. World.")' in code.text  # not split at the inner full stops
    lst = next(c for c in chunks if c.kind == "list")
    assert lst.text.startswith("- first item") and lst.text.endswith("after a blank line")
    texts = [c.text for c in chunks]
    assert "Install the package first." in texts
    assert "Then run the tests!" in texts and "Does it work?" in texts
    assert "是的。很好。" in texts or ("是的。" in texts and "很好。" in texts)
    # a speaker label is attached to the next sentence, not left alone
    assert any(t.startswith("Hor.\nBefore my God") for t in texts)


def test_spans_and_separators_rebuild_the_text() -> None:
    chunks = split_chunks(DOC)
    seps = separators(DOC, chunks)
    assert all(DOC[c.start : c.end] == c.text for c in chunks)
    rebuilt = "".join(s + c.text for s, c in zip(seps, chunks))
    assert rebuilt == DOC.strip()


def test_unclosed_fence_runs_to_end_and_long_sentences_split() -> None:
    text = "Intro sentence here.\n```\ncode line one. two.\nmore"
    chunks = split_chunks(text)
    assert chunks[-1].kind == "code" and chunks[-1].text.endswith("more")
    long = ", ".join(["a clause with several words"] * 40) + "."
    pieces = split_chunks(long, max_chars=200)
    assert len(pieces) > 1 and all(len(p.text) <= 200 for p in pieces)


def test_words_are_unicode_aware() -> None:
    assert words("Naïve café, 你好! Привет") == ["naïve", "café", "你", "好", "привет"]
    assert words("ｔｅｓｔ") == ["test"]  # NFKC


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("ab .!?\n-`#1。你 ")), max_size=120))
def test_chunks_partition_property(text: str) -> None:
    chunks = split_chunks(text)
    last = 0
    for c in chunks:
        assert c.start >= last and c.end > c.start
        assert text[c.start : c.end] == c.text == c.text.strip()
        last = c.end
    rebuilt = "".join(s + c.text for s, c in zip(separators(text, chunks), chunks))
    assert rebuilt == text.strip()
