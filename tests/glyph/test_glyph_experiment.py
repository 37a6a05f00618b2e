import json

import pytest


@pytest.mark.slow
def test_context_efficiency_experiment_end_to_end(tmp_path):
    """eval.py experiment=context_efficiency with small settings writes every artefact."""
    from pathlib import Path

    from hydra import compose, initialize_config_dir

    from polytok.run import evaluate

    root = Path(__file__).resolve().parents[2]
    overrides = [
        "experiment=context_efficiency",
        f"paths.output_dir={tmp_path}",
        "glyph.glyphs=256",
        "glyph.corpora=[dialog]",
        "glyph.families=32",
        "glyph.lm.source.name=dialog",
        "glyph.lm.glyphs=64",
        "glyph.lm.max_steps=3",
        "glyph.lm.model.dim=16",
        "glyph.lm.model.num_layers=1",
        "glyph.lm.block_size=16",
        "glyph.lm.limit_test_batches=2",
        "glyph.lm.sample=false",
        "callbacks.progress_bar=none",
    ]
    with initialize_config_dir(config_dir=str(root / "configs"), version_base="1.3"):
        cfg = compose(config_name="eval", overrides=overrides)
    result = evaluate(cfg)
    results = json.loads((tmp_path / "results.json").read_text())
    dialog = results["corpora"]["dialog"]
    assert dialog["test"]["round_trip_exact"] == 1.0
    assert dialog["test"]["reduction"]["hybrid"] > dialog["test"]["reduction"]["word_bpe"]
    assert 0 < results["lossy"]["mean_fidelity_tape_embedder"] <= 1
    assert results["lm"]["hybrid"]["block_size"] < results["lm"]["base"]["block_size"]
    assert results["lm"]["base"]["test_bpb"] > 0 and results["lm"]["hybrid"]["test_bpb"] > 0
    for name in ("report.md", "token_reduction.png", "glyph_usage.png", "bits_per_byte.png"):
        assert (tmp_path / name).stat().st_size > 0
    assert "Context-efficiency" in (tmp_path / "report.md").read_text()
    assert result["metrics"]["dialog/hybrid_reduction"] == dialog["test"]["reduction"]["hybrid"]
