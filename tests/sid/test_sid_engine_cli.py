"""SemanticIdEngine (issue API), `polytok sid fit/encode` CLI, and the Hydra ``rqvae`` task."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from polytok.cli import main as cli_main
from polytok.sid import (
    RQKMeans,
    SemanticIdEngine,
    SQLiteCollisionStore,
    UniqueIdResolver,
    item_keys,
)
from polytok.sid.engine import load_encoder
from polytok.sid.inputs import gaussian_mixture


def blobs(n=400, dim=8, centers=6, seed=0) -> np.ndarray:
    return gaussian_mixture(n, dim, centers, seed=seed, scale=3, spread=0.1)


def test_engine_issue_api_is_collision_free_and_idempotent(tmp_path) -> None:
    X = blobs()
    model = RQKMeans(n_levels=2, n_clusters=3, random_state=42)  # few codes: many collisions
    store = SQLiteCollisionStore(tmp_path / "ids.db")
    engine = SemanticIdEngine(encoder=model, unique_resolver=UniqueIdResolver(store=store))
    engine.fit(X)
    ids = engine.unique_ids(X)
    sids = engine.semantic_ids(X)
    assert len(set(ids)) == len(ids) == 400 and len(set(sids)) <= 9
    first = {}
    for sid, uid in zip(sids, ids):
        assert uid == sid or uid.startswith(sid + "-")  # "3-1", then "3-1-1", "3-1-2"...
        first.setdefault(sid, uid)
    assert all(first[s] == s for s in first)  # the first item of each code has no suffix
    assert engine.unique_ids(X[::-1]) == ids[::-1]  # same items, same IDs, any order
    new = blobs(5, seed=9)
    more = engine.unique_ids(new)
    assert not set(more) & set(ids)
    store.close()


def test_engine_with_item_keys_and_fixed_style() -> None:
    X = blobs(50)
    engine = SemanticIdEngine(RQKMeans(1, 2), UniqueIdResolver(style="fixed")).fit(X)
    ids = engine.unique_ids(X, keys=range(50))
    assert all(len(u.split("-")) == 2 for u in ids) and len(set(ids)) == 50
    assert engine.unique_ids(X[:1], keys=[0]) == ids[:1]
    with pytest.raises(ValueError, match="one key per row"):
        engine.unique_ids(X, keys=[1, 2])
    keys = item_keys(X)
    assert keys[0] == item_keys(torch.from_numpy(X[:1]))[0] and len(set(keys)) == 50


def test_load_encoder_picks_the_class(tmp_path) -> None:
    RQKMeans(1, 2).fit(blobs(30)).save(tmp_path / "km")
    assert isinstance(load_encoder(tmp_path / "km"), RQKMeans)
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{oops")
    with pytest.raises(ValueError, match="corrupt"):
        load_encoder(tmp_path / "bad")


def test_cli_fit_then_encode_unique(tmp_path, capsys) -> None:
    X = blobs()
    np.save(tmp_path / "X.npy", X)
    out = tmp_path / "model"
    assert (
        cli_main(
            [
                "sid",
                "fit",
                "--input",
                str(tmp_path / "X.npy"),
                "--levels",
                "2",
                "--clusters",
                "4,3",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert "rel_mse=" in capsys.readouterr().out
    assert RQKMeans.load(out).config.codebook_sizes == [4, 3]
    db = tmp_path / "ids.db"
    argv = ["sid", "encode", "--model", str(out), "--input", str(tmp_path / "X.npy")]
    assert cli_main([*argv, "--unique", str(db)]) == 0
    ids = capsys.readouterr().out.split()
    assert len(ids) == 400 == len(set(ids))
    assert cli_main([*argv, "--unique", str(db), "--output", str(tmp_path / "ids.txt")]) == 0
    assert (tmp_path / "ids.txt").read_text().split() == ids  # idempotent across runs
    assert cli_main(argv) == 0
    semantic = capsys.readouterr().out.split()
    assert len(semantic) == 400 and len(set(semantic)) < 400


def test_cli_errors_write_nothing(tmp_path, capsys) -> None:
    X = blobs(20)
    X[3] = np.nan
    np.save(tmp_path / "nan.npy", X)
    code = cli_main(
        ["sid", "fit", "--input", str(tmp_path / "nan.npy"), "--out", str(tmp_path / "m")]
    )
    assert code == 2 and "[3]" in capsys.readouterr().err and not (tmp_path / "m").exists()
    np.save(tmp_path / "small.npy", blobs(20))
    code = cli_main(
        ["sid", "fit", "--input", str(tmp_path / "small.npy"), "--out", str(tmp_path / "m")]
    )
    assert code == 2 and "larger than the number of samples" in capsys.readouterr().err
    assert cli_main(["sid", "fit", "--input", str(tmp_path / "none.npy"), "--out", "x"]) == 2
    RQKMeans(1, 2).fit(blobs(20)).save(tmp_path / "m8")
    np.save(tmp_path / "wide.npy", np.ones((3, 5), dtype=np.float32))
    db = tmp_path / "ids.db"
    code = cli_main(
        [
            "sid",
            "encode",
            "--model",
            str(tmp_path / "m8"),
            "--input",
            str(tmp_path / "wide.npy"),
            "--unique",
            str(db),
        ]
    )
    assert code == 2 and "dimensions" in capsys.readouterr().err and not db.exists()
    code = cli_main(
        ["sid", "encode", "--model", str(tmp_path), "--input", str(tmp_path / "wide.npy")]
    )
    assert code == 2


def make_cfg(overrides: list[str], out):
    from hydra import compose, initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    configs = Path(__file__).resolve().parents[2] / "configs"
    with initialize_config_dir(str(configs), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        del cfg["hydra"]
    return cfg


def test_hydra_task_trains_on_npy_and_saves(tmp_path) -> None:
    from polytok.run import train
    from polytok.sid import RQVAE

    np.save(tmp_path / "X.npy", blobs(300, dim=12))
    out = tmp_path / "run"
    cfg = make_cfg(
        [
            "experiment=rqvae_npy",
            f"data.path={tmp_path / 'X.npy'}",
            "model.codebook_sizes=[8,8]",
            "model.layers=[16]",
            "model.e_dim=4",
            "data.batch_size=32",
            "trainer.max_steps=20",
            "system.max_steps=20",
            "trainer.val_check_interval=10",
        ],
        out,
    )
    result = train(cfg)
    metrics = json.loads((out / "metrics.json").read_text())
    for key in (
        "sid/rel_mse",
        "sid/collision_rate",
        "sid/duplicate_rate",
        "sid/usage_l1",
        "sid/perplexity_l0",
        "sid/largest_bucket",
        "val/recon_loss",
    ):
        assert key in metrics
    vae = RQVAE.load(result["pretrained"])
    assert vae.encode(blobs(5, dim=12)).shape == (5, 2)


@pytest.mark.parametrize(
    ("override", "error", "match"),
    [
        ("data.kind=images", ValueError, "data.kind must be one of"),
        ("data.path=/no/such/file.npy", FileNotFoundError, "does not exist"),
        ("data.path=/etc/hostname", ValueError, "must name an .npy file"),
        ("+data.colour=red", ValueError, "unknown data keys"),
        ("+system.momentum=0.9", ValueError, "unknown system keys"),
        ("model.codebook_sizes=[100000]", ValueError, "more codewords than"),
    ],
)
def test_hydra_task_bad_input_leaves_no_run_dir(tmp_path, override, error, match) -> None:
    from polytok.run import train

    out = tmp_path / "run"
    with pytest.raises(error, match=match):
        train(make_cfg(["experiment=rqvae_npy", override], out))
    assert not out.exists() or not [p for p in out.iterdir() if p.name != ".hydra"]


def test_cli_reliability_cases(tmp_path, capsys) -> None:  # B4, W3.8-W3.13
    def run(*argv):
        code = cli_main([str(a) for a in argv])
        return code, capsys.readouterr()

    X = blobs(200)
    np.save(tmp_path / "X.npy", X)
    np.save(tmp_path / "Xint.npy", (X * 10).astype(np.int64))
    code, out = run("sid", "fit", "--input", tmp_path / "Xint.npy", "--levels", "2",
                    "--clusters", "8", "--out", tmp_path / "mint")  # fmt: skip
    assert code == 0 and "saved" in out.out  # W3.8: int arrays are cast
    np.save(tmp_path / "e.npy", np.zeros((10, 0), "f4"))
    code, out = run("sid", "fit", "--input", tmp_path / "e.npy", "--out", tmp_path / "m0")
    assert code == 2 and "no dimensions" in out.err and not (tmp_path / "m0").exists()  # W3.9
    if not torch.cuda.is_available():  # W3.10
        code, out = run("sid", "fit", "--input", tmp_path / "X.npy", "--clusters", "4",
                        "--device", "cuda", "--out", tmp_path / "mc")  # fmt: skip
        assert code == 2 and "no CUDA GPU" in out.err
    run("sid", "fit", "--input", tmp_path / "X.npy", "--levels", "2", "--clusters", "8",
        "--out", tmp_path / "m1")  # fmt: skip
    run("sid", "fit", "--input", tmp_path / "X.npy", "--levels", "3", "--clusters", "4",
        "--out", tmp_path / "m3")  # fmt: skip
    db = tmp_path / "mixed.db"
    code, out = run("sid", "encode", "--model", tmp_path / "m1", "--input", tmp_path / "X.npy",
                    "--unique", db, "--output", tmp_path / "a.txt")  # fmt: skip
    assert code == 0
    code, out = run("sid", "encode", "--model", tmp_path / "m3", "--input", tmp_path / "X.npy",
                    "--unique", db, "--output", tmp_path / "b.txt")  # fmt: skip
    assert code == 2 and "use a new store" in out.err and not (tmp_path / "b.txt").exists()  # B4
    for bad, match in [(tmp_path, "is a directory"), (tmp_path / "no" / "x.db", "does not exist")]:
        code, out = run("sid", "encode", "--model", tmp_path / "m1", "--input",
                        tmp_path / "X.npy", "--unique", bad)  # fmt: skip
        assert code == 2 and match in out.err  # W3.12
    fresh = tmp_path / "fresh.db"
    code, out = run("sid", "encode", "--model", tmp_path / "m1", "--input", tmp_path / "X.npy",
                    "--unique", fresh, "--output", tmp_path)  # fmt: skip
    assert code == 2 and "is a directory" in out.err and not fresh.exists()  # W3.13
    code, out = run("sid", "encode", "--model", tmp_path / "m1", "--input", tmp_path / "X.npy",
                    "--format", "token")  # fmt: skip
    assert code == 0 and out.out.startswith("<a_")
