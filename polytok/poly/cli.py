"""``polytok poly ...``: inspect Gold codes and PolyTokenizer registry directories."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from polytok.argtypes import positive_int


def _gold(args: argparse.Namespace) -> int:

    from polytok.poly.gold import (
        correlation_bound,
        first_chips_octal,
        gold_family,
        gps_ca_code,
        periodic_correlation,
        to_bipolar,
    )

    if args.prn:
        for prn in args.prn:
            print(f"PRN {prn}: first 10 chips (octal) {first_chips_octal(gps_ca_code(prn))}")
        return 0
    codes = to_bipolar(gold_family(args.n))
    count = min(args.pairs, codes.shape[0] - 1)
    values = periodic_correlation(codes[:count], codes[1 : count + 1]).unique().tolist()
    t = correlation_bound(args.n)
    print(
        json.dumps(
            {"n": args.n, "codes": codes.shape[0], "period": codes.shape[1], "t": t,
             "allowed": [-1, -t, t - 2], "observed": values, "pairs_checked": count}
        )
    )  # fmt: skip
    return 0 if set(values) <= {-1, -t, t - 2} else 1


def _info(args: argparse.Namespace) -> int:
    from polytok.poly.registry import PolyTokenizer

    poly = PolyTokenizer.from_pretrained(args.path)
    info = {
        "dim": poly.dim,
        "in_dim": poly.in_dim,
        "modalities": {
            m: {v: len(poly.tokens(m, v)) for v in poly.versions(m)} for m in poly.modalities
        },
        "base": poly.codec.specs(),
    }
    print(json.dumps(info, indent=2))
    return 0


def _lookup(args: argparse.Namespace) -> int:
    from polytok.poly.registry import PolyTokenizer

    poly = PolyTokenizer.from_pretrained(args.path)
    for token in args.tokens:
        hit = poly.lookup(token, args.modality, args.version)
        head = [round(v, 4) for v in hit.embedding[:4].tolist()]
        print(f"{token!r}: level={hit.level} table={hit.table} row={hit.row} embedding[:4]={head}")
    return 0


def _add(args: argparse.Namespace) -> int:
    from polytok.poly.registry import PolyTokenizer

    empty = [i for i, token in enumerate(args.tokens) if not token]
    if empty:
        raise ValueError(
            f"token {empty[0] + 1} of {len(args.tokens)} is empty; tokens to add must be "
            "non-empty strings"
        )
    poly = PolyTokenizer.from_pretrained(args.path)
    version = args.version or poly.versions(args.modality)[-1]
    ids = poly.add_tokens(args.tokens, args.modality, version)
    # it loaded as a registry, so it is polytok's to replace (the real directory, if a symlink)
    poly.save_pretrained(Path(args.path).resolve(), overwrite=True)
    print(json.dumps(dict(zip(args.tokens, ids))))
    return 0


def register(subparsers) -> None:
    """Add ``polytok poly gold|info|lookup|add``."""
    poly = subparsers.add_parser("poly", help="PolyTokenizer registries and Gold codes")
    sub = poly.add_subparsers(dest="poly_command", required=True)
    gold = sub.add_parser("gold", help="check a Gold family's correlation values, or GPS C/A codes")
    gold.add_argument("--n", type=int, default=10, help="LFSR degree (5, 6, 7, 9, 10, 11)")
    gold.add_argument(
        "--pairs", type=positive_int, default=64, help="adjacent code pairs to check (> 0)"
    )
    gold.add_argument("--prn", type=int, nargs="*", help="print GPS C/A first chips for these PRNs")
    gold.set_defaults(func=_gold)
    info = sub.add_parser("info", help="modalities, versions and token counts of a registry dir")
    info.add_argument("path")
    info.set_defaults(func=_info)
    for name, func, help_text in (
        ("lookup", _lookup, "look tokens up (prints the fallback level)"),
        ("add", _add, "add tokens (informative init) and save the registry in place"),
    ):
        p = sub.add_parser(name, help=help_text)
        p.add_argument("path")
        p.add_argument("tokens", nargs="+")
        p.add_argument("--modality", default="text")
        p.add_argument("--version", default=None)
        p.set_defaults(func=func)
