from pathlib import Path

import pytest

from polytok.cli import main

ROOT = Path(__file__).resolve().parents[2]


def test_tape_build_extend_and_show(tmp_path, capsys):
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat.\nthe cat sat on the hat.\n" * 20)
    out = tmp_path / "tape.db"
    args = ["tape", "build", "--corpus", str(corpus), "--glyphs", "8", "--families", "0"]
    assert main([*args, "--out", str(out)]) == 0
    assert "version 1, 8 glyphs" in capsys.readouterr().out
    assert main([*args, "--glyphs", "12", "--extend", "--out", str(out)]) == 0
    assert main(["tape", "show", str(out), "--top", "3"]) == 0
    shown = capsys.readouterr().out
    assert "versions [1, 2]" in shown and "fewer)" in shown and "the cat sat on" in shown
    assert main([*args, "--out", str(out)]) == 2  # exists and no --extend
    assert main(["tape", "show", str(tmp_path / "missing.db")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main([*args, "--base", "gpt2", "--extend", "--out", str(out)]) == 2
    assert "built on 'cl100k_base'" in capsys.readouterr().err


def test_configs_compose():
    from hydra import compose, initialize_config_dir

    with initialize_config_dir(config_dir=str(ROOT / "configs"), version_base="1.3"):
        train = compose(config_name="train", overrides=["experiment=glyph_gpt2"])
        assert train.model.name == "glyph_gpt2" and train.tokenizer.name == "hybrid"
        assert train.tokenizer.tape.endswith("shakespeare_gpt2_4096.db")
        ev = compose(config_name="eval", overrides=["experiment=context_efficiency"])
        assert ev.task == "context_efficiency" and ev.glyph.glyphs == 4096
        assert ev.glyph.base == "cl100k_base" and ev.glyph.lm.base == "gpt2"


@pytest.mark.slow
def test_hybrid_from_config_builds_missing_tape_and_trains(tmp_path):
    """The tokenizer hook builds the tape, and LanguageModelSystem trains glyph_gpt2 on it."""
    import lightning as L

    from polytok.data import load_source
    from polytok.glyph.hybrid import HybridTokenizer
    from polytok.systems import LanguageModelSystem, TokenStreamDataModule

    source = load_source({"name": "dialog", "language": "english"})
    options = {"base": "gpt2", "tape": str(tmp_path / "t.db"), "glyphs": 64}
    tok = HybridTokenizer.from_config(options, lambda: source.documents("train"))
    assert len(tok.glyphs) == 64
    with pytest.raises(FileNotFoundError):
        HybridTokenizer.from_config({"tape": str(tmp_path / "none.db")})
    system = LanguageModelSystem(
        model={"name": "glyph_gpt2", "dim": 16, "num_layers": 1, "num_heads": 2},
        tokenizer=tok.to_spec(),
        max_steps=2,
        warmup_steps=1,
        sample_tokens=0,
    )
    data = TokenStreamDataModule(source, tok, block_size=16, batch_size=2, cache_dir=tmp_path)
    trainer = L.Trainer(fast_dev_run=True, logger=False, enable_progress_bar=False)
    trainer.fit(system, datamodule=data)
    text = system.sample("Hello", 5)
    assert isinstance(text, str)
    assert tok.decode(tok.encode(text)) == text
