"""Sentence corpora for real-text semantic IDs: ACLSum papers and the dialog corpus, offline.

ACLSum (Takeshita et al., 2024; PyPI ``aclsum``, MIT) ships 250 ACL papers: per split a JSONL
file with the segmented sentences of abstract, introduction and conclusion
(``aclsum/dataset/{train,val,test}.jsonl``) and the full S2ORC parse of every paper
(``aclsum/dataset/paper_jsons/<id>.json``, paragraphs of ``pdf_parse.body_text``). The package is
located without importing it (`polytok.assets.package_dir`). Full-text paragraphs are split into
sentences by the ``"capital"`` rule of `polytok.data.segment` (a ``.``, ``!`` or ``?`` followed by
space and an upper-case letter or bracket); fragments under `MIN_WORDS` words are dropped. Dialog lines come from
chatterbot-corpus (`polytok.data.dialog`), all languages by default.
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from polytok.assets import package_dir
from polytok.data.segment import sentence_spans

MIN_WORDS = 3
SOURCES = ("aclsum", "dialog")


def split_sentences(paragraph: str) -> list[str]:
    """Sentences of a paragraph (see the module docstring), whitespace-normalised."""
    parts = (" ".join(paragraph[s:e].split()) for s, e in sentence_spans(paragraph, "capital"))
    return [p for p in parts if len(p.split()) >= MIN_WORDS]


@lru_cache(maxsize=2)
def aclsum_sentences(full_text: bool = True) -> tuple[str, ...]:
    """Unique sentences of the 250 ACLSum papers (segmented sections, then full-text body).

    Args:
        full_text: also split every paragraph of each paper's full-text parse into sentences.

    Raises:
        polytok.assets.AssetNotFoundError: ``aclsum`` is not installed (``pip install aclsum``).
    """
    data = package_dir("aclsum") / "dataset"
    out: dict[str, None] = {}
    ids = []
    for split in ("train", "val", "test"):
        with open(data / f"{split}.jsonl", encoding="utf-8") as f:
            for line in f:
                record = json.loads(line)
                ids.append(record["id"])
                for section in record["sentences"].values():
                    out.update((" ".join(s.split()), None) for s in section)
    if full_text:
        for paper in sorted(ids):
            path = data / "paper_jsons" / f"{paper}.json"
            if not path.is_file():
                continue
            parse = json.loads(path.read_text(encoding="utf-8")).get("pdf_parse") or {}
            for paragraph in parse.get("body_text") or []:
                out.update((s, None) for s in split_sentences(paragraph.get("text", "")))
    return tuple(s for s in out if len(s.split()) >= MIN_WORDS)


@lru_cache(maxsize=4)
def dialog_sentences(language: str = "all") -> tuple[str, ...]:
    """Unique non-empty lines of the chatterbot dialog corpus, every split (``"all"`` languages)."""
    from polytok.data.dialog import load_dialog
    from polytok.data.splits import SPLITS

    source = load_dialog({"name": "dialog", "language": language})
    out: dict[str, None] = {}
    for split in SPLITS:
        for doc in source.documents(split):
            out.update((" ".join(line.split()), None) for line in doc.splitlines() if line.strip())
    return tuple(out)


def sentence_corpus(
    max_sentences: int | None = 100_000,
    *,
    sources: tuple[str, ...] = SOURCES,
    seed: int = 0,
    dialog_language: str = "all",
) -> list[str]:
    """A seeded shuffle of the unique sentences of ``sources``, cut to ``max_sentences``.

    The shuffle makes any prefix a random mix of the sources, so a smaller run (or an embedding
    cache that is only partly filled) sees the same kind of data as the full one.

    Raises:
        ValueError: an unknown source, or ``max_sentences < 1``.
    """
    unknown = sorted(set(sources) - set(SOURCES))
    if unknown or not sources:
        raise ValueError(f"unknown sentence sources {unknown or sources}; valid: {list(SOURCES)}")
    if max_sentences is not None and max_sentences < 1:
        raise ValueError(f"max_sentences must be >= 1 or None, got {max_sentences}")
    pool: dict[str, None] = {}
    if "aclsum" in sources:
        pool.update(dict.fromkeys(aclsum_sentences()))
    if "dialog" in sources:
        pool.update(dict.fromkeys(dialog_sentences(dialog_language)))
    texts = list(pool)
    order = np.random.default_rng(seed).permutation(len(texts))
    return [texts[i] for i in order[:max_sentences]]
