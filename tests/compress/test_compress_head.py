"""The default scorer's learned head: formula, save/load, the shipped head, bad directories."""

import json

import pytest
import torch

from polytok.compress.head import DEFAULT_DIR, ScorerHead, default_head
from polytok.compress.scorers import DEFAULT_WEIGHTS, FEATURES, EncoderScorer

CHUNKS = [
    "The weather was mild all week in the valley.",
    "Our parser reaches 92 percent accuracy on the treebank test set.",
    "We thank the reviewers for their comments.",
]
QUERY = "parser accuracy results"


class _Vectors:
    """A fixed embedder: a unit 3-vector per known text."""

    table = {
        CHUNKS[0]: [1.0, 0.0, 0.0],
        CHUNKS[1]: [0.0, 0.6, 0.8],
        CHUNKS[2]: [0.0, 0.0, 1.0],
        QUERY: [0.0, 1.0, 0.0],
    }

    def encode(self, texts):
        return torch.tensor([self.table[t] for t in texts])


def _head(**changes) -> ScorerHead:
    fields = {
        "encoder": "test-encoder",
        "num_layers": 2,
        "precision": "float32",
        "feature_weights": {"similarity": 0.5, "bm25": 0.0, "position": 0.25},
        "sentence_weights": torch.tensor([2.0, -1.0, 0.5]),
        "query_weights": torch.tensor([0.0, 3.0, 1.0]),
        "info": {"C": 1.0},
    }
    return ScorerHead(**{**fields, **changes})


def test_score_adds_the_head_terms_to_the_weighted_features() -> None:
    head = _head()
    scorer = EncoderScorer(_Vectors(), head=head)
    assert scorer.weights == {**dict.fromkeys(FEATURES, 0.0), **head.feature_weights}
    features = scorer.features(CHUNKS, QUERY)
    weights = torch.tensor([scorer.weights[f] for f in FEATURES])
    vectors = torch.tensor([_Vectors.table[c] for c in CHUNKS])
    # s . (w_s + w_q * q) written out: q = (0, 1, 0), so w_s + w_q * q = (2, 2, 0.5)
    by_hand = vectors @ torch.tensor([2.0, 2.0, 0.5])
    assert torch.allclose(by_hand, torch.tensor([2.0, 1.6, 0.5]))
    assert torch.allclose(scorer.score(CHUNKS, QUERY), features @ weights + by_hand)
    without = EncoderScorer(
        _Vectors(), head=None, **{f"{f}_weight": scorer.weights[f] for f in FEATURES}
    )
    assert not torch.allclose(without.score(CHUNKS, QUERY), scorer.score(CHUNKS, QUERY))
    # explicit weights override the head's; the vector terms stay
    moved = EncoderScorer(_Vectors(), head=head, position_weight=2.0)
    assert moved.weights["position"] == 2.0 and moved.weights["similarity"] == 0.5


def test_without_a_query_the_document_mean_stands_in() -> None:
    head = _head()
    scorer = EncoderScorer(_Vectors(), head=head)
    vectors = torch.tensor([_Vectors.table[c] for c in CHUNKS])
    centroid = torch.nn.functional.normalize(vectors.mean(0), dim=0)
    features = scorer.features(CHUNKS)
    weights = torch.tensor([scorer.weights[f] for f in FEATURES])
    expected = features @ weights + head.vector_scores(vectors, centroid)
    assert torch.allclose(scorer.score(CHUNKS), expected)


def test_save_load_round_trip_gives_identical_scores(tmp_path) -> None:
    head = _head()
    head.save(tmp_path / "head")
    loaded = ScorerHead.load(tmp_path / "head")
    assert loaded.feature_weights == head.feature_weights and loaded.info == head.info
    assert (loaded.num_layers, loaded.precision, loaded.encoder) == (2, "float32", "test-encoder")
    assert torch.equal(loaded.sentence_weights, head.sentence_weights)
    assert torch.equal(loaded.query_weights, head.query_weights)
    a = EncoderScorer(_Vectors(), head=head).score(CHUNKS, QUERY)
    b = EncoderScorer(_Vectors(), head=str(tmp_path / "head")).score(CHUNKS, QUERY)
    assert torch.equal(a, b)
    head.save(tmp_path / "head")  # a head polytok wrote is replaced
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "notes.txt").write_text("mine")
    with pytest.raises(FileExistsError):
        head.save(foreign)  # a directory polytok did not write needs overwrite=True
    assert (foreign / "notes.txt").read_text() == "mine"


def test_bad_heads_are_refused_with_the_reason(tmp_path) -> None:
    with pytest.raises(ValueError, match="two \\(D,\\) vectors"):
        _head(query_weights=torch.zeros(4))
    with pytest.raises(ValueError, match="finite"):
        _head(sentence_weights=torch.tensor([float("nan"), 0.0, 0.0]))
    with pytest.raises(ValueError, match="finite number"):
        _head(feature_weights={"bm25": float("inf")})
    with pytest.raises(ValueError, match="reads 3-wide vectors"):
        _head().vector_scores(torch.zeros(2, 4), torch.zeros(4))
    with pytest.raises(FileNotFoundError, match="does not exist"):
        ScorerHead.load(tmp_path / "missing")
    other = tmp_path / "other"
    other.mkdir()
    (other / "config.json").write_text(json.dumps({"format": "polytok-cross-encoder"}))
    with pytest.raises(ValueError, match="holds no polytok scorer head"):
        EncoderScorer(_Vectors(), head=other)
    _head().save(tmp_path / "cut")
    (tmp_path / "cut" / "head.safetensors").unlink()
    with pytest.raises(FileNotFoundError, match="head.safetensors is missing"):
        ScorerHead.load(tmp_path / "cut")
    _head().save(tmp_path / "garbled")
    (tmp_path / "garbled" / "head.safetensors").write_bytes(b"not safetensors")
    with pytest.raises(ValueError, match="not a readable safetensors file"):
        ScorerHead.load(tmp_path / "garbled")
    with pytest.raises(TypeError, match="head must be"):
        EncoderScorer(_Vectors(), head=3)


def test_the_shipped_head_is_the_default_scorer() -> None:
    head = default_head()
    assert (
        head is ScorerHead.load(DEFAULT_DIR)
        or head.num_layers == ScorerHead.load(DEFAULT_DIR).num_layers
    )
    assert (head.encoder, head.precision, head.dim) == ("all-MiniLM-L6-v2", "int8", 384)
    assert 1 <= head.num_layers < 6 and set(head.feature_weights) <= set(FEATURES)
    assert (
        float(head.sentence_weights.abs().sum()) > 0 and float(head.query_weights.abs().sum()) > 0
    )
    scorer = EncoderScorer()
    assert scorer.head is head
    assert EncoderScorer(_Vectors()).head is None  # "auto" with a given embedder: no head
    assert EncoderScorer(_Vectors()).weights == DEFAULT_WEIGHTS
    embedder = scorer.embedder
    assert embedder.num_layers == head.num_layers and embedder.precision == "int8"
    assert len(embedder.model.encoder.layer) == head.num_layers
