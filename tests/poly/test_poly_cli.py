"""``polytok poly`` subcommands through argparse (the lead registers them in SUBSYSTEM_CLIS)."""

from __future__ import annotations

import argparse
import json

import torch

from polytok.poly import PolyTokenizer
from polytok.poly.cli import register


def _run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="polytok")
    register(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return args.func(args)


def test_gold_and_registry_commands(tmp_path, capsys):
    assert _run(["poly", "gold", "--n", "7"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out["observed"]) <= {-1, -17, 15} and out["codes"] == 129
    assert _run(["poly", "gold", "--prn", "1", "2"]) == 0
    assert "1440" in capsys.readouterr().out
    poly = PolyTokenizer(dim=16)
    poly.add_token("hello", init=torch.ones(16))
    poly.save_pretrained(tmp_path / "reg")
    assert _run(["poly", "add", str(tmp_path / "reg"), "world"]) == 0
    capsys.readouterr()
    assert _run(["poly", "lookup", str(tmp_path / "reg"), "world", "nope"]) == 0
    text = capsys.readouterr().out
    assert "level=exact" in text and "level=oov_bucket" in text
    assert _run(["poly", "info", str(tmp_path / "reg")]) == 0
    assert json.loads(capsys.readouterr().out)["modalities"] == {"text": {"v1": 2}}
