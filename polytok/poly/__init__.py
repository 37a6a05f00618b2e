"""PolyTokenizer: versioned multi-modal token embeddings with Gold-code spreading and
consistent-hash fallback. See ``docs/poly.md``.

`PolyTokenizer` is an ``nn.Module`` over four owned parts: `PolyEmbedding` (codes, tables, base
matrices), `VersionTable`, `FallbackChain` and `TextCodec`. This package never imports Lightning:
fine-tuning runs in `polytok.systems.poly_finetune`.
"""

from polytok.poly.embedding import PolyEmbedding
from polytok.poly.fallback import LEVELS, FallbackChain, FallbackStats, Resolution
from polytok.poly.gold import (
    PREFERRED_PAIRS,
    correlation_bound,
    gold_family,
    gps_ca_code,
    m_sequence,
    periodic_correlation,
)
from polytok.poly.hashing import (
    HashRing,
    jump_hash,
    rendezvous_hash,
    rendezvous_rank,
    stable_hash64,
)
from polytok.poly.lookup import Lookup
from polytok.poly.modalities import add_semantic_ids, semantic_id_token
from polytok.poly.registry import PolyTokenizer, PolyTokenizerConfig
from polytok.poly.serialization import FORMAT_VERSION
from polytok.poly.spreading import GoldSpreading, GoldSpreadingConfig, cross_modality_interference
from polytok.poly.store import MetaEmbeddingStore
from polytok.poly.text import TextCodec
from polytok.poly.versions import VersionTable

__all__ = [
    "FORMAT_VERSION",
    "LEVELS",
    "PREFERRED_PAIRS",
    "FallbackChain",
    "FallbackStats",
    "GoldSpreading",
    "GoldSpreadingConfig",
    "HashRing",
    "Lookup",
    "MetaEmbeddingStore",
    "PolyEmbedding",
    "PolyTokenizer",
    "PolyTokenizerConfig",
    "Resolution",
    "TextCodec",
    "VersionTable",
    "add_semantic_ids",
    "correlation_bound",
    "cross_modality_interference",
    "gold_family",
    "gps_ca_code",
    "jump_hash",
    "m_sequence",
    "periodic_correlation",
    "rendezvous_hash",
    "rendezvous_rank",
    "semantic_id_token",
    "stable_hash64",
]
