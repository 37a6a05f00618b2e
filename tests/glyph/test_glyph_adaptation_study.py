"""``python eval.py experiment=glyph_adaptation`` on a tiny base, with a tiny budget."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
import torch

from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
from polytok.models.hf_export import export_hf
from polytok.tasks.adapt_study import cut_pieces, spread

ROOT = Path(__file__).resolve().parents[2]


def test_pieces_and_spread():
    doc = "a" * 5 + "\n" + "b" * 5 + "\n" + "c" * 20 + "\n"
    assert cut_pieces([doc], 12) == ["aaaaa\nbbbbb\n", "c" * 20 + "\n"]
    assert "".join(cut_pieces([doc], 12)) == doc
    assert spread(list("abcdefghij"), 3) == ["a", "e", "j"] and spread(["a"], 3) == ["a"]


@pytest.mark.slow
def test_study_writes_results_plots_report(tmp_path, embedder):
    sys.path.insert(0, str(ROOT / "tests"))
    from test_run import make_cfg

    from polytok.run import evaluate

    torch.manual_seed(0)
    model = GPT2LM(GPT2LMConfig(dim=16, num_layers=1, num_heads=2, max_positions=256))
    with torch.no_grad():
        model.net.transformer.ln_f.bias.normal_(0, 0.5)
    base = export_hf(model, tmp_path / "base")
    text = "".join(
        f"Act {i * 37 % 101}: ROMEO: But soft, what light? JULIET: Ay me.\n" for i in range(400)
    )
    (tmp_path / "train.txt").write_text(text)
    build_tape([text], tmp_path / "t.db", "gpt2", TapeBuildConfig(num_glyphs=30), embedder=embedder)
    out = tmp_path / "study"
    cfg = make_cfg(
        "eval",
        [
            "experiment=glyph_adaptation",
            f"model.path={base}",
            f"tape={tmp_path / 't.db'}",
            "~study.source",
            f"+study.source={{name: files, paths: [{tmp_path / 'train.txt'}]}}",
            f"paths.cache_dir={tmp_path / 'cache'}",
            "study.steps=2",
            "study.eval_every=1",
            "study.batch_size=2",
            "study.base_block_size=16",
            "study.play_pieces=3",
            "study.dialog_lines=3",
            "study.step0_inits=[split,mean]",
            "study.variants=[[new_rows,split],[lora,random]]",
        ],
        out,
    )
    result = evaluate(cfg)
    results = json.loads((out / "results.json").read_text())
    assert set(results["step0"]) == {"split", "mean"}
    first, second = results["variants"]
    assert [p["step"] for p in first["curve"]] == [0, 1, 2]  # step 0 shared with step0
    assert first["curve"][0]["plays"] == results["step0"]["split"]["plays"]
    assert second["curve"][0]["step"] == 0 and second["curve"][2]["bytes_seen"] > 0
    assert results["held_out"]["plays"]["tokens_saved"] > 0
    assert (out / "bpb_plays.png").is_file() and (out / "bpb_dialog.png").is_file()
    assert "| new_rows | split |" in (out / "report.md").read_text()
    assert result["metrics"]["plays/base_bpb"] == results["held_out"]["plays"]["base_bpb"]


def test_study_refuses_bad_variants(tmp_path):
    sys.path.insert(0, str(ROOT / "tests"))
    from test_run import make_cfg

    from polytok.run import evaluate

    out = tmp_path / "study"
    out.mkdir()
    cfg = make_cfg(
        "eval",
        ["experiment=glyph_adaptation", "model.path=gpt2", "study.variants=[[lora,zeros]]"],
        out,
    )
    with pytest.raises(ValueError, match="hub name"):
        evaluate(cfg)
    assert not out.exists()
