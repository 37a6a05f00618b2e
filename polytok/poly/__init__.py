"""PolyTokenizer: versioned multi-modal token embeddings with Gold-code spreading and
consistent-hash fallback. See ``docs/poly.md``.

Importing this package does not import Lightning (fine-tuning imports it on first use).
"""

from polytok.poly.fallback import LEVELS, FallbackStats, Resolution
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

__all__ = [
    "FORMAT_VERSION",
    "LEVELS",
    "PREFERRED_PAIRS",
    "FallbackStats",
    "GoldSpreading",
    "GoldSpreadingConfig",
    "HashRing",
    "Lookup",
    "MetaEmbeddingStore",
    "PolyTokenizer",
    "PolyTokenizerConfig",
    "Resolution",
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
