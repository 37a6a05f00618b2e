"""``python train.py experiment=gpt2_base``: pretrain a GPT-2 and export a Hugging Face directory.

Runs the ``lm`` task (`polytok.tasks.lm.train`), then writes ``<run>/hf/`` with
`polytok.models.hf_export.export_hf` from the best checkpoint's weights: a directory that plain
``transformers`` loads (``AutoModelForCausalLM`` / ``AutoTokenizer``) and that
``model=hf_causal_lm model.path=<run>/hf`` and ``experiment=glyph_adapt`` take as a base.
"""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Any

from omegaconf import DictConfig

from polytok.tasks.registry import train_task

log = logging.getLogger(__name__)


@train_task("gpt2_base")
def train(cfg: DictConfig) -> dict[str, Any]:
    """Train with the ``lm`` task, then export ``hf/``; returns the lm result plus ``hf_dir``."""
    from polytok.io import from_pretrained
    from polytok.models.hf_export import export_hf
    from polytok.tasks.lm import train as train_lm

    tokenizer = cfg.tokenizer.get("name")
    if tokenizer != "gpt2" or cfg.model.get("name") != "gpt2":
        raise ValueError(
            f"the gpt2_base task exports GPT-2 with GPT-2's tokenizer: needs model=gpt2 and "
            f"tokenizer=gpt2, got model={cfg.model.get('name')!r}, tokenizer={tokenizer!r}"
        )
    result = train_lm(cfg)
    if "pretrained" not in result:  # fast_dev_run: nothing was saved
        return result
    model, _ = from_pretrained(result["pretrained"])
    hf_dir = export_hf(model, Path(result["output_dir"]) / "hf")
    result["hf_dir"] = str(hf_dir)
    (Path(result["output_dir"]) / "metrics.json").write_text(json.dumps(result, indent=2))
    log.info("Hugging Face directory: %s", hf_dir)
    return result
