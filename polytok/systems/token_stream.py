"""`TokenStreamDataModule`: language-model windows over a tokenized `TextSource`.

Each split is tokenized once into a flat id stream (`polytok.systems.token_cache`, memory-mapped).

- train: ``train_windows`` windows per epoch at uniformly random offsets; the offsets depend only
  on ``(seed, epoch)``, so runs repeat exactly.
- val / test: fixed, non-overlapping windows at offsets ``0, T, 2T, ...`` so that every token
  after the first is a target exactly once. The last window is padded when it is short: inputs
  with the tokenizer's pad id (else eos id, else 0), targets with `IGNORE_INDEX` (-100, the
  default ``ignore_index`` of ``torch.nn.functional.cross_entropy``). A loss for the whole split
  is therefore ``sum(loss over y != IGNORE_INDEX) / count(y != IGNORE_INDEX)``.

A batch is ``(x, y)``: ``x`` ``(B, T)`` int64 input ids, ``y`` ``(B, T)`` int64 targets with
``y[:, t] = ids[start + t + 1]`` (``x`` shifted left by one). Bits per byte follow from the mean
token loss in nats: ``bpb = loss / ln(2) / bytes_per_token(split)``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from functools import cached_property
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from polytok.data.sources import TextSource, load_source
from polytok.data.splits import SPLITS, validate_split
from polytok.models.base import IGNORE_INDEX
from polytok.systems.token_cache import (
    DOCUMENT_SEPARATOR,
    cache_path,
    default_cache_dir,
    load_or_build,
)
from polytok.tokenizers.base import TextTokenizer


class _MemmapIds:
    """Opens the cached ``.npy`` lazily, so worker processes map the file instead of copying it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._ids: np.ndarray | None = None

    @property
    def ids(self) -> np.ndarray:
        if self._ids is None:
            self._ids = np.load(self.path, mmap_mode="r")
        return self._ids

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_ids": None}

    def _slice(self, start: int, stop: int) -> torch.Tensor:
        return torch.from_numpy(self.ids[start:stop].astype(np.int64))


class RandomWindowDataset(_MemmapIds, Dataset):
    """Windows addressed by their start offset (use with `RandomWindowSampler`).

    Item ``start`` is ``(x, y) = (ids[start : start+T], ids[start+1 : start+T+1])``, each ``(T,)``.
    """

    def __init__(self, path: Path, block_size: int) -> None:
        super().__init__(path)
        self.block_size = block_size

    def __len__(self) -> int:
        return len(self.ids) - self.block_size  # valid starts: 0 .. N-T-1

    def __getitem__(self, start: int) -> tuple[torch.Tensor, torch.Tensor]:
        window = self._slice(start, start + self.block_size + 1)  # (T+1,)
        return window[:-1], window[1:]


class SequentialWindowDataset(_MemmapIds, Dataset):
    """Non-overlapping windows ``i * T``; the last is padded so every target counts once."""

    def __init__(self, path: Path, block_size: int, pad_id: int) -> None:
        super().__init__(path)
        self.block_size = block_size
        self.pad_id = pad_id

    def __len__(self) -> int:
        return -(-(len(self.ids) - 1) // self.block_size)  # ceil((N - 1) / T) targets windows

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        if not 0 <= index < len(self):
            raise IndexError(f"window {index} out of range [0, {len(self)})")
        t = self.block_size
        window = self._slice(index * t, index * t + t + 1)  # (<= T+1,)
        x, y = window[:-1], window[1:]
        if len(x) < t:
            x = torch.cat([x, x.new_full((t - len(x),), self.pad_id)])
            y = torch.cat([y, y.new_full((t - len(y),), IGNORE_INDEX)])
        return x, y


class RandomWindowSampler(Sampler[int]):
    """``num_windows`` uniform start offsets in ``[0, num_starts)``, fixed by ``(seed, epoch)``.

    Lightning calls `set_epoch` before each training epoch; without it the epoch counter
    advances by one per iteration, so successive passes still differ deterministically.
    """

    def __init__(self, num_starts: int, num_windows: int, seed: int = 0) -> None:
        self.num_starts = num_starts
        self.num_windows = num_windows
        self.seed = seed
        self.epoch = 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return self.num_windows

    def __iter__(self) -> Iterator[int]:
        rng = np.random.default_rng([self.seed, self.epoch])
        self.epoch += 1
        yield from rng.integers(0, self.num_starts, size=self.num_windows).tolist()


class TokenStreamDataModule(L.LightningDataModule):
    """Random training windows and fixed evaluation windows over a cached token stream.

    Args:
        source: a `TextSource` or a spec for `load_source` (loaded on first use).
        tokenizer: any `TextTokenizer`.
        block_size: window length ``T`` (tokens per example).
        batch_size: windows per batch ``B``.
        cache_dir: where id files live; default ``$POLYTOK_CACHE/tokens`` or
            ``~/.cache/polytok/tokens``.
        num_workers: DataLoader workers.
        seed: seeds the training window offsets (with the epoch).
        train_windows: training windows per epoch; default ``(N_train - 1) // T`` (about one pass
            over the training tokens).

    Raises:
        ValueError: non-positive sizes; in `setup`, a split shorter than ``block_size + 1`` tokens.
    """

    def __init__(
        self,
        source: Mapping[str, Any] | TextSource,
        tokenizer: TextTokenizer,
        block_size: int,
        batch_size: int,
        cache_dir: str | Path | None = None,
        num_workers: int = 0,
        seed: int = 0,
        train_windows: int | None = None,
    ) -> None:
        super().__init__()
        for arg, value in (("block_size", block_size), ("batch_size", batch_size)):
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"{arg} must be a positive int, got {value!r}")
        if train_windows is not None and (not isinstance(train_windows, int) or train_windows < 1):
            raise ValueError(f"train_windows must be a positive int or None, got {train_windows!r}")
        if not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError(f"num_workers must be an int >= 0, got {num_workers!r}")
        if not isinstance(tokenizer, TextTokenizer):
            raise TypeError(
                f"tokenizer must implement TextTokenizer, got {type(tokenizer).__name__}"
            )
        self._source_spec = source
        self.tokenizer = tokenizer
        self.block_size = block_size
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        self.num_workers = num_workers
        self.seed = seed
        self.train_windows = train_windows

    @cached_property
    def source(self) -> TextSource:
        """The `TextSource` (loaded from the spec on first access)."""
        return load_source(self._source_spec)

    def token_ids(self, split: str) -> np.ndarray:
        """``(N,)`` read-only memory-mapped ids of ``split`` (tokenized and cached on first use)."""
        return load_or_build(self.cache_dir, self.source, self.tokenizer, validate_split(split))

    def cache_file(self, split: str) -> Path:
        """The cache file of ``split`` (it may not exist yet)."""
        return cache_path(self.cache_dir, self.source, self.tokenizer, split)

    def num_tokens(self, split: str) -> int:
        """Tokens in ``split`` including document separators."""
        return len(self.token_ids(split))

    def num_bytes(self, split: str) -> int:
        """UTF-8 bytes of the split text (plus ``"\\n\\n"`` separators when they are text)."""
        docs = len(self.source.documents(split))
        separators = 0 if self.tokenizer.eos_id is not None else max(docs - 1, 0)
        return self.source.num_bytes(split) + separators * len(DOCUMENT_SEPARATOR.encode())

    def bytes_per_token(self, split: str = "val") -> float:
        """UTF-8 bytes per token of ``split``: ``bpb = loss_nats / ln 2 / bytes_per_token``."""
        return self.num_bytes(split) / max(self.num_tokens(split), 1)

    def _checked_ids(self, split: str) -> np.ndarray:
        ids = self.token_ids(split)
        if len(ids) < self.block_size + 1:
            raise ValueError(
                f"the {split!r} split of the {self.source.name!r} source has {len(ids)} tokens, "
                f"too short for one window of block_size={self.block_size} (needs "
                f"{self.block_size + 1}); lower block_size or use a larger corpus"
            )
        return ids

    def prepare_data(self) -> None:
        """Tokenize and cache every split (Lightning runs this on one process)."""
        for split in SPLITS:
            self.token_ids(split)

    def setup(self, stage: str | None = None) -> None:
        """Check that the splits the stage needs hold at least one window."""
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}
        for split in needed.get(stage or "", SPLITS) if stage != "predict" else ():
            self._checked_ids(split)

    def _pad_id(self) -> int:
        for candidate in (self.tokenizer.pad_id, self.tokenizer.eos_id):
            if candidate is not None:
                return candidate
        return 0

    def dataset(self, split: str) -> RandomWindowDataset | SequentialWindowDataset:
        """The window dataset of ``split`` (random-offset for train, sequential otherwise)."""
        self._checked_ids(split)
        path = self.cache_file(split)
        if split == "train":
            return RandomWindowDataset(path, self.block_size)
        return SequentialWindowDataset(path, self.block_size, self._pad_id())

    def train_dataloader(self) -> DataLoader:
        dataset = self.dataset("train")
        windows = self.train_windows or max((len(dataset.ids) - 1) // self.block_size, 1)
        sampler = RandomWindowSampler(len(dataset), windows, self.seed)
        return self._loader(dataset, sampler=sampler)

    def val_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("val"))

    def test_dataloader(self) -> DataLoader:
        return self._loader(self.dataset("test"))

    def _loader(self, dataset: Dataset, sampler: Sampler | None = None) -> DataLoader:
        return DataLoader(
            dataset,
            batch_size=self.batch_size,
            sampler=sampler,
            shuffle=False,
            num_workers=self.num_workers,
            persistent_workers=self.num_workers > 0,
        )
