"""Every Python block (```python and ```py) of README.md and docs/*.md runs in a test.

Blocks of one file run in order in one namespace, in a temporary working directory, as a reader
would paste them. Placeholders a reader fills in are filled by fixtures: ``logs/train/runs/<time>``
is a tiny trained-run directory (``pretrained/`` + ``checkpoints/best.ckpt``), ``.../merged`` a
tiny glyph-adapted GPT-2, ``/path/to/local/model`` the MiniLM directory polytok ships, ``/tmp/``
the test's directory; corpus-sized parameters are shrunk (listed in ``SHRINK``). Files whose blocks
another test already runs in full are listed in ``RUN_ELSEWHERE`` (checked here).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
RUN_ELSEWHERE = {  # doc -> the test that execs every ```python block of it
    "count.md": "tests/count/test_count_docs.py",
    "tokenizers.md": "tests/tokenizers/test_tokenizers_docs.py",
    "poly.md": "tests/poly/test_poly_docs.py",
}
SLOW = {"README.md", "embed.md", "glyph.md", "compress.md", "data.md"}  # encoders, tapes, corpora
SHRINK = {"num_glyphs=4096": "num_glyphs=300"}  # a full-corpus tape takes minutes here


def blocks(doc: Path) -> list[str]:
    return re.findall(r"^```(?:python|py)\n(.*?)^```", doc.read_text("utf-8"), flags=re.S | re.M)


def _params():
    for doc in DOCS:
        if doc.name in RUN_ELSEWHERE or not blocks(doc):
            continue
        marks = [pytest.mark.slow] if doc.name in SLOW else []
        yield pytest.param(doc, id=doc.name, marks=marks)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory) -> Path:
    """What ``python train.py`` leaves, in miniature: ``pretrained/`` and ``checkpoints/``."""
    from polytok.io import save_pretrained
    from polytok.systems import LanguageModelSystem
    from polytok.tokenizers import CharTokenizer

    run = tmp_path_factory.mktemp("run")
    tok = CharTokenizer.train(["ROMEO: But soft, what light through yonder window breaks?\n"])
    model = {"name": "gpt2", "dim": 16, "num_layers": 1, "num_heads": 2, "max_positions": 64}
    system = LanguageModelSystem(model=model, tokenizer=tok.to_spec())
    save_pretrained(system.model, run / "pretrained", tok)
    (run / "checkpoints").mkdir()
    ckpt = {"state_dict": system.state_dict(), "hyper_parameters": dict(system.hparams)}
    torch.save(ckpt, run / "checkpoints" / "best.ckpt")
    return run


@pytest.fixture(scope="module")
def tiny_glyph_run(tmp_path_factory) -> Path:
    """A glyph-adapted tiny GPT-2 saved as ``merged/`` (what ``experiment=glyph_adapt`` writes)."""
    from polytok.embed import StaticEmbedder
    from polytok.glyph.adapted_save import save_merged
    from polytok.glyph.build import TapeBuildConfig, build_tape
    from polytok.glyph.hybrid import HybridTokenizer
    from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
    from polytok.models.hf_export import export_hf
    from polytok.systems import LanguageModelSystem

    root = tmp_path_factory.mktemp("glyph_run")
    torch.manual_seed(0)
    gpt = GPT2LM(GPT2LMConfig(dim=16, num_layers=1, num_heads=2))
    with torch.no_grad():  # a trained final LayerNorm has a bias (merging folds through it)
        gpt.net.transformer.ln_f.bias.normal_(0, 0.5)
    hf = export_hf(gpt, root / "hf")
    play = "ROMEO: But soft, what light through yonder window breaks?\n" * 6
    cfg = TapeBuildConfig(num_glyphs=20)
    build_tape([play] * 4, root / "t.db", "gpt2", cfg, embedder=StaticEmbedder()).close()
    tok = HybridTokenizer("gpt2", root / "t.db")
    model = {"name": "glyph_adapt", "path": str(hf), "adapter": "new_rows"}
    system = LanguageModelSystem(model=model, tokenizer=tok.to_spec())
    save_merged(system.model, root / "merged", tok)
    return root


@pytest.fixture(scope="module")
def dialog_tape(tmp_path_factory) -> Path:
    """The lossy dialog tape docs/glyph.md's second block reads (families on)."""
    from polytok.data import load_source
    from polytok.embed import StaticEmbedder
    from polytok.glyph.build import TapeBuildConfig, build_tape

    path = tmp_path_factory.mktemp("dialog") / "dialog.db"
    docs = list(load_source({"name": "dialog", "language": "english"}).documents("train"))
    config = TapeBuildConfig(num_glyphs=100, num_families=16, n_clusters=4, unit="line")
    build_tape(docs, path, "cl100k_base", config, embedder=StaticEmbedder()).close()
    return path


def _fill(code: str, tmp: Path, request) -> str:
    code = code.replace("/tmp/", f"{tmp}/")  # first: fixture paths below live under /tmp too
    if "logs/train/runs/<time>/" in code:
        code = code.replace("logs/train/runs/<time>/", f"{request.getfixturevalue('tiny_run')}/")
    if "logs/glyph_adapt/runs/<time>/" in code:
        root = request.getfixturevalue("tiny_glyph_run")
        code = code.replace("logs/glyph_adapt/runs/<time>/", f"{root}/")
    if '"dialog.db"' in code:
        code = code.replace('"dialog.db"', f'"{request.getfixturevalue("dialog_tape")}"')
    if "/path/to/local/model" in code:
        from polytok.assets import minilm_dir

        code = code.replace("/path/to/local/model", str(minilm_dir()))
    for old, new in SHRINK.items():
        code = code.replace(old, new)
    return code


@pytest.mark.parametrize("doc", list(_params()))
def test_doc_python_blocks_run(doc: Path, tmp_path, monkeypatch, request) -> None:
    monkeypatch.chdir(tmp_path)
    namespace: dict = {"__name__": doc.stem}
    for block in blocks(doc):
        exec(compile(_fill(block, tmp_path, request), str(doc), "exec"), namespace)


def test_every_doc_block_has_a_runner() -> None:
    for name, test in RUN_ELSEWHERE.items():
        source = (ROOT / test).read_text("utf-8")
        assert f'"{name}"' in source and "exec(compile(" in source, (name, test)
        text = (ROOT / "docs" / name).read_text("utf-8")
        assert "```py\n" not in text, f"{name}: its ```py blocks would run nowhere"
    covered = {p.values[0].name for p in _params()} | set(RUN_ELSEWHERE)
    assert covered == {doc.name for doc in DOCS if blocks(doc)}
