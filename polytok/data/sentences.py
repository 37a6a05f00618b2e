"""Sentence corpora for real-text semantic IDs: ACLSum papers, the dialog corpus and the plays.

ACLSum (Takeshita et al., 2024; PyPI ``aclsum``, MIT) ships 250 ACL papers: per split a JSONL
file with the segmented sentences of abstract, introduction and conclusion
(``aclsum/dataset/{train,val,test}.jsonl``) and the full S2ORC parse of every paper
(``aclsum/dataset/paper_jsons/<id>.json``, paragraphs of ``pdf_parse.body_text``). The package is
located without importing it (`polytok.assets.package_dir`). Full-text paragraphs are split into
sentences by the ``"capital"`` rule of `polytok.data.segment` (a ``.``, ``!`` or ``?`` followed by
space and an upper-case letter or bracket); fragments under `MIN_WORDS` words are dropped. Dialog lines come from
chatterbot-corpus (`polytok.data.dialog`), all languages by default. ACLSum and dialog hold
72,730 unique sentences together; `sentence_corpus` can ``fill`` up to a larger size from a third
source, the lines of Shakespeare's plays (`polytok.data.shakespeare`, every play, speaker lines
and stage directions alike, at least `MIN_WORDS` words).
"""

from __future__ import annotations

import json
from functools import lru_cache

import numpy as np

from polytok.assets import package_dir
from polytok.data.segment import sentence_spans

MIN_WORDS = 3
SOURCES = ("aclsum", "dialog", "shakespeare")


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


@lru_cache(maxsize=1)
def shakespeare_sentences() -> tuple[str, ...]:
    """Unique lines of every play with at least `MIN_WORDS` words, in play order."""
    from polytok.data.shakespeare import load_plays

    out: dict[str, None] = {}
    for _, text in sorted(load_plays().items()):
        lines = (" ".join(line.split()) for line in text.splitlines())
        out.update((line, None) for line in lines if len(line.split()) >= MIN_WORDS)
    return tuple(out)


_LOADERS = {
    "aclsum": aclsum_sentences,
    "dialog": dialog_sentences,
    "shakespeare": shakespeare_sentences,
}


def sentence_corpus(
    max_sentences: int | None = 100_000,
    *,
    sources: tuple[str, ...] = ("aclsum", "dialog"),
    fill: str | None = None,
    seed: int = 0,
    dialog_language: str = "all",
) -> list[str]:
    """A seeded shuffle of the unique sentences of ``sources``, cut to ``max_sentences``.

    The shuffle makes any prefix a random mix of the sources, so a smaller run (or an embedding
    cache that is only partly filled) sees the same kind of data as the full one.

    Args:
        max_sentences: the size (``None``: every sentence of ``sources``).
        sources: the sources taken whole (then shuffled and cut).
        fill: a source that tops ``sources`` up to ``max_sentences`` when they hold fewer
            (a seeded draw of its sentences); ``None``: no top-up.
        seed: the shuffle's seed.
        dialog_language: the dialog corpus' language (``"all"``: every language).

    Raises:
        ValueError: an unknown source, ``max_sentences < 1``, or ``fill`` without a size.
    """
    named = (*sources, *([fill] if fill is not None else []))
    unknown = sorted(set(named) - set(SOURCES))
    if unknown or not sources:
        raise ValueError(f"unknown sentence sources {unknown or sources}; valid: {list(SOURCES)}")
    if max_sentences is not None and max_sentences < 1:
        raise ValueError(f"max_sentences must be >= 1 or None, got {max_sentences}")
    if fill is not None and max_sentences is None:
        raise ValueError(f"fill={fill!r} tops up to max_sentences: give max_sentences too")
    rng = np.random.default_rng(seed)
    pool: dict[str, None] = {}
    for name in sources:
        pool.update(dict.fromkeys(_sentences(name, dialog_language)))
    if fill is not None and len(pool) < max_sentences:
        extra = [t for t in _sentences(fill, dialog_language) if t not in pool]
        picked = rng.permutation(len(extra))[: max_sentences - len(pool)]
        pool.update(dict.fromkeys(extra[i] for i in sorted(picked)))
    texts = list(pool)
    order = rng.permutation(len(texts))
    return [texts[i] for i in order[:max_sentences]]


def _sentences(name: str, dialog_language: str) -> tuple[str, ...]:
    return dialog_sentences(dialog_language) if name == "dialog" else _LOADERS[name]()
