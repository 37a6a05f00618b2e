import pytest
import torch

from polytok.models import build_model, model_class
from polytok.models.gpt2 import GPT2LM, GPT2LMConfig


def test_shapes_gradients_and_vocab_from_tokenizer(char_tokenizer):
    model = build_model(
        {"name": "gpt2", "dim": 32, "num_layers": 2, "num_heads": 2}, char_tokenizer
    )
    x = torch.randint(0, char_tokenizer.vocab_size, (3, 10))
    out = model(x)
    assert out.logits.shape == (3, 10, char_tokenizer.vocab_size)
    out.logits.logsumexp(-1).mean().backward()
    assert all(p.grad is not None for p in model.parameters())


def test_causal():
    model = GPT2LM(GPT2LMConfig(vocab_size=20, dim=16, num_layers=1, num_heads=2)).eval()
    x = torch.randint(0, 20, (1, 8))
    y = x.clone()
    y[0, 5] = (y[0, 5] + 1) % 20
    assert torch.equal(model(x).logits[:, :5], model(y).logits[:, :5])


def test_state_dict_keys_are_stable():
    model = GPT2LM(GPT2LMConfig(vocab_size=20, dim=16, num_layers=1, num_heads=2))
    keys = list(model.state_dict())
    assert keys[0] == "net.transformer.wte.weight" and "net.lm_head.weight" in keys


@pytest.mark.parametrize(
    "options, match",
    [
        ({"dim": 30, "num_heads": 4}, "divisible"),
        ({"dropout": 1.5}, "dropout"),
        ({"pretrained": "/nonexistent/dir"}, "local directory"),
        ({"num_layerz": 2}, "unknown GPT2LMConfig option"),
    ],
)
def test_bad_config(options, match, char_tokenizer):
    with pytest.raises(ValueError, match=match):
        build_model({"name": "gpt2", **options}, char_tokenizer)


def test_unknown_model_name_lists_valid_ones():
    with pytest.raises(ValueError, match="valid names.*gpt2"):
        model_class("gpt5")


def test_too_long_input_is_refused():
    model = GPT2LM(GPT2LMConfig(vocab_size=20, dim=16, num_layers=1, num_heads=2, max_positions=8))
    with pytest.raises(ValueError, match="max_positions"):
        model(torch.zeros(1, 9, dtype=torch.long))


def test_local_pretrained_directory(tmp_path, char_tokenizer):
    """The real `from_pretrained` path, against a local directory (no hub)."""
    src = GPT2LM(
        GPT2LMConfig(vocab_size=char_tokenizer.vocab_size, dim=24, num_layers=1, num_heads=2)
    )
    src.net.save_pretrained(tmp_path / "hf")
    model = build_model({"name": "gpt2", "pretrained": str(tmp_path / "hf")}, char_tokenizer)
    assert model.config.dim == 24 and model.config.num_layers == 1
    x = torch.randint(0, char_tokenizer.vocab_size, (1, 6))
    torch.testing.assert_close(model.eval()(x).logits, src.eval()(x).logits)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_runs_on_cuda():
    model = GPT2LM(GPT2LMConfig(vocab_size=20, dim=16, num_layers=1, num_heads=2)).cuda()
    assert model(torch.zeros(1, 4, dtype=torch.long, device="cuda")).logits.is_cuda
