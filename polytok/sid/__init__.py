"""Semantic IDs: torch k-means, RQ-KMeans, RQ-VAE, collision-free unique IDs.

Importing this package does not import lightning; `RQVAE.fit` does, inside the method (it trains
with `polytok.systems.rqvae.RQVAESystem`: the one declared exception to the layers).
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
