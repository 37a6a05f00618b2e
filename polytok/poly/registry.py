"""`PolyTokenizer`: a versioned, multi-modal token-embedding registry.

Every token lives in a ``(modality, version)`` table of a `MetaEmbeddingStore`. A token's
*meta-embedding* ``e`` (``in_dim``) is spread by its modality's Gold code (`GoldSpreading`) into the
stored embedding ``x`` (``dim``); `get_meta_embedding` despreads it back. Lookups that miss fall back
through older versions, the modality's hashed OOV buckets and a global bucket (`polytok.poly.fallback`).
Versions are copy-on-write: a child version starts empty and reads through to its parent until a
token is written in it.

Meta-embedding initialisation (the informative start of a new token): the given vector; else the
mean of the base model's embeddings of the token's subtokens (when a base tokenizer and embedding
matrix are registered for the modality; the SuperBPE/"mean of replaced embeddings" initialisation
of J. Hewitt, "Initializing new word embeddings for pretrained language models", 2021); else the
embedding of the lookup's fallback.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from polytok.poly import serialization
from polytok.poly.embedding import PolyEmbedding
from polytok.poly.fallback import FallbackChain, FallbackStats
from polytok.poly.lookup import LookupMixin
from polytok.poly.text import TextCodec
from polytok.poly.versions import VersionTable, check_name
from polytok.tokenizers.base import TextTokenizer, tokenizer_from_spec

_LATEST = object()  # sentinel: "parent = the modality's newest version"


@dataclass
class PolyTokenizerConfig:
    dim: int = 256  # stored (spread) embedding dimension = number of chips
    modalities: tuple[str, ...] = ("text",)  # modalities created up front (each gets version "v1")
    spreading_mode: str = "full"  # "full" or "subspace" (see GoldSpreading)
    num_subspaces: int | None = None  # subspace mode: modality capacity
    code_family: str = "gold"  # "gold" or "random" codes
    seed: int = 0  # seeds Q and the OOV/global bucket rows
    oov_buckets: int = 64  # hashed OOV rows per modality (0: misses go to the global bucket)
    global_buckets: int = 1  # rows of the global bucket
    init_std: float = 0.02  # std of the seeded Gaussian meta-embeddings of bucket rows

    def __post_init__(self) -> None:
        self.modalities = tuple(self.modalities)
        for name in self.modalities:
            check_name("modality", name)
        if self.oov_buckets < 0 or self.global_buckets < 1:
            raise ValueError(
                f"need oov_buckets >= 0 and global_buckets >= 1, got {self.oov_buckets}, "
                f"{self.global_buckets}"
            )
        if self.init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std}")


def init_digest(init: torch.Tensor | None) -> str | None:
    """Fingerprint of an explicit init vector (float32 bytes), to detect conflicting duplicates."""
    if init is None:
        return None
    data = np.ascontiguousarray(init.detach().cpu().to(torch.float32).numpy()).tobytes()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


def _seeded_rows(count: int, dim: int, seed: int, std: float) -> torch.Tensor:
    """``(count, dim)`` seeded Gaussian rows, drawn on the host (same values on every device)."""
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(count, dim, generator=gen, device="cpu") * std


class PolyTokenizer(LookupMixin, nn.Module):
    """Versioned multi-modal token-embedding registry (see module docstring).

    A small class over four owned parts: ``embedding`` (`PolyEmbedding`, every tensor: codes,
    tables, base matrices), ``vocab`` (`VersionTable`: modalities, versions, token rows and ids),
    ``fallback`` (`FallbackChain`) and ``codec`` (`TextCodec`: base tokenizers, encode/decode).
    It is an ``nn.Module``: ``.to(device)`` moves the tables, ``state_dict()`` holds them, and
    lookups return tensors on its device. ``forward(tokens, modality, version)`` is
    `get_embeddings`.

    Args:
        config: a `PolyTokenizerConfig`; keyword overrides are accepted instead.
    """

    def __init__(self, config: PolyTokenizerConfig | None = None, **overrides: Any) -> None:
        super().__init__()
        if config is not None and overrides:
            raise ValueError("pass either a config or keyword overrides, not both")
        self.config = config or PolyTokenizerConfig(**overrides)
        c = self.config
        subspaces = (
            (c.num_subspaces or max(len(c.modalities), 1))
            if c.spreading_mode == "subspace"
            else None
        )
        self.embedding = PolyEmbedding(
            c.dim, c.modalities[0] if c.modalities else "text", mode=c.spreading_mode,
            num_subspaces=subspaces, code_family=c.code_family, seed=c.seed,
        )  # fmt: skip
        self.vocab = VersionTable()
        self.fallback = FallbackChain(self.vocab, c.global_buckets)
        self.codec = TextCodec(self.vocab)
        self.stats = FallbackStats()
        meta = _seeded_rows(c.global_buckets, self.in_dim, c.seed, c.init_std)
        self.embedding.create_table("global", meta, modality=0)
        for name in c.modalities:
            self.add_modality(name)

    # -- structure ----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def in_dim(self) -> int:
        """Meta-embedding dimension (``dim`` in full spreading mode)."""
        return self.embedding.in_dim

    @property
    def device(self) -> torch.device:
        return self.embedding.device

    @property
    def modalities(self) -> list[str]:
        return self.vocab.modalities

    def versions(self, modality: str) -> list[str]:
        """Versions of ``modality`` in creation order."""
        return self.vocab.versions(modality)

    def version_chain(self, modality: str, version: str) -> list[str]:
        """``version``, its parents, then the other older versions newest first."""
        return self.vocab.chain(modality, version)

    def target(self, modality: str | None, version: str | None) -> tuple[str, str]:
        """``(modality, version)`` with defaults filled in (``"text"``, the newest version)."""
        return self.vocab.target(modality, version)

    def add_modality(self, name: str, oov_buckets: int | None = None) -> None:
        """Create modality ``name`` with version ``"v1"``, a Gold code and its OOV buckets."""
        buckets = self.config.oov_buckets if oov_buckets is None else int(oov_buckets)
        self.vocab.add_modality(name, buckets)
        index = self.embedding.add_modality(name)
        if buckets:
            seed = self.config.seed * 1_000_003 + index + 1
            meta = _seeded_rows(buckets, self.in_dim, seed, self.config.init_std)
            self.embedding.create_table(f"oov:{name}", meta, modality=name)
        self.add_version(name, "v1", parent=None)

    def add_version(self, modality: str, version: str, parent: Any = _LATEST) -> None:
        """Add ``version`` to ``modality``, copy-on-write over ``parent`` (default: newest version;
        ``None`` for an independent version)."""
        if parent is _LATEST:
            known = self.vocab.versions(modality)
            parent = known[-1] if known else None
        self.vocab.add_version(modality, version, parent)
        self.embedding.create_table(f"{modality}:{version}")

    def register_base(
        self, tokenizer: TextTokenizer, weight: torch.Tensor | None = None, modality: str = "text"
    ) -> None:
        """Register a base tokenizer (for `encode` and subtoken-mean init) and its ``(V, in_dim)``
        embedding matrix for ``modality``."""
        self.vocab.check_modality(modality)
        if not isinstance(tokenizer, TextTokenizer):
            raise TypeError(
                f"tokenizer must implement TextTokenizer, got {type(tokenizer).__name__}"
            )
        if weight is not None:
            if (
                weight.ndim == 2
                and weight.shape[1] == self.in_dim
                and (weight.shape[0] < tokenizer.vocab_size)
            ):
                raise ValueError(
                    f"base embedding matrix has {weight.shape[0]} rows < tokenizer vocab_size "
                    f"{tokenizer.vocab_size}"
                )
            self.embedding.set_base(modality, weight)
        self.codec.register(modality, tokenizer)

    def base_tokenizer(self, modality: str = "text") -> TextTokenizer:
        self.vocab.check_modality(modality)
        return self.codec.base(modality)

    # -- adding tokens ------------------------------------------------------------------------
    def add_token(
        self, token: str, modality: str = "text", version: str = "v1",
        init: torch.Tensor | None = None,
    ) -> int:  # fmt: skip
        """Register ``token``; returns its token id within the modality (stable across versions)."""
        inits = None if init is None else torch.as_tensor(init)[None]
        return self.add_tokens([token], modality, version, inits=inits)[0]

    def add_tokens(
        self, tokens: Sequence[str], modality: str = "text", version: str = "v1",
        inits: torch.Tensor | None = None,
    ) -> list[int]:  # fmt: skip
        """Register many tokens at once (one table append); ``inits`` is ``(N, in_dim)`` or None.

        Raises:
            ValueError: unknown modality/version, an init of the wrong dimension, or a token given
                again with a different init (here or earlier).
        """
        self.vocab.check_version(modality, version)
        tokens = list(tokens)
        if any(not isinstance(t, str) or not t for t in tokens):
            raise TypeError("tokens must be non-empty strings")
        if inits is not None:
            inits = torch.as_tensor(inits).detach().to(torch.float32)
            if inits.ndim != 2 or inits.shape != (len(tokens), self.in_dim):
                raise ValueError(
                    f"init vectors must have shape ({len(tokens)}, {self.in_dim}) (one meta-embedding "
                    f"of dim {self.in_dim} per token), got {tuple(inits.shape)}"
                )
        new = self._new_tokens(tokens, modality, version, inits)
        if new:
            order = list(new)
            if inits is not None:
                vectors = self.embedding.spread(inits[[new[t][0] for t in order]], modality)
            else:
                vectors = self._informative_init(order, modality, version)
            rows = self.embedding.append(f"{modality}:{version}", vectors)
            self.vocab.record(modality, version, order, rows, [new[t][1] for t in order])
        return [self.vocab.token_id(t, modality) for t in tokens]

    def _new_tokens(
        self, tokens: list[str], modality: str, version: str, inits: torch.Tensor | None
    ) -> dict[str, tuple[int, str | None]]:
        """``token -> (first position, init digest)`` of tokens not yet in this version; raises
        on a token given again with a different init."""
        host = None if inits is None else inits.cpu()  # digests on the host, one transfer
        new: dict[str, tuple[int, str | None]] = {}
        for i, token in enumerate(tokens):
            digest = None if host is None else init_digest(host[i])
            if self.vocab.row(modality, version, token) is not None:
                known = self.vocab.digest(modality, version, token)
            elif token in new:
                known = new[token][1]
            else:
                new[token] = (i, digest)
                continue
            if digest is not None and digest != known:
                raise ValueError(
                    f"token {token!r} is already registered in {modality}:{version} with a different "
                    f"init; drop the init to reuse it, or add it to a new version (add_version)"
                )
        return new

    @torch.no_grad()
    def _informative_init(self, tokens: list[str], modality: str, version: str) -> torch.Tensor:
        """Spread subtoken means where a base model is registered, else the fallback's rows."""
        out = torch.empty(len(tokens), self.dim, device=self.device)
        pending = list(range(len(tokens)))
        if self.embedding.has_base(modality) and self.codec.has_base(modality):
            pieces = self.codec.base(modality).encode_batch(tokens)
            have = [i for i in pending if pieces[i]]
            if have:
                out[have] = self.embedding.subtoken_means(modality, [pieces[i] for i in have])
            pending = [i for i in pending if not pieces[i]]
        for i in pending:  # fallback embedding: already spread into this modality's code
            res = self.fallback.resolve_missing(tokens[i], modality, version)
            out[i] = self.embedding.rows(res.table, [res.row])[0]
        return out

    def tokens(self, modality: str = "text", version: str | None = None) -> list[str]:
        """Tokens stored in exactly this version, in row order."""
        return self.vocab.tokens(*self.vocab.target(modality, version))

    def token_id(self, token: str, modality: str = "text") -> int:
        return self.vocab.token_id(token, modality)

    def copy_on_write(self, tokens: Sequence[str], modality: str, version: str) -> list[int]:
        """Copy rows that ``version`` inherits into its own table (before writing to them)."""
        self.vocab.check_version(modality, version)
        missing = [t for t in dict.fromkeys(tokens) if self.vocab.row(modality, version, t) is None]
        inherited = []
        for token in missing:
            res = self.fallback.resolve_missing(token, modality, version)
            if res.level != "older_version":
                raise ValueError(
                    f"token {token!r} is not registered in {modality} (versions "
                    f"{self.version_chain(modality, version)}); add it with add_tokens first"
                )
            inherited.append((token, res))
        if inherited:
            vectors = torch.stack(
                [self.embedding.rows(r.table, [r.row])[0] for _, r in inherited]
            ).detach()
            rows = self.embedding.append(f"{modality}:{version}", vectors)
            digests = [self.vocab.digest(modality, r.version, t) for t, r in inherited]
            self.vocab.record(modality, version, [t for t, _ in inherited], rows, digests)
        return [self.vocab.row(modality, version, t) for t in tokens]

    # -- text ---------------------------------------------------------------------------------
    def encode(self, text: str, modality: str = "text") -> list[int]:
        """Registered tokens (longest match) as ``base.vocab_size + token_id``; the rest through
        the modality's base tokenizer (see `polytok.poly.text`)."""
        return self.codec.encode(text, modality)

    def decode(self, ids: Sequence[int], modality: str = "text") -> str:
        self.vocab.check_modality(modality)
        return self.codec.decode(list(ids), modality)

    def embed_ids(
        self, ids: Sequence[int], modality: str = "text", version: str | None = None
    ) -> torch.Tensor:
        """``(T,)`` ids -> ``(T, dim)`` on the registry's device: registered tokens from the
        tables, base ids from the base embedding matrix spread into the modality's code."""
        modality, version = self.vocab.target(modality, version)
        offset = self.codec.offset(modality)
        ids_t = torch.as_tensor(list(ids), dtype=torch.int64)  # host ids
        out = torch.empty(len(ids_t), self.dim, device=self.device)
        added = ids_t >= offset
        if added.any():
            names = self.codec.names(modality)
            tokens = [names[i - offset] for i in ids_t[added].tolist()]
            out[added.to(self.device)] = self.get_embeddings(tokens, modality, version).detach()
        if (~added).any():
            base = self.embedding.spread_base(modality, ids_t[~added])
            out[(~added).to(self.device)] = base
        return out

    def embed(self, text: str, modality: str = "text", version: str | None = None) -> torch.Tensor:
        """``(T, dim)`` embeddings of ``encode(text)``."""
        return self.embed_ids(self.encode(text, modality), modality, version)

    def forward(
        self, tokens: Sequence[str], modality: str | None = None, version: str | None = None
    ) -> torch.Tensor:
        """``N`` tokens -> ``(N, dim)`` embeddings (`get_embeddings`)."""
        return self.get_embeddings(tokens, modality, version)

    # -- persistence --------------------------------------------------------------------------
    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def save_pretrained(
        self, path: str | os.PathLike, save_base: bool = True, *, overwrite: bool = False
    ) -> Path:
        """Atomically write ``config.json`` + ``vocab.json`` + safetensors tables to ``path``.

        An existing ``path`` is replaced only if polytok wrote it, or with ``overwrite``; a
        symlink there is never followed into a deletion (`polytok.atomic.atomic_directory`).

        Raises:
            FileExistsError: ``path`` exists and is not polytok's, and not ``overwrite``.
        """
        structure, vocab = self.vocab.to_json()
        return serialization.write_registry(
            path,
            overwrite=overwrite,
            config=self.config_dict(),
            modalities=list(self.embedding.spreading.modalities),
            structure=structure,
            vocab=vocab,
            base_specs=self.codec.specs(),
            tables=self.embedding.export_tables(),
            base_weights={m: w.cpu() for m, w in self.embedding.bases().items()}
            if save_base
            else {},
        )

    @classmethod
    def from_pretrained(cls, path: str | os.PathLike) -> PolyTokenizer:
        """Load a local directory written by `save_pretrained` (on the CPU; ``.to`` moves it).

        Raises:
            FileNotFoundError: ``path`` is not a local directory with ``config.json``.
            ValueError: a different class, a newer format version, or unknown config keys.
        """
        files = serialization.read_registry(path)
        options = dict(files.config)
        options["modalities"] = tuple(files.modalities)
        try:
            config = PolyTokenizerConfig(**options)
        except TypeError as err:
            raise ValueError(f"{path}/config.json has unknown config keys: {err}") from err
        poly = cls(config)
        try:
            poly.vocab.load_json(files.structure, files.vocab)
            poly.embedding.load_tables(files.tables)
            for modality, spec in files.base_specs.items():
                weight = files.base_weights.get(modality)
                poly.register_base(tokenizer_from_spec(spec), weight, modality=modality)
        except (AttributeError, KeyError, TypeError, ValueError, RuntimeError) as err:
            raise ValueError(
                f"{path} is not a consistent PolyTokenizer registry ({type(err).__name__}: "
                f"{err}); check config.json, vocab.json and the safetensors files, or re-save it"
            ) from err
        return poly

    def __repr__(self) -> str:
        return f"PolyTokenizer(dim={self.dim}, tables={self.vocab.sizes()})"
