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
import logging
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from polytok.poly.fallback import FallbackStats
from polytok.poly.lookup import LookupMixin
from polytok.poly.spreading import GoldSpreading
from polytok.poly.store import MetaEmbeddingStore
from polytok.tokenizers.base import TextTokenizer

log = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9_\-]+$")
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
            _check_name("modality", name)
        if self.oov_buckets < 0 or self.global_buckets < 1:
            raise ValueError(
                f"need oov_buckets >= 0 and global_buckets >= 1, got {self.oov_buckets}, "
                f"{self.global_buckets}"
            )
        if self.init_std <= 0:
            raise ValueError(f"init_std must be > 0, got {self.init_std}")


def _check_name(kind: str, name: str) -> None:
    if not isinstance(name, str) or not _NAME.match(name):
        raise ValueError(
            f"{kind} name must match {_NAME.pattern} (letters, digits, _ -), got {name!r}"
        )


def init_digest(init: torch.Tensor | None) -> str | None:
    """Fingerprint of an explicit init vector (float32 bytes), to detect conflicting duplicates."""
    if init is None:
        return None
    data = np.ascontiguousarray(init.detach().cpu().to(torch.float32).numpy()).tobytes()
    return hashlib.blake2b(data, digest_size=8).hexdigest()


class PolyTokenizer(LookupMixin):
    """Versioned multi-modal token-embedding registry (see module docstring).

    Args:
        config: a `PolyTokenizerConfig`; keyword overrides are accepted instead.
    """

    def __init__(self, config: PolyTokenizerConfig | None = None, **overrides: Any) -> None:
        self.config = config or PolyTokenizerConfig(**overrides)
        if config is not None and overrides:
            raise ValueError("pass either a config or keyword overrides, not both")
        c = self.config
        first = c.modalities[0] if c.modalities else "text"
        subspaces = (
            (c.num_subspaces or max(len(c.modalities), 1))
            if c.spreading_mode == "subspace"
            else None
        )
        self.spreading = GoldSpreading(
            c.dim, (first,), mode=c.spreading_mode, num_subspaces=subspaces,
            code_family=c.code_family, seed=c.seed,
        )  # fmt: skip
        self.store = MetaEmbeddingStore(c.dim)
        self.stats = FallbackStats()
        self._versions: dict[str, list[str]] = {}
        self._parents: dict[tuple[str, str], str | None] = {}
        self._oov: dict[str, int] = {}
        self._rows: dict[tuple[str, str], dict[str, int]] = {}
        self._digests: dict[tuple[str, str], dict[str, str | None]] = {}
        self._ids: dict[str, dict[str, int]] = {}  # modality -> token -> stable token id
        self._base: dict[str, TextTokenizer] = {}
        self._base_weight: dict[str, torch.Tensor] = {}
        gen = torch.Generator().manual_seed(c.seed)
        meta = torch.randn(c.global_buckets, self.in_dim, generator=gen) * c.init_std
        self.store.create_table("global", capacity=c.global_buckets)
        self.store.append("global", self.spreading.spread(meta.double(), 0).float())
        for name in c.modalities:
            self.add_modality(name)

    # -- structure ----------------------------------------------------------------------------
    @property
    def dim(self) -> int:
        return self.config.dim

    @property
    def in_dim(self) -> int:
        """Meta-embedding dimension (``dim`` in full spreading mode)."""
        return self.spreading.in_dim

    @property
    def modalities(self) -> list[str]:
        return list(self._versions)

    def versions(self, modality: str) -> list[str]:
        """Versions of ``modality`` in creation order."""
        self._check_modality(modality)
        return list(self._versions[modality])

    def add_modality(self, name: str, oov_buckets: int | None = None) -> None:
        """Create modality ``name`` with version ``"v1"``, a Gold code and its OOV buckets."""
        _check_name("modality", name)
        if name in self._versions:
            raise ValueError(f"modality {name!r} exists already; modalities: {self.modalities}")
        buckets = self.config.oov_buckets if oov_buckets is None else int(oov_buckets)
        if buckets < 0:
            raise ValueError(f"oov_buckets must be >= 0, got {buckets}")
        index = self.spreading.add_modality(name)
        self._versions[name] = []
        self._ids[name] = {}
        self._oov[name] = buckets
        if buckets:
            gen = torch.Generator().manual_seed(self.config.seed * 1_000_003 + index + 1)
            meta = torch.randn(buckets, self.in_dim, generator=gen) * self.config.init_std
            self.store.create_table(f"oov:{name}", capacity=buckets)
            self.store.append(f"oov:{name}", self.spreading.spread(meta.double(), name).float())
        self.add_version(name, "v1", parent=None)

    def add_version(self, modality: str, version: str, parent: Any = _LATEST) -> None:
        """Add ``version`` to ``modality``, copy-on-write over ``parent`` (default: newest version;
        ``None`` for an independent version)."""
        self._check_modality(modality)
        _check_name("version", version)
        if version in self._versions[modality]:
            raise ValueError(
                f"version {version!r} of {modality!r} exists: {self._versions[modality]}"
            )
        if parent is _LATEST:
            parent = self._versions[modality][-1] if self._versions[modality] else None
        if parent is not None:
            self._check_version(modality, parent)
        self.store.create_table(f"{modality}:{version}")
        self._versions[modality].append(version)
        self._parents[(modality, version)] = parent
        self._rows[(modality, version)] = {}
        self._digests[(modality, version)] = {}

    def register_base(
        self, tokenizer: TextTokenizer, weight: torch.Tensor | None = None, modality: str = "text"
    ) -> None:
        """Register a base tokenizer (for `encode` and subtoken-mean init) and its ``(V, in_dim)``
        embedding matrix for ``modality``."""
        self._check_modality(modality)
        if not isinstance(tokenizer, TextTokenizer):
            raise TypeError(
                f"tokenizer must implement TextTokenizer, got {type(tokenizer).__name__}"
            )
        if weight is not None:
            if weight.ndim != 2 or weight.shape[1] != self.in_dim:
                raise ValueError(
                    f"base embedding matrix must be (vocab, {self.in_dim}), got {tuple(weight.shape)}; "
                    f"project it or build the PolyTokenizer with dim={weight.shape[-1]}"
                )
            if weight.shape[0] < tokenizer.vocab_size:
                raise ValueError(
                    f"base embedding matrix has {weight.shape[0]} rows < tokenizer vocab_size "
                    f"{tokenizer.vocab_size}"
                )
            self._base_weight[modality] = weight.detach().to(torch.float32).cpu()
        self._base[modality] = tokenizer

    def base_tokenizer(self, modality: str = "text") -> TextTokenizer:
        self._check_modality(modality)
        if modality not in self._base:
            raise ValueError(f"no base tokenizer registered for {modality!r}; call register_base")
        return self._base[modality]

    def _check_modality(self, modality: str) -> None:
        if modality not in self._versions:
            raise ValueError(f"unknown modality {modality!r}; known modalities: {self.modalities}")

    def _check_version(self, modality: str, version: str) -> None:
        self._check_modality(modality)
        if version not in self._versions[modality]:
            raise ValueError(
                f"unknown version {version!r} of modality {modality!r}; known versions: "
                f"{self._versions[modality]}"
            )

    def _target(self, modality: str | None, version: str | None) -> tuple[str, str]:
        modality = "text" if modality is None else modality
        self._check_modality(modality)
        version = self._versions[modality][-1] if version is None else version
        self._check_version(modality, version)
        return modality, version

    def version_chain(self, modality: str, version: str) -> list[str]:
        """``version``, its parents, then the other older versions newest first."""
        self._check_version(modality, version)
        chain, cur = [], version
        while cur is not None and cur not in chain:
            chain.append(cur)
            cur = self._parents[(modality, cur)]
        created = self._versions[modality]
        older = created[: created.index(version)]
        return chain + [v for v in reversed(older) if v not in chain]

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
        self._check_version(modality, version)
        tokens = list(tokens)
        if any(not isinstance(t, str) or not t for t in tokens):
            raise TypeError("tokens must be non-empty strings")
        if inits is not None:
            inits = torch.as_tensor(inits, dtype=torch.float32)
            if inits.ndim != 2 or inits.shape != (len(tokens), self.in_dim):
                raise ValueError(
                    f"init vectors must have shape ({len(tokens)}, {self.in_dim}) (one meta-embedding "
                    f"of dim {self.in_dim} per token), got {tuple(inits.shape)}"
                )
        key = (modality, version)
        rows, digests = self._rows[key], self._digests[key]
        new: dict[str, int] = {}  # token -> position in `tokens` of its first occurrence
        for i, token in enumerate(tokens):
            digest = init_digest(None if inits is None else inits[i])
            known = digests[token] if token in rows else (
                init_digest(inits[new[token]]) if token in new and inits is not None else None
            )  # fmt: skip
            seen = token in rows or token in new
            if seen and digest is not None and digest != known:
                raise ValueError(
                    f"token {token!r} is already registered in {modality}:{version} with a different "
                    f"init; drop the init to reuse it, or add it to a new version (add_version)"
                )
            if not seen:
                new[token] = i
        if new:
            order = list(new)
            if inits is not None:
                meta = inits[[new[t] for t in order]]
                vectors = self.spreading.spread(meta.double(), modality).float()
            else:
                vectors = self._informative_init(order, modality, version)
            ids = self.store.append(f"{modality}:{version}", vectors).tolist()
            for token, row in zip(order, ids):
                rows[token] = row
                digests[token] = init_digest(None if inits is None else inits[new[token]])
                self._ids[modality].setdefault(token, len(self._ids[modality]))
        return [self._ids[modality][t] for t in tokens]

    @torch.no_grad()
    def _informative_init(self, tokens: list[str], modality: str, version: str) -> torch.Tensor:
        """Spread subtoken means where a base model is registered, else the fallback's rows."""
        out = torch.empty(len(tokens), self.dim)
        pending = list(range(len(tokens)))
        if modality in self._base_weight:
            weight = self._base_weight[modality]
            pieces = self._base[modality].encode_batch(tokens)
            have = [i for i in pending if pieces[i]]
            if have:
                means = torch.stack([weight[pieces[i]].mean(0) for i in have])  # (K, in_dim)
                out[have] = self.spreading.spread(means.double(), modality).float()
            pending = [i for i in pending if not pieces[i]]
        for i in pending:  # fallback embedding: already spread into this modality's code
            res = self._resolve_missing(tokens[i], modality, version)
            out[i] = self.store.lookup(res.table, torch.tensor([res.row]))[0]
        return out

    def tokens(self, modality: str = "text", version: str | None = None) -> list[str]:
        """Tokens stored in exactly this version, in row order."""
        modality, version = self._target(modality, version)
        rows = self._rows[(modality, version)]
        return sorted(rows, key=rows.__getitem__)

    def token_id(self, token: str, modality: str = "text") -> int:
        self._check_modality(modality)
        if token not in self._ids[modality]:
            raise KeyError(f"token {token!r} is not registered in modality {modality!r}")
        return self._ids[modality][token]

    def copy_on_write(self, tokens: Sequence[str], modality: str, version: str) -> list[int]:
        """Copy rows that ``version`` inherits into its own table (before writing to them)."""
        self._check_version(modality, version)
        own = self._rows[(modality, version)]
        missing = [t for t in dict.fromkeys(tokens) if t not in own]
        inherited = []
        for token in missing:
            res = self._resolve_missing(token, modality, version)
            if res.level != "older_version":
                raise ValueError(
                    f"token {token!r} is not registered in {modality} (versions "
                    f"{self.version_chain(modality, version)}); add it with add_tokens first"
                )
            inherited.append((token, res))
        if inherited:
            vectors = torch.stack(
                [self.store.lookup(r.table, torch.tensor([r.row]))[0] for _, r in inherited]
            )
            ids = self.store.append(f"{modality}:{version}", vectors.detach()).tolist()
            for (token, res), row in zip(inherited, ids):
                own[token] = row
                self._digests[(modality, version)][token] = self._digests[(modality, res.version)][
                    token
                ]
        return [own[t] for t in tokens]

    # -- text, training, persistence (implemented in text.py, finetune.py, serialization.py) ---
    def encode(self, text: str, modality: str = "text") -> list[int]:
        """Registered tokens (longest match) as ``base.vocab_size + token_id``; the rest through
        the modality's base tokenizer (see `polytok.poly.text`)."""
        from polytok.poly.text import encode

        return encode(self, text, modality)

    def decode(self, ids: Sequence[int], modality: str = "text") -> str:
        from polytok.poly.text import decode

        return decode(self, list(ids), modality)

    def embed(self, text: str, modality: str = "text", version: str | None = None) -> torch.Tensor:
        """``(T, dim)`` embeddings of ``encode(text)``."""
        from polytok.poly.text import embed_ids

        return embed_ids(self, self.encode(text, modality), modality, version)

    def fine_tune_embeddings(self, data: Sequence[Sequence[str]], **options: Any):
        """Train this registry's embeddings with Lightning; see `polytok.poly.finetune`."""
        from polytok.poly.finetune import fine_tune_embeddings

        return fine_tune_embeddings(self, data, **options)

    def save_pretrained(self, path, save_base: bool = True):
        """Atomically write ``config.json`` + ``vocab.json`` + safetensors tables to ``path``."""
        from polytok.poly.serialization import save_pretrained

        return save_pretrained(self, path, save_base=save_base)

    @classmethod
    def from_pretrained(cls, path) -> PolyTokenizer:
        """Load a local directory written by `save_pretrained`."""
        from polytok.poly.serialization import from_pretrained

        return from_pretrained(path)

    def config_dict(self) -> dict[str, Any]:
        return asdict(self.config)

    def __repr__(self) -> str:
        sizes = {
            f"{m}:{v}": len(self._rows[(m, v)]) for m in self._versions for v in self._versions[m]
        }
        return f"PolyTokenizer(dim={self.dim}, tables={sizes})"
