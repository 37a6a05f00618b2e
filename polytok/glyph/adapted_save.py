"""Saving a glyph adaptation: a ``peft`` adapter directory and a merged Hugging Face directory.

Adapter directory (``adapter=new_rows|lora``): ``glyph_adapter.json`` (format, the
`GlyphAdaptConfig` with the base path and fingerprint), ``glyph_rows.safetensors`` (the new rows),
for LoRA ``adapter_config.json`` + ``adapter_model.safetensors`` (``PeftModel.save_pretrained``),
and ``hybrid_tokenizer/`` (a portable `HybridTokenizer` with its tape). It needs the base directory.

Merged directory: a standard transformers directory (``config.json``, ``model.safetensors``, the
base tokenizer files) whose vocabulary is grown by the new tokens and LoRA merged in, loadable by
``AutoModelForCausalLM.from_pretrained``, plus ``hybrid_tokenizer/``. New output rows that differ
from the input rows, or a base-vocabulary offset (``init=split``), untie the head; logit offsets
are folded into the output rows exactly through the final LayerNorm (`fold_logit_offset`). ``polytok.from_pretrained`` loads either directory.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import os
import shutil
from pathlib import Path
from typing import Any

import torch
from torch import nn

from polytok.atomic import atomic_directory
from polytok.glyph.adapted_lm import GlyphAdaptedLM

FORMAT = "polytok-glyph-adapter"
ADAPTER_META = "glyph_adapter.json"
ROWS_FILE = "glyph_rows.safetensors"
TOKENIZER_DIR = "hybrid_tokenizer"
MERGED_META = "polytok_glyph.json"
HF_TOKENIZER_FILES = (
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
    "vocab.json",
    "merges.txt",
)


def fold_logit_offset(net: nn.Module, offset: torch.Tensor) -> torch.Tensor:
    """(N,) logit offsets -> (N, D) output-row deltas ``delta`` with ``h . delta == offset``.

    ``h = gamma * n + beta`` after the final LayerNorm, where ``sum_i n_i = 0``; so
    ``delta = offset / s * (1 / gamma)`` with ``s = sum_i beta_i / gamma_i`` gives
    ``h . delta = offset / s * (sum_i n_i + s) = offset`` for every input.

    Raises:
        ValueError: no final LayerNorm with a bias, or ``s`` too close to 0 to fold exactly.
    """
    norms = [m for m in net.base_model.modules() if isinstance(m, nn.LayerNorm)]
    if not norms or norms[-1].bias is None or norms[-1].weight is None:
        raise ValueError(
            "cannot fold the glyph logit offset into a standard head: the model has no final "
            "LayerNorm with a bias; save the adapter directory instead, or adapt with init=mean"
        )
    gamma, beta = norms[-1].weight.detach().float(), norms[-1].bias.detach().float()
    s = (beta / gamma).sum()
    if gamma.abs().min() < 1e-4 or s.abs() < 1e-3:
        raise ValueError(
            f"cannot fold the glyph logit offset: the final LayerNorm is degenerate (sum of "
            f"bias/scale = {float(s):.2e}); save the adapter directory instead"
        )
    return offset.float()[:, None] / s * (1.0 / gamma)[None, :]


@torch.no_grad()
def merged_hf(model: GlyphAdaptedLM) -> nn.Module:
    """A plain transformers model equal to ``model``: LoRA merged, vocabulary grown (CPU copy)."""
    if model.config.adapter == "lora":
        net = copy.deepcopy(model.net).cpu().merge_and_unload()
    else:
        net = copy.deepcopy(model.hf).cpu()
    b = model.config.base_vocab_size
    in_w = torch.cat([net.get_input_embeddings().weight[:b], model.new_in.cpu()])
    untie = model.new_out is not None or not model.tied_base or model.base_offset is not None
    if untie:
        out_new = model.new_in if model.new_out is None else model.new_out
        out_new = out_new.detach().cpu().float()
        if model.new_offset is not None:
            out_new = out_new + fold_logit_offset(net, model.new_offset.detach().cpu())
        out_base = net.get_output_embeddings().weight[:b].detach().float().clone()
        if model.base_offset is not None:
            out_base += fold_logit_offset(net, model.base_offset.detach().cpu())
        out_w = torch.cat([out_base, out_new])
    net.resize_token_embeddings(in_w.shape[0], mean_resizing=False)
    net.get_input_embeddings().weight.data = in_w.clone()
    if untie:
        net.config.tie_word_embeddings = False
        head = nn.Linear(in_w.shape[1], out_w.shape[0], bias=False)
        head.weight.data = out_w.to(in_w.dtype)
        net.set_output_embeddings(head)
    net.config.vocab_size = in_w.shape[0]
    return net.eval()


def _meta(model: GlyphAdaptedLM) -> dict[str, Any]:
    return {"format": FORMAT, "format_version": 1, "config": dataclasses.asdict(model.config)}


def save_adapter(model: GlyphAdaptedLM, directory: str | os.PathLike, tokenizer: Any) -> Path:
    """Write the adapter directory (see the module docstring) atomically.

    Raises:
        ValueError: ``adapter="full"`` (every weight changed: use `save_merged`).
    """
    from safetensors.torch import save_file

    from polytok.tokenizers import save_tokenizer

    if model.config.adapter == "full":
        raise ValueError("adapter 'full' changes every weight: save the merged directory instead")
    rows = {"new_in": model.new_in}
    if model.new_out is not None:
        rows["new_out"] = model.new_out
    if model.new_offset is not None:
        rows["new_offset"] = model.new_offset
    if model.base_offset is not None:
        rows["base_offset"] = model.base_offset
    with atomic_directory(Path(directory)) as tmp:
        if model.config.adapter == "lora":
            model.net.save_pretrained(str(tmp))
        save_file({k: v.detach().cpu().contiguous() for k, v in rows.items()}, str(tmp / ROWS_FILE))
        save_tokenizer(tokenizer, tmp / TOKENIZER_DIR)
        (tmp / ADAPTER_META).write_text(json.dumps(_meta(model), indent=2))
    return Path(directory)


def save_merged(model: GlyphAdaptedLM, directory: str | os.PathLike, tokenizer: Any) -> Path:
    """Write the merged Hugging Face directory (plus ``hybrid_tokenizer/``) atomically."""
    from polytok.tokenizers import save_tokenizer

    net = merged_hf(model)
    base = Path(model.config.path)
    with atomic_directory(Path(directory)) as tmp:
        net.save_pretrained(str(tmp))
        for name in HF_TOKENIZER_FILES:  # the base tokenizer: base ids only
            if (base / name).is_file():
                shutil.copy(base / name, tmp / name)
        save_tokenizer(tokenizer, tmp / TOKENIZER_DIR)
        (tmp / MERGED_META).write_text(json.dumps(_meta(model), indent=2))
    return Path(directory)


def load_adapter(directory: str | os.PathLike) -> tuple[GlyphAdaptedLM, Any]:
    """Load an adapter directory onto its base (checked by fingerprint); returns (model, tokenizer).

    Raises:
        ValueError: not an adapter directory, or the base changed.
        FileNotFoundError: the base directory is gone.
    """
    from peft import set_peft_model_state_dict
    from safetensors.torch import load_file

    from polytok.models import build_config
    from polytok.tokenizers import load_tokenizer

    directory = Path(directory)
    meta = json.loads((directory / ADAPTER_META).read_text())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{directory} is not a polytok glyph adapter directory")
    tokenizer = load_tokenizer(directory / TOKENIZER_DIR)
    model = GlyphAdaptedLM(build_config(GlyphAdaptedLM, meta["config"]))
    rows = load_file(str(directory / ROWS_FILE))
    with torch.no_grad():
        for name, value in rows.items():
            getattr(model, name).copy_(value)
    if model.config.adapter == "lora":
        set_peft_model_state_dict(
            model.net, load_file(str(directory / "adapter_model.safetensors"))
        )
    return model.eval(), tokenizer


def load_glyph_pretrained(directory: Path) -> tuple[nn.Module, Any] | None:
    """`polytok.from_pretrained` for glyph directories: (model, hybrid tokenizer), else None."""
    from polytok.tokenizers import load_tokenizer

    if (directory / ADAPTER_META).is_file():
        return load_adapter(directory)
    if (directory / MERGED_META).is_file():
        from polytok.models.hf_causal import HFCausalLM, HFCausalLMConfig

        model = HFCausalLM(HFCausalLMConfig(path=str(directory)))
        return model.eval(), load_tokenizer(directory / TOKENIZER_DIR)
    return None
