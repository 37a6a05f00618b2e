import json

import pytest
import torch

import polytok
from polytok.io import from_pretrained, save_pretrained
from polytok.models import build_model

TINY = {"name": "gpt2", "dim": 32, "num_layers": 1, "num_heads": 2, "max_positions": 32}


def test_round_trip_equal_outputs_and_generation(tmp_path, char_tokenizer):
    model = build_model(TINY, char_tokenizer).eval()
    path = save_pretrained(model, tmp_path / "lm", char_tokenizer)
    assert sorted(p.name for p in path.iterdir()) == [
        ".polytok",
        "config.json",
        "model.safetensors",
        "tokenizer",
    ]
    loaded = polytok.from_pretrained(path)
    x = torch.randint(0, char_tokenizer.vocab_size, (2, 7))
    torch.testing.assert_close(loaded.model(x).logits, model(x).logits)
    assert loaded.tokenizer.to_spec() == char_tokenizer.to_spec()
    text = loaded.generate("hello", max_new_tokens=8, seed=1)
    from polytok.io import PretrainedLM

    assert text == PretrainedLM(model, char_tokenizer).generate("hello", max_new_tokens=8, seed=1)
    model2, tok2 = loaded  # unpacks
    assert model2 is loaded.model


def test_overwrite_is_atomic_and_leaves_no_temp_dirs(tmp_path, char_tokenizer):
    model = build_model(TINY, char_tokenizer)
    save_pretrained(model, tmp_path / "lm", char_tokenizer)
    save_pretrained(model, tmp_path / "lm", char_tokenizer)
    assert [p.name for p in tmp_path.iterdir()] == ["lm"]


def test_errors(tmp_path, char_tokenizer):
    with pytest.raises(FileNotFoundError, match="config.json"):
        from_pretrained(tmp_path)
    path = save_pretrained(build_model(TINY, char_tokenizer), tmp_path / "lm", char_tokenizer)
    meta = json.loads((path / "config.json").read_text())
    meta["format_version"] = 99
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="newer polytok"):
        from_pretrained(path)
    meta["format_version"] = 1
    meta["model"] = "os.system"
    (path / "config.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="unknown model name"):
        from_pretrained(path)
    meta["model"] = "gpt2"
    (path / "config.json").write_text(json.dumps(meta))
    (path / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="cannot load"):
        from_pretrained(path)


def test_unregistered_model_is_refused(tmp_path):
    with pytest.raises(ValueError, match="not in polytok.models.MODELS"):
        save_pretrained(torch.nn.Linear(2, 2), tmp_path / "x")
