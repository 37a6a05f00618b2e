"""Optional online token counting: Anthropic, Gemini, a vLLM ``/tokenize`` endpoint.

An online counter is used only when it is configured (API key or endpoint URL) *and* its client
is installed (``anthropic``, ``google-genai``; vLLM needs only httpx). Every call has a timeout;
any failure raises `OnlineCountError`, after which `polytok.count.counter.TokenCounter` falls back
to the offline approximation and leaves that provider alone for ``retry_after_s``.

* Anthropic: ``client.messages.count_tokens(model, messages=[{"role": "user", "content": text}])``
  counts the text as one user message (so it includes Anthropic's message framing).
* Gemini: ``client.models.count_tokens(model=..., contents=text).total_tokens``.
* vLLM: ``POST {url}/tokenize {"model", "prompt", "add_special_tokens": false}`` -> ``{"count"}``.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any

import httpx

logger = logging.getLogger(__name__)


class OnlineCountError(RuntimeError):
    """An online counter failed (network, timeout, HTTP status, bad payload)."""


@dataclass
class OnlineConfig:
    """Which online counters may run.

    Attributes:
        anthropic_api_key: enables Anthropic counting (with the ``anthropic`` package installed).
        gemini_api_key: enables Gemini counting (with ``google-genai`` installed).
        vllm_url: base URL of a vLLM server (``http://127.0.0.1:8000``) enabling ``/tokenize``.
        vllm_models: ids served there (``vllm/<name>`` ids always go there, prefix stripped).
        timeout_s: per-request timeout.
        retry_after_s: after a failure, skip that provider for this long.
    """

    anthropic_api_key: str | None = None
    gemini_api_key: str | None = None
    vllm_url: str | None = None
    vllm_models: list[str] = field(default_factory=list)
    timeout_s: float = 2.0
    retry_after_s: float = 30.0

    def __post_init__(self) -> None:
        if self.timeout_s <= 0 or self.retry_after_s < 0:
            raise ValueError(
                f"timeout_s must be > 0 and retry_after_s >= 0, got {self.timeout_s} and "
                f"{self.retry_after_s}"
            )

    @classmethod
    def from_env(cls) -> OnlineConfig:
        """Read ``ANTHROPIC_API_KEY``, ``GEMINI_API_KEY`` (or ``GOOGLE_API_KEY``),
        ``POLYTOK_VLLM_URL`` and ``POLYTOK_VLLM_MODELS`` (comma-separated)."""
        models = os.environ.get("POLYTOK_VLLM_MODELS", "")
        return cls(
            anthropic_api_key=os.environ.get("ANTHROPIC_API_KEY") or None,
            gemini_api_key=os.environ.get("GEMINI_API_KEY") or os.environ.get("GOOGLE_API_KEY"),
            vllm_url=os.environ.get("POLYTOK_VLLM_URL") or None,
            vllm_models=[m.strip() for m in models.split(",") if m.strip()],
        )


def _installed(module: str) -> bool:
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):
        return False


class OnlineCounters:
    """The configured, installed online counters, with failure tracking.

    Args:
        config: keys and endpoints.
    """

    def __init__(self, config: OnlineConfig) -> None:
        self.config = config
        self._clients: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._skip_until: dict[str, float] = {}
        self.calls: dict[str, int] = {}
        self.failures: dict[str, int] = {}
        self.available = {
            "anthropic": bool(config.anthropic_api_key) and _installed("anthropic"),
            "gemini": bool(config.gemini_api_key) and _installed("google.genai"),
            "vllm": bool(config.vllm_url),
        }

    def usable(self, provider: str | None) -> bool:
        """Configured, installed and not inside a post-failure pause."""
        if provider is None or not self.available.get(provider, False):
            return False
        return time.monotonic() >= self._skip_until.get(provider, 0.0)

    def count(self, provider: str, model: str, text: str) -> int:
        """Count ``text`` for ``model`` online.

        Raises:
            OnlineCountError: any failure (the provider is then paused for ``retry_after_s``).
        """
        with self._lock:
            self.calls[provider] = self.calls.get(provider, 0) + 1
        try:
            return int(getattr(self, f"_count_{provider}")(model, text))
        except Exception as err:  # any client, network or payload failure means "fall back"
            with self._lock:
                first = self.failures.get(provider, 0) == 0
                self.failures[provider] = self.failures.get(provider, 0) + 1
                self._skip_until[provider] = time.monotonic() + self.config.retry_after_s
            log = logger.warning if first else logger.debug
            log(
                "online %s count for %r failed (%s: %s); using the offline approximation",
                provider,
                model,
                type(err).__name__,
                err,
            )
            raise OnlineCountError(f"{provider}: {type(err).__name__}: {err}") from err

    def _client(self, provider: str) -> Any:
        with self._lock:
            if provider not in self._clients:
                timeout = self.config.timeout_s
                if provider == "anthropic":
                    import anthropic

                    self._clients[provider] = anthropic.Anthropic(
                        api_key=self.config.anthropic_api_key, timeout=timeout, max_retries=0
                    )
                elif provider == "gemini":
                    from google import genai
                    from google.genai import types

                    self._clients[provider] = genai.Client(
                        api_key=self.config.gemini_api_key,
                        http_options=types.HttpOptions(timeout=int(timeout * 1000)),
                    )
                else:
                    self._clients[provider] = httpx.Client(
                        base_url=str(self.config.vllm_url), timeout=timeout
                    )
            return self._clients[provider]

    def _count_anthropic(self, model: str, text: str) -> int:
        result = self._client("anthropic").messages.count_tokens(
            model=model.removeprefix("anthropic/"), messages=[{"role": "user", "content": text}]
        )
        return result.input_tokens

    def _count_gemini(self, model: str, text: str) -> int:
        name = model.split("/", 1)[1] if model.startswith(("google/", "vertex_ai/")) else model
        return self._client("gemini").models.count_tokens(model=name, contents=text).total_tokens

    def _count_vllm(self, model: str, text: str) -> int:
        payload = {
            "model": model.removeprefix("vllm/"),
            "prompt": text,
            "add_special_tokens": False,
        }
        response = self._client("vllm").post("/tokenize", json=payload)
        response.raise_for_status()
        data = response.json()
        if "count" in data:
            return int(data["count"])
        return len(data["tokens"])

    def stats(self) -> dict[str, dict[str, Any]]:
        return {
            p: {"available": ok, "calls": self.calls.get(p, 0), "failures": self.failures.get(p, 0)}
            for p, ok in self.available.items()
        }

    def close(self) -> None:
        client = self._clients.get("vllm")
        if client is not None:
            client.close()
