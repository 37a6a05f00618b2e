"""Chunk scorers (baselines, encoder, self-information) and the scored strategy."""

import pytest
import torch

from polytok.compress import CompressorConfig, ContextCompressor
from polytok.compress.scorers import (
    DEFAULT_WEIGHTS,
    FEATURES,
    BM25Scorer,
    EncoderScorer,
    FixedScorer,
    LeadScorer,
    RandomScorer,
    SelfInformationScorer,
    TfidfScorer,
    zscore,
)

CHUNKS = [
    "The weather was mild all week in the valley.",
    "Our parser reaches 92 percent accuracy on the treebank test set.",
    "We thank the reviewers for their comments.",
    "Parsing accuracy improves further with more training data.",
]
QUERY = "parser accuracy results"


def test_lexical_baselines_rank_matching_chunks_first() -> None:
    for scorer in (BM25Scorer(), TfidfScorer()):
        scores = scorer.score(CHUNKS, QUERY)
        assert scores.shape == (4,)
        assert int(scores.argmax()) == 1 and float(scores[2]) == 0.0
        assert torch.equal(scorer.score(CHUNKS, None), torch.zeros(4))  # no query: document order
    assert LeadScorer().score(CHUNKS).tolist() == [0.0, -1.0, -2.0, -3.0]
    assert torch.equal(RandomScorer(3).score(CHUNKS), RandomScorer(3).score(CHUNKS))
    assert not torch.equal(RandomScorer(3).score(CHUNKS), RandomScorer(4).score(CHUNKS))
    with pytest.raises(ValueError, match="3 scores for 4 chunks"):
        FixedScorer([1, 2, 3]).score(CHUNKS)


class _Vectors:
    """A fixed embedder: a unit vector per known text (written-out cosines)."""

    table = {
        CHUNKS[0]: [1.0, 0.0],
        CHUNKS[1]: [0.0, 1.0],
        CHUNKS[2]: [1.0, 0.0],
        CHUNKS[3]: [0.6, 0.8],
        QUERY: [0.0, 1.0],
    }

    def encode(self, texts):
        return torch.tensor([self.table[t] for t in texts])


def test_encoder_scorer_combines_features() -> None:
    similarity = torch.tensor([0.0, 1.0, 0.0, 0.8])
    lead = -torch.log1p(torch.arange(4.0))
    off = {"bm25_weight": 0, "centrality_weight": 0, "length_weight": 0}
    got = EncoderScorer(_Vectors(), position_weight=0.5, **off).score(CHUNKS, QUERY)
    assert torch.allclose(got, zscore(similarity) + 0.5 * zscore(lead), atol=1e-6)
    alone = EncoderScorer(_Vectors(), position_weight=0.0, **off).score(CHUNKS, QUERY)
    assert torch.allclose(alone, zscore(similarity))
    # centrality: cosine to the normalised mean of the chunk vectors (written out)
    vectors = torch.tensor([_Vectors.table[c] for c in CHUNKS])
    centroid = torch.nn.functional.normalize(vectors.mean(0), dim=0)
    lengths = torch.tensor([float(len(c) + 1) for c in CHUNKS]).log()
    columns = {
        "similarity": similarity,
        "bm25": BM25Scorer().score(CHUNKS, QUERY),
        "position": lead,
        "centrality": vectors @ centroid,
        "length": lengths,
    }
    features = EncoderScorer(_Vectors()).features(CHUNKS, QUERY)
    expected = torch.stack([zscore(columns[f]) for f in FEATURES], 1)
    assert features.shape == (4, len(FEATURES))
    assert torch.allclose(features, expected, atol=1e-6)
    hybrid = EncoderScorer(_Vectors()).score(CHUNKS, QUERY)  # DEFAULT_WEIGHTS
    weights = torch.tensor([DEFAULT_WEIGHTS[f] for f in FEATURES])
    assert torch.allclose(hybrid, expected @ weights, atol=1e-5)
    # no query: similarity is the centrality and BM25 drops out
    unqueried = EncoderScorer(_Vectors()).features(CHUNKS)
    assert torch.allclose(unqueried[:, 0], unqueried[:, 3]) and not unqueried[:, 1].any()
    for bad in (float("nan"), "2", True):
        with pytest.raises(ValueError, match="bm25_weight must be a finite number"):
            EncoderScorer(_Vectors(), bm25_weight=bad)


def test_default_weights_are_the_documented_constants() -> None:
    # fit on ACLSum train, chosen on val: python scripts/fit_default_scorer.py (docs/compress.md)
    assert DEFAULT_WEIGHTS == {
        "similarity": 1.0,
        "bm25": 2.0,
        "position": 1.0,
        "centrality": 0.0,
        "length": 0.0,
    }
    scorer = EncoderScorer(_Vectors())
    assert scorer.weights == DEFAULT_WEIGHTS and scorer.weights is not DEFAULT_WEIGHTS
    assert EncoderScorer(_Vectors(), 0.25).weights["position"] == 0.25


def test_scored_strategy_keeps_best_that_fit() -> None:
    compressor = ContextCompressor(
        CompressorConfig(strategy="scored"), scorer=FixedScorer([0.0, 3.0, 1.0, 2.0])
    )
    r = compressor.compress_chunks(CHUNKS, QUERY, target_tokens=30)
    assert r.strategy == "scored" and r.compressed_tokens <= 30
    assert r.text == " ".join([CHUNKS[1], CHUNKS[3]])  # 1 and 3 fit; 2 would not
    with pytest.raises(ValueError, match="one finite score per chunk"):
        ContextCompressor(
            CompressorConfig(strategy="scored"), scorer=FixedScorer([float("nan")] * 4)
        ).compress_chunks(CHUNKS, target_tokens=30)


@pytest.mark.slow
def test_self_information_matches_direct_computation(tmp_path) -> None:
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(sorted({w for c in CHUNKS for w in c.split()}))}
    vocab["[UNK]"] = len(vocab)
    raw = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    raw.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=raw, unk_token="[UNK]")
    torch.manual_seed(0)
    model = GPT2LMHeadModel(
        GPT2Config(vocab_size=len(vocab), n_positions=64, n_embd=16, n_layer=1, n_head=2)
    )
    model.save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    scores = SelfInformationScorer(tmp_path, window=64).score(CHUNKS)
    ids = [tokenizer.encode(c, add_special_tokens=False) for c in CHUNKS]
    flat = torch.tensor([t for piece in ids for t in piece])
    with torch.no_grad():
        logits = model.eval()(flat[None]).logits[0, :-1]
    nll = torch.nn.functional.cross_entropy(logits, flat[1:], reduction="none")
    sizes = [len(p) for p in ids]
    expected, pos = [], 0
    for size in sizes:
        part = nll[max(pos - 1, 0) : pos + size - 1]  # tokens of chunk i (its first has context)
        expected.append(float(part.mean()))
        pos += size
    assert torch.allclose(scores, torch.tensor(expected), atol=1e-5)
    with pytest.raises(FileNotFoundError, match="not a local causal LM directory"):
        SelfInformationScorer(tmp_path / "nothing")
