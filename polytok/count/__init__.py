"""Token counting for every LLM family: exact offline where possible, declared approximations
elsewhere, a three-tier cache (memory, SQLite, Redis) and REST routes (`polytok.count.routes`, served by `polytok.service`).

Importing this package imports neither torch, lightning, hydra nor FastAPI.
"""

from polytok.count.cache import CacheConfig, TieredCache
from polytok.count.counter import CountResult, TokenCounter
from polytok.count.online import OnlineConfig
from polytok.count.registry import FAMILIES, ModelInfo, ModelRegistry, UnknownModelError

__all__ = [
    "FAMILIES",
    "CacheConfig",
    "CountResult",
    "ModelInfo",
    "ModelRegistry",
    "OnlineConfig",
    "TieredCache",
    "TokenCounter",
    "UnknownModelError",
]
