"""Model id -> counting strategy.

* OpenAI models resolve through tiktoken's own tables (``tiktoken.model.MODEL_TO_ENCODING`` for
  exact names, ``MODEL_PREFIX_TO_ENCODING`` for prefixes), so gpt-4o, gpt-4.1, gpt-5 and the o-series
  are ``o200k_base``, gpt-4 and gpt-3.5 ``cl100k_base``, older models p50k/r50k: exact, offline.
* Hugging Face model ids resolve through a configured map ``{model id: local tokenizer dir}``
  (a dict, a YAML/JSON file, or the ``POLYTOK_HF_TOKENIZERS`` environment variable holding JSON):
  exact. A configured directory that does not exist is an error naming it; nothing is downloaded.
* Anthropic, Gemini, Bedrock, vLLM-served and unknown models get the script-aware approximation
  (`polytok.count.approx`) against a proxy tokenizer per family (`FAMILY_TARGETS`), with
  ``exact=False`` and the measured error.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import tiktoken.model

from polytok.count.approx import default_calibration

HF_ENV = "POLYTOK_HF_TOKENIZERS"

# Encodings whose ordinary-text ranks and split pattern equal an offline one (they only add
# special tokens), so counts of plain text are identical: tiktoken_ext/openai_public.py.
ENCODING_ALIASES: dict[str, str] = {"o200k_harmony": "o200k_base", "p50k_edit": "p50k_base"}

# family -> (proxy tokenizer the approximation is calibrated against, why that proxy)
FAMILY_TARGETS: dict[str, tuple[str, str]] = {
    "anthropic": ("cl100k_base", "Claude's tokenizer is not public; a 100k byte-level BPE"),
    "gemini": ("o200k_base", "Gemini's 256k multilingual vocabulary is closest to o200k's"),
    "bedrock-llama2": ("llama2", "Llama 2 / Mistral SentencePiece models on Bedrock"),
    "bedrock": ("cl100k_base", "other Bedrock models (Titan, Nova, Cohere, Llama 3 ...)"),
    "vllm": ("cl100k_base", "open-weight models; Llama 3 extends cl100k's vocabulary"),
    "unknown": ("cl100k_base", "no information about the model"),
}
FAMILIES: tuple[str, ...] = (
    "openai",
    "huggingface",
    "anthropic",
    "gemini",
    "bedrock",
    "vllm",
    "unknown",
)


def families_by_target() -> dict[str, list[str]]:
    """``{proxy tokenizer: [approximated families calibrated against it]}`` (from
    `FAMILY_TARGETS`; ``bedrock-llama2`` means Bedrock's Mistral and Llama 2 models)."""
    out: dict[str, list[str]] = {}
    for family, (target, _) in FAMILY_TARGETS.items():
        out.setdefault(target, []).append(family)
    return out


_BEDROCK = re.compile(
    r"^(?:(?:us|eu|apac|global|us-gov)\.)?(anthropic|amazon|meta|mistral|cohere|ai21|deepseek|writer|qwen)\."
)
_ANTHROPIC = re.compile(r"^(?:anthropic/)?claude")
_GEMINI = re.compile(r"^(?:models/|google/|vertex_ai/)?gemini")


class UnknownModelError(KeyError):
    """A model id no family claims (raised only when unknown models are not allowed)."""

    def __str__(self) -> str:
        return str(self.args[0])


@dataclass(frozen=True)
class ModelInfo:
    """How a model id is counted.

    Attributes:
        model: the id as given.
        family: one of `FAMILIES`.
        strategy: ``"tiktoken"``, ``"hf"`` or ``"approx-script"``.
        encoding: tiktoken encoding name, HF directory, or ``approx:<proxy>``.
        exact: the count equals the model's tokenizer's.
        typical_error: mean relative error of the strategy (0 for exact ones).
        error_bound: declared 95th-percentile relative error (0 for exact ones).
        online: ``"anthropic"``, ``"gemini"`` or ``"vllm"`` when an online counter may replace the
            approximation (only if configured and installed, see `polytok.count.online`).
    """

    model: str
    family: str
    strategy: str
    encoding: str
    exact: bool
    typical_error: float = 0.0
    error_bound: float = 0.0
    online: str | None = None


def load_hf_map(source: Mapping[str, str] | str | os.PathLike | None = None) -> dict[str, str]:
    """The HF model id -> local directory map: ``POLYTOK_HF_TOKENIZERS`` (JSON) overridden by
    ``source`` (a dict, or a YAML/JSON file path).

    Raises:
        ValueError: the environment variable or the file is not a JSON/YAML mapping of strings.
        FileNotFoundError: ``source`` names a missing file.
    """
    out: dict[str, str] = {}
    env = os.environ.get(HF_ENV)
    if env:
        try:
            data = json.loads(env)
        except json.JSONDecodeError as err:
            raise ValueError(
                f'{HF_ENV} must be JSON like \'{{"org/model": "/dir"}}\': {err}'
            ) from err
        out.update(_check_map(data, HF_ENV))
    if isinstance(source, Mapping):
        out.update(_check_map(dict(source), "hf_tokenizers"))
    elif source is not None:
        import yaml

        path = Path(source)
        if not path.is_file():
            raise FileNotFoundError(f"HF tokenizer map file {str(path)!r} does not exist")
        try:
            data = yaml.safe_load(path.read_text("utf-8")) or {}
        except (yaml.YAMLError, UnicodeDecodeError) as err:
            raise ValueError(
                f"HF tokenizer map {str(path)!r} is not valid YAML/JSON text ({err}); write "
                "lines like 'org/model: /path/to/tokenizer_dir'"
            ) from err
        out.update(_check_map(data, str(path)))
    return out


def _check_map(data: object, where: str) -> dict[str, str]:
    if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
        raise ValueError(
            f"{where} must map model ids to local tokenizer directories (strings), got {data!r}"
        )
    return {str(k): v for k, v in data.items()}


def openai_encoding(model: str) -> str | None:
    """tiktoken's encoding name for an OpenAI model id (exact name first, then prefixes)."""
    name = model.removeprefix("openai/")
    if name in tiktoken.model.MODEL_TO_ENCODING:
        return tiktoken.model.MODEL_TO_ENCODING[name]
    for prefix, encoding in tiktoken.model.MODEL_PREFIX_TO_ENCODING.items():
        if name.startswith(prefix):
            return encoding
    return None


class ModelRegistry:
    """Resolves model ids (see the module docstring).

    Args:
        hf_tokenizers: extra HF id -> directory entries (dict or YAML/JSON path); the
            ``POLYTOK_HF_TOKENIZERS`` environment variable is read too.
        vllm_models: model ids served by a vLLM endpoint (besides any ``vllm/...`` id).
    """

    def __init__(
        self,
        hf_tokenizers: Mapping[str, str] | str | os.PathLike | None = None,
        vllm_models: tuple[str, ...] | list[str] = (),
    ) -> None:
        self.hf_tokenizers = load_hf_map(hf_tokenizers)
        self.vllm_models = set(vllm_models)
        self._cache: dict[str, ModelInfo] = {}

    def family_of(self, model: str) -> str:
        """The family a model id belongs to (``"unknown"`` when none claims it)."""
        if model in self.hf_tokenizers:
            return "huggingface"
        if openai_encoding(model) is not None:
            return "openai"
        if model in self.vllm_models or model.startswith("vllm/"):
            return "vllm"
        if _BEDROCK.match(model):
            return "bedrock"
        if _ANTHROPIC.match(model):
            return "anthropic"
        if _GEMINI.match(model):
            return "gemini"
        return "unknown"

    def resolve(self, model: str, *, allow_unknown: bool = True) -> ModelInfo:
        """The `ModelInfo` of ``model`` (memoised).

        Raises:
            ValueError: ``model`` is empty or not a string.
            UnknownModelError: no family claims ``model`` and ``allow_unknown`` is false (the
                message lists the families and examples).
        """
        info = self._cache.get(model)
        if info is None:
            if not isinstance(model, str) or not model.strip():
                raise ValueError(f"model must be a non-empty string, got {model!r}")
            info = self._resolve(model)
            if len(self._cache) >= 4096:  # ids may come from service requests: stay bounded
                self._cache.clear()
            self._cache[model] = info
        if info.family == "unknown" and not allow_unknown:
            raise UnknownModelError(
                f"unknown model {model!r}; known families: {', '.join(FAMILIES[:-1])} "
                "(e.g. gpt-4o, claude-sonnet-4-5, gemini-2.5-pro, anthropic.claude-3-haiku-20240307-v1:0, "
                "vllm/<name>, or an HF id mapped in POLYTOK_HF_TOKENIZERS)"
            )
        return info

    def _resolve(self, model: str) -> ModelInfo:
        family = self.family_of(model)
        if family == "huggingface":
            return ModelInfo(model, family, "hf", self.hf_tokenizers[model], exact=True)
        if family == "openai":
            encoding = openai_encoding(model)
            assert encoding is not None
            return ModelInfo(model, family, "tiktoken", encoding, exact=True)
        key = family
        if family == "bedrock":
            provider = _BEDROCK.match(model).group(1)  # type: ignore[union-attr]
            if provider == "anthropic":
                key = "anthropic"
            elif provider == "mistral" or (provider == "meta" and "llama2" in model):
                key = "bedrock-llama2"
        target = FAMILY_TARGETS[key][0]
        cal = default_calibration().get(target)
        online = family if family in ("anthropic", "gemini", "vllm") else None
        return ModelInfo(
            model,
            family,
            "approx-script",
            f"approx:{target}",
            exact=False,
            typical_error=round(cal.mean_abs_rel_error, 4),
            error_bound=cal.error_bound,
            online=online,
        )

    def models(self) -> list[dict[str, object]]:
        """Known model ids and families: tiktoken's OpenAI names and prefixes, configured HF ids,
        and one line per approximated family (with its proxy and measured error)."""
        out: list[dict[str, object]] = []
        for name, encoding in sorted(tiktoken.model.MODEL_TO_ENCODING.items()):
            out.append({"model": name, "family": "openai", "encoding": encoding, "exact": True})
        for prefix, encoding in sorted(tiktoken.model.MODEL_PREFIX_TO_ENCODING.items()):
            out.append(
                {"model": prefix + "*", "family": "openai", "encoding": encoding, "exact": True}
            )
        for name, directory in sorted(self.hf_tokenizers.items()):
            out.append(
                {"model": name, "family": "huggingface", "encoding": directory, "exact": True}
            )
        table = default_calibration()
        for key, (target, why) in FAMILY_TARGETS.items():
            cal = table.get(target)
            out.append(
                {
                    "model": {"anthropic": "claude-*", "gemini": "gemini-*", "vllm": "vllm/*"}.get(
                        key, f"<{key}>"
                    ),
                    "family": key,
                    "encoding": f"approx:{target}",
                    "exact": False,
                    "typical_error": round(cal.mean_abs_rel_error, 4),
                    "error_bound": cal.error_bound,
                    "proxy_reason": why,
                }
            )
        return out
