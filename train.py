"""Train a polytok model: ``python train.py [experiment=NAME] [key=value ...]`` (Hydra)."""

import json
import sys
from pathlib import Path

import hydra
from omegaconf import DictConfig


@hydra.main(version_base="1.3", config_path="configs", config_name="train")
def main(cfg: DictConfig) -> float | None:
    from polytok.run import train

    result = train(cfg)
    for key in (
        "best_ckpt",
        "last_ckpt",
        "pretrained",
        "hf_dir",
        "adapter_dir",
        "merged_dir",
        "output_dir",
    ):
        if key in result:
            print(f"{key}: {result[key]}")
    print("metrics:", json.dumps(result.get("metrics", {}), sort_keys=True))
    return result.get("metrics", {}).get(cfg.get("optimized_metric", "val/loss"))


if __name__ == "__main__":
    from polytok.sweep import check_plugins

    check_plugins(sys.argv[1:], Path(__file__).parent / "configs")
    main()
