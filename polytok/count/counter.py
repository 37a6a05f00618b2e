"""`TokenCounter`: token counts for any model id, exact where possible, cached in three tiers.

Example:
    >>> from polytok.count import TokenCounter
    >>> counter = TokenCounter()
    >>> r = counter.count("gpt-4o", "Hello, world!")
    >>> (r.count, r.encoding, r.exact)
    (4, 'o200k_base', True)
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from polytok.count.backends import Backend, build_backend
from polytok.count.cache import CacheConfig, TieredCache
from polytok.count.online import OnlineConfig, OnlineCountError, OnlineCounters
from polytok.count.registry import ModelInfo, ModelRegistry

_DEFAULT = object()
_MAX_MEMO = 4096  # resolved model ids remembered


class CountResult(NamedTuple):
    """One count (a NamedTuple: immutable and cheap to build on the cache-hit path).

    Attributes:
        count: number of tokens.
        model: the model id asked for.
        strategy: ``tiktoken``, ``hf``, ``approx-script``, ``online:<provider>``, or
            ``messages+<strategy>`` for chat message lists.
        encoding: the encoding / tokenizer directory / ``approx:<proxy>`` that counted.
        exact: the count equals the model's own tokenizer's.
        cached: served from the cache.
        typical_error: measured mean relative error of the strategy (0.0 when exact).
    """

    count: int
    model: str
    strategy: str
    encoding: str
    exact: bool
    cached: bool
    typical_error: float = 0.0


class TokenCounter:
    """Counts tokens for model ids (see `polytok.count.registry` for how ids resolve).

    Args:
        cache: a `CacheConfig` (default: L1 memory only), a shared `TieredCache`, or ``None``
            for no caching.
        hf_tokenizers: HF model id -> local tokenizer directory (dict or YAML/JSON file); the
            ``POLYTOK_HF_TOKENIZERS`` environment variable (JSON) is read too.
        online: online counters to try before the approximation (``None``: offline only; use
            ``OnlineConfig.from_env()`` to read keys and endpoints from the environment).
        allow_unknown: approximate ids no family claims (else `UnknownModelError`).
        num_threads: threads for batch encoding.
    """

    def __init__(
        self,
        cache: CacheConfig | TieredCache | None | Any = _DEFAULT,
        hf_tokenizers: Mapping[str, str] | str | os.PathLike | None = None,
        online: OnlineConfig | None = None,
        allow_unknown: bool = True,
        num_threads: int | None = None,
    ) -> None:
        if cache is _DEFAULT:
            cache = CacheConfig()
        self.cache = TieredCache(cache) if isinstance(cache, CacheConfig) else cache
        self.registry = ModelRegistry(hf_tokenizers, online.vllm_models if online else ())
        self.online = OnlineCounters(online) if online is not None else None
        self.allow_unknown = allow_unknown
        self.num_threads = num_threads
        self._backends: dict[str, Backend] = {}
        self._building: dict[str, threading.Lock] = {}  # one lock per backend being built
        self._models: dict[str, tuple[ModelInfo, Backend]] = {}
        self._lock = threading.Lock()

    def resolve(self, model: str) -> ModelInfo:
        """How ``model`` is counted (raises `UnknownModelError` if unknown and not allowed)."""
        return self.registry.resolve(model, allow_unknown=self.allow_unknown)

    def _lookup(self, model: str) -> tuple[ModelInfo, Backend]:
        found = self._models.get(model)
        if found is not None:
            return found
        info = self.resolve(model)
        backend = self._backend(info)
        if len(self._models) >= _MAX_MEMO:  # arbitrary ids from a service must not grow memory
            self._models.clear()
        self._models[model] = (info, backend)
        return info, backend

    def _backend(self, info: ModelInfo) -> Backend:
        """The backend of ``info``, built once: concurrent first requests for a model (a
        service's thread pool) wait for one build (loading a vocabulary takes about 0.5 s of
        CPU) instead of each running their own; other models' counts never wait for it."""
        key = f"{info.strategy}|{info.encoding}"
        with self._lock:
            backend = self._backends.get(key)
            if backend is not None:
                return backend
            building = self._building.setdefault(key, threading.Lock())
        with building:
            with self._lock:
                backend = self._backends.get(key)
            if backend is None:
                backend = build_backend(info, self.num_threads)
                with self._lock:
                    self._backends[key] = backend
        return backend

    def count(self, model: str, text: str) -> CountResult:
        """Count the tokens of ``text`` for ``model``.

        Raises:
            TypeError: ``text`` is not a string.
            UnknownModelError: unknown model while ``allow_unknown`` is false.
            FileNotFoundError: an HF model's mapped directory is missing.
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        info, backend = self._lookup(model)
        if self.online is not None and self.online.usable(info.online):
            result = self._count_online(info, text)
            if result is not None:
                return result
        cache = self.cache
        if cache is None:
            return _result(model, backend, backend.count_one(text), cached=False)
        n, key = cache.lookup(backend.namespace, text)
        return self._finish(model, backend, text, n, key)

    def _finish(
        self,
        model: str,
        backend: Backend,
        text: str,
        n: int | None,
        key: bytes | None,
    ) -> CountResult:
        """The result of a lookup that found ``n``, or else of encoding ``text`` (and caching
        it: `TieredCache.put` never waits, L2 and L3 writes go behind)."""
        if n is not None:
            return _result(model, backend, n, cached=True)
        n = backend.count_one(text)
        if self.cache is not None:
            self.cache.put(backend.namespace, text, n, key)
        return _result(model, backend, n, cached=False)

    def _count_online(self, info: ModelInfo, text: str) -> CountResult | None:
        provider = info.online
        assert provider is not None and self.online is not None
        namespace = f"online:{provider}|{info.model}"
        cached = self.cache.get(namespace, text, always=True) if self.cache is not None else None
        if cached is None:
            try:
                n = self.online.count(provider, info.model, text)
            except OnlineCountError:
                return None  # logged by OnlineCounters; fall back to the offline approximation
            if self.cache is not None:
                self.cache.put(namespace, text, n, always=True)
        else:
            n = cached
        return CountResult(n, info.model, f"online:{provider}", provider, True, cached is not None)

    def count_batch(self, model: str, texts: Sequence[str]) -> list[CountResult]:
        """Count many texts; cache misses are encoded together by tiktoken's threaded batch
        encoder (or the HF tokenizer's Rust pool)."""
        texts = list(texts)
        if not all(isinstance(t, str) for t in texts):
            raise TypeError("texts must all be str")
        info, backend = self._lookup(model)
        if self.online is not None and self.online.usable(info.online):
            return [self.count(model, t) for t in texts]
        counts: list[int | None] = [None] * len(texts)
        cached = [False] * len(texts)
        cache = self.cache
        if cache is not None:
            counts = cache.get_many(backend.namespace, texts)
            cached = [c is not None for c in counts]
        todo = [i for i, c in enumerate(counts) if c is None]
        if todo:
            fresh = backend.count_many([texts[i] for i in todo])
            for i, n in zip(todo, fresh):
                counts[i] = n
            if cache is not None:
                cache.put_many(backend.namespace, [texts[i] for i in todo], fresh)
        return [
            CountResult(
                int(n),
                model,
                backend.strategy,
                backend.encoding_name,
                backend.exact,
                c,
                backend.typical_error,
            )
            for n, c in zip(counts, cached)
        ]

    def count_messages(self, model: str, messages: Sequence[Mapping[str, Any]]) -> CountResult:
        """Tokens of a chat message list, with OpenAI's documented per-message overheads.

        Every message costs ``tokens_per_message`` (3; 4 for ``gpt-3.5-turbo-0301``) plus the
        tokens of each string field (role, content, name), ``tokens_per_name`` (1; -1 for 0301)
        when a name is present, and the reply is primed with 3 tokens (OpenAI Cookbook, "How to
        count tokens with tiktoken"). ``content`` may be a list of ``{"type": "text", "text": ...}``
        parts. Exact for OpenAI models; for other families the same framing is applied to their
        counts and the result says ``exact=False``.

        Raises:
            ValueError: a message that is not a mapping, or a non-text content part.
        """
        per_message, per_name = (4, -1) if model.endswith("gpt-3.5-turbo-0301") else (3, 1)
        texts: list[str] = []
        total = 3
        for i, message in enumerate(messages):
            if not isinstance(message, Mapping):
                raise ValueError(
                    f"message {i} must be a mapping like {{'role': ..., 'content': ...}}, got {message!r}"
                )
            total += per_message
            for key, value in message.items():
                if key == "name":
                    total += per_name
                texts.extend(_message_texts(i, key, value))
        results = self.count_batch(model, texts) if texts else []
        info, backend = self._lookup(model)
        exact = info.family == "openai" and all(r.exact for r in results)
        strategy = results[0].strategy if results else backend.strategy
        return CountResult(
            total + sum(r.count for r in results),
            model,
            f"messages+{strategy}",
            backend.encoding_name,
            exact,
            bool(results) and all(r.cached for r in results),
            backend.typical_error,
        )

    async def acount(self, model: str, text: str, *, inline_max_chars: int = 16_384) -> CountResult:
        """`count` for an event loop, which it never blocks on the network.

        A lookup in the shared L3 (long texts) is awaited on the loop (`TieredCache.alookup`);
        an online count and the first build of a model's backend (`aprepare`) run in a worker
        thread. L1 and L2 lookups and encoding run on the calling thread for texts up to
        ``inline_max_chars`` characters (about 1 ms for 16k), in a worker thread beyond. Keeping
        the work on one thread is cheaper: a hop to a worker thread costs about 150 us of CPU,
        and tiktoken's regex is fastest on the first thread that used it (see `aprepare`).
        """
        if not isinstance(text, str):
            raise TypeError(f"text must be a str, got {type(text).__name__}")
        if len(text) > inline_max_chars:
            return await asyncio.to_thread(self.count, model, text)
        info, backend = await self.aprepare(model)
        if self.online is not None and self.online.usable(info.online):
            return await asyncio.to_thread(self.count, model, text)
        cache = self.cache
        if cache is None:
            return _result(model, backend, backend.count_one(text), cached=False)
        n, key = await cache.alookup(backend.namespace, text)
        return self._finish(model, backend, text, n, key)

    async def aprepare(self, model: str) -> tuple[ModelInfo, Backend]:
        """Resolve ``model`` and build its backend for an event loop: the build (loading a
        vocabulary, about 0.5 s of CPU) runs in a worker thread, then one tiny encode runs on
        the loop's thread. That makes the loop's thread the owner of the tokenizer's regex
        cache: tiktoken's regex gives the first thread that searches with it a lock-free cache
        and every other thread a shared, locked one, which made each encode on the loop 15% (one
        process) to 50% (two service workers on 2 cores) slower when a worker thread came first.
        """
        found = self._models.get(model)
        if found is None:
            found = await asyncio.to_thread(self._lookup, model)
            found[1].count_one("warm up")
        return found

    async def acount_batch(self, model: str, texts: Sequence[str]) -> list[CountResult]:
        """`count_batch` in a worker thread."""
        return await asyncio.to_thread(self.count_batch, model, texts)

    async def acount_messages(
        self, model: str, messages: Sequence[Mapping[str, Any]]
    ) -> CountResult:
        """`count_messages` in a worker thread."""
        return await asyncio.to_thread(self.count_messages, model, messages)

    def models(self) -> list[dict[str, object]]:
        """Known model ids / patterns with family, encoding, exactness and measured error."""
        return self.registry.models()

    def stats(self) -> dict[str, Any]:
        """Cache statistics per tier and online counter calls/failures."""
        return {
            "cache": self.cache.stats() if self.cache is not None else {},
            "online": self.online.stats() if self.online is not None else {},
        }

    async def aclose(self) -> None:
        """`close` from an event loop that used `acount` (closes its L3 connections too)."""
        if self.cache is not None:
            await self.cache.aclose()
        self.close()

    def close(self) -> None:
        """Close cache connections and online clients."""
        if self.cache is not None:
            self.cache.close()
        if self.online is not None:
            self.online.close()


def _result(model: str, backend: Backend, n: int, cached: bool) -> CountResult:
    return CountResult(
        n, model, backend.strategy, backend.encoding_name, backend.exact, cached,
        backend.typical_error,
    )  # fmt: skip


def _message_texts(index: int, key: str, value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if key == "content" and isinstance(value, list):
        out = []
        for part in value:
            if (
                isinstance(part, Mapping)
                and part.get("type") == "text"
                and isinstance(part.get("text"), str)
            ):
                out.append(part["text"])
            else:
                raise ValueError(
                    f"message {index}: only text content parts ({{'type': 'text', 'text': ...}}) "
                    f"can be counted offline, got {part!r}"
                )
        return out
    raise ValueError(f"message {index}: field {key!r} must be a string, got {type(value).__name__}")


__all__ = ["CountResult", "TokenCounter"]
