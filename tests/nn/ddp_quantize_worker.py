"""One rank of `test_nn_quantize_ddp`: trains RQ-VAE and a ResoFormer (collapse branch) under DDP.

Run as ``python ddp_quantize_worker.py RANK WORLD PORT OUT``. Each rank sees different data and a
different global RNG (so restarts would pick different vectors); ``broadcast_buffers=False``
leaves the quantizer's own collectives as the only thing that keeps EMA state in step. After the
synchronised runs, a control run with the collectives switched off must drift apart.
"""

from __future__ import annotations

import sys

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel as DDP

STEPS = 25


def train_rqvae(rank: int, decay: float | None) -> dict[str, torch.Tensor]:
    from polytok.sid.rqvae import RQVAE

    torch.manual_seed(0)  # same initial weights on every rank
    model = RQVAE(16, codebook_sizes=[8, 8], e_dim=8, layers=[32], decay=decay)
    net = DDP(model, broadcast_buffers=False)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)
    gen = torch.Generator().manual_seed(100 + rank)
    torch.manual_seed(1000 + rank)
    for _ in range(STEPS):
        x = torch.randn(48, 16, generator=gen) * (1 + rank)  # (B, 16), a different batch per rank
        loss = net(x).loss
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith("rvq.")}


def train_reso(rank: int) -> dict[str, torch.Tensor]:
    from polytok.reso.model import ResoFormer, ResoFormerConfig

    torch.manual_seed(0)
    config = ResoFormerConfig(
        vocab_size=30, max_positions=16, dim=32, num_heads=2, num_layers=1, resonant_dim=4,
        rotary_dim=4, code_dim=8, codebook_size=16,
    )  # fmt: skip
    model = ResoFormer(config)
    net = DDP(model, broadcast_buffers=False)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    gen = torch.Generator().manual_seed(200 + rank)
    torch.manual_seed(2000 + rank)
    for _ in range(STEPS):
        ids = torch.randint(30, (4, 16), generator=gen)  # (B, T)
        out = net(ids)
        loss = (
            F.cross_entropy(out.logits[:, :-1].flatten(0, 1), ids[:, 1:].flatten()) + out.aux_loss
        )
        opt.zero_grad()
        loss.backward()
        opt.step()
    return {k: v.clone() for k, v in model.state_dict().items() if k.startswith("collapse.")}


def main(rank: int, world: int, port: int, out: str) -> None:
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=world
    )
    results = {
        "rqvae": train_rqvae(rank, decay=None),
        "rqvae_ema": train_rqvae(rank, decay=0.9),
        "reso": train_reso(rank),
    }
    import polytok.nn.distributed as collectives

    collectives.world_size = lambda: 1  # control: the quantizer no longer synchronises
    results["control"] = train_rqvae(rank, decay=0.9)
    torch.save(results, out)
    dist.destroy_process_group()


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])
