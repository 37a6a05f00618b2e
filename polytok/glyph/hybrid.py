"""`HybridTokenizer`: a base tokenizer plus a glyph tape, one new id per glyph.

Lossless mode (default): the text is encoded by the base tokenizer once, then every leftmost-
longest run of base ids that is a glyph becomes the glyph's id (`polytok.glyph.matcher`). Decoding
expands every glyph back to its base ids and decodes the bytes once, so
``decode(encode(text)) == text`` for every string, even where a glyph splits a UTF-8 character.

Lossy mode (opt-in): each sentence whose embedding has cosine similarity at least
``similarity_threshold`` with a family centroid of the tape becomes that family's id and decodes
to the family's representative sentence; every lossy encoding reports its fidelity.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from polytok.data.segment import sentence_spans
from polytok.glyph.matcher import GlyphMatcher
from polytok.glyph.tape import MARKERS, GlyphTape
from polytok.tokenizers.base import register_spec_type
from polytok.tokenizers.factory import register_builder

MODES = ("lossless", "lossy")
TAPE_FILE = "tape.db"  # the tape's name inside a saved tokenizer directory
_TEXT_FORM = re.compile(re.escape(MARKERS[0]) + "(.*?)" + re.escape(MARKERS[1]), re.DOTALL)


def tape_content_sha256(tape: GlyphTape, version: int) -> str:
    """sha256 of everything that decides a hybrid tokenizer's ids at ``version``.

    Base tokenizer and vocabulary size, markers, every glyph (id, base ids, address) and family
    (id, representative, address) the version resolves to: two tapes with equal hashes encode
    and decode every text identically; the file path and SQLite page layout do not matter.
    """
    import hashlib
    import json

    content = {
        "base": tape.base_tokenizer,
        "base_vocab_size": tape.base_vocab_size,
        "markers": list(tape.marker_ids),
        "vocab_size": tape.vocab_size,
        "glyphs": [[g.token_id, list(g.base_ids), g.address] for g in tape.glyphs(version)],
        "families": [[f.token_id, f.representative, f.address] for f in tape.families(version)],
        "all_expansions": sorted([k, list(v)] for k, v in tape.all_expansions().items()),
    }
    blob = json.dumps(content, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class GlyphSpan:
    """Where one glyph or family token sits in the ids and in the text."""

    index: int  # position in the id list
    token_id: int
    kind: str  # "glyph" (lossless) or "family" (lossy)
    address: str
    start: int  # character span in the input text (rounded down inside a split character)
    end: int
    text: str  # the input text it stands for
    fidelity: float  # 1.0 for glyphs; cosine similarity to the family centroid for families


@dataclass
class HybridEncoding:
    """Result of `HybridTokenizer.encode_hybrid(..., return_details=True)`."""

    ids: list[int]
    spans: list[GlyphSpan] = field(default_factory=list)
    num_glyph_tokens: int = 0
    num_regular_tokens: int = 0
    fidelity: float = 1.0  # character-weighted mean of span fidelities (1.0 when lossless)
    lossy: bool = False


@register_spec_type("hybrid")
class HybridTokenizer:
    """A `TextTokenizer` over a base tiktoken encoding extended by a glyph tape.

    Args:
        base_tokenizer: base encoding name (``"cl100k_base"``, ``"gpt2"``, ...); must be the one
            the tape was built on.
        tape: path of a tape built by `polytok.glyph.build.build_tape` / ``polytok tape build``.
        mode: "lossless" (default) or "lossy".
        similarity_threshold: lossy mode: minimum cosine similarity in [0, 1] for a sentence to
            become its family's glyph.
        version: tape version (default: latest); glyphs it lacks fall back to earlier versions.
        content_sha256: the `content_sha256` this tokenizer must have (a saved tokenizer records
            it); a tape whose ids, expansions, families or addresses changed is refused.

    Raises:
        ValueError: unknown base tokenizer or mode, threshold outside [0, 1], a tape built on
            another base tokenizer, lossy mode on a tape without families, a tape whose content
            differs from ``content_sha256``.
        FileNotFoundError: the tape file does not exist.
        polytok.glyph.tape.TapeError: a corrupt tape.
    """

    name = "hybrid"

    def __init__(
        self,
        base_tokenizer: str = "cl100k_base",
        tape: str | Path = "tape.db",
        mode: str = "lossless",
        similarity_threshold: float = 0.75,
        version: int | None = None,
        content_sha256: str | None = None,
    ) -> None:
        from polytok.tokenizers import get_tokenizer

        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
        threshold = float(similarity_threshold)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(
                f"similarity_threshold must be in [0, 1], got {similarity_threshold!r}; "
                "0.75 is the default"
            )
        self.base = get_tokenizer(base_tokenizer)
        self.tape = GlyphTape(tape)
        if self.tape.base_tokenizer != base_tokenizer:
            raise ValueError(
                f"tape {str(tape)!r} was built on base tokenizer {self.tape.base_tokenizer!r}, "
                f"not {base_tokenizer!r}; pass base_tokenizer={self.tape.base_tokenizer!r} or "
                "rebuild the tape"
            )
        if self.tape.base_vocab_size != self.base.vocab_size:
            raise ValueError(
                f"tape base vocabulary {self.tape.base_vocab_size} != {self.base.vocab_size} "
                f"of {base_tokenizer!r}; rebuild the tape"
            )
        self.mode = mode
        self.similarity_threshold = threshold
        self.version = self.tape.chain(version)[0]
        self._encoding = self.base.encoding
        self._base_size = self.base.vocab_size
        self.glyphs = self.tape.glyphs(self.version)
        self._matcher = GlyphMatcher({g.base_ids: g.token_id for g in self.glyphs})
        self._expansions = self.tape.all_expansions()
        self._family_text = self.tape.all_families()
        self._addresses = self.tape.addresses()
        self._by_address = {a: t for t, a in self._addresses.items()}
        self._vocab_size = self.tape.vocab_size
        self.families = self.tape.families(self.version) if mode == "lossy" else []
        if mode == "lossy" and not self.families:
            raise ValueError(
                f"lossy mode needs sentence families, but tape {str(tape)!r} version "
                f"{self.version} has none; build it with --families N or use mode='lossless'"
            )
        self._embedder = None
        self.content_sha256 = tape_content_sha256(self.tape, self.version)
        if content_sha256 is not None and content_sha256 != self.content_sha256:
            raise ValueError(
                f"tape {str(tape)!r} changed since this tokenizer was saved: content sha256 "
                f"{self.content_sha256[:16]}... != recorded {content_sha256[:16]}...; its ids "
                "would differ. Use the tape saved with the tokenizer (save_pretrained copies it) "
                "or retrain the model on the new tape"
            )

    @property
    def content_fingerprint(self) -> str:
        """Token-cache key: what decides the ids (tape content, base, mode), never the path."""
        return f"hybrid-{self.mode}-{self.similarity_threshold}-{self.content_sha256[:32]}"

    # TextTokenizer protocol --------------------------------------------------------------
    @property
    def vocab_size(self) -> int:
        return self._vocab_size

    @property
    def bos_id(self) -> int | None:
        return None

    @property
    def eos_id(self) -> int | None:
        return self.base.eos_id

    @property
    def pad_id(self) -> int | None:
        return None

    @property
    def marker_ids(self) -> tuple[int, int]:
        """Ids of ``<GLYPH>`` and ``</GLYPH>``."""
        return self.tape.marker_ids

    def encode(self, text: str) -> list[int]:
        """Text -> ids (lossless: longest glyph matches over the base ids)."""
        if self.mode == "lossy":
            return self.encode_hybrid(text, return_details=True).ids
        return self._matcher.apply(self._encoding.encode_ordinary(text))

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        if self.mode == "lossy":
            return [self.encode(t) for t in texts]
        base = self._encoding.encode_ordinary_batch(list(texts), num_threads=2)
        return [self._matcher.apply(ids) for ids in base]

    def expand(self, ids: Iterable[int]) -> list[int]:
        """Hybrid ids (no family tokens) -> base ids (the exact inverse of lossless encoding)."""
        out: list[int] = []
        base, exp = self._base_size, self._expansions
        for i in ids:
            if 0 <= i < base:
                out.append(i)
            elif i in exp:
                out.extend(exp[i])
            else:
                raise ValueError(self._bad_id(i, "expand"))
        return out

    def decode(self, ids: Iterable[int]) -> str:
        """Ids -> text; glyphs expand to their base ids, families to their representative."""
        return self._decode(list(ids), text_form=False)

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "hybrid",
            "base": self.base.name,
            "tape": str(self.tape.path.resolve()),
            "mode": self.mode,
            "similarity_threshold": self.similarity_threshold,
            "version": self.version,
            "content_sha256": self.content_sha256,
        }

    def save_files(self, directory: str | Path) -> dict[str, Any]:
        """Copy the tape into ``directory`` as ``tape.db``; return the spec pointing at it.

        The spec's ``tape`` is relative (``polytok.tokenizers.load_tokenizer`` resolves it against
        the directory), so the directory loads on another machine; ``content_sha256`` makes a
        changed copy fail to load.
        """
        import sqlite3

        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f".{TAPE_FILE}.tmp"
        tmp.unlink(missing_ok=True)
        dest = sqlite3.connect(str(tmp))
        try:
            self.tape._conn.backup(dest)  # a consistent copy, even of a tape open elsewhere
        finally:
            dest.close()
        tmp.replace(directory / TAPE_FILE)
        return {**self.to_spec(), "tape": TAPE_FILE}

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> HybridTokenizer:
        """Inverse of `to_spec` (``base`` and ``tape`` required; ``content_sha256`` checked)."""
        return cls(
            base_tokenizer=spec["base"],
            tape=spec["tape"],
            mode=spec.get("mode", "lossless"),
            similarity_threshold=spec.get("similarity_threshold", 0.75),
            version=spec.get("version"),
            content_sha256=spec.get("content_sha256"),
        )

    @classmethod
    def from_config(cls, options: dict[str, Any], texts: Any = None) -> HybridTokenizer:
        """The ``tokenizer`` config hook: ``{base, tape, mode, similarity_threshold, glyphs}``.

        Builds the tape on ``texts`` (training documents, or a zero-argument callable returning
        them) when ``tape`` does not exist yet, so ``train.py tokenizer=hybrid`` works in one step.

        Raises:
            ValueError: no ``tape`` path, or the tape is missing and no ``texts`` were given.
        """
        from polytok.glyph.build import TapeBuildConfig, build_tape

        options = dict(options)
        tape = options.get("tape")
        if not tape:
            raise ValueError("tokenizer 'hybrid' needs a tape path: set tokenizer.tape=PATH.db")
        base = options.get("base", "cl100k_base")
        if not Path(tape).exists():
            if texts is None:
                raise FileNotFoundError(
                    f"tape {tape!r} does not exist and no training texts were given to build it; "
                    "run `polytok tape build --out {tape}` first"
                )
            config = TapeBuildConfig(
                num_glyphs=int(options.get("glyphs", 4096)),
                unit=options.get("unit", "document"),
                num_families=int(options.get("families", 0)),
            )
            build_tape(texts() if callable(texts) else texts, tape, base, config).close()
        return cls(
            base_tokenizer=base,
            tape=tape,
            mode=options.get("mode", "lossless"),
            similarity_threshold=options.get("similarity_threshold", 0.75),
            version=options.get("version"),
        )

    # hybrid API ----------------------------------------------------------------------------
    def encode_hybrid(self, text: str, return_details: bool = False) -> list[int] | HybridEncoding:
        """Encode; with ``return_details`` return a `HybridEncoding` (spans, counts, fidelity)."""
        if not return_details and self.mode == "lossless":
            return self.encode(text)
        if self.mode == "lossless":
            result = self._lossless_details(text, 0, 0)
        else:
            result = self._lossy_details(text)
        return result if return_details else result.ids

    def decode_hybrid(self, ids: Iterable[int]) -> str:
        """Ids -> display text form: each glyph or family as ``<GLYPH>address</GLYPH>``."""
        return self._decode(list(ids), text_form=True)

    def encode_text_form(self, text: str) -> list[int]:
        """Inverse of `decode_hybrid`: ``<GLYPH>address</GLYPH>`` -> its id, other text -> base ids.

        Raises:
            ValueError: an address that is not in the tape.
        """
        out: list[int] = []
        pos = 0
        for m in _TEXT_FORM.finditer(text):
            out += self._encoding.encode_ordinary(text[pos : m.start()])
            if m.group(1) not in self._by_address:
                raise ValueError(f"unknown glyph address {m.group(1)!r} in text form")
            out.append(self._by_address[m.group(1)])
            pos = m.end()
        return out + self._encoding.encode_ordinary(text[pos:])

    def decode_hybrid_with_expansion(
        self, encoded: HybridEncoding | Iterable[int]
    ) -> tuple[str, float]:
        """Full text with glyphs and families expanded, and its fidelity.

        Args:
            encoded: a `HybridEncoding` (fidelity taken from it) or ids (fidelity 1.0 when they
                hold no family token, else the mean similarity stored for nothing: NaN).
        """
        if isinstance(encoded, HybridEncoding):
            return self.decode(encoded.ids), encoded.fidelity
        ids = list(encoded)
        lossy = any(i in self._family_text for i in ids)
        return self.decode(ids), float("nan") if lossy else 1.0

    # internals ---------------------------------------------------------------------------
    def _bad_id(self, i: int, what: str) -> str:
        return f"cannot {what} id {i}: not in [0, {self.vocab_size}) of this hybrid tokenizer"

    def _decode(self, ids: list[int], text_form: bool) -> str:
        chunks: list[bytes] = []
        run: list[int] = []
        base, exp = self._base_size, self._expansions
        decode_bytes = self._encoding.decode_bytes
        markers = self.tape.marker_ids
        for i in ids:
            if 0 <= i < base:
                run.append(i)
            elif i in exp and not text_form:
                run.extend(exp[i])
            else:
                if i in exp or i in self._family_text:
                    piece = (
                        f"{MARKERS[0]}{self._addresses[i]}{MARKERS[1]}"
                        if text_form
                        else self._family_text[i]
                    )
                elif i in markers:
                    piece = MARKERS[markers.index(i)]
                else:
                    raise ValueError(self._bad_id(i, "decode"))
                if run:
                    chunks.append(decode_bytes(run))
                    run = []
                chunks.append(piece.encode("utf-8"))
        if run:
            chunks.append(decode_bytes(run))
        return b"".join(chunks).decode("utf-8", errors="replace")

    def _lossless_details(self, text: str, char_offset: int, index_offset: int) -> HybridEncoding:
        base_ids = self._encoding.encode_ordinary(text)
        segments = self._matcher.segments(base_ids)
        # byte offset of every base-id boundary -> character offset in ``text``
        lengths = [len(self._encoding.decode_single_token_bytes(i)) for i in base_ids]
        byte_at = np.concatenate([[0], np.cumsum(lengths, dtype=np.int64)])
        char_lens = np.fromiter((len(c.encode("utf-8")) for c in text), np.int64, len(text))
        byte_to_char = np.repeat(np.arange(len(text), dtype=np.int64), char_lens)
        byte_to_char = np.append(byte_to_char, len(text))
        spans = []
        for k, (token, start, end) in enumerate(segments):
            if token >= self._base_size:
                s, e = int(byte_to_char[byte_at[start]]), int(byte_to_char[byte_at[end]])
                spans.append(
                    GlyphSpan(
                        index_offset + k,
                        token,
                        "glyph",
                        self._addresses[token],
                        char_offset + s,
                        char_offset + e,
                        text[s:e],
                        1.0,
                    )
                )
        ids = [t for t, _, _ in segments]
        return HybridEncoding(ids, spans, len(spans), len(ids) - len(spans), 1.0, False)

    def _similar_family(self, sentences: list[str]) -> tuple[np.ndarray, np.ndarray]:
        if self._embedder is None:
            from polytok.embed import StaticEmbedder

            self._embedder = StaticEmbedder()
            self._centroids = np.stack([f.centroid for f in self.families])  # (F, D)
        vectors = self._embedder.embed(sentences).numpy()  # (S, D)
        sims = vectors @ self._centroids.T  # (S, F)
        return sims.argmax(axis=1), sims.max(axis=1)

    def _lossy_details(self, text: str) -> HybridEncoding:
        spans_text = sentence_spans(text, "line")
        best, score = (
            self._similar_family([text[s:e] for s, e in spans_text]) if spans_text else ([], [])
        )
        result = HybridEncoding([], lossy=True)
        weighted = 0.0
        pos = 0
        for (s, e), f, sim in zip(spans_text, best, score):
            if sim < self.similarity_threshold:
                continue
            part = self._lossless_details(text[pos:s], pos, len(result.ids))
            result.ids += part.ids
            result.spans += part.spans
            family = self.families[int(f)]
            result.spans.append(
                GlyphSpan(
                    len(result.ids),
                    family.token_id,
                    "family",
                    family.address,
                    s,
                    e,
                    text[s:e],
                    float(sim),
                )
            )
            result.ids.append(family.token_id)
            weighted += float(sim) * (e - s)
            pos = e
        tail = self._lossless_details(text[pos:], pos, len(result.ids))
        result.ids += tail.ids
        result.spans += tail.spans
        lossy_chars = sum(sp.end - sp.start for sp in result.spans if sp.kind == "family")
        n = max(len(text), 1)
        result.fidelity = (weighted + (n - lossy_chars)) / n if text else 1.0
        result.num_glyph_tokens = len(result.spans)
        result.num_regular_tokens = len(result.ids) - len(result.spans)
        return result

    def __repr__(self) -> str:
        return (
            f"HybridTokenizer(base={self.base.name!r}, tape={str(self.tape.path)!r}, "
            f"mode={self.mode!r}, glyphs={len(self.glyphs)}, vocab_size={self.vocab_size})"
        )


@register_builder(
    "hybrid",
    {
        "base": "cl100k_base",
        "tape": None,
        "glyphs": 4096,
        "unit": "document",
        "families": 0,
        "mode": "lossless",
        "similarity_threshold": 0.75,
        "version": None,
    },
)
def _build_hybrid(options: dict[str, Any], texts: Any) -> HybridTokenizer:
    """Loads the tape, or mines one on ``texts`` when the file is missing."""
    return HybridTokenizer.from_config(options, texts)
