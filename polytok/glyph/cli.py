"""``polytok tape build`` / ``polytok tape show``."""

from __future__ import annotations

import argparse
from pathlib import Path

from polytok.argtypes import positive_int


def _corpus_texts(corpus: str, split: str) -> list[str]:
    """``dialog``, ``dialog:<language>``, ``shakespeare``, or a text file / directory of .txt."""
    from polytok.data import load_source

    name, _, language = corpus.partition(":")
    if name == "dialog":
        return list(
            load_source({"name": "dialog", "language": language or "english"}).documents(split)
        )
    if name == "shakespeare":
        return list(load_source({"name": "shakespeare"}).documents(split))
    path = Path(corpus)
    if path.is_dir():
        texts = [_read_text(p) for p in sorted(path.rglob("*.txt"))]
    elif path.is_file():
        texts = [_read_text(path)]
    else:
        raise FileNotFoundError(
            f"corpus {corpus!r} is neither 'dialog[:language]', 'shakespeare', a file nor a "
            "directory"
        )
    if not any(t.strip() for t in texts):
        what = "has no .txt files" if path.is_dir() and not texts else "holds no text"
        raise ValueError(f"corpus {corpus!r} {what}; a tape needs a non-empty corpus")
    return texts


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise ValueError(f"corpus file {str(path)!r} is not UTF-8 text ({err})") from err


def _build(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from polytok.glyph.build import TapeBuildConfig, build_tape

    config = TapeBuildConfig(
        num_glyphs=args.glyphs,
        unit=args.unit,
        min_count=args.min_count,
        num_families=args.families,
        seed=args.seed,
    )
    if Path(args.out).exists() and not args.extend:
        raise ValueError(
            f"{args.out} exists; pass --extend to add a version or choose another --out"
        )
    texts = _corpus_texts(args.corpus, args.split)
    with tqdm(total=args.glyphs, desc="merges", unit="glyph") as bar:

        def progress(done: int) -> None:
            bar.update(done - bar.n)

        tape = build_tape(texts, args.out, args.base, config, extend=args.extend, progress=progress)
    version = tape.latest_version()
    print(
        f"wrote {args.out}: version {version}, {len(tape.glyphs(version))} glyphs, "
        f"{len(tape.families(version))} families, vocab_size {tape.vocab_size}"
    )
    return 0


def _show(args: argparse.Namespace) -> int:
    from polytok.glyph.tape import GlyphTape

    tape = GlyphTape(args.tape)
    version = tape.chain(args.version)[0]
    glyphs = sorted(tape.glyphs(version), key=lambda g: -g.saved)
    versions = tape.versions()
    note = tape.note(version)
    print(
        f"tape {args.tape}: base {tape.base_tokenizer}, versions {[v for v, *_ in versions]}, "
        f"showing v{version} ({len(glyphs)} glyphs, {len(tape.families(version))} families)"
    )
    if note.get("base_tokens"):
        saved = 1 - note["merged_tokens"] / note["base_tokens"]
        print(
            f"training corpus: {note['base_tokens']} -> {note['merged_tokens']} tokens "
            f"({100 * saved:.1f}% fewer)"
        )
    print(f"{'token':>7}  {'address':<8}  {'count':>6}  {'saved':>6}  phrase")
    for g in glyphs[: args.top]:
        print(f"{g.token_id:>7}  {g.address:<8}  {g.count:>6}  {g.saved:>6}  {g.phrase!r}")
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add ``tape build`` and ``tape show`` to the ``polytok`` command."""
    tape = subparsers.add_parser("tape", help="build or inspect a glyph tape")
    sub = tape.add_subparsers(dest="tape_command", required=True)
    build = sub.add_parser("build", help="mine glyphs on a corpus and write a tape")
    build.add_argument(
        "--corpus", required=True, help="dialog[:language], shakespeare, a .txt file or a directory"
    )
    build.add_argument("--split", default="train", help="corpus split (named corpora)")
    build.add_argument("--base", default="cl100k_base", help="base tokenizer")
    build.add_argument("--glyphs", type=positive_int, default=4096, help="number of glyphs (> 0)")
    build.add_argument("--unit", default="document", choices=["document", "line"])
    build.add_argument("--min-count", type=int, default=2)
    build.add_argument("--families", type=int, default=256, help="lossy sentence families")
    build.add_argument("--seed", type=int, default=0)
    build.add_argument("--extend", action="store_true", help="add a version to --out")
    build.add_argument("--out", required=True, help="tape file (SQLite)")
    build.set_defaults(func=_build)
    show = sub.add_parser("show", help="print a tape's top glyphs, addresses and savings")
    show.add_argument("tape")
    show.add_argument("--version", type=int, default=None)
    show.add_argument("--top", type=positive_int, default=20, help="glyphs to print (> 0)")
    show.set_defaults(func=_show)
