"""Semantic IDs: torch k-means, RQ-KMeans, RQ-VAE, collision-free unique IDs.

Nothing here imports lightning: `RQVAE.fit` trains in plain PyTorch (`polytok.sid.training`); the
Lightning `polytok.systems.rqvae.RQVAESystem` reuses that loop's parts.
"""

from polytok.nn.kmeans import KMeansResult
from polytok.sid.engine import SemanticIdEngine, item_keys
from polytok.sid.errors import NotFittedError, ShapeMismatchError
from polytok.sid.formats import codes_to_ids
from polytok.sid.metrics import code_metrics, fit_metrics
from polytok.sid.rqkmeans import RQKMeans, RQKMeansConfig
from polytok.sid.rqvae import RQVAE, RQVAEConfig, RQVAEOutput
from polytok.sid.unique import (
    CollisionStore,
    InMemoryCollisionStore,
    SQLiteCollisionStore,
    UniqueIdResolver,
)

__all__ = [
    "RQVAE",
    "CollisionStore",
    "InMemoryCollisionStore",
    "KMeansResult",
    "NotFittedError",
    "RQKMeans",
    "RQKMeansConfig",
    "RQVAEConfig",
    "RQVAEOutput",
    "SQLiteCollisionStore",
    "SemanticIdEngine",
    "ShapeMismatchError",
    "UniqueIdResolver",
    "code_metrics",
    "codes_to_ids",
    "fit_metrics",
    "item_keys",
]
