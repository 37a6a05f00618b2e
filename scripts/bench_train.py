"""Training throughput of the default model: LanguageModelSystem under Lightning against a plain
PyTorch loop (same model, batches, optimizer and schedule) in the same process.

    python scripts/bench_train.py [--steps 60] [--threads 2] [--sync-baseline]

Prints tokens/s for both and the ratio; exits 1 when Lightning's overhead exceeds 1.15x.
``--sync-baseline`` adds a third loop, interleaved in the same process: the system with the
training step it had before issue 12 (``aux_loss.item()`` every step, a host sync), to show that
removing the sync costs nothing (the ratio ours / baseline step time should be <= 1).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import lightning as L
import torch
import torch.nn.functional as F
from hydra import compose, initialize_config_dir

from polytok.data import load_source
from polytok.run import to_dict
from polytok.systems import LanguageModelSystem, TokenStreamDataModule
from polytok.tokenizers import build_tokenizer


class HostSyncSystem(LanguageModelSystem):
    """`LanguageModelSystem` with the pre-issue-12 training step: reads ``aux_loss`` every step."""

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        ce, out = self._step(batch)
        self.log("train/loss", ce, prog_bar=True)
        if out.aux_loss.requires_grad or out.aux_loss.item() != 0.0:  # the host sync
            self.log("train/aux_loss", out.aux_loss)
        for key, value in out.metrics.items():
            self.log(f"train/{key}", value)
        return ce + out.aux_loss


class Timer(L.Callback):
    def __init__(self, warmup: int) -> None:
        self.warmup, self.start, self.steps = warmup, 0.0, 0

    def on_train_batch_end(self, trainer, *args) -> None:
        self.steps += 1
        if self.steps == self.warmup:
            self.start = time.perf_counter()


def plain_loop(system: LanguageModelSystem, loader, steps: int, warmup: int) -> float:
    opt_cfg = system.configure_optimizers()
    optimizer, scheduler = opt_cfg["optimizer"], opt_cfg["lr_scheduler"]["scheduler"]
    it = iter(loader)
    start = 0.0
    for step in range(steps):
        if step == warmup:
            start = time.perf_counter()
        x, y = next(it)
        loss = F.cross_entropy(system.model(x).logits.flatten(0, 1), y.flatten())
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(system.model.parameters(), system.hparams.grad_clip)
        optimizer.step()
        scheduler.step()
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--warmup", type=int, default=10)
    parser.add_argument("--threads", type=int, default=torch.get_num_threads())
    parser.add_argument("--sync-baseline", action="store_true", help="add the pre-issue-12 step")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)

    with initialize_config_dir(
        str(Path(__file__).resolve().parents[1] / "configs"), version_base="1.3"
    ):
        cfg = compose("train")
    data = to_dict(cfg.data)
    source = load_source(data["source"])
    tokenizer = build_tokenizer(to_dict(cfg.tokenizer), lambda: source.documents("train"))
    options = {k: v for k, v in data.items() if k != "source"}
    options["train_windows"] = args.steps * options["batch_size"]
    dm = TokenStreamDataModule(source=source, tokenizer=tokenizer, **options)
    dm.setup("fit")
    tokens = (args.steps - args.warmup) * options["batch_size"] * options["block_size"]

    def system(cls: type[LanguageModelSystem] = LanguageModelSystem) -> LanguageModelSystem:
        torch.manual_seed(0)
        return cls(model=to_dict(cfg.model), tokenizer=tokenizer.to_spec(), **to_dict(cfg.system))

    def fit(cls: type[LanguageModelSystem]) -> float:
        timer = Timer(args.warmup)
        trainer = L.Trainer(
            max_steps=args.steps,
            logger=False,
            enable_checkpointing=False,
            enable_progress_bar=False,
            callbacks=[timer],
            limit_val_batches=0,
            enable_model_summary=False,
        )
        trainer.fit(system(cls), dm.train_dataloader())
        return time.perf_counter() - timer.start

    results = {}
    for _ in range(2):  # interleave to spread machine noise over both
        plain = plain_loop(system(), dm.train_dataloader(), args.steps, args.warmup)
        results.setdefault("plain", []).append(tokens / plain)
        if args.sync_baseline:
            results.setdefault("synced", []).append(tokens / fit(HostSyncSystem))
        results.setdefault("lightning", []).append(tokens / fit(LanguageModelSystem))
    plain_tps, light_tps = max(results["plain"]), max(results["lightning"])
    ratio = plain_tps / light_tps
    print("| loop | tokens/s (best of 2) |\n|---|---|")
    print(f"| plain PyTorch (baseline) | {plain_tps:,.0f} |")
    print(f"| LanguageModelSystem + Lightning | {light_tps:,.0f} |")
    if args.sync_baseline:
        synced = max(results["synced"])
        print(f"| pre-issue-12 step (aux_loss.item() per step) | {synced:,.0f} |")
        print(f"\nstep time now / with the host sync: {synced / light_tps:.2f}x")
    print(f"\nLightning time / plain time: {ratio:.2f}x (threads={args.threads})")
    return 0 if ratio <= 1.15 else 1


if __name__ == "__main__":
    raise SystemExit(main())
