"""``python train.py experiment=glyph_adapt model.path=DIR tape=TAPE adapter=... init=...``.

Fine-tunes a local Hugging Face causal LM onto a glyph vocabulary (`polytok.glyph.adapted_lm`):
validates everything first (base directory, tape against the model's tokenizer, adapter, init,
LoRA targets) so a bad input leaves nothing behind, records the base's fingerprint in the model
config (so the Lightning checkpoint refuses a moved or changed base), trains with the ``lm`` task
and the adapter's recipe (``recipes.<adapter>``: learning rate, warm-up, weight decay; embeddings
and norms never decay), then writes ``adapter/`` (peft adapter + new rows + portable tokenizer;
not for ``full``) and ``merged/`` (a standard Hugging Face directory + ``hybrid_tokenizer/``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from polytok.tasks.registry import train_task
from polytok.tasks.runtime import discard_incomplete, to_dict


def hybrid_tokenizer(tape: str, model_path: str, texts: Any = None, glyphs: int = 4096) -> Any:
    """The hybrid tokenizer of ``tape`` over the model's tokenizer; builds a missing tape on ``texts``.

    Raises:
        ValueError: the tape was built on another base tokenizer than the model's, or the model's
            tokenizer is not a tiktoken encoding a tape can extend.
    """
    from polytok.glyph.adapted_lm import check_tape_base
    from polytok.glyph.hybrid import HybridTokenizer
    from polytok.glyph.tape import GlyphTape
    from polytok.tokenizers.hf_model import model_tokenizer

    own = model_tokenizer(model_path)
    if Path(tape).is_file():
        with_base = GlyphTape(tape)
        base = with_base.base_tokenizer
        with_base.close()
    else:
        base = getattr(own, "name", "")
    if type(own).__name__ != "TiktokenTokenizer":
        raise ValueError(
            f"the model in {model_path!r} uses a {type(own).__name__}; glyph tapes extend tiktoken "
            "encodings (gpt2, cl100k_base, ...): adapt a model with such a tokenizer"
        )
    options = {"base": base, "tape": str(tape), "glyphs": glyphs}
    tok = HybridTokenizer.from_config(options, texts)
    check_tape_base(model_path, tok)
    return tok


def prepare(cfg: DictConfig) -> tuple[DictConfig, Any]:
    """Validate the run and return ``cfg`` completed (tokenizer spec, base fingerprint, recipe).

    Raises:
        ValueError / TypeError / FileNotFoundError: any bad input, before anything is written.
    """
    from polytok.data import load_source
    from polytok.glyph.adapted_lm import GlyphAdaptedLM, lora_targets
    from polytok.models import build_config
    from polytok.models.hf_causal import load_causal_lm, model_fingerprint, resolve_model_dir

    model = to_dict(cfg.model)
    options = {k: v for k, v in model.items() if k != "name"}
    config = build_config(GlyphAdaptedLM, options)  # adapter / init names
    path = str(resolve_model_dir(config.path))
    recipes = to_dict(cfg.get("recipes")) or {}
    if config.adapter == "lora":
        lora_targets(load_causal_lm(path), config.lora_targets)
    source = load_source(to_dict(cfg.data)["source"])
    tok = hybrid_tokenizer(
        str(cfg.tape), path, lambda: source.documents("train"), int(cfg.get("glyphs", 4096))
    )
    with open_dict(cfg):
        cfg.model.path = path
        cfg.model.base_fingerprint = model_fingerprint(path)
        cfg.tokenizer = OmegaConf.create(
            {"name": "hybrid", "base": tok.base.name, "tape": str(tok.tape.path)}
        )
        for key, value in (recipes.get(config.adapter) or {}).items():
            cfg.system[key] = value
    return cfg, tok


@train_task("glyph_adapt")
def train(cfg: DictConfig) -> dict[str, Any]:
    """Validate, train (the ``lm`` task), then write ``adapter/`` and ``merged/``."""
    from polytok.glyph.adapted_save import save_adapter, save_merged
    from polytok.io import from_pretrained
    from polytok.tasks.lm import train as train_lm

    try:
        cfg, _ = prepare(cfg)
    except Exception:
        discard_incomplete(Path(cfg.paths.output_dir))
        raise
    result = train_lm(cfg)
    if "pretrained" not in result:  # fast_dev_run
        return result
    model, tokenizer = from_pretrained(result["pretrained"])
    out = Path(result["output_dir"])
    if model.config.adapter != "full":
        result["adapter_dir"] = str(save_adapter(model, out / "adapter", tokenizer))
    result["merged_dir"] = str(save_merged(model, out / "merged", tokenizer))
    result["base_fingerprint"] = model.config.base_fingerprint
    (out / "metrics.json").write_text(json.dumps(result, indent=2))
    return result
