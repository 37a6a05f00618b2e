"""`atomic_directory` replaces only what polytok wrote and never deletes through a symlink (B2, B7)."""

from __future__ import annotations

import os
import stat

import numpy as np
import pytest

from polytok.atomic import MARKER, atomic_directory, is_polytok_directory, write_text_atomic
from polytok.cli import main
from polytok.io import save_pretrained
from polytok.models import build_model
from polytok.poly import PolyTokenizer
from polytok.sid import RQKMeans

TINY = {"name": "gpt2", "dim": 16, "num_layers": 1, "num_heads": 2, "max_positions": 16}


def _write(directory, text="new", **options):
    with atomic_directory(directory, **options) as tmp:
        (tmp / "data.txt").write_text(text)


def test_replaces_only_its_own_directory(tmp_path) -> None:
    target = tmp_path / "out"
    _write(target, "one")
    assert is_polytok_directory(target) and (target / MARKER).is_file()
    _write(target, "two")  # polytok's own directory: replaced
    assert (target / "data.txt").read_text() == "two"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp leftovers


@pytest.mark.parametrize("kind", ["user_dir", "file"])
def test_refuses_what_polytok_did_not_write(tmp_path, kind) -> None:
    target = tmp_path / "mydocs"
    if kind == "user_dir":
        target.mkdir()
        (target / "thesis.txt").write_text("thesis")
    else:
        target.write_text("precious")
    with pytest.raises(FileExistsError, match="refusing to replace it.*overwrite=True"):
        _write(target)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mydocs"]  # nothing written
    kept = target / "thesis.txt" if kind == "user_dir" else target
    assert kept.read_text() in ("thesis", "precious")
    _write(target, overwrite=True)  # asked for explicitly
    assert (target / "data.txt").read_text() == "new"


def test_empty_directory_is_replaced(tmp_path) -> None:
    (tmp_path / "empty").mkdir()
    _write(tmp_path / "empty")
    assert (tmp_path / "empty" / "data.txt").is_file()


def test_symlink_is_never_followed_into_a_deletion(tmp_path) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "keep.txt").write_text("keep")
    (user / MARKER).write_text("{}")  # even a directory that looks like polytok's
    link = tmp_path / "link"
    link.symlink_to(user, target_is_directory=True)
    with pytest.raises(FileExistsError, match="a symlink"):
        _write(link)
    _write(link, overwrite=True)  # the link itself is replaced by a real directory
    assert not link.is_symlink() and (link / "data.txt").is_file()
    assert (user / "keep.txt").read_text() == "keep"


def test_failure_leaves_the_old_directory(tmp_path) -> None:
    target = tmp_path / "out"
    _write(target, "old")
    with pytest.raises(RuntimeError), atomic_directory(target) as tmp:
        (tmp / "data.txt").write_text("half")
        raise RuntimeError("crash mid-write")
    assert (target / "data.txt").read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]


def test_normal_permissions(tmp_path) -> None:
    old = os.umask(0o022)
    try:
        _write(tmp_path / "out")
        write_text_atomic(tmp_path / "f.txt", "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out").stat().st_mode) == 0o755  # not mkdtemp's 0700
    assert stat.S_IMODE((tmp_path / "f.txt").stat().st_mode) == 0o644  # not mkstemp's 0600
    assert stat.S_IMODE((tmp_path / "out" / "data.txt").stat().st_mode) == 0o644


def test_every_saver_refuses_a_user_directory(tmp_path, char_tokenizer) -> None:
    user = tmp_path / "user"
    user.mkdir()
    (user / "keep.txt").write_text("keep")
    x = np.random.default_rng(0).normal(size=(64, 4)).astype("float32")
    rq = RQKMeans(n_levels=1, n_clusters=4).fit(x)
    poly = PolyTokenizer(dim=8)
    model = build_model(TINY, char_tokenizer)
    savers = {
        "RQKMeans.save": lambda **o: rq.save(user, **o),
        "save_pretrained": lambda **o: save_pretrained(model, user, char_tokenizer, **o),
        "PolyTokenizer.save_pretrained": lambda **o: poly.save_pretrained(user, **o),
    }
    for name, save in savers.items():
        with pytest.raises(FileExistsError, match="polytok did not write"):
            save()
        assert (user / "keep.txt").read_text() == "keep", name
    link = tmp_path / "link"
    link.symlink_to(user)
    with pytest.raises(FileExistsError, match="a symlink"):
        poly.save_pretrained(link)  # it used to resolve the link and wipe the target
    assert (user / "keep.txt").read_text() == "keep"
    poly.save_pretrained(tmp_path / "reg")
    poly.save_pretrained(tmp_path / "reg")  # its own output: replaced without a flag
    assert PolyTokenizer.from_pretrained(tmp_path / "reg").dim == poly.dim


def test_sid_fit_cli_refuses_then_overwrites(tmp_path, capsys) -> None:
    np.save(tmp_path / "x.npy", np.random.default_rng(0).normal(size=(64, 4)).astype("float32"))
    out = tmp_path / "mydocs"
    out.mkdir()
    (out / "thesis.txt").write_text("thesis")
    argv = ["sid", "fit", "--input", str(tmp_path / "x.npy"), "--levels", "1", "--clusters", "4",
            "--out", str(out)]  # fmt: skip
    assert main(argv) == 2
    assert "refusing to replace it" in capsys.readouterr().err
    assert (out / "thesis.txt").read_text() == "thesis"
    assert main([*argv, "--overwrite"]) == 0
    assert is_polytok_directory(out) and not (out / "thesis.txt").exists()
