"""Bad input to the Hydra entry points, loaders and small CLIs is answered with a named error
before any work (reliability W3.6-W3.7, W3.18-W3.19, W4.1-W4.3, W5.1-W5.6)."""

from __future__ import annotations

import io
import json
import sys

import pytest
import torch
from test_run import SMALL, make_cfg

import polytok
from polytok.cli import main
from polytok.io import save_pretrained
from polytok.models import build_model
from polytok.poly import PolyTokenizer
from polytok.run import evaluate, train
from polytok.systems import LanguageModelSystem
from polytok.systems.rqvae import RQVAESystem
from polytok.tokenizers import load_tokenizer, save_tokenizer, tokenizer_from_spec

TINY = {"name": "gpt2", "dim": 16, "num_layers": 1, "num_heads": 2, "max_positions": 32}


def _fails_clean(config_name, overrides, tmp_path, match):
    out = tmp_path / "run"
    out.mkdir()
    (out / ".hydra").mkdir()  # what Hydra writes before our code runs
    cfg = make_cfg(config_name, overrides, out)
    with pytest.raises((ValueError, OSError), match=match):
        (train if config_name == "train" else evaluate)(cfg)
    assert not out.exists(), "a failed preflight must not leave a run directory"


def _lm_ckpt(path, tok, step: int = 0, **hparams) -> None:
    system = LanguageModelSystem(model=TINY, tokenizer=tok.to_spec())
    h = {**dict(system.hparams), **hparams}
    torch.save(
        {"state_dict": system.state_dict(), "hyper_parameters": h, "global_step": step}, path
    )


@pytest.mark.parametrize("value", ["nan", "inf", "-0.1"])
def test_lr_nan_refused_before_any_work(tmp_path, value) -> None:
    _fails_clean("train", [f"system.lr={value}", *SMALL], tmp_path, "need lr > 0")


def test_text_files_without_paths(tmp_path) -> None:
    _fails_clean("train", ["data=text_files", *SMALL], tmp_path, r"data\.source\.paths=\[")


def test_resuming_a_finished_run_is_named(tmp_path, char_tokenizer) -> None:
    from polytok.data import load_source
    from polytok.tokenizers import build_tokenizer

    source = load_source({"name": "shakespeare"})
    tok = build_tokenizer({"name": "char"}, lambda: source.documents("train"))
    ckpt = tmp_path / "last.ckpt"
    _lm_ckpt(ckpt, tok, step=8)
    _fails_clean(
        "train", [f"ckpt_path={ckpt}", "system.max_steps=8", *SMALL], tmp_path, "finished its run"
    )


def test_eval_checkpoint_of_another_task_or_a_directory(tmp_path, char_tokenizer) -> None:
    rq = RQVAESystem(model={"in_dim": 8, "codebook_sizes": [4, 4], "e_dim": 4, "layers": [8]})
    ckpt = tmp_path / "rq.ckpt"
    torch.save({"state_dict": rq.state_dict(), "hyper_parameters": dict(rq.hparams)}, ckpt)
    _fails_clean("eval", [f"ckpt_path={ckpt}"], tmp_path, "RQ-VAE .*not a language model")
    (tmp_path / "checkpoints").mkdir()
    _fails_clean("eval", [f"ckpt_path={tmp_path / 'checkpoints'}"], tmp_path, "is a directory")


def test_checkpoint_with_a_corrupt_tokenizer_spec(tmp_path, char_tokenizer) -> None:
    ckpt = tmp_path / "bad_tok.ckpt"
    _lm_ckpt(ckpt, char_tokenizer, tokenizer={"type": "hf", "tokenizer_json": "{1: 2}"})
    with pytest.raises(ValueError, match=r"bad_tok\.ckpt: invalid 'hf' tokenizer spec"):
        LanguageModelSystem.load_from_checkpoint(ckpt)
    _fails_clean("eval", [f"ckpt_path={ckpt}"], tmp_path, "invalid 'hf' tokenizer spec")


def test_garbage_tokenizer_specs_are_named() -> None:
    for spec in ({"type": "char", "vocab": "x"}, {"type": "hf", "tokenizer_json": "{1: 2}"}):
        with pytest.raises(ValueError, match=f"invalid '{spec['type']}' tokenizer spec"):
            tokenizer_from_spec(spec)
    with pytest.raises(ValueError, match="unknown tokenizer spec type"):
        tokenizer_from_spec({"type": ["list"]})


PICKLE = b"\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x02os\x94\x8c\x06system\x94\x93\x94."


def test_binary_config_and_tokenizer_files_are_named(tmp_path, char_tokenizer) -> None:
    model = build_model(TINY, char_tokenizer)
    out = save_pretrained(model, tmp_path / "lm", char_tokenizer)
    (out / "config.json").write_bytes(PICKLE)
    with pytest.raises(ValueError, match=r"lm/config\.json is not valid JSON text"):
        polytok.from_pretrained(out)
    tok = tmp_path / "tok"
    save_tokenizer(char_tokenizer, tok)
    (tok / "tokenizer_config.json").write_bytes(PICKLE)
    with pytest.raises(ValueError, match=r"tokenizer_config\.json is not valid JSON text"):
        load_tokenizer(tok)
    (tok / "tokenizer_config.json").unlink()
    (tok / "tokenizer.json").write_bytes(PICKLE)
    with pytest.raises(ValueError, match=r"tok/tokenizer\.json is not UTF-8 JSON text"):
        load_tokenizer(tok)
    (tok / "tokenizer_config.json").write_text(json.dumps({"format_version": 1, "spec": []}))
    with pytest.raises(ValueError, match=r"tokenizer_config\.json: tokenizer spec must be a dict"):
        load_tokenizer(tok)


@pytest.mark.parametrize(
    ("damage", "match"),
    [
        (lambda d: (d / "config.json").write_text("{broken"), r"config\.json is corrupt"),
        (lambda d: (d / "config.json").write_text("[1, 2]"), "expected a JSON dict"),
        (lambda d: (d / "vocab.json").write_bytes(PICKLE), r"vocab\.json is corrupt"),
        (
            lambda d: (d / "tables.safetensors").write_bytes(b"\x00" * 7),
            "tables.safetensors is not",
        ),
        (lambda d: (d / "tables.safetensors").unlink(), "tables.safetensors is missing"),
        (
            lambda d: (d / "config.json").write_text(
                json.dumps({**json.loads((d / "config.json").read_text()), "versions": 7})
            ),
            "not a consistent PolyTokenizer registry|config.json is corrupt",
        ),
    ],
)
def test_corrupt_registries_are_named(tmp_path, damage, match, capsys) -> None:
    reg = PolyTokenizer(dim=8).save_pretrained(tmp_path / "reg")
    damage(reg)
    with pytest.raises((ValueError, FileNotFoundError), match=match):
        PolyTokenizer.from_pretrained(reg)
    assert main(["poly", "info", str(reg)]) == 2
    assert "Traceback" not in capsys.readouterr().err


def test_poly_cli_bad_arguments(tmp_path, capsys) -> None:
    for pairs in ("0", "-1"):
        with pytest.raises(SystemExit):
            main(["poly", "gold", "--pairs", pairs])
        assert "must be a positive integer" in capsys.readouterr().err
    reg = PolyTokenizer(dim=8).save_pretrained(tmp_path / "reg")
    assert main(["poly", "add", str(reg), "ok", ""]) == 2
    assert "token 2 of 2 is empty" in capsys.readouterr().err
    assert main(["poly", "add", str(reg), "ok"]) == 0  # the registry was left usable


def test_compress_cli_directory_and_binary_stdin(tmp_path, capsys, monkeypatch) -> None:
    (tmp_path / "somedir").mkdir()
    assert main(["compress", "--ratio", "0.5", str(tmp_path / "somedir")]) == 2
    assert "is a directory" in capsys.readouterr().err
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(b"\x93\xff binary \x00")))
    assert main(["compress", "--ratio", "0.5", "-"]) == 2
    err = capsys.readouterr().err
    assert "stdin" in err and ("not UTF-8" in err or "binary" in err)
