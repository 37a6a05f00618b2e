"""ACLSum (Takeshita et al., 2024): aspect-based summaries of 250 ACL papers, read offline.

The PyPI package ``aclsum`` (MIT) ships the data as ``aclsum/dataset/{train,val,test}.jsonl``.
Each paper has the sentences of its abstract, introduction and conclusion, a human-written summary
per aspect (challenge, approach, outcome) and, per aspect, a 0/1 highlight label for every
sentence (the sentences an annotator marked as supporting that aspect's summary). The package is
located with ``importlib.util.find_spec`` and its JSONL files are read here directly (importing
it pulls in its own loader dependencies; polytok needs none of them).

Example:
    >>> docs = load_aclsum("val")
    >>> len(docs), docs[0].labels("outcome")[:3]  # doctest: +SKIP
    (50, [0, 0, 1])
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

SPLITS = ("train", "val", "test")
ASPECTS = ("challenge", "approach", "outcome")
SECTIONS = ("abstract", "introduction", "conclusion")
# The query each aspect is compressed for (fixed before any tuning; the same for every method).
ASPECT_QUERIES = {
    "challenge": "What problem or challenge does the paper address, and why is it hard?",
    "approach": "What method or approach does the paper propose?",
    "outcome": "What are the results and findings of the paper?",
}


@dataclass(frozen=True)
class ACLSumDocument:
    """One paper of ACLSum.

    Attributes:
        id: ACL Anthology id (e.g. "P06-1112").
        title: the paper's title.
        sentences: the sentences of abstract, introduction and conclusion, in order.
        sections: the section of each sentence (same length as ``sentences``).
        highlights: aspect -> 0/1 label per sentence (same length as ``sentences``).
        summaries: aspect -> the human-written aspect summary (the ROUGE reference).
    """

    id: str
    title: str
    sentences: tuple[str, ...]
    sections: tuple[str, ...]
    highlights: dict[str, tuple[int, ...]]
    summaries: dict[str, str]

    def labels(self, aspect: str) -> list[int]:
        """0/1 highlight label of each sentence for ``aspect``."""
        return list(self.highlights[check_aspect(aspect)])

    def highlighted(self, aspect: str) -> list[int]:
        """Indices of the sentences highlighted for ``aspect``."""
        return [i for i, label in enumerate(self.labels(aspect)) if label]

    def text(self, separator: str = " ") -> str:
        """The paper as one context: its sentences joined by ``separator``."""
        return separator.join(self.sentences)


def check_aspect(aspect: str) -> str:
    """``aspect`` if it is one of `ASPECTS`; ValueError naming the valid ones otherwise."""
    if aspect not in ASPECTS:
        raise ValueError(f"unknown ACLSum aspect {aspect!r}; valid aspects: {list(ASPECTS)}")
    return aspect


def aclsum_dir() -> Path:
    """Directory of the ``aclsum`` package's JSONL files (found without importing the package).

    Raises:
        FileNotFoundError: the package is not installed (``pip install aclsum``) or lacks its data.
    """
    from polytok.assets import package_dir

    path = package_dir("aclsum") / "dataset"
    if not all((path / f"{split}.jsonl").is_file() for split in SPLITS):
        raise FileNotFoundError(
            f"{path} lacks {SPLITS} .jsonl files; reinstall: pip install aclsum"
        )
    return path


def _document(row: dict) -> ACLSumDocument:
    sentences: list[str] = []
    sections: list[str] = []
    for section in SECTIONS:
        sentences.extend(row["sentences"][section])
        sections.extend([section] * len(row["sentences"][section]))
    highlights = {}
    for aspect in ASPECTS:
        labels = [int(x) for s in SECTIONS for x in row["highlights"][aspect][s]]
        if len(labels) != len(sentences):
            raise ValueError(
                f"ACLSum paper {row['id']}: {len(labels)} {aspect} labels for "
                f"{len(sentences)} sentences; the data files are corrupt (pip install aclsum)"
            )
        highlights[aspect] = tuple(labels)
    return ACLSumDocument(
        id=row["id"],
        title=row["title"],
        sentences=tuple(sentences),
        sections=tuple(sections),
        highlights=highlights,
        summaries={aspect: row["summary"][aspect] for aspect in ASPECTS},
    )


def load_aclsum(split: str) -> list[ACLSumDocument]:
    """The papers of one ACLSum split (train 100, val 50, test 100), in file order.

    Raises:
        ValueError: ``split`` is not one of `SPLITS`.
        FileNotFoundError: the ``aclsum`` package is missing.
    """
    if split not in SPLITS:
        raise ValueError(f"unknown ACLSum split {split!r}; valid splits: {list(SPLITS)}")
    path = aclsum_dir() / f"{split}.jsonl"
    with path.open(encoding="utf-8") as f:
        return [_document(json.loads(line)) for line in f if line.strip()]
