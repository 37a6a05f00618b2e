"""Evaluate a checkpoint or run an evaluation experiment: ``python eval.py ckpt_path=...`` (Hydra)."""

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="eval")
def main(cfg: DictConfig) -> None:
    from polytok.run import evaluate

    result = evaluate(cfg)
    for prompt, text in result.get("samples", {}).items():
        print(f"--- prompt: {prompt!r}\n{prompt}{text}")
    print("metrics:", json.dumps(result.get("metrics", {}), sort_keys=True))
    for key in ("eval_json", "report", "output_dir"):
        if key in result:
            print(f"{key}: {result[key]}")


if __name__ == "__main__":
    from polytok.sweep import check_plugins

    check_plugins(sys.argv[1:], Path(__file__).parent / "configs")
    main()
