"""GPT-2 on base tokens vs GPT-2 on hybrid (glyph) tokens at equal compute, in bits per byte.

Equal compute here means: the same model size, optimiser, number of steps and batch size, and
training windows that cover the same number of bytes of text. The hybrid model's window is
``round(block_size * bytes_per_token(hybrid) / bytes_per_token(base))`` tokens long, so every
step reads the same text in both runs and the hybrid model spends fewer position-FLOPs. Bits per
byte (``test/bpb`` of `polytok.systems.LanguageModelSystem`) is the summed cross-entropy over the
held-out plays divided by ``ln 2`` and their UTF-8 bytes, comparable across tokenizers.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import lightning as L

from polytok.data import load_source
from polytok.glyph.build import TapeBuildConfig, build_tape
from polytok.glyph.hybrid import HybridTokenizer
from polytok.systems.lm import LanguageModelSystem
from polytok.systems.token_stream import TokenStreamDataModule
from polytok.tasks.runtime import make_trainer
from polytok.tokenizers import get_tokenizer


def train_and_test(
    cfg: Any,
    tokenizer: Any,
    model: dict[str, Any],
    source: dict[str, Any],
    block_size: int,
    options: dict[str, Any],
) -> dict[str, float]:
    """Train one `LanguageModelSystem` for ``options['max_steps']`` steps, then test it."""
    L.seed_everything(int(options.get("seed", 0)), workers=True)
    steps = int(options["max_steps"])
    data = {"source": source, "block_size": block_size, "batch_size": int(options["batch_size"])}
    system = LanguageModelSystem(
        model={**model, "max_positions": max(block_size, int(model.get("max_positions", 0)))},
        tokenizer=tokenizer,
        data=data,
        lr=float(options["lr"]),
        warmup_steps=int(options["warmup_steps"]),
        max_steps=steps,
        sample_tokens=0,
    )
    datamodule = TokenStreamDataModule(
        source=source,
        tokenizer=tokenizer,
        block_size=block_size,
        batch_size=int(options["batch_size"]),
        cache_dir=options.get("cache_dir"),
        train_windows=steps * int(options["batch_size"]),
    )
    trainer = make_trainer(
        cfg,
        max_steps=steps,
        max_epochs=-1,
        limit_val_batches=0,
        num_sanity_val_steps=0,
        enable_checkpointing=False,
        val_check_interval=None,
        limit_test_batches=options.get("limit_test_batches", 1.0),
    )
    start = time.perf_counter()
    trainer.fit(system, datamodule=datamodule)
    train_s = time.perf_counter() - start
    train_loss = float(trainer.callback_metrics.get("train/loss", float("nan")))
    trainer.test(system, datamodule=datamodule, verbose=False)
    metrics = trainer.callback_metrics
    sample = system.sample("\n", 40) if options.get("sample", True) else ""
    return {
        "test_bpb": float(metrics["test/bpb"]),
        "test_loss": float(metrics["test/loss"]),
        "train_loss": train_loss,
        "block_size": block_size,
        "bytes_per_token_train": datamodule.bytes_per_token("train"),
        "bytes_per_token_test": datamodule.bytes_per_token("test"),
        "train_tokens_seen": steps * int(options["batch_size"]) * block_size,
        "train_s": round(train_s, 1),
        "parameters": sum(p.numel() for p in system.model.parameters()),
        "sample": sample,
    }


def compare(cfg: Any, options: dict[str, Any], tape_path: Path) -> dict[str, Any]:
    """Build a tape on the LM corpus's train split, then train/test base and hybrid GPT-2."""
    source = dict(options["source"])
    base_name = options["base"]
    text_source = load_source(source)
    tape_path.unlink(missing_ok=True)
    config = TapeBuildConfig(num_glyphs=int(options["glyphs"]), num_families=0)
    build_tape(text_source.documents("train"), tape_path, base_name, config).close()
    base = get_tokenizer(base_name)
    hybrid = HybridTokenizer(base_name, tape_path)
    train_text = "\n".join(text_source.documents("train"))
    ratio = len(base.encode(train_text)) / len(hybrid.encode(train_text))  # bytes/token ratio
    block = int(options["block_size"])
    hybrid_block = max(8, round(block / ratio))
    model = dict(options["model"])
    results = {
        "definition": "same steps, batch size and model; windows of equal bytes",
        "base": train_and_test(cfg, base, {**model, "name": "gpt2"}, source, block, options),
        "hybrid": train_and_test(
            cfg, hybrid, {**model, "name": "glyph_gpt2"}, source, hybrid_block, options
        ),
        "tokens_ratio_base_over_hybrid": ratio,
        "tape": str(tape_path),
    }
    results["bpb_delta_hybrid_minus_base"] = (
        results["hybrid"]["test_bpb"] - results["base"]["test_bpb"]
    )
    return results
