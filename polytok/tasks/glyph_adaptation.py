"""``python eval.py experiment=glyph_adaptation model.path=DIR``: the glyph adaptation study.

One tape is mined on the training split only (``study.source``); the adapted model is evaluated on
pieces of the held-out Shakespeare plays and on novel dialog lines (test lines never seen verbatim
in training). For every init at step 0 and every ``(adapter, init)`` variant along training (all
variants read the same windows: equal bytes seen), it reports test bits per byte on hybrid tokens,
the base model's bits per byte on base tokens over the same bytes, tokens saved, documents per
2048-token window and training tokens/s, and writes ``results.json``, one PNG per held-out set
(bpb against bytes seen) and ``report.md``. ``results.json`` is rewritten after every variant, so
an interrupted study keeps what it measured.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

import torch
from omegaconf import DictConfig

from polytok.tasks.registry import eval_task
from polytok.tasks.runtime import discard_incomplete, output_dir, to_dict

log = logging.getLogger(__name__)
HELD_OUT = ("plays", "dialog")


def _held_out(opts: dict[str, Any]) -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """(scored pieces per set, whole items per set for token counts)."""
    from polytok.tasks.adapt_study import cut_pieces, spread
    from polytok.tasks.context_efficiency import load_held_out

    plays, dialog = load_held_out("shakespeare"), load_held_out("dialog")
    pieces = cut_pieces(plays.test, int(opts["piece_bytes"]))
    scored = {
        "plays": spread(pieces, int(opts["play_pieces"])),
        "dialog": spread(dialog.test, int(opts["dialog_lines"])),
    }
    return scored, {"plays": plays.test, "dialog": dialog.test}


def _prepare(cfg: DictConfig) -> dict[str, Any]:
    """Validate everything that can fail on input, before any output is written."""
    from polytok.data import load_source
    from polytok.glyph.adapted_lm import GlyphAdaptedLM
    from polytok.models import build_config
    from polytok.models.hf_causal import resolve_model_dir
    from polytok.tasks.glyph_adapt import hybrid_tokenizer

    opts = to_dict(cfg.study)
    path = str(resolve_model_dir(cfg.model.get("path")))
    for adapter, init in opts["variants"]:
        build_config(GlyphAdaptedLM, {"adapter": adapter, "init": init})
    for init in opts["step0_inits"]:
        build_config(GlyphAdaptedLM, {"init": init})
    source = load_source(opts["source"])
    tok = hybrid_tokenizer(
        str(cfg.tape), path, lambda: source.documents("train"), int(opts["glyphs"])
    )
    return {"opts": opts, "path": path, "source": source, "tok": tok}


def _train_stream(prep: dict[str, Any], cache_dir: str) -> dict[str, Any]:
    from polytok.systems import TokenStreamDataModule
    from polytok.tokenizers.hf_model import model_tokenizer

    def stream(tokenizer: Any):
        dm = TokenStreamDataModule(
            source=prep["source"],
            tokenizer=tokenizer,
            block_size=8,
            batch_size=1,
            cache_dir=cache_dir,
        )
        dm.setup("fit")
        return dm

    hybrid, base = stream(prep["tok"]), stream(model_tokenizer(prep["path"]))
    ratio = hybrid.num_tokens("train") / base.num_tokens("train")
    block = max(round(int(prep["opts"]["base_block_size"]) * ratio), 2)
    return {
        "ids": hybrid.token_ids("train"),
        "block": block,
        "ratio": ratio,
        "bytes_per_token": hybrid.bytes_per_token("train"),
    }


def _describe_held_out(prep, scored, whole, base_model, base_tok) -> dict[str, Any]:
    from polytok.tasks.adapt_study import bits_per_byte, docs_per_window

    tok, rows = prep["tok"], {}
    for name in HELD_OUT:
        base_counts = [len(base_tok.encode(t)) for t in whole[name]]
        hybrid_counts = [len(tok.encode(t)) for t in whole[name]]
        ref = bits_per_byte(base_model, base_tok.encode, scored[name], base_tok.eos_id)
        rows[name] = {
            "items": len(whole[name]),
            "scored_pieces": len(scored[name]),
            "scored_bytes": ref["bytes"],
            "base_tokens": sum(base_counts),
            "hybrid_tokens": sum(hybrid_counts),
            "tokens_saved": 1 - sum(hybrid_counts) / sum(base_counts),
            "docs_per_window_base": docs_per_window(base_counts),
            "docs_per_window_hybrid": docs_per_window(hybrid_counts),
            "base_bpb": ref["bpb"],
        }
    return rows


@eval_task("glyph_adaptation")
def evaluate(cfg: DictConfig) -> dict[str, Any]:
    """Run the study; returns ``{"metrics", "report", "output_dir"}``."""
    from polytok.models.hf_causal import HFCausalLM, HFCausalLMConfig, model_fingerprint
    from polytok.tasks.glyph_adaptation_report import write_outputs
    from polytok.tokenizers.hf_model import model_tokenizer

    try:
        prep = _prepare(cfg)
    except Exception:
        discard_incomplete(Path(cfg.paths.output_dir))
        raise
    out, opts, tok = output_dir(cfg), prep["opts"], prep["tok"]
    torch.manual_seed(int(opts["seed"]))
    scored, whole = _held_out(opts)
    base_tok = model_tokenizer(prep["path"])
    base_model = HFCausalLM(HFCausalLMConfig(path=prep["path"])).eval()
    results: dict[str, Any] = {
        "config": opts,
        "base": {"path": prep["path"], "fingerprint": model_fingerprint(prep["path"])},
        "tape": {
            "path": str(tok.tape.path),
            "glyphs": len(tok.glyphs),
            "sha256": tok.content_sha256,
        },
        "held_out": _describe_held_out(prep, scored, whole, base_model, base_tok),
    }
    del base_model
    stream = _train_stream(prep, str(cfg.paths.cache_dir))
    results["train"] = {k: v for k, v in stream.items() if k != "ids"}
    results["step0"], results["variants"] = {}, []
    run_study(prep, results, scored, stream, lambda: write_outputs(results, out))
    report = write_outputs(results, out)
    return {"metrics": summary_metrics(results), "report": str(report), "output_dir": str(out)}


def _evaluator(model, tok, scored):
    from polytok.tasks.adapt_study import bits_per_byte

    start = tok.base.eos_id if tok.base.eos_id is not None else 0
    return lambda: {n: bits_per_byte(model, tok.encode, scored[n], start)["bpb"] for n in HELD_OUT}


def run_study(prep, results, scored, stream, checkpoint) -> None:
    """Every init at step 0, then every variant along training; ``checkpoint()`` after each."""
    from polytok.models import build_model
    from polytok.models.hf_causal import model_fingerprint
    from polytok.systems import LanguageModelSystem
    from polytok.tasks.adapt_study import train_variant, window_starts

    opts, tok, path = prep["opts"], prep["tok"], prep["path"]
    fingerprint = results["base"]["fingerprint"]
    steps, batch, every = int(opts["steps"]), int(opts["batch_size"]), int(opts["eval_every"])
    for init in opts["step0_inits"]:
        model = build_model({"name": "glyph_adapt", "path": path, "init": init}, tok).eval()
        model.init_from_data(stream["ids"], tok)  # split: the training split's id counts
        results["step0"][init] = _evaluator(model, tok, scored)()
        log.info("step 0, init %s: %s", init, results["step0"][init])
        checkpoint()
    starts = window_starts(len(stream["ids"]), stream["block"], steps, batch, int(opts["seed"]))
    bytes_per_step = batch * stream["block"] * stream["bytes_per_token"]
    for adapter, init in opts["variants"]:
        assert model_fingerprint(path) == fingerprint, "the base changed during the study"
        recipe = dict(opts["recipes"][adapter])
        model = {"name": "glyph_adapt", "path": path, "adapter": adapter, "init": init}
        system = LanguageModelSystem(
            model=model, tokenizer=tok.to_spec(), max_steps=steps, sample_tokens=0, **recipe
        )
        system.model.init_from_data(stream["ids"], tok)
        evaluate = _evaluator(system.model, tok, scored)
        eval_steps = sorted({s for s in range(every, steps + 1, every)} | {steps})
        if init not in results["step0"]:
            eval_steps = [0, *eval_steps]
        run = train_variant(system, stream["ids"], starts, stream["block"], evaluate, eval_steps)
        if init in results["step0"]:
            run["curve"].insert(0, {"step": 0, **results["step0"][init]})
        for point in run["curve"]:
            point["bytes_seen"] = point["step"] * bytes_per_step
        results["variants"].append({"adapter": adapter, "init": init, "recipe": recipe, **run})
        log.info("%s/%s: %s, %.1f tokens/s", adapter, init, run["curve"][-1], run["tokens_per_s"])
        checkpoint()


def summary_metrics(results: dict[str, Any]) -> dict[str, float]:
    """Flat metrics for the CLI: base bpb and every variant's final bpb per held-out set."""
    metrics = {f"{n}/base_bpb": r["base_bpb"] for n, r in results["held_out"].items()}
    for v in results["variants"]:
        for n in HELD_OUT:
            metrics[f"{n}/{v['adapter']}_{v['init']}_bpb"] = v["curve"][-1][n]
    return metrics


def dumps(results: dict[str, Any]) -> str:
    return json.dumps(results, indent=2, ensure_ascii=False)
