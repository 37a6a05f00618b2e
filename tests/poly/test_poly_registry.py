"""PolyTokenizer API: tokens, versions (copy-on-write), fallback levels, init, encode, errors."""

from __future__ import annotations

import pytest
import torch

from polytok.poly import PolyTokenizer
from polytok.poly.fallback import bucket_of
from polytok.tokenizers import get_tokenizer


@pytest.fixture(scope="module")
def gpt2():
    return get_tokenizer("gpt2")


@pytest.fixture
def poly(gpt2):
    p = PolyTokenizer(dim=64, modalities=("text", "image"), oov_buckets=8)
    weight = torch.randn(gpt2.vocab_size, 64, generator=torch.Generator().manual_seed(0))
    p.register_base(gpt2, weight)
    return p


def test_add_and_get_with_exact_level(poly):
    ids = poly.add_tokens(["New York", "polytokenizer", "hello"])
    assert ids == [0, 1, 2]
    assert poly.add_token("hello") == 2  # idempotent
    hit = poly.lookup("hello")
    assert hit.level == "exact" and hit.table == "text:v1" and hit.embedding.shape == (64,)
    batch = poly.get_embeddings(["hello", "New York", "hello"])
    assert batch.shape == (3, 64) and torch.equal(batch[0], batch[2])
    assert torch.equal(batch[1], poly.get_embedding("New York"))


def test_meta_init_is_mean_of_subtoken_embeddings(poly, gpt2):
    poly.add_token("polytokenizer")
    pieces = gpt2.encode("polytokenizer")
    assert len(pieces) > 1
    expected = poly.embedding.base("text")[pieces].mean(0)
    assert torch.allclose(poly.get_meta_embedding("polytokenizer"), expected, atol=1e-5)
    # stored embedding is the spread of that mean by the text code
    spread = poly.embedding.spread(expected, "text")
    assert torch.allclose(poly.get_embedding("polytokenizer"), spread, atol=1e-5)


def test_given_init_and_fallback_init(poly):
    init = torch.randn(64)
    poly.add_token("cat-photo", modality="image", init=init)
    assert torch.allclose(poly.get_meta_embedding("cat-photo", "image"), init, atol=1e-5)
    # image has no base model: a new token starts from its fallback (OOV bucket) row
    served = poly.lookup("dog-photo", "image")
    assert served.level == "oov_bucket" and served.row == bucket_of("dog-photo", 8)
    poly.add_token("dog-photo", modality="image")
    assert torch.equal(poly.get_embedding("dog-photo", "image"), served.embedding)
    assert poly.lookup("dog-photo", "image").level == "exact"


def test_fallback_chain_levels_and_stats(poly):
    poly.add_tokens(["alpha", "beta"])
    poly.add_version("text", "v2")  # copy-on-write child of v1
    poly.add_token("gamma", version="v2")
    poly.add_modality("audio", oov_buckets=0)
    poly.stats.reset()
    assert poly.lookup("gamma", version="v2").level == "exact"
    older = poly.lookup("alpha", version="v2")
    assert older.level == "older_version" and older.version == "v1"
    assert torch.equal(older.embedding, poly.get_embedding("alpha", version="v1"))
    oov = poly.lookup("never-seen", version="v2")
    assert oov.level == "oov_bucket" and oov.table == "oov:text"
    assert poly.lookup("gamma", version="v1").level == "oov_bucket"  # parents don't see children
    assert poly.lookup("beep", "audio").level == "global"
    # exact: "gamma" in v2 and "alpha" read directly from v1
    assert poly.stats.as_dict() == {"exact": 2, "older_version": 1, "oov_bucket": 2, "global": 1}
    out = poly.get_embeddings(["gamma", "alpha", "zzz", "beta"], version="v2")
    assert torch.equal(out[1], older.embedding)
    assert torch.equal(out[2], poly.get_embedding("zzz", version="v2"))
    assert poly.stats.as_dict()["older_version"] == 3
    # default version is the newest one
    assert poly.lookup("gamma").level == "exact"


def test_copy_on_write_leaves_parent_untouched(poly):
    poly.add_tokens(["alpha"])
    poly.add_version("text", "v2", parent="v1")
    parent_row = poly.get_embedding("alpha", version="v1").clone()
    (row,) = poly.copy_on_write(["alpha"], "text", "v2")
    poly.embedding.store.write("text:v2", torch.tensor([row]), torch.zeros(1, 64))
    assert poly.lookup("alpha", version="v2").level == "exact"
    assert torch.equal(poly.get_embedding("alpha", version="v1"), parent_row)
    assert poly.version_chain("text", "v2") == ["v2", "v1"]
    poly.add_version("text", "v3", parent=None)
    # no parent: then the older versions, newest first
    assert poly.version_chain("text", "v3") == ["v3", "v2", "v1"]


def test_encode_decode_embed(poly, gpt2):
    poly.add_tokens(["New York", "polytokenizer"])
    text = "I love New York and polytokenizer!"
    ids = poly.encode(text)
    v = gpt2.vocab_size
    assert v + poly.token_id("New York") in ids and v + poly.token_id("polytokenizer") in ids
    assert poly.decode(ids) == text
    assert len(ids) < len(gpt2.encode(text))
    emb = poly.embed(text)
    assert emb.shape == (len(ids), 64)
    assert torch.allclose(emb[ids.index(v)], poly.get_embedding("New York"))


def test_static_embedder_as_base_model():
    from polytok.embed import StaticEmbedder

    static = StaticEmbedder()
    p = PolyTokenizer(dim=static.dim)
    p.register_base(static.tokenizer, static.weight)
    p.add_tokens(["machine learning", "deep learning", "banana bread"])
    cos = torch.nn.functional.cosine_similarity
    ml, dl, bb = p.get_embeddings(["machine learning", "deep learning", "banana bread"])
    assert cos(ml, dl, dim=0) > cos(ml, bb, dim=0)  # informative init carries semantics


def test_errors_are_clear(poly):
    with pytest.raises(ValueError, match=r"known modalities: \['text', 'image'\]"):
        poly.add_token("x", modality="video")
    with pytest.raises(ValueError, match=r"known versions: \['v1'\]"):
        poly.get_embedding("x", version="v9")
    with pytest.raises(ValueError, match="init vectors must have shape"):
        poly.add_token("x", init=torch.randn(32))
    poly.add_token("dup", init=torch.ones(64))
    poly.add_token("dup", init=torch.ones(64))  # same init: fine
    with pytest.raises(ValueError, match="different init"):
        poly.add_token("dup", init=torch.zeros(64))
    with pytest.raises(ValueError, match="different init"):
        poly.add_tokens(["a1", "a1"], inits=torch.stack([torch.ones(64), torch.zeros(64)]))
    with pytest.raises(ValueError, match="exists"):
        poly.add_modality("text")
    with pytest.raises(ValueError, match="exists"):
        poly.add_version("text", "v1")
    with pytest.raises(ValueError, match="base embedding matrix must be"):
        poly.register_base(get_tokenizer("gpt2"), torch.randn(50257, 32))
    with pytest.raises(ValueError, match="modality name"):
        poly.add_modality("bad name")
    with pytest.raises(ValueError, match="register_base"):
        PolyTokenizer(dim=16).encode("free text")


def test_subspace_registry_isolates_modalities():
    p = PolyTokenizer(dim=64, modalities=("text", "image"), spreading_mode="subspace")
    assert p.in_dim == 32
    init = torch.randn(32)
    p.add_token("x", init=init)
    p.add_token("x", modality="image", init=init)
    a, b = p.get_embedding("x"), p.get_embedding("x", "image")
    assert abs(float(a.detach() @ b.detach())) < 1e-5
    assert torch.allclose(p.get_meta_embedding("x", "image"), init, atol=1e-5)
