"""The learned scorer: save/load round trip, wrong directories, losses, the training task."""

import json
import subprocess
import sys

import pytest
import torch

from polytok.compress import ContextCompressor
from polytok.compress.cross_encoder import CrossEncoderConfig, CrossEncoderScorer
from polytok.systems.cross_encoder import budget_recall, listwise_loss

CHUNKS = [
    "We study parsing of noisy text.",
    "Our parser reaches 92 percent accuracy.",
    "We thank the reviewers.",
]


@pytest.fixture(scope="module")
def tiny_encoder_dir(tmp_path_factory):
    """A 1-layer BERT with MiniLM's tokenizer, saved like any transformers model."""
    from transformers import AutoTokenizer, BertConfig, BertModel

    from polytok.assets import minilm_dir

    path = tmp_path_factory.mktemp("tiny_bert")
    tokenizer = AutoTokenizer.from_pretrained(str(minilm_dir()), local_files_only=True)
    torch.manual_seed(0)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        max_position_embeddings=128,
    )
    BertModel(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    return path


def test_round_trip_gives_identical_scores(tiny_encoder_dir, tmp_path) -> None:
    scorer = CrossEncoderScorer.from_encoder(tiny_encoder_dir, CrossEncoderConfig(max_length=32))
    with torch.no_grad():  # trained-looking biases, so the round trip covers them
        scorer.absolute_bias.weight.copy_(torch.linspace(1, 0, 16)[:, None])
    before = scorer.score(CHUNKS, "parsing accuracy")
    scorer.save_pretrained(tmp_path / "scorer")
    assert json.loads((tmp_path / "scorer" / "config.json").read_text())["format"] == (
        "polytok-cross-encoder"
    )
    loaded = CrossEncoderScorer.from_pretrained(tmp_path / "scorer")
    assert torch.equal(loaded.score(CHUNKS, "parsing accuracy"), before)
    assert not torch.equal(loaded.score(CHUNKS, "thanks"), before)  # the query matters
    compressor = ContextCompressor(scorer=str(tmp_path / "scorer"))  # from the directory
    assert compressor.config.strategy == "scored"
    result = compressor.compress_chunks(CHUNKS, "parsing accuracy", target_tokens=10)
    best = int(before.argmax())
    assert result.text == CHUNKS[best] and result.compressed_tokens <= 10


def test_wrong_directories_fail_clearly(tiny_encoder_dir, tmp_path) -> None:
    with pytest.raises(ValueError, match="not a 'polytok-cross-encoder' scorer directory"):
        CrossEncoderScorer.from_pretrained(tiny_encoder_dir)  # a plain transformers model
    with pytest.raises(ValueError, match="not a 'polytok-cross-encoder' scorer directory"):
        ContextCompressor(scorer=tiny_encoder_dir)
    with pytest.raises(FileNotFoundError, match="no config.json"):
        CrossEncoderScorer.from_pretrained(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "config.json").write_text("{not json")
    with pytest.raises(ValueError, match="not valid JSON"):
        CrossEncoderScorer.from_pretrained(tmp_path / "bad")
    with pytest.raises(ValueError, match="max_length"):
        CrossEncoderConfig(max_length=2)


def test_listwise_loss_and_budget_recall_written_out() -> None:
    logits = torch.tensor([0.0, float(torch.log(torch.tensor(3.0))), 1.0, 1.0])
    labels = torch.tensor([0.0, 1.0, 1.0, 0.0])
    group = torch.tensor([0, 0, 1, 1])
    # group 0: softmax of the positive is 3/4; group 1: 1/2
    expected = (-torch.log(torch.tensor(0.75)) - torch.log(torch.tensor(0.5))) / 2
    assert torch.allclose(listwise_loss(logits, labels, group, 2), expected)
    # budget 0.5 of 15 words = 7.5: keeps #0 (4 words), skips #1 (6), keeps #2 (1), skips #3 (4)
    scores, cost = torch.tensor([3.0, 2.0, 1.0, 0.5]), torch.tensor([4, 6, 1, 4])
    assert budget_recall(scores, torch.tensor([1.0, 1.0, 1.0, 0.0]), cost, 0.5) == 2 / 3
    assert budget_recall(scores, torch.zeros(4), cost, 0.5) is None


@pytest.mark.slow
def test_train_task_writes_a_loadable_scorer(tiny_encoder_dir, tmp_path) -> None:
    cmd = [
        sys.executable,
        "train.py",
        "experiment=compressor_aclsum",
        f"cross_encoder.encoder_dir={tiny_encoder_dir}",
        "cross_encoder.freeze_layers=1",
        "cross_encoder.max_steps=2",
        "trainer.val_check_interval=2",
        "trainer.limit_val_batches=3",
        f"paths.log_dir={tmp_path}",
        "callbacks.progress_bar=none",
    ]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-2000:]
    line = next(x for x in out.stdout.splitlines() if x.startswith("pretrained: "))
    scorer = CrossEncoderScorer.from_pretrained(line.split(": ", 1)[1])
    assert scorer.score(CHUNKS, "query").shape == (3,)
