"""`ACLSumPairsDataModule`: (aspect query, sentence, highlight label) groups from ACLSum.

One example is a *group*: a paper, an aspect and sentences of that paper with their 0/1 highlight
labels. Training groups hold every highlighted sentence (up to ``group_size // 2``) plus
randomly drawn other sentences up to ``group_size``, re-drawn on every visit; validation groups
hold all sentences of the paper. Pairs are tokenized with the scorer's own tokenizer
(`polytok.compress.cross_encoder.CrossEncoderScorer.encode_pairs`).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

import lightning as L
import torch
from torch.utils.data import DataLoader, Dataset

from polytok.compress.aclsum import ASPECT_QUERIES, ASPECTS, ACLSumDocument, load_aclsum
from polytok.compress.text import words

Encode = Callable[..., dict[str, torch.Tensor]]


class ACLSumGroups(Dataset):
    """(paper, aspect) groups of one split; ``group_size=None`` keeps every sentence."""

    def __init__(
        self, docs: list[ACLSumDocument], group_size: int | None = None, seed: int = 0
    ) -> None:
        self.docs = docs
        self.group_size = group_size
        self.items = [(d, a) for d in range(len(docs)) for a in ASPECTS]
        self.rng = random.Random(seed)

    def __len__(self) -> int:
        return len(self.items)

    def __getitem__(self, idx: int) -> dict[str, Any]:
        d, aspect = self.items[idx]
        doc = self.docs[d]
        labels = doc.labels(aspect)
        rows = list(range(len(labels)))
        if self.group_size is not None and len(rows) > self.group_size:
            pos = [i for i in rows if labels[i]]
            neg = [i for i in rows if not labels[i]]
            pos = self.rng.sample(pos, min(len(pos), self.group_size // 2))
            rows = sorted(pos + self.rng.sample(neg, self.group_size - len(pos)))
        return {
            "query": ASPECT_QUERIES[aspect],
            "chunks": [doc.sentences[i] for i in rows],
            "index": rows,
            "count": len(labels),
            "labels": [labels[i] for i in rows],
            "words": [len(words(doc.sentences[i])) for i in rows],
        }


def collate_groups(groups: list[dict[str, Any]], encode: Encode) -> dict[str, torch.Tensor]:
    """Flatten groups into encoder inputs plus ``labels`` (N,), ``group`` (N,) and ``words``."""
    queries, chunks, index, count, labels, group, n_words = [], [], [], [], [], [], []
    for g, item in enumerate(groups):
        size = len(item["chunks"])
        queries += [item["query"]] * size
        chunks += item["chunks"]
        index += item["index"]
        count += [item["count"]] * size
        labels += item["labels"]
        n_words += item["words"]
        group += [g] * size
    batch = encode(queries, chunks, index, count)
    batch["labels"] = torch.tensor(labels, dtype=torch.float)
    batch["group"] = torch.tensor(group, dtype=torch.long)
    batch["words"] = torch.tensor(n_words, dtype=torch.long)
    return batch


class ACLSumPairsDataModule(L.LightningDataModule):
    """ACLSum train/val groups for cross-encoder training.

    Args:
        encode: ``(queries, chunks, index, count) -> dict`` of model inputs (the scorer's
            ``encode_pairs``).
        group_size: sentences per training group.
        groups_per_batch: training groups per optimizer step.
        seed: seed of the sentence draws.
    """

    def __init__(
        self, encode: Encode, group_size: int = 16, groups_per_batch: int = 2, seed: int = 0
    ) -> None:
        super().__init__()
        if group_size < 2 or groups_per_batch < 1:
            raise ValueError(
                f"need group_size >= 2 and groups_per_batch >= 1, got {group_size}, "
                f"{groups_per_batch}"
            )
        self.encode = encode
        self.group_size = group_size
        self.groups_per_batch = groups_per_batch
        self.seed = seed
        self.train_set: ACLSumGroups | None = None
        self.val_set: ACLSumGroups | None = None

    def setup(self, stage: str | None = None) -> None:
        if self.train_set is None:
            self.train_set = ACLSumGroups(load_aclsum("train"), self.group_size, self.seed)
            self.val_set = ACLSumGroups(load_aclsum("val"))

    def _collate(self, groups: list[dict[str, Any]]) -> dict[str, torch.Tensor]:
        return collate_groups(groups, self.encode)

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            self.train_set,
            batch_size=self.groups_per_batch,
            shuffle=True,
            generator=generator,
            collate_fn=self._collate,
        )

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=1, collate_fn=self._collate)
