"""Every built-in type, registered: importing this module imports each module that registers a
tokenizer spec type, a tokenizer builder or a model where it is defined.

The registries themselves (`polytok.tokenizers.base.SPEC_TYPES`, `polytok.tokenizers.factory.
BUILDABLE`, `polytok.models.MODELS`) name no module; code that may meet any type (training
systems, `polytok.io.from_pretrained`, the public ``polytok.*`` loaders) imports this module first.
"""

from __future__ import annotations

import polytok.glyph.adapted_lm  # noqa: F401  model "glyph_adapt"
import polytok.glyph.adapter  # noqa: F401  model "glyph_gpt2"
import polytok.glyph.hybrid  # noqa: F401  tokenizer "hybrid" (spec type and builder)
import polytok.models  # noqa: F401  model "gpt2"
import polytok.models.hf_causal  # noqa: F401  model "hf_causal_lm"
import polytok.reso.model  # noqa: F401  model "resoformer"
import polytok.reso.primes  # noqa: F401  tokenizer "prime" (spec type and builder)
import polytok.tokenizers  # noqa: F401  tokenizers char, bpe, hf, hf_model, tiktoken
from polytok.models.registry import MODELS
from polytok.tokenizers.base import SPEC_TYPES
from polytok.tokenizers.factory import BUILDABLE

__all__ = ["BUILDABLE", "MODELS", "SPEC_TYPES"]
