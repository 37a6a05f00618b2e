"""How many polytok calls ``python train.py experiment=X`` makes before the model's ``forward``,
and how many times the run builds its tokenizer.

For each experiment, the config is composed as ``train.py`` would (plus small overrides so that
one training step runs), then `polytok.run.train` runs in this process with two probes:

* a global forward pre-hook: at the first ``forward`` of the model (the registered LM class, or
  `RQVAE`), the polytok frames on the stack are the hops, from `polytok.run.train` (hop 1) to the
  ``forward`` itself (the last hop); Lightning's and torch's frames in between are not counted;
* counters around `build_tokenizer` and `tokenizer_from_spec` (outermost calls only: a prime
  tokenizer rebuilding its base is part of one build).

    python scripts/measure_hops.py                     # every LM and RQ-VAE experiment
    python scripts/measure_hops.py gpt2_shakespeare    # some of them
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "polytok"

# One step, tiny widths: the call path is what is measured, not the training.
FAST = [
    "debug=fast_dev_run",
    "data.batch_size=2",
    "+data.train_windows=4",
    "data.block_size=16",
]
LM_FAST = [*FAST, "model.max_positions=64"]
EXPERIMENTS: dict[str, list[str]] = {
    "gpt2_shakespeare": [*LM_FAST, "model.dim=16", "model.num_layers=1", "model.num_heads=2"],
    "gpt2_shakespeare_gpt2bpe": [*LM_FAST, "model.dim=16", "model.num_layers=1"],
    "gpt2_dialog_bpe": [*LM_FAST, "model.dim=16", "model.num_layers=1", "tokenizer.vocab_size=300"],
    "gpt_shakespeare": [*LM_FAST, "model.dim=16", "model.num_layers=1", "model.num_heads=2"],
    "reso_shakespeare": [*LM_FAST, "model.dim=64", "model.num_layers=1", "model.num_heads=2"],
    "reso_ablation": [*LM_FAST, "model.dim=64", "model.num_layers=1", "model.num_heads=2"],
    "glyph_gpt2": [*LM_FAST, "model.dim=16", "model.num_layers=1", "tokenizer.glyphs=32"],
    "rqvae_npy": [
        "debug=fast_dev_run",
        "model.codebook_sizes=[8,8]",
        "model.layers=[16]",
        "model.e_dim=4",
        "data.batch_size=32",
    ],
    "rqvae_digits": [
        "debug=fast_dev_run",
        "model.codebook_sizes=[8,8]",
        "model.layers=[16]",
        "model.e_dim=4",
    ],
}


def compose(experiment: str, overrides: list[str], out: Path) -> Any:
    from hydra import compose as hydra_compose
    from hydra import initialize_config_dir
    from hydra.core.hydra_config import HydraConfig
    from omegaconf import open_dict

    with initialize_config_dir(str(ROOT / "configs"), version_base="1.3"):
        cfg = hydra_compose(
            "train", overrides=[f"experiment={experiment}", *overrides], return_hydra_config=True
        )
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.paths.output_dir = str(out)
        if "tape" in cfg.tokenizer:
            cfg.tokenizer.tape = str(out / "tape.db")
        del cfg["hydra"]
    return cfg


def polytok_frames(stack: list[Any]) -> list[str]:
    """``module.function`` of the polytok frames of ``stack``, outermost first."""
    names = []
    for frame in reversed(stack):
        path = Path(frame.filename).resolve()
        if PACKAGE in path.parents and path.name != "measure_hops.py":
            module = ".".join(path.relative_to(ROOT).with_suffix("").parts)
            names.append(f"{module}.{frame.function}")
    return names


@contextlib.contextmanager
def probes() -> Iterator[dict[str, Any]]:
    """Record the first model forward's polytok stack and count tokenizer builds."""
    import inspect

    import polytok.tokenizers.base as base
    import polytok.tokenizers.factory as factory
    from polytok.models import MODELS
    from polytok.sid.rqvae import RQVAE

    found: dict[str, Any] = {"stack": None, "tokenizer_builds": 0}
    models = (*MODELS.values(), RQVAE)
    depth = {"n": 0}

    def hook(module: torch.nn.Module, args: Any) -> None:
        if found["stack"] is None and isinstance(module, models):
            found["stack"] = polytok_frames(inspect.stack()[1:]) + [
                f"{type(module).__module__}.{type(module).__name__}.forward"
            ]

    def counted(fn: Any) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if depth["n"] == 0:
                found["tokenizer_builds"] += 1
            depth["n"] += 1
            try:
                return fn(*args, **kwargs)
            finally:
                depth["n"] -= 1

        return wrapper

    originals = {
        "build_tokenizer": factory.build_tokenizer,
        "tokenizer_from_spec": base.tokenizer_from_spec,
    }
    modules = [m for m in list(sys.modules.values()) if m and m.__name__.startswith("polytok")]
    patched = []
    for name, fn in originals.items():
        wrapped = counted(fn)
        for module in modules:  # every `from ... import name` binding
            if getattr(module, name, None) is fn:
                setattr(module, name, wrapped)
                patched.append((module, name, fn))
    handle = torch.nn.modules.module.register_module_forward_pre_hook(hook)
    try:
        yield found
    finally:
        handle.remove()
        for module, name, fn in patched:
            setattr(module, name, fn)


def measure(experiment: str) -> dict[str, Any]:
    from polytok.run import train

    with tempfile.TemporaryDirectory() as tmp:
        cfg = compose(experiment, EXPERIMENTS[experiment], Path(tmp) / "run")
        with probes() as found:
            train(cfg)
    stack = found["stack"] or []
    return {
        "experiment": experiment,
        "hops": len(stack),
        "path": stack,
        "tokenizer_builds": found["tokenizer_builds"],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("experiments", nargs="*", default=list(EXPERIMENTS))
    parser.add_argument("--json", action="store_true", help="print JSON rows")
    args = parser.parse_args(argv)
    import polytok.catalog  # noqa: F401  (every model class, for the hook)

    for name in args.experiments:
        row = measure(name)
        if args.json:
            print(json.dumps(row))
        else:
            print(
                f"{row['experiment']:<26} hops={row['hops']} tokenizer_builds="
                f"{row['tokenizer_builds']}  {' -> '.join(p.rsplit('.', 2)[-2] + '.' + p.rsplit('.', 1)[-1] for p in row['path'])}"
            )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
