"""The glyph tape: glyphs, phrase families and tape versions in one SQLite file.

Layout of token ids for a tape over a base vocabulary of size ``B``: base ids ``[0, B)``, the two
marker tokens ``<GLYPH>`` = ``B`` and ``</GLYPH>`` = ``B + 1``, then entry ``e`` (a glyph or a
family; one shared counter) at ``B + 2 + e``. Entries are never renumbered, so ids stay stable
when versions are added. Version ``v`` resolves to its own glyphs plus, walking up its parent
chain, every earlier glyph it lacks (fallback); statistics come from the newest version that has
the glyph. All writes run in one transaction.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 1
FORMAT = "polytok-glyph-tape"
MARKERS = ("<GLYPH>", "</GLYPH>")

_SCHEMA = """
CREATE TABLE meta(key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE versions(
    version INTEGER PRIMARY KEY, parent INTEGER REFERENCES versions(version),
    created TEXT NOT NULL, note TEXT NOT NULL DEFAULT '');
CREATE TABLE entries(
    entry_id INTEGER PRIMARY KEY, kind TEXT NOT NULL CHECK(kind IN ('glyph', 'family')),
    address TEXT NOT NULL UNIQUE);
CREATE TABLE glyphs(
    entry_id INTEGER PRIMARY KEY REFERENCES entries(entry_id),
    base_ids BLOB NOT NULL UNIQUE, phrase TEXT NOT NULL);
CREATE TABLE version_glyphs(
    version INTEGER NOT NULL REFERENCES versions(version),
    entry_id INTEGER NOT NULL REFERENCES glyphs(entry_id),
    rank INTEGER NOT NULL, count INTEGER NOT NULL, saved INTEGER NOT NULL,
    PRIMARY KEY(version, entry_id));
CREATE TABLE families(
    entry_id INTEGER PRIMARY KEY REFERENCES entries(entry_id),
    version INTEGER NOT NULL REFERENCES versions(version),
    representative TEXT NOT NULL, centroid BLOB NOT NULL, size INTEGER NOT NULL);
"""


class TapeError(ValueError):
    """A tape file that is missing pieces, corrupt, or of an unsupported schema."""


@dataclass(frozen=True)
class Glyph:
    """One lossless glyph: ``token_id`` decodes to exactly ``base_ids``."""

    token_id: int
    base_ids: tuple[int, ...]
    phrase: str  # decoded base ids (may hold U+FFFD where a glyph splits a UTF-8 character)
    address: str
    rank: int  # merge order in its version
    count: int  # occurrences in the training corpus after mining
    saved: int  # tokens saved on the training corpus: count * (len(base_ids) - 1)


@dataclass(frozen=True)
class Family:
    """One lossy sentence family: similar sentences decode to ``representative``."""

    token_id: int
    address: str
    representative: str
    centroid: np.ndarray  # (D,) unit vector in the tape's embedder space
    size: int


def _pack(ids: Sequence[int]) -> bytes:
    return np.asarray(ids, dtype="<u4").tobytes()


def _unpack(blob: bytes, where: str = "a glyph") -> tuple[int, ...]:
    if not isinstance(blob, bytes) or len(blob) % 4:
        raise TapeError(
            f"{where} is corrupt: base_ids must be a blob of 4-byte ids, got "
            f"{len(blob) if isinstance(blob, bytes) else type(blob).__name__} bytes; rebuild the "
            "tape with `polytok tape build`"
        )
    return tuple(np.frombuffer(blob, dtype="<u4").tolist())


def resolve_chain(parents: dict[int, int | None], version: int, where: str) -> list[int]:
    """``version`` and its ancestors, newest first, refusing cycles and dangling parents.

    Args:
        parents: version -> parent (``None`` for a root).
        version: where to start (must be a key of ``parents``).
        where: the tape, for messages.

    Raises:
        TapeError: a parent that does not exist, or parents that form a cycle.
    """
    out: list[int] = []
    seen: set[int] = set()
    current: int | None = version
    while current is not None:
        if current in seen:
            loop = " -> ".join(str(v) for v in [*out[out.index(current) :], current])
            raise TapeError(
                f"{where} is corrupt: version parents form a cycle ({loop}); rebuild the tape"
            )
        if current not in parents:
            raise TapeError(
                f"{where} is corrupt: version {out[-1]} names parent {current}, which does not "
                f"exist (versions: {sorted(parents)}); rebuild the tape"
            )
        seen.add(current)
        out.append(current)
        current = parents[current]
    return out


class GlyphTape:
    """An open tape file (read side plus `add_version`). Use `GlyphTape.create` for a new one.

    Raises:
        FileNotFoundError: ``path`` does not exist.
        TapeError: not a SQLite file, not a polytok tape, or an unsupported schema version.
    """

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        if not self.path.is_file():
            raise FileNotFoundError(
                f"glyph tape {str(self.path)!r} does not exist; build one with "
                "`polytok tape build --corpus ... --out tape.db`"
            )
        try:
            self._conn = sqlite3.connect(str(self.path))
            rows = dict(self._conn.execute("SELECT key, value FROM meta").fetchall())
        except sqlite3.DatabaseError as err:
            raise TapeError(
                f"{str(self.path)!r} is not a readable glyph tape ({err}); rebuild it with "
                "`polytok tape build`"
            ) from err
        if rows.get("format") != FORMAT:
            raise TapeError(f"{str(self.path)!r} is not a polytok glyph tape (no format marker)")
        schema = int(rows.get("schema_version", -1))
        if schema != SCHEMA_VERSION:
            raise TapeError(
                f"tape {str(self.path)!r} has schema version {schema}, this polytok reads "
                f"version {SCHEMA_VERSION}; rebuild the tape with this polytok"
            )
        self.meta = rows
        try:
            self.base_tokenizer: str = rows["base_tokenizer"]
            self.base_vocab_size = int(rows["base_vocab_size"])
        except (KeyError, ValueError) as err:
            raise TapeError(
                f"{str(self.path)!r} has corrupt meta rows ({err}); rebuild it"
            ) from err
        parents = self._parents()
        for version in parents:  # refuse a corrupt version graph when the tape is opened
            resolve_chain(parents, version, f"tape {str(self.path)!r}")

    @classmethod
    def create(cls, path: str | Path, base_tokenizer: str, base_vocab_size: int) -> GlyphTape:
        """Create an empty tape at ``path`` (atomically: written to a temp file, then renamed)."""
        path = Path(path)
        if path.exists():
            raise FileExistsError(f"{str(path)!r} exists; remove it or choose another --out")
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".tmp")
        tmp.unlink(missing_ok=True)
        conn = sqlite3.connect(str(tmp))
        with conn:
            conn.executescript(_SCHEMA)
            conn.executemany(
                "INSERT INTO meta VALUES (?, ?)",
                [
                    ("format", FORMAT),
                    ("schema_version", str(SCHEMA_VERSION)),
                    ("base_tokenizer", base_tokenizer),
                    ("base_vocab_size", str(base_vocab_size)),
                    ("created", datetime.now(timezone.utc).isoformat()),
                ],
            )
        conn.close()
        tmp.replace(path)
        return cls(path)

    def close(self) -> None:
        self._conn.close()

    # ids ----------------------------------------------------------------------------------
    @property
    def marker_ids(self) -> tuple[int, int]:
        return self.base_vocab_size, self.base_vocab_size + 1

    def token_id(self, entry_id: int) -> int:
        return self.base_vocab_size + 2 + entry_id

    @property
    def vocab_size(self) -> int:
        """Base vocabulary + 2 markers + every entry ever added (all versions)."""
        (n,) = self._conn.execute("SELECT COALESCE(MAX(entry_id) + 1, 0) FROM entries").fetchone()
        return self.base_vocab_size + 2 + int(n)

    # versions ---------------------------------------------------------------------------
    def versions(self) -> list[tuple[int, int | None, str, str]]:
        """``[(version, parent, created, note)]`` oldest first."""
        return self._conn.execute("SELECT * FROM versions ORDER BY version").fetchall()

    def _parents(self) -> dict[int, int | None]:
        try:
            return {int(v): (None if p is None else int(p)) for v, p, _, _ in self.versions()}
        except (sqlite3.DatabaseError, TypeError, ValueError) as err:
            raise TapeError(
                f"tape {str(self.path)!r} has a corrupt versions table ({err}); rebuild it"
            ) from err

    def note(self, version: int) -> dict:
        """The JSON note recorded with ``version`` (build statistics), ``{}`` when empty.

        Raises:
            TapeError: the note is not a JSON object.
        """
        rows = [n for v, _, _, n in self.versions() if v == version]
        try:
            note = json.loads(rows[0] or "{}") if rows else {}
        except (json.JSONDecodeError, TypeError) as err:
            raise TapeError(
                f"tape {str(self.path)!r}: the note of version {version} is not valid JSON ({err})"
            ) from err
        if not isinstance(note, dict):
            raise TapeError(
                f"tape {str(self.path)!r}: the note of version {version} is not an object"
            )
        return note

    def latest_version(self) -> int:
        rows = self.versions()
        if not rows:
            raise TapeError(f"tape {str(self.path)!r} has no versions; it was never built")
        return rows[-1][0]

    def chain(self, version: int | None = None) -> list[int]:
        """``version`` and its ancestors, newest first (the fallback order)."""
        version = self.latest_version() if version is None else int(version)
        parents = self._parents()
        if version not in parents:
            raise ValueError(
                f"tape {str(self.path)!r} has no version {version}; versions: {sorted(parents)}"
            )
        return resolve_chain(parents, version, f"tape {str(self.path)!r}")

    def glyphs(self, version: int | None = None) -> list[Glyph]:
        """Glyphs of ``version`` (default latest) with fallback to its ancestors, by rank."""
        seen: dict[int, Glyph] = {}
        for depth, v in enumerate(self.chain(version)):
            rows = self._conn.execute(
                "SELECT g.entry_id, g.base_ids, g.phrase, e.address, vg.rank, vg.count, vg.saved "
                "FROM version_glyphs vg JOIN glyphs g USING(entry_id) JOIN entries e "
                "USING(entry_id) WHERE vg.version = ? ORDER BY vg.rank",
                (v,),
            ).fetchall()
            for entry, blob, phrase, address, rank, count, saved in rows:
                if entry not in seen:
                    rank = rank + depth * 1_000_000  # fallback glyphs rank after own glyphs
                    ids = _unpack(blob, f"tape {str(self.path)!r}: glyph entry {entry}")
                    seen[entry] = Glyph(
                        self.token_id(entry), ids, phrase, address, rank, count, saved
                    )
        return sorted(seen.values(), key=lambda g: g.rank)

    def all_expansions(self) -> dict[int, tuple[int, ...]]:
        """Token id -> base ids of every glyph in the tape (decoding accepts all versions)."""
        rows = self._conn.execute("SELECT entry_id, base_ids FROM glyphs").fetchall()
        where = f"tape {str(self.path)!r}: glyph entry"
        return {self.token_id(e): _unpack(b, f"{where} {e}") for e, b in rows}

    def families(self, version: int | None = None) -> list[Family]:
        """Families of ``version`` and its ancestors (fallback), newest version first."""
        out = []
        for v in self.chain(version):
            rows = self._conn.execute(
                "SELECT f.entry_id, e.address, f.representative, f.centroid, f.size FROM families "
                "f JOIN entries e USING(entry_id) WHERE f.version = ? ORDER BY f.entry_id",
                (v,),
            ).fetchall()
            for e, a, r, c, s in rows:
                if not isinstance(c, bytes) or len(c) % 4:
                    raise TapeError(
                        f"tape {str(self.path)!r}: the centroid of family entry {e} is corrupt; "
                        "rebuild the tape"
                    )
                out.append(Family(self.token_id(e), a, r, np.frombuffer(c, dtype="<f4").copy(), s))
        return out

    def all_families(self) -> dict[int, str]:
        """Token id -> representative sentence of every family in the tape."""
        rows = self._conn.execute("SELECT entry_id, representative FROM families").fetchall()
        return {self.token_id(e): r for e, r in rows}

    def addresses(self) -> dict[int, str]:
        """Token id -> address of every entry."""
        rows = self._conn.execute("SELECT entry_id, address FROM entries").fetchall()
        return {self.token_id(e): a for e, a in rows}

    # writing ----------------------------------------------------------------------------
    def add_version(
        self,
        glyphs: Sequence[tuple[tuple[int, ...], str, str, int, int]],
        families: Sequence[tuple[str, str, np.ndarray, int]] = (),
        parent: int | None = None,
        note: str | dict = "",
    ) -> int:
        """Write a new version in one transaction and return its number.

        Args:
            glyphs: ``(base_ids, phrase, address, count, saved)`` in rank order. A phrase the tape
                already has keeps its entry (and token id); its new address is ignored.
            families: ``(address, representative, centroid (D,), size)``.
            parent: the version to fall back to (None: a root version).
            note: free text or a JSON-able dict (build parameters).
        """
        if parent is not None:
            self.chain(parent)  # validates
        note_text = note if isinstance(note, str) else json.dumps(note, sort_keys=True)
        with self._conn:
            cur = self._conn.execute(
                "INSERT INTO versions(parent, created, note) VALUES (?, ?, ?)",
                (parent, datetime.now(timezone.utc).isoformat(), note_text),
            )
            version = int(cur.lastrowid)
            for rank, (base_ids, phrase, address, count, saved) in enumerate(glyphs):
                blob = _pack(base_ids)
                row = self._conn.execute(
                    "SELECT entry_id FROM glyphs WHERE base_ids = ?", (blob,)
                ).fetchone()
                if row is None:
                    entry = self._new_entry("glyph", address)
                    self._conn.execute("INSERT INTO glyphs VALUES (?, ?, ?)", (entry, blob, phrase))
                else:
                    entry = row[0]
                self._conn.execute(
                    "INSERT INTO version_glyphs VALUES (?, ?, ?, ?, ?)",
                    (version, entry, rank, int(count), int(saved)),
                )
            for address, representative, centroid, size in families:
                entry = self._new_entry("family", address)
                self._conn.execute(
                    "INSERT INTO families VALUES (?, ?, ?, ?, ?)",
                    (entry, version, representative, np.asarray(centroid, "<f4").tobytes(), size),
                )
        logger.info("tape %s: version %d with %d glyphs", self.path, version, len(glyphs))
        return version

    def _new_entry(self, kind: str, address: str) -> int:
        cur = self._conn.execute(
            "INSERT INTO entries(kind, address) VALUES (?, ?)", (kind, address)
        )
        return int(cur.lastrowid)

    def __repr__(self) -> str:
        return f"GlyphTape({str(self.path)!r}, base={self.base_tokenizer!r})"
