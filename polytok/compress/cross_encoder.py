"""A learned query-aware chunk scorer: a cross-encoder (MiniLM) with a scoring head.

The query and one chunk are read together, ``[CLS] query [SEP] chunk [SEP]``, by a pretrained
transformer encoder (all-MiniLM-L6-v2 by default; Wang et al., 2020), the last hidden states are
mean-pooled and a linear head gives a relevance logit, to which two learned position biases are
added: one per absolute chunk index (``min(i, position_buckets - 1)``: an abstract opens a paper)
and one per relative position bucket ``floor(relative_buckets * i / n)``. This is the
cross-encoder re-ranker of Nogueira & Cho (2019) used as an extractive compressor, as in
LLMLingua-2 (Pan et al., 2024) and RECOMP's extractive compressor (Xu et al., 2024).
``python train.py experiment=compressor_aclsum`` fine-tunes it on ACLSum highlights
(`polytok.systems.cross_encoder`). ``save_pretrained(dir)`` writes ``config.json`` (format,
version, scorer config, encoder config), ``model.safetensors`` and ``tokenizer/``;
``from_pretrained(dir)`` reads them back strictly, without executing anything from the files.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from polytok.atomic import atomic_directory

FORMAT = "polytok-cross-encoder"
FORMAT_VERSION = 1


@dataclass
class CrossEncoderConfig:
    """Configuration of a `CrossEncoderScorer`.

    Attributes:
        max_length: query + chunk are truncated (the chunk side) to this many encoder tokens.
        position_buckets: learned biases for chunk indices 0 .. position_buckets - 1 (later
            chunks share the last one); 0 disables.
        relative_buckets: learned biases for the chunk's relative position in the document;
            0 disables.
        dropout: dropout before the scoring head (training only).
        batch_size: pairs per encoder batch when scoring.
    """

    max_length: int = 96
    position_buckets: int = 16
    relative_buckets: int = 8
    dropout: float = 0.1
    batch_size: int = 32

    def __post_init__(self) -> None:
        if self.max_length < 8:
            raise ValueError(f"max_length must be >= 8 tokens, got {self.max_length}")
        if self.position_buckets < 0 or self.relative_buckets < 0:
            raise ValueError("position_buckets and relative_buckets must be >= 0 (0 disables)")
        if not 0.0 <= self.dropout < 1.0:
            raise ValueError(f"dropout must be in [0, 1), got {self.dropout}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {self.batch_size}")


def position_features(index: torch.Tensor, count: torch.Tensor, config: CrossEncoderConfig):
    """Absolute and relative position buckets of chunks ``index`` in documents of ``count``."""
    absolute = index.clamp_max(max(config.position_buckets - 1, 0))
    relative = (config.relative_buckets * index // count.clamp_min(1)).clamp_max(
        max(config.relative_buckets - 1, 0)
    )
    return absolute, relative


class CrossEncoderScorer(nn.Module):
    """Scores chunks for a query with a cross-encoder; plugs into ``ContextCompressor(scorer=)``.

    Args:
        encoder: a transformers encoder (``AutoModel``) whose output has ``last_hidden_state``.
        tokenizer: its Hugging Face tokenizer.
        config: a `CrossEncoderConfig`.
    """

    def __init__(self, encoder: nn.Module, tokenizer: Any, config: CrossEncoderConfig) -> None:
        super().__init__()
        self.config = config
        self.encoder = encoder
        self.tokenizer = tokenizer
        dim = int(encoder.config.hidden_size)
        self.dropout = nn.Dropout(config.dropout)
        self.head = nn.Linear(dim, 1)
        self.absolute_bias = nn.Embedding(max(config.position_buckets, 1), 1)
        self.relative_bias = nn.Embedding(max(config.relative_buckets, 1), 1)
        for bias in (self.absolute_bias, self.relative_bias):
            nn.init.zeros_(bias.weight)

    @classmethod
    def from_encoder(
        cls, path: str | os.PathLike | None = None, config: CrossEncoderConfig | None = None
    ) -> CrossEncoderScorer:
        """A new scorer (untrained head) on a local encoder directory (default: MiniLM)."""
        from transformers import AutoModel, AutoTokenizer

        if path is None:
            from polytok.assets import minilm_dir

            path = minilm_dir()
        path = Path(path)
        if not (path / "config.json").is_file():
            raise FileNotFoundError(
                f"{str(path)!r} is not a local transformers encoder directory (no config.json)"
            )
        tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        encoder = AutoModel.from_pretrained(str(path), local_files_only=True)
        return cls(encoder, tokenizer, config or CrossEncoderConfig())

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        absolute: torch.Tensor,
        relative: torch.Tensor,
        token_type_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Relevance logits.

        Args:
            input_ids, attention_mask, token_type_ids: (B, T) encoder inputs of the pairs.
            absolute, relative: (B,) position buckets (`position_features`).

        Returns:
            (B,) logits.
        """
        kwargs = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(
            input_ids=input_ids, attention_mask=attention_mask, **kwargs
        ).last_hidden_state  # (B, T, D)
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1.0)  # (B, D)
        logits = self.head(self.dropout(pooled)).squeeze(-1)  # (B,)
        if self.config.position_buckets:
            logits = logits + self.absolute_bias(absolute).squeeze(-1)
        if self.config.relative_buckets:
            logits = logits + self.relative_bias(relative).squeeze(-1)
        return logits

    def encode_pairs(
        self,
        queries: Sequence[str],
        chunks: Sequence[str],
        index: Sequence[int],
        count: Sequence[int],
    ) -> dict[str, torch.Tensor]:
        """Model inputs for (query, chunk) pairs; chunk ``index`` of a document of ``count``."""
        enc = self.tokenizer(
            list(queries),
            list(chunks),
            padding=True,
            truncation="only_second",
            max_length=self.config.max_length,
            return_tensors="pt",
        )
        absolute, relative = position_features(
            torch.tensor(list(index), dtype=torch.long),
            torch.tensor(list(count), dtype=torch.long),
            self.config,
        )
        out = {k: enc[k] for k in ("input_ids", "attention_mask", "token_type_ids") if k in enc}
        return {**out, "absolute": absolute, "relative": relative}

    @torch.no_grad()
    def score(self, chunks: Sequence[str], query: str | None = None) -> torch.Tensor:
        """(n,) relevance logits of ``chunks`` (in document order) for ``query`` (None = "")."""
        n = len(chunks)
        if n == 0:
            return torch.zeros(0)
        was_training = self.training
        self.eval()
        device = next(self.parameters()).device
        order = sorted(range(n), key=lambda i: len(chunks[i]))  # similar lengths pad little
        out = torch.empty(n)
        size = self.config.batch_size
        for start in range(0, n, size):
            rows = order[start : start + size]
            batch = self.encode_pairs(
                [query or ""] * len(rows), [chunks[i] for i in rows], rows, [n] * len(rows)
            )
            logits = self(**{k: v.to(device) for k, v in batch.items()})  # (b,)
            out[torch.tensor(rows)] = logits.float().cpu()
        self.train(was_training)
        return out

    def save_pretrained(self, directory: str | os.PathLike) -> Path:
        """Write ``config.json``, ``model.safetensors`` and ``tokenizer/`` atomically."""
        from safetensors.torch import save_model

        directory = Path(directory)
        meta = {
            "format": FORMAT,
            "format_version": FORMAT_VERSION,
            "config": dataclasses.asdict(self.config),
            "encoder_config": self.encoder.config.to_dict(),
        }
        with atomic_directory(directory) as tmp:
            (tmp / "config.json").write_text(json.dumps(meta, indent=2))
            save_model(self, str(tmp / "model.safetensors"))
            self.tokenizer.save_pretrained(str(tmp / "tokenizer"))
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | os.PathLike) -> CrossEncoderScorer:
        """Load a directory written by `save_pretrained` (local files only, strict).

        Raises:
            FileNotFoundError: no such directory, or files missing.
            ValueError: the directory holds another format (e.g. a plain transformers model).
        """
        from safetensors.torch import load_model
        from transformers import AutoConfig, AutoModel, AutoTokenizer

        directory = Path(directory)
        meta = _read_meta(directory)
        config = CrossEncoderConfig(**meta["config"])
        encoder_config = dict(meta["encoder_config"])
        model_type = encoder_config.pop("model_type")
        encoder = AutoModel.from_config(AutoConfig.for_model(model_type, **encoder_config))
        tokenizer = AutoTokenizer.from_pretrained(
            str(directory / "tokenizer"), local_files_only=True
        )
        model = cls(encoder, tokenizer, config)
        try:
            load_model(model, str(directory / "model.safetensors"), strict=True)
        except Exception as err:
            raise ValueError(f"cannot load {directory / 'model.safetensors'}: {err}") from err
        return model.eval()


def _read_meta(directory: Path) -> dict[str, Any]:
    config_path = directory / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{directory} has no config.json: not a scorer directory written by "
            "CrossEncoderScorer.save_pretrained (train one: python train.py "
            "experiment=compressor_aclsum)"
        )
    try:
        meta = json.loads(config_path.read_text())
    except json.JSONDecodeError as err:
        raise ValueError(
            f"{config_path} is not valid JSON ({err}); the directory is corrupt"
        ) from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        found = meta.get("format") if isinstance(meta, dict) else None
        raise ValueError(
            f"{directory} holds format {found!r}, not a {FORMAT!r} scorer directory (a plain "
            "transformers model or another polytok checkpoint?); pass the directory that "
            "python train.py experiment=compressor_aclsum printed as 'pretrained'"
        )
    if int(meta.get("format_version", 0)) > FORMAT_VERSION:
        raise ValueError(
            f"{directory} was written by a newer polytok (format_version "
            f"{meta['format_version']} > {FORMAT_VERSION}); upgrade polytok to load it"
        )
    for name in ("model.safetensors", "tokenizer"):
        if not (directory / name).exists():
            raise FileNotFoundError(f"{directory / name} is missing; the directory is incomplete")
    return meta
