"""TokenStreamDataModule: cache, windows, determinism, errors (real tokenizers, tmp cache)."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from polytok.data import SPLITS, TextSource, load_source
from polytok.models.base import IGNORE_INDEX
from polytok.systems import TokenStreamDataModule
from polytok.systems.token_cache import default_cache_dir
from polytok.tokenizers import ByteBPETokenizer, CharTokenizer, HFTokenizer, get_tokenizer


@pytest.fixture(scope="module")
def source() -> TextSource:
    return load_source({"name": "dialog", "language": "english"})


@pytest.fixture(scope="module")
def char(source) -> CharTokenizer:
    return CharTokenizer.train(source.documents("train"))


def make(source, tokenizer, tmp_path, **kw) -> TokenStreamDataModule:
    kw = {"block_size": 32, "batch_size": 4, "cache_dir": tmp_path, **kw}
    return TokenStreamDataModule(source, tokenizer, **kw)


def test_ids_are_documents_joined_by_eos(source, char, tmp_path):
    dm = make(source, char, tmp_path)
    ids = dm.token_ids("val")
    docs = source.documents("val")
    expected = []
    for i, doc in enumerate(docs):
        expected += ([char.eos_id] if i else []) + char.encode(doc)
    assert ids.dtype == np.uint16 and ids.tolist() == expected
    assert dm.bytes_per_token("val") == pytest.approx(source.num_bytes("val") / len(expected))


def test_no_eos_tokenizer_joins_with_blank_line(source, tmp_path):
    bpe = ByteBPETokenizer.train(source.documents("train"), vocab_size=300)
    plain = HFTokenizer(bpe.tokenizer, name="bpe-no-eos")  # same vocabulary, no eos token
    assert plain.eos_id is None
    dm = make(source, plain, tmp_path)
    docs = source.documents("test")
    expected = []
    for i, doc in enumerate(docs):
        expected += (plain.encode("\n\n") if i else []) + plain.encode(doc)
    assert dm.token_ids("test").tolist() == expected
    assert dm.num_bytes("test") == len("\n\n".join(docs).encode("utf-8"))


def test_cache_hit_reuses_file_and_tokenizer_changes_key(source, char, tmp_path):
    dm = make(source, char, tmp_path)
    dm.prepare_data()
    files = {s: dm.cache_file(s) for s in SPLITS}
    assert all(p.is_file() for p in files.values())
    mtimes = {s: p.stat().st_mtime_ns for s, p in files.items()}
    again = make(source, char, tmp_path)
    again.prepare_data()
    assert {s: again.cache_file(s) for s in SPLITS} == files
    assert {s: p.stat().st_mtime_ns for s, p in files.items()} == mtimes
    assert isinstance(again.token_ids("train"), np.memmap)
    gpt2 = make(source, get_tokenizer("gpt2"), tmp_path)
    gpt2.prepare_data()
    assert gpt2.cache_file("train") != files["train"] and gpt2.cache_file("train").is_file()
    assert len(list(tmp_path.glob("*.npy"))) == 6 and not list(tmp_path.glob("*.tmp"))


def test_large_vocab_uses_uint32(source, tmp_path):
    dm = make(source, get_tokenizer("o200k_base"), tmp_path)
    ids = dm.token_ids("val")
    # o200k ids pass 65535, so uint16 would wrap: uint32 keeps them exact
    assert ids.dtype == np.uint32 and int(ids.max()) > np.iinfo(np.uint16).max


def test_train_windows_shapes_shift_and_determinism(source, char, tmp_path):
    dm = make(source, char, tmp_path, train_windows=20, seed=3)
    dm.setup("fit")
    ids = np.asarray(dm.token_ids("train"))
    x, y = next(iter(dm.train_dataloader()))
    assert x.shape == y.shape == (4, 32) and x.dtype == y.dtype == torch.int64
    assert torch.equal(x[:, 1:], y[:, :-1])
    dataset = dm.dataset("train")
    start = 123
    xs, ys = dataset[start]
    assert xs.tolist() == ids[start : start + 32].tolist()
    assert ys.tolist() == ids[start + 1 : start + 33].tolist()
    loader = dm.train_dataloader()
    assert len(loader.sampler) == 20 and len(loader) == 5

    def epoch(module, e):
        sampler = module.train_dataloader().sampler
        sampler.set_epoch(e)
        return list(sampler)

    same = make(source, char, tmp_path, train_windows=20, seed=3)
    other = make(source, char, tmp_path, train_windows=20, seed=4)
    assert epoch(dm, 0) == epoch(same, 0)
    assert epoch(dm, 0) != epoch(dm, 1) and epoch(dm, 0) != epoch(other, 0)
    assert max(epoch(dm, 2)) <= len(ids) - 33


def test_default_train_windows_cover_the_split(source, char, tmp_path):
    dm = make(source, char, tmp_path)
    assert len(dm.train_dataloader().sampler) == (dm.num_tokens("train") - 1) // 32


def test_val_windows_fixed_non_overlapping_every_token_once(source, char, tmp_path):
    dm = make(source, char, tmp_path, batch_size=5)
    ids = np.asarray(dm.token_ids("val")).astype(np.int64)
    batches = list(dm.val_dataloader())
    assert all(torch.equal(a[0], b[0]) for a, b in zip(batches, dm.val_dataloader()))
    x = torch.cat([b[0] for b in batches]).reshape(-1)  # (num_windows * T,)
    y = torch.cat([b[1] for b in batches]).reshape(-1)
    valid = y != IGNORE_INDEX
    assert valid.sum() == len(ids) - 1
    assert y[valid].tolist() == ids[1:].tolist()  # every target once, in order
    assert x[valid].tolist() == ids[:-1].tolist()
    padded = (~valid).sum().item()
    assert padded < 32 and (x[~valid] == char.pad_id).all()
    assert len(dm.dataset("test")) == -(-(dm.num_tokens("test") - 1) // 32)


def test_too_short_split_raises(source, char, tmp_path):
    dm = make(source, char, tmp_path, block_size=100_000)
    n_val = dm.num_tokens("val")
    with pytest.raises(ValueError) as info:
        dm.setup("validate")
    message = str(info.value)
    assert "'val'" in message and str(n_val) in message and "block_size=100000" in message


def test_empty_corpus_and_bad_arguments(source, char, tmp_path):
    for i in range(3):
        (tmp_path / f"empty{i}.txt").write_text("\n \n")
    spec = {"name": "files", "paths": [str(tmp_path / "empty*.txt")]}
    dm = make(spec, char, tmp_path)
    with pytest.raises(ValueError, match="empty"):
        dm.prepare_data()
    with pytest.raises(ValueError, match="block_size"):
        make(source, char, tmp_path, block_size=0)
    with pytest.raises(ValueError, match="train_windows"):
        make(source, char, tmp_path, train_windows=0)
    with pytest.raises(TypeError, match="TextTokenizer"):
        make(source, object(), tmp_path)


def test_default_cache_dir_follows_env(monkeypatch, tmp_path):
    monkeypatch.setenv("POLYTOK_CACHE", str(tmp_path))
    assert default_cache_dir() == tmp_path / "tokens"
    monkeypatch.delenv("POLYTOK_CACHE")
    assert default_cache_dir().parts[-3:] == (".cache", "polytok", "tokens")


def test_lightning_trainer_sees_new_windows_each_epoch(source, char, tmp_path):
    import lightning as L

    class Recorder(L.LightningModule):
        def __init__(self) -> None:
            super().__init__()
            self.layer = torch.nn.Embedding(char.vocab_size, char.vocab_size)
            self.seen: list[list[int]] = []

        def training_step(self, batch, batch_idx):
            x, y = batch
            self.seen.append(x[:, 0].tolist())
            logits = self.layer(x)  # (B, T, V)
            return torch.nn.functional.cross_entropy(logits.flatten(0, 1), y.flatten())

        def configure_optimizers(self):
            return torch.optim.SGD(self.parameters(), lr=0.1)

    def run() -> list[list[int]]:
        model = Recorder()
        trainer = L.Trainer(
            max_epochs=2,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            enable_model_summary=False,
            limit_val_batches=0,
            accelerator="cpu",
        )
        trainer.fit(model, datamodule=make(source, char, tmp_path, train_windows=8))
        return model.seen

    first = run()
    assert len(first) == 4 and first[:2] != first[2:]  # epoch 0 and epoch 1 differ
    assert run() == first  # deterministic under the seed


def test_datasets_pickle_the_path_not_the_ids(source, char, tmp_path):
    import pickle

    dm = make(source, char, tmp_path)
    for split in SPLITS:
        dataset = dm.dataset(split)
        assert len(dataset) > 0  # maps the file
        blob = pickle.dumps(dataset)
        assert len(blob) < 1000  # the ids stay on disk
        clone = pickle.loads(blob)
        assert all(torch.equal(a, b) for a, b in zip(clone[0], dataset[0]))
