"""`model=hf_causal_lm`, the Hugging Face export of `gpt2_base`, and the model-directory tokenizer."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from polytok.models import build_model
from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
from polytok.models.hf_causal import HFCausalLM, model_fingerprint, resolve_model_dir
from polytok.models.hf_export import export_hf
from polytok.tokenizers import get_tokenizer
from polytok.tokenizers.hf_model import model_tokenizer

TEXT = "ROMEO:\nBut soft, what light through yonder window breaks? 42 naïve 🙂\n"


@pytest.fixture(scope="module")
def gpt2_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = GPT2LM(GPT2LMConfig(dim=16, num_layers=1, num_heads=2, max_positions=32))
    path = export_hf(model, tmp_path_factory.mktemp("base") / "hf")
    return path, model


def test_export_loads_in_plain_transformers(gpt2_dir):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    path, model = gpt2_dir
    assert {"config.json", "model.safetensors", "tokenizer.json"} <= {
        p.name for p in path.iterdir()
    }
    net = AutoModelForCausalLM.from_pretrained(str(path), local_files_only=True)
    tok = AutoTokenizer.from_pretrained(str(path), local_files_only=True)
    ids = tok(TEXT)["input_ids"]
    assert ids == get_tokenizer("gpt2").encode(TEXT)  # identical ids to the offline tiktoken gpt2
    x = torch.tensor([ids])
    with torch.no_grad():
        torch.testing.assert_close(net(x).logits, model(x).logits)
    assert net.config.eos_token_id == 50256 and tok.eos_token_id == 50256


def test_hf_causal_lm_model_and_tokenizer(gpt2_dir):
    path, model = gpt2_dir
    tok = model_tokenizer(path)
    assert tok.name == "gpt2" and type(tok).__name__ == "TiktokenTokenizer"
    lm = build_model({"name": "hf_causal_lm", "path": str(path)}, tok)
    assert isinstance(lm, HFCausalLM) and lm.max_positions == 32
    x = torch.tensor([tok.encode(TEXT)[:32]])
    with torch.no_grad():
        torch.testing.assert_close(lm(x).logits, model(x).logits)
    assert len(model_fingerprint(path)) == 64


def test_hub_cache_snapshot_loads_as_is(gpt2_dir, tmp_path):
    """A copy of a Hugging Face cache: snapshot files are symlinks into blobs/."""
    path, _ = gpt2_dir
    root = tmp_path / "hub" / "models--gpt2"
    snap, blobs = root / "snapshots" / "abc123", root / "blobs"
    snap.mkdir(parents=True)
    blobs.mkdir()
    for i, f in enumerate(sorted(path.iterdir())):
        shutil.copy(f, blobs / f"blob{i}")
        (snap / f.name).symlink_to(blobs / f"blob{i}")
    lm = HFCausalLM.from_tokenizer({"path": str(snap)}, model_tokenizer(snap))
    assert lm.net.config.n_positions == 32


def test_other_tokenizer_loads_as_hf(gpt2_dir, tmp_path):
    from polytok.tokenizers import ByteBPETokenizer

    path, _ = gpt2_dir
    other = tmp_path / "other"
    shutil.copytree(path, other)
    bpe = ByteBPETokenizer.train([TEXT * 20], vocab_size=300)
    (other / "tokenizer.json").write_text(bpe.to_spec()["tokenizer_json"])
    tok = model_tokenizer(other)
    assert type(tok).__name__ == "HFTokenizer" and tok.encode(TEXT) == bpe.encode(TEXT)


def test_bad_model_dirs(gpt2_dir, tmp_path):
    path, _ = gpt2_dir
    with pytest.raises(FileNotFoundError, match="does not exist"):
        resolve_model_dir(tmp_path / "missing")
    with pytest.raises(ValueError, match="hub name.*local directory"):
        resolve_model_dir("gpt2")
    with pytest.raises(ValueError, match="hub name"):
        resolve_model_dir("openai-community/gpt2")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="no config.json"):
        resolve_model_dir(tmp_path / "empty")
    with pytest.raises(ValueError, match="model.path is not set"):
        resolve_model_dir("???")
    cl100k = get_tokenizer("cl100k_base")  # 100277 ids for a 50257-row model
    with pytest.raises(ValueError, match="100277 ids.*50257 token rows"):
        build_model({"name": "hf_causal_lm", "path": str(path)}, cl100k)


def test_export_refuses_non_gpt2_vocab(tmp_path):
    model = GPT2LM(GPT2LMConfig(vocab_size=300, dim=16, num_layers=1, num_heads=2))
    with pytest.raises(ValueError, match="300 token rows"):
        export_hf(model, tmp_path / "out")
    assert not (tmp_path / "out").exists()
    with pytest.raises(TypeError, match="not a Hugging Face model"):
        export_hf(torch.nn.Linear(2, 2), tmp_path / "out")


def test_gpt2_base_config_composes():
    from hydra import compose, initialize_config_dir

    from polytok.run import to_dict

    configs = str(__import__("pathlib").Path(__file__).resolve().parents[2] / "configs")
    with initialize_config_dir(configs, version_base="1.3"):
        cfg = compose("train", overrides=["experiment=gpt2_base"])
        cpu = {
            k: to_dict(cfg[k]) for k in ("task", "tokenizer", "model", "system", "data", "trainer")
        }
        cfg = compose("train", overrides=["experiment=gpt2_base", "base_size=gpu"])
        gpu = {k: to_dict(cfg[k]) for k in ("model", "system")}
    assert cpu["task"] == "gpt2_base" and cpu["tokenizer"]["name"] == "gpt2"
    assert (cpu["model"]["dim"], cpu["model"]["num_layers"]) == (128, 4)
    assert gpu["model"]["dim"] > cpu["model"]["dim"] and gpu["system"]["max_steps"] > 200
    # the last step is validated, so hf/ (the best checkpoint) can be the end of training
    assert cpu["system"]["max_steps"] % cpu["trainer"]["val_check_interval"] == 0
    assert json.dumps(cpu["data"]["source"]["sources"]) == json.dumps(
        [{"name": "shakespeare"}, {"name": "dialog", "language": "english"}]
    )
