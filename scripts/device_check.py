"""Device check: every polytok module, two training runs and RQ-KMeans on CUDA or MPS vs the CPU.

    python scripts/device_check.py                   # the accelerator present (CUDA, else MPS)
    python scripts/device_check.py --device cpu --small --out /tmp/check.md   # dry run, any machine

Three parts, one Markdown table (printed and written to ``--out``):

1. every nn.Module of polytok (GoldSpreading, PrimeEmbedding, ResonantAttention, CoherenceGate,
   EntropyCollapse, ResoFormer, RQVAE, VectorQuantizer / ResidualVQ, GPT2LM, GlyphGPT2, the
   PolyTokenizer, the static embedder): forward + backward where trainable, median of 3 after a
   warm-up, on the device and on the CPU;
2. 100 training steps of the default GPT-2 (``configs/model/gpt2.yaml``, the default batch and
   block size) and of ResoFormer (``configs/model/resoformer.yaml``) through `LanguageModelSystem`
   and a Lightning ``Trainer`` on the device, against the same steps on the CPU;
3. RQ-KMeans fit of 1,000,000 x 64 vectors (Gaussian mixture) at 3 levels x 256 codes with the
   torch backend on the device, against faiss (``backend="faiss"``) on the CPU.

Columns: device time, device peak memory (CUDA: ``max_memory_allocated``; MPS: allocated after the
check), CPU time and the speed-up (CPU time / device time). Without CUDA or MPS it exits with
status 2 and says so, unless ``--device cpu`` asks for a dry run. ``--small`` shrinks every size
(a few seconds; used by the test of this script). Expect a few minutes with the full sizes.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@dataclass
class Sizes:
    """Problem sizes of one run (``--small`` or full)."""

    dim: int  # width of the module checks
    steps: int  # training steps per model
    rq_rows: int  # RQ-KMeans vectors
    rq_dim: int
    rq_levels: int
    rq_codes: int


FULL = Sizes(dim=256, steps=100, rq_rows=1_000_000, rq_dim=64, rq_levels=3, rq_codes=256)
SMALL = Sizes(dim=32, steps=4, rq_rows=4_000, rq_dim=16, rq_levels=2, rq_codes=16)


@dataclass
class Row:
    check: str
    device_s: float
    memory_mb: float | None
    cpu_s: float
    note: str = ""


def pick_device(name: str) -> torch.device:
    """``auto``: CUDA, else MPS; exits with status 2 and a clear message when neither exists."""
    if name != "auto":
        return torch.device(name)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if torch.backends.mps.is_available():
        return torch.device("mps")
    print(
        "device_check: no accelerator found (torch.cuda.is_available() and "
        "torch.backends.mps.is_available() are both False). Run it on a machine with a CUDA or "
        "MPS GPU, or pass `--device cpu --small` for a dry run of the script itself.",
        file=sys.stderr,
    )
    sys.exit(2)


def synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def reset_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()
        torch.cuda.reset_peak_memory_stats(device)


def memory_mb(device: torch.device) -> float | None:
    if device.type == "cuda":
        return torch.cuda.max_memory_allocated(device) / 2**20
    if device.type == "mps":
        return torch.mps.current_allocated_memory() / 2**20
    return None


def timed(fn: Callable[[], object], device: torch.device, repeats: int = 3) -> float:
    """Median seconds of ``fn`` after one warm-up call, synchronising the device around each."""
    fn()
    synchronize(device)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


# -- 1. modules --------------------------------------------------------------------------------
def module_cases(sizes: Sizes) -> dict[str, tuple[Callable[[], torch.nn.Module], Callable]]:
    """``name -> (build on the CPU, run(module, device) -> scalar loss or None)``."""
    from polytok.glyph.adapter import GlyphGPT2, GlyphGPT2Config
    from polytok.models.gpt2 import GPT2LM, GPT2LMConfig
    from polytok.nn.quantize import ResidualVQ
    from polytok.poly import GoldSpreading, PolyTokenizer
    from polytok.reso.attention import ResonantAttention
    from polytok.reso.collapse import EntropyCollapse
    from polytok.reso.embedding import PrimeEmbedding
    from polytok.reso.gate import CoherenceGate
    from polytok.reso.model import ResoFormer, ResoFormerConfig
    from polytok.sid.rqvae import RQVAE

    d, k = sizes.dim, sizes.rq_codes  # width; codes per quantizer level
    vocab, t, b = 512, 64, 8
    hid = [512, 256, 128] if d >= 128 else [64]  # RQVAE hidden widths (its default when full)
    rot = max(2, d // 16 // 2 * 2)  # rotary / resonant channels: a quarter of each head, even
    gpt = dict(vocab_size=vocab, dim=d, num_layers=2, num_heads=4, max_positions=t)
    reso = ResoFormerConfig(
        vocab_size=vocab, max_positions=t, dim=d, num_heads=4, num_layers=2, resonant_dim=rot,
        rotary_dim=rot,
    )  # fmt: skip

    def ids(dev):
        return torch.randint(vocab, (b, t), device=dev)

    def hidden(dev):
        return torch.randn(b, t, d, device=dev)

    def lm(m, dev):
        out = m(ids(dev))
        return out.logits.float().logsumexp(-1).mean() + out.aux_loss

    def poly():
        p = PolyTokenizer(dim=d, modalities=("text", "image"))
        p.add_tokens([f"tok{i}" for i in range(n_tok)], inits=torch.randn(n_tok, d))
        return p

    def glyph():
        m = GlyphGPT2(GlyphGPT2Config(**gpt, base_vocab_size=vocab - 8, spreading=0.5))
        m.init_new_rows({vocab - 1 - i: [i, i + 1] for i in range(8)})
        return m

    n_tok = 8 * k
    tokens = [f"tok{i}" for i in range(0, 2 * n_tok, 2)]  # half known, half through the fallback
    return {
        "GoldSpreading": (
            lambda: GoldSpreading(d, ("text", "image")),
            lambda m, dev: m.despread(m(hidden(dev).requires_grad_(), "image"), "image").sum(),
        ),
        "PrimeEmbedding": (lambda: PrimeEmbedding(vocab, d), lambda m, dev: m(ids(dev)).sum()),
        "ResonantAttention": (
            lambda: ResonantAttention(d, 4, t, resonant_dim=rot, rotary_dim=rot, golden_heads=True),
            lambda m, dev: m(hidden(dev)).sum(),
        ),
        "CoherenceGate": (
            lambda: CoherenceGate(d),
            lambda m, dev: m(hidden(dev), hidden(dev))[0].sum(),
        ),
        "EntropyCollapse": (lambda: EntropyCollapse(d, 64, 32), lambda m, dev: m(hidden(dev)).loss),
        "ResidualVQ (EMA, restarts)": (
            lambda: ResidualVQ(d, [k] * 3, decay=0.99, dead_code_threshold=1.0),
            lambda m, dev: m(hidden(dev)).loss,
        ),
        "ResoFormer": (lambda: ResoFormer(reso), lm),
        "RQVAE": (
            lambda: RQVAE(d, codebook_sizes=[k] * 3, e_dim=32, layers=hid),
            lambda m, dev: m(torch.randn(4 * k, d, device=dev)).loss,
        ),
        "GPT2LM": (lambda: GPT2LM(GPT2LMConfig(**gpt)), lm),
        "GlyphGPT2": (glyph, lm),
        "PolyTokenizer (get_embeddings)": (poly, lambda m, dev: m(tokens).sum()),
        "StaticEmbedder (embed)": (_static, lambda m, dev: m.embed(["device check"] * 256).sum()),
    }


def _static():
    from polytok.embed import StaticEmbedder

    return StaticEmbedder()


def run_module(build, run, device: torch.device) -> float:
    torch.manual_seed(0)
    module = build().to(device).train()

    def step():
        loss = run(module, device)
        if loss.requires_grad:
            module.zero_grad(set_to_none=True)
            loss.backward()

    return timed(step, device)


def check_modules(device: torch.device, sizes: Sizes) -> list[Row]:
    rows = []
    for name, (build, run) in module_cases(sizes).items():
        reset_memory(device)
        on_device = run_module(build, run, device)
        mem = memory_mb(device)
        rows.append(Row(f"{name}: forward + backward", on_device, mem, run_module(build, run, CPU)))
    return rows


# -- 2. training -------------------------------------------------------------------------------
class StepTimer:
    """Lightning callback: seconds per step after ``warmup`` steps (device synchronised)."""

    def __init__(self, device: torch.device, warmup: int) -> None:
        import lightning as L

        outer = self

        class _Callback(L.Callback):
            def on_train_batch_end(self, trainer, *args) -> None:
                outer.steps += 1
                if outer.steps == outer.warmup:
                    synchronize(outer.device)
                    outer.start = time.perf_counter()

            def on_train_end(self, trainer, pl_module) -> None:
                synchronize(outer.device)
                outer.end = time.perf_counter()

        self.device, self.warmup, self.steps = device, warmup, 0
        self.start = self.end = 0.0
        self.callback = _Callback()

    def per_step(self) -> float:
        return (self.end - self.start) / max(self.steps - self.warmup, 1)


def train_steps(model: str, device: torch.device, sizes: Sizes) -> float:
    """Seconds per training step of ``configs/model/<model>.yaml`` with the default batches."""
    import lightning as L
    from hydra import compose, initialize_config_dir
    from torch.utils.data import DataLoader, TensorDataset

    from polytok.run import to_dict
    from polytok.systems import LanguageModelSystem
    from polytok.tokenizers import CharTokenizer

    with initialize_config_dir(str(CONFIGS), version_base="1.3"):
        cfg = compose("train", overrides=[f"model={model}"])
    data, options = to_dict(cfg.data), to_dict(cfg.model)
    if sizes is SMALL:
        options |= {"dim": 32, "num_layers": 1, "num_heads": 2}
        if model == "resoformer":
            options |= {"resonant_dim": 4, "rotary_dim": 4}
    tokenizer = CharTokenizer.train(["".join(chr(c) for c in range(32, 127)) + "\n"])
    batch, block = data["batch_size"], data["block_size"]
    if sizes is SMALL:
        batch, block = 4, 32
    gen = torch.Generator().manual_seed(0)
    x = torch.randint(tokenizer.vocab_size, (batch * (sizes.steps + 2), block + 1), generator=gen)
    loader = DataLoader(TensorDataset(x[:, :-1], x[:, 1:]), batch_size=batch)  # (B, T) windows
    torch.manual_seed(0)
    system = LanguageModelSystem(
        model=options, tokenizer=tokenizer.to_spec(), max_steps=sizes.steps, sample_tokens=0
    )
    timer = StepTimer(device, warmup=min(5, sizes.steps // 2))
    trainer = L.Trainer(
        accelerator=device.type, devices=1, max_steps=sizes.steps, logger=False,
        enable_checkpointing=False, enable_progress_bar=False, enable_model_summary=False,
        limit_val_batches=0, callbacks=[timer.callback],
    )  # fmt: skip
    trainer.fit(system, loader)
    return timer.per_step()


def check_training(device: torch.device, sizes: Sizes) -> list[Row]:
    rows = []
    for model in ("gpt2", "resoformer"):
        reset_memory(device)
        on_device = train_steps(model, device, sizes)
        mem = memory_mb(device)
        cpu = train_steps(model, CPU, sizes)
        name = f"{model}: {sizes.steps} training steps (s/step)"
        note = "tiny model and batches" if sizes is SMALL else "default model, batch and block"
        rows.append(Row(name, on_device, mem, cpu, note))
    return rows


# -- 3. RQ-KMeans ------------------------------------------------------------------------------
def check_rqkmeans(device: torch.device, sizes: Sizes) -> list[Row]:
    from polytok.sid.inputs import gaussian_mixture
    from polytok.sid.rqkmeans import RQKMeans

    x = torch.from_numpy(gaussian_mixture(sizes.rq_rows, sizes.rq_dim, components=1000, seed=0))
    options = dict(n_levels=sizes.rq_levels, n_clusters=sizes.rq_codes)
    reset_memory(device)
    synchronize(device)
    start = time.perf_counter()
    ours = RQKMeans(backend="torch", **options).fit(x, device=device)
    synchronize(device)
    on_device = time.perf_counter() - start
    mem = memory_mb(device)
    start = time.perf_counter()
    faiss = RQKMeans(backend="faiss", **options).fit(x)
    cpu = time.perf_counter() - start
    note = f"rel MSE {ours.metrics_['rel_mse']:.3f} vs faiss {faiss.metrics_['rel_mse']:.3f}"
    shape = f"{sizes.rq_rows:,} x {sizes.rq_dim}, {sizes.rq_levels} x {sizes.rq_codes}"
    return [Row(f"RQ-KMeans fit {shape} (CPU: faiss)", on_device, mem, cpu, note)]


CPU = torch.device("cpu")


def table(rows: list[Row], device: torch.device, sizes: Sizes) -> str:
    lines = [
        f"Device check on `{device}` ({_device_name(device)}), torch {torch.__version__}, "
        f"{'small dry-run sizes' if sizes is SMALL else 'full sizes'}.",
        "",
        "| check | device time (s) | device peak memory (MiB) | CPU time (s) | speed-up | note |",
        "|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        mem = "-" if r.memory_mb is None else f"{r.memory_mb:,.0f}"
        speed = r.cpu_s / r.device_s if r.device_s > 0 else float("nan")
        lines.append(
            f"| {r.check} | {r.device_s:.4f} | {mem} | {r.cpu_s:.4f} | {speed:.1f}x | {r.note} |"
        )
    return "\n".join(lines) + "\n"


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return "Apple GPU" if device.type == "mps" else "CPU"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", help="auto (CUDA, else MPS), cuda, mps, cpu")
    parser.add_argument("--small", action="store_true", help="tiny sizes: a dry run")
    parser.add_argument("--out", type=Path, default=Path("device_check.md"))
    parser.add_argument("--parts", default="modules,training,rqkmeans")
    args = parser.parse_args(argv)
    device = pick_device(args.device)
    sizes = SMALL if args.small else FULL
    checks = {"modules": check_modules, "training": check_training, "rqkmeans": check_rqkmeans}
    rows: list[Row] = []
    for part in args.parts.split(","):
        start = time.perf_counter()
        rows.extend(checks[part](device, sizes))
        print(f"device_check: {part} {time.perf_counter() - start:.0f} s", file=sys.stderr)
    text = table(rows, device, sizes)
    args.out.write_text(text, encoding="utf-8")
    print(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
