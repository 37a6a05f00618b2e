"""Stable hashing and three consistent-hashing schemes.

- `stable_hash64`: 64-bit BLAKE2b (RFC 7693) of the UTF-8 key. Unlike Python's ``hash()`` it is not
  salted per process (``PYTHONHASHSEED``), so bucket choices survive restarts and machines.
- `jump_hash`: jump consistent hash (J. Lamping and E. Veach, "A Fast, Minimal Memory, Consistent
  Hash Algorithm", arXiv:1406.2294, 2014). Growing from ``n`` to ``n+1`` buckets moves exactly the
  keys that land in the new bucket, an expected ``1/(n+1)`` of them.
- `rendezvous_rank`: highest-random-weight hashing (D. Thaler and C. Ravishankar, "Using
  name-based mappings to increase hit rates", IEEE/ACM ToN 6(1), 1998). The full ranking of nodes
  is an ordered fallback list for a key.
- `HashRing`: consistent hashing on a ring with virtual nodes (D. Karger et al., "Consistent
  hashing and random trees", STOC 1997). With ``v`` virtual nodes per node a node's share has a
  relative standard deviation of about ``1/sqrt(v)``.
"""

from __future__ import annotations

import bisect
import hashlib
from collections.abc import Iterable, Sequence

_MASK64 = (1 << 64) - 1


def stable_hash64(key: str | bytes, salt: str = "") -> int:
    """Unsigned 64-bit BLAKE2b hash of ``key`` (str is UTF-8 encoded), optionally personalised.

    ``salt`` namespaces the hash (BLAKE2b ``person`` parameter, at most 16 bytes), e.g. to make a
    ring's node positions independent from key positions.
    """
    data = key.encode("utf-8") if isinstance(key, str) else bytes(key)
    person = salt.encode("utf-8")
    if len(person) > 16:
        raise ValueError(f"salt must be at most 16 bytes, got {salt!r}")
    return int.from_bytes(hashlib.blake2b(data, digest_size=8, person=person).digest(), "little")


def jump_hash(key: int, num_buckets: int) -> int:
    """Bucket in ``[0, num_buckets)`` for a 64-bit integer key (Lamping & Veach 2014, Fig. 1)."""
    if num_buckets < 1:
        raise ValueError(f"num_buckets must be >= 1, got {num_buckets}")
    key &= _MASK64
    b, j = -1, 0
    while j < num_buckets:
        b = j
        key = (key * 2862933555777941757 + 1) & _MASK64  # 64-bit linear congruential step
        j = int((b + 1) * (float(1 << 31) / float((key >> 33) + 1)))
    return b


def rendezvous_rank(key: str, nodes: Sequence[str]) -> list[str]:
    """Nodes ordered by descending weight ``h(node, key)``: the first is the owner, the rest the
    fallback order. Removing a node only moves the keys it owned (to their next node)."""
    if not nodes:
        raise ValueError("rendezvous_rank needs at least one node")
    weights = [(stable_hash64(f"{node}\x00{key}", salt="hrw"), node) for node in nodes]
    return [node for _, node in sorted(weights, reverse=True)]


def rendezvous_hash(key: str, nodes: Sequence[str]) -> str:
    """The highest-random-weight node for ``key``."""
    if not nodes:
        raise ValueError("rendezvous_hash needs at least one node")
    return max(nodes, key=lambda node: stable_hash64(f"{node}\x00{key}", salt="hrw"))


class HashRing:
    """Consistent-hash ring with ``virtual_nodes`` points per node.

    Args:
        nodes: initial node names.
        virtual_nodes: points per node on the 64-bit ring (more points, better balance).
    """

    def __init__(self, nodes: Iterable[str] = (), virtual_nodes: int = 256) -> None:
        if virtual_nodes < 1:
            raise ValueError(f"virtual_nodes must be >= 1, got {virtual_nodes}")
        self.virtual_nodes = virtual_nodes
        self._points: list[int] = []
        self._owners: list[str] = []
        self._nodes: set[str] = set()
        for node in nodes:
            self.add_node(node)

    @property
    def nodes(self) -> list[str]:
        return sorted(self._nodes)

    def add_node(self, node: str) -> None:
        if node in self._nodes:
            raise ValueError(f"node {node!r} is already on the ring")
        self._nodes.add(node)
        for replica in range(self.virtual_nodes):
            point = stable_hash64(f"{node}#{replica}", salt="ring")
            at = bisect.bisect_left(self._points, point)
            self._points.insert(at, point)
            self._owners.insert(at, node)

    def remove_node(self, node: str) -> None:
        if node not in self._nodes:
            raise ValueError(f"node {node!r} is not on the ring; nodes: {self.nodes}")
        self._nodes.discard(node)
        keep = [i for i, owner in enumerate(self._owners) if owner != node]
        self._points = [self._points[i] for i in keep]
        self._owners = [self._owners[i] for i in keep]

    def get_node(self, key: str) -> str:
        """The first node clockwise from the key's position."""
        if not self._points:
            raise ValueError("the ring has no nodes; add_node first")
        at = bisect.bisect_right(self._points, stable_hash64(key))
        return self._owners[at % len(self._points)]
