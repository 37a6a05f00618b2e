"""Mean-pooled sentence embeddings from a local Hugging Face transformers model directory.

Sentence embedding = masked mean of the last hidden states (Reimers & Gurevych, 2019,
"Sentence-BERT", eq. 1). Token embeddings (special tokens dropped) feed BERTScore (Zhang et al.,
2020). Local files only: ``local_files_only=True``, never a hub download.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn


class HFMeanPoolEmbedder(nn.Module):
    """Encoder from a local ``save_pretrained`` directory, mean-pooled.

    Args:
        local_dir: directory with ``config.json``, weights and tokenizer files.
        max_length: truncate inputs to this many tokens (the model's position limit).

    Raises:
        FileNotFoundError: the directory does not exist or has no ``config.json``.
    """

    def __init__(self, local_dir: str | Path, max_length: int = 512) -> None:
        super().__init__()
        from transformers import AutoModel, AutoTokenizer

        path = Path(local_dir)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{str(path)!r} is not a local transformers model directory (no config.json); "
                "pass a directory written by save_pretrained"
            )
        if max_length < 1:
            raise ValueError(f"max_length must be >= 1, got {max_length}")
        self.local_dir = path
        self.max_length = max_length
        self.hf_tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.model.eval()

    @property
    def dim(self) -> int:
        return int(self.model.config.hidden_size)

    def _batch(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Hidden states (B, T, D) and the mask of real, non-special tokens (B, T)."""
        enc = self.hf_tokenizer(
            list(texts),
            padding=True,
            truncation=True,
            max_length=self.max_length,
            return_tensors="pt",
            return_special_tokens_mask=True,
        )
        special = enc.pop("special_tokens_mask")
        device = next(self.model.parameters()).device
        enc = {k: v.to(device) for k, v in enc.items()}
        hidden = self.model(**enc).last_hidden_state  # (B, T, D)
        mask = enc["attention_mask"].bool() & ~special.to(device).bool()  # (B, T)
        return hidden, mask

    @torch.no_grad()
    def token_embeddings(self, texts: Sequence[str], batch_size: int = 16) -> list[torch.Tensor]:
        """Per-text (T_i, D) L2-normalised contextual token vectors, special tokens removed."""
        out: list[torch.Tensor] = []
        for start in range(0, len(texts), batch_size):
            hidden, mask = self._batch(texts[start : start + batch_size])
            hidden = F.normalize(hidden.float(), dim=-1)
            out.extend(h[m] for h, m in zip(hidden, mask))
        return out

    @torch.no_grad()
    def embed(self, texts: Sequence[str], batch_size: int = 16) -> torch.Tensor:
        """(N, D) L2-normalised mean-pooled embeddings; a text with no tokens gives zeros."""
        rows = []
        for start in range(0, len(texts), batch_size):
            hidden, mask = self._batch(texts[start : start + batch_size])
            m = mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp_min(1.0)  # (B, D)
            rows.append(F.normalize(pooled.float(), dim=-1))
        if not rows:
            return torch.zeros(0, self.dim)
        return torch.cat(rows)
