"""`TierStats`: hit, miss, error and latency counters of one cache tier."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class TierStats:
    """Counters of one tier (thread-safe through the tier's lock or the GIL's atomic adds)."""

    hits: int = 0
    misses: int = 0
    errors: int = 0
    writes: int = 0
    get_seconds: float = field(default=0.0, repr=False)

    def as_dict(self, size: int | None) -> dict[str, Any]:
        lookups = self.hits + self.misses
        return {
            "hits": self.hits,
            "misses": self.misses,
            "hit_rate": self.hits / lookups if lookups else 0.0,
            "size": size,
            "errors": self.errors,
            "writes": self.writes,
            "mean_latency_us": 1e6 * self.get_seconds / lookups if lookups else 0.0,
        }
