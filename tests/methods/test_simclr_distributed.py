"""NT-Xent with negatives gathered across ranks equals single-process NT-Xent (2 CPU
processes, gloo), loss and gradients."""

import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from fgssl.methods.simclr import nt_xent

N, DIM, TEMPERATURE = 3, 6, 0.5


def _embeddings() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(2 * N, DIM, generator=generator, dtype=torch.float64),
            torch.randn(2 * N, DIM, generator=generator, dtype=torch.float64))


def _worker(rank: int, world: int, init_file: str, out_dir: str) -> None:
    dist.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank,
                            world_size=world)
    z1, z2 = _embeddings()
    mine = slice(rank * N, (rank + 1) * N)
    local1 = z1[mine].clone().requires_grad_(True)
    local2 = z2[mine].clone().requires_grad_(True)
    loss = nt_xent(local1, local2, TEMPERATURE, gather=True)
    loss.backward()
    losses = [torch.zeros((), dtype=torch.float64) for _ in range(world)]
    dist.all_gather(losses, loss.detach())
    torch.save({"loss": torch.stack(losses).mean(), "grad1": local1.grad / world,
                "grad2": local2.grad / world}, f"{out_dir}/rank{rank}.pt")
    dist.destroy_process_group()


def test_gathered_nt_xent_equals_single_process(tmp_path):
    mp.spawn(_worker, args=(2, str(tmp_path / "init"), str(tmp_path)), nprocs=2, join=True)
    z1, z2 = (z.requires_grad_(True) for z in _embeddings())
    loss = nt_xent(z1, z2, TEMPERATURE)
    loss.backward()
    for rank in range(2):
        result = torch.load(tmp_path / f"rank{rank}.pt", weights_only=True)
        assert torch.allclose(result["loss"], loss.detach(), atol=1e-10)
        mine = slice(rank * N, (rank + 1) * N)
        # DDP averages gradients over ranks: the average of the ranks' losses' gradients
        assert torch.allclose(result["grad1"], z1.grad[mine], atol=1e-10)
        assert torch.allclose(result["grad2"], z2.grad[mine], atol=1e-10)
