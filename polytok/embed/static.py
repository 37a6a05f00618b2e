"""Offline static sentence embedder over the WordLlama token-embedding matrix.

WordLlama (Miller, 2024, https://github.com/dleemiller/WordLlama) distils the input-embedding
matrix of large LMs into a 32000 x 256 static table over the Llama-2 SentencePiece vocabulary; a
sentence embedding is the masked mean of its token vectors (mean pooling, eq. 1 of Reimers &
Gurevych, 2019, "Sentence-BERT"):

    e(x) = (1 / |x|) * sum_{t in x} W[t]        then optionally e / ||e||_2

`StaticEmbedder` reproduces wordllama's own `WordLlamaInference.embed` exactly (no special tokens,
no truncation, mean over real tokens, float32 arithmetic, no binarisation) with an
`nn.EmbeddingBag`, loading the files that the `wordllama` wheel ships, never its loader (which may
download).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from safetensors import safe_open
from tokenizers import Tokenizer
from torch import nn

from polytok.assets import ASSETS
from polytok.tokenizers.hf import HFTokenizer

logger = logging.getLogger(__name__)

POOLINGS = ("mean", "weighted")


def wordllama_files() -> tuple[Path, Path]:
    """Paths of the (weights, tokenizer) files the ``wordllama`` wheel ships, sha256-checked.

    Raises:
        polytok.assets.AssetNotFoundError: wordllama is missing (the message gives pip's command).
    """
    return ASSETS["wordllama_weights"].resolve(), ASSETS["wordllama_tokenizer"].resolve()


@dataclass
class StaticEmbedderConfig:
    """Configuration of a `StaticEmbedder`.

    Attributes:
        weights: safetensors file holding the (V, D) embedding matrix; None = wordllama's
            ``weights/l2_supercat_256.safetensors``.
        tokenizer: ``tokenizers`` JSON file; None = wordllama's
            ``tokenizers/l2_supercat_tokenizer_config.json``.
        tensor_key: key of the matrix inside the safetensors file.
        pooling: "mean" (wordllama's pooling) or "weighted" (caller-given per-token weights,
            normalised to sum to one per bag, e.g. IDF weights).
        trunc_dim: keep only the first ``trunc_dim`` dimensions (wordllama's Matryoshka
            truncation: 64, 128 or 256); None keeps all.
        max_tokens: truncate each text to this many tokens; None = no truncation (wordllama's
            default).
        freeze: whether the embedding matrix is frozen (``requires_grad=False``).
    """

    weights: str | None = None
    tokenizer: str | None = None
    tensor_key: str = "embedding.weight"
    pooling: str = "mean"
    trunc_dim: int | None = None
    max_tokens: int | None = None
    freeze: bool = True

    def __post_init__(self) -> None:
        if self.pooling not in POOLINGS:
            raise ValueError(
                f"pooling must be one of {POOLINGS}, got {self.pooling!r}; use 'mean' to match "
                "wordllama or 'weighted' to pass per-token weights"
            )
        if self.trunc_dim is not None and (
            not isinstance(self.trunc_dim, int) or self.trunc_dim < 1
        ):
            raise ValueError(
                f"trunc_dim must be a positive int or None, got {self.trunc_dim!r}; "
                "wordllama's Matryoshka sizes are 64, 128, 256"
            )
        if self.max_tokens is not None and (
            not isinstance(self.max_tokens, int) or self.max_tokens < 1
        ):
            raise ValueError(
                f"max_tokens must be a positive int or None, got {self.max_tokens!r}; "
                "use None for no truncation"
            )


class StaticEmbedder(nn.Module):
    """Mean-pooled static token embeddings (WordLlama) as an ``nn.Module``.

    Args:
        config: a `StaticEmbedderConfig`; None = wordllama's l2_supercat 256-d files.

    Attributes:
        tokenizer: a `TextTokenizer` (spec type "hf") for the embedding vocabulary.
        bag: ``nn.EmbeddingBag`` over the (V, D) matrix, float32.
    """

    def __init__(self, config: StaticEmbedderConfig | None = None) -> None:
        super().__init__()
        self.config = config or StaticEmbedderConfig()
        default_weights, default_tokenizer = (
            wordllama_files()
            if (self.config.weights is None or self.config.tokenizer is None)
            else (None, None)
        )
        weights = Path(self.config.weights or default_weights)
        tokenizer_file = Path(self.config.tokenizer or default_tokenizer)
        for kind, path in (("weights", weights), ("tokenizer", tokenizer_file)):
            if not path.is_file():
                raise FileNotFoundError(
                    f"StaticEmbedder {kind} file {str(path)!r} does not exist; pass an existing "
                    f"file or install wordllama (pip install wordllama) for the defaults"
                )
        with safe_open(str(weights), framework="pt", device="cpu") as f:
            if self.config.tensor_key not in f.keys():  # noqa: SIM118 (safe_open has no __contains__)
                raise ValueError(
                    f"{str(weights)!r} has no tensor {self.config.tensor_key!r}; it has "
                    f"{list(f.keys())}; set tensor_key accordingly"
                )
            matrix = f.get_tensor(self.config.tensor_key)
        if matrix.ndim != 2:
            raise ValueError(
                f"embedding matrix must be 2-D (V, D), got shape {tuple(matrix.shape)}"
            )
        if self.config.trunc_dim is not None:
            if self.config.trunc_dim > matrix.shape[1]:
                raise ValueError(
                    f"trunc_dim={self.config.trunc_dim} exceeds the matrix width "
                    f"{matrix.shape[1]}; use a value <= {matrix.shape[1]}"
                )
            matrix = matrix[:, : self.config.trunc_dim]
        # wordllama casts the fp16 table to float32 before pooling; so do we (exact match).
        matrix = matrix.float().contiguous()
        mode = "mean" if self.config.pooling == "mean" else "sum"
        self.bag = nn.EmbeddingBag.from_pretrained(matrix, freeze=self.config.freeze, mode=mode)
        raw = Tokenizer.from_file(str(tokenizer_file))
        vocab = raw.get_vocab(with_added_tokens=True)
        # wordllama encodes without template tokens and without truncation: so does HFTokenizer
        # (which also reads "<s>" in the text as plain text, where wordllama would map it to id 1)
        self.tokenizer = HFTokenizer(
            raw,
            name=f"static:{weights.stem}",
            bos_token="<s>" if "<s>" in vocab else None,
            eos_token="</s>" if "</s>" in vocab else None,
        )
        if self.tokenizer.vocab_size > matrix.shape[0]:
            logger.warning(
                "tokenizer has %d ids but the matrix %d rows; ids beyond are clamped",
                self.tokenizer.vocab_size,
                matrix.shape[0],
            )

    @property
    def weight(self) -> torch.Tensor:
        """The (V, D) embedding matrix."""
        return self.bag.weight

    @property
    def dim(self) -> int:
        """Embedding width D."""
        return self.bag.weight.shape[1]

    def forward(
        self,
        input_ids: torch.Tensor,
        offsets: torch.Tensor,
        per_token_weights: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Pool a flat batch of token bags (un-normalised, like wordllama's ``norm=False``).

        Args:
            input_ids: (N,) int64 ids of all texts concatenated.
            offsets: (B,) int64 start of each text in ``input_ids``; an empty bag gives zeros.
            per_token_weights: (N,) weights, only for ``pooling="weighted"``; normalised to sum
                to one per bag.

        Returns:
            (B, D) pooled embeddings in the weight's dtype.
        """
        if input_ids.ndim != 1 or offsets.ndim != 1:
            raise ValueError(
                f"input_ids and offsets must be 1-D (flat ids + bag starts), got shapes "
                f"{tuple(input_ids.shape)} and {tuple(offsets.shape)}"
            )
        ids = input_ids.clamp(0, self.bag.num_embeddings - 1)  # wordllama clamps too
        if self.config.pooling == "mean":
            if per_token_weights is not None:
                raise ValueError("per_token_weights needs pooling='weighted', got pooling='mean'")
            return self.bag(ids, offsets)
        if per_token_weights is None:
            per_token_weights = torch.ones_like(ids, dtype=self.bag.weight.dtype)
        if per_token_weights.shape != ids.shape:
            raise ValueError(
                f"per_token_weights must have shape {tuple(ids.shape)}, got "
                f"{tuple(per_token_weights.shape)}"
            )
        w = per_token_weights.to(self.bag.weight.dtype)
        # per-bag sums of the weights: bag index of every token via offsets
        bag_of = torch.bucketize(
            torch.arange(ids.numel(), device=ids.device), offsets[1:], right=True
        )  # (N,)
        totals = torch.zeros(offsets.numel(), dtype=w.dtype, device=w.device).index_add_(
            0, bag_of, w
        )  # (B,)
        w = w / totals[bag_of].clamp_min(torch.finfo(w.dtype).tiny)
        return self.bag(ids, offsets, per_sample_weights=w)

    def encode(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Tokenize texts into flat ids and bag offsets for `forward`.

        Returns:
            ``(input_ids (N,), offsets (B,))`` on the weight's device.
        """
        seqs = self.tokenizer.encode_batch(list(texts))
        if self.config.max_tokens is not None:
            seqs = [s[: self.config.max_tokens] for s in seqs]
        lengths = torch.tensor([len(s) for s in seqs], dtype=torch.long)
        offsets = torch.zeros_like(lengths)
        offsets[1:] = torch.cumsum(lengths, 0)[:-1]
        flat = torch.tensor([i for s in seqs for i in s], dtype=torch.long)
        device = self.bag.weight.device
        return flat.to(device), offsets.to(device)

    @torch.no_grad()
    def embed(
        self, texts: Sequence[str], batch_size: int = 256, normalize: bool = True
    ) -> torch.Tensor:
        """Embed texts; rows are L2-normalised unless ``normalize=False``.

        Args:
            texts: N strings. An empty string (no tokens) embeds to the zero vector.
            batch_size: texts per forward call.
            normalize: divide each row by its L2 norm (wordllama's ``norm=True``).

        Returns:
            (N, D) float tensor on the weight's device.
        """
        if isinstance(texts, str):
            raise TypeError("embed() takes a list of strings, got one str; wrap it: [text]")
        texts = list(texts)
        if any(not isinstance(t, str) for t in texts):
            bad = next(type(t).__name__ for t in texts if not isinstance(t, str))
            raise TypeError(f"embed() takes strings only, got a {bad}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if not texts:
            return self.bag.weight.new_zeros((0, self.dim))
        out = []
        for start in range(0, len(texts), batch_size):
            ids, offsets = self.encode(texts[start : start + batch_size])
            out.append(self(ids, offsets))
        vectors = torch.cat(out)  # (N, D)
        return F.normalize(vectors, dim=-1) if normalize else vectors

    @torch.no_grad()
    def token_sums(self, texts: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """Sums of token vectors and token counts, for exact centroids of concatenations.

        The mean embedding of several texts' tokens together is ``sums.sum(0) / counts.sum()``
        (up to tokens merging across the boundaries).

        Returns:
            ``(sums (N, D), counts (N,))``; ``sums[i] / counts[i]`` is ``embed(..., normalize=
            False)[i]`` for a non-empty text.
        """
        ids, offsets = self.encode(list(texts))
        counts = torch.diff(offsets, append=offsets.new_tensor([ids.numel()]))  # (N,)
        means = self(ids, offsets) if len(texts) else self.bag.weight.new_zeros((0, self.dim))
        return means * counts[:, None].to(means.dtype), counts

    def similarity(self, a: Sequence[str], b: Sequence[str]) -> torch.Tensor:
        """Cosine similarity matrix (len(a), len(b)) of the normalised embeddings."""
        return self.embed(a) @ self.embed(b).T

    def extra_repr(self) -> str:
        return f"vocab={self.bag.num_embeddings}, dim={self.dim}, pooling={self.config.pooling}"

    def to_config_dict(self) -> dict[str, Any]:
        """The config as a JSON-able dict."""
        return dict(self.config.__dict__)
