import math

import numpy as np
import pytest
import torch

from fgssl.data.cache import CachedImages
from fgssl.methods.byol import BYOL, byol_loss, embedding_std
from fgssl.train import Hardware, Hyperparameters, Watch, fit
from tests.gloo import on_two_ranks
from tests.toy_methods import Interrupt


def reference_byol_loss(p: torch.Tensor, z: torch.Tensor) -> torch.Tensor:
    """Grill et al. (2020), eq. 2, row by row, in float64: ‖p/‖p‖ − z/‖z‖‖², averaged."""
    total = torch.zeros((), dtype=torch.float64)
    for row_p, row_z in zip(p, z, strict=True):
        total = total + ((row_p / row_p.norm() - row_z / row_z.norm()) ** 2).sum()
    return total / len(p)


@pytest.mark.parametrize("n, d", [(1, 3), (4, 8), (16, 5)])
def test_byol_loss_matches_the_formula_and_its_gradients(n, d):
    torch.manual_seed(n)
    p = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    z = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
    ours, reference = byol_loss(p, z), reference_byol_loss(p, z)
    assert torch.allclose(ours, reference, atol=1e-12)
    for a, b in zip(torch.autograd.grad(ours, (p, z)), torch.autograd.grad(reference, (p, z)),
                    strict=True):
        assert torch.allclose(a, b, atol=1e-12)
    assert byol_loss(p, 3 * p).item() == pytest.approx(0, abs=1e-12)  # scale does not matter


def test_embedding_std_tells_spread_from_collapse():
    spread = torch.randn(4096, 64)
    assert embedding_std(spread).item() == pytest.approx(1 / math.sqrt(64), rel=0.05)
    assert embedding_std(torch.ones(32, 64) + 1e-4 * torch.randn(32, 64)).item() < 1e-3


def test_the_target_moves_towards_the_online_network_after_a_step():
    torch.manual_seed(0)
    method = BYOL(image_size=16, hidden_dim=16, projection_dim=8, momentum=0.9)
    with torch.no_grad():
        for p in [*method.backbone.parameters(), *method.projector.parameters()]:
            p.add_(1.0)  # as if the online network had learned
    before = [t.clone() for t in method.target.parameters()]
    method.progress = 0.0
    method.after_step(0)
    online = [*method.backbone.parameters(), *method.projector.parameters()]
    for old, new, weights in zip(before, method.target.parameters(), online, strict=True):
        torch.testing.assert_close(new, 0.9 * old + 0.1 * weights)
    assert not any(p.requires_grad for p in method.target.parameters())
    optimised = {id(p) for group in method.optimizers(0.1, 0.0)[0].param_groups
                 for p in group["params"]}
    assert not optimised & {id(p) for p in method.target.parameters()}


def test_simsiam_has_no_target_and_a_gradient_only_through_its_predictions():
    torch.manual_seed(0)
    simsiam = BYOL(image_size=16, hidden_dim=16, projection_dim=8, momentum=0.0)
    assert simsiam.target is None
    views = simsiam.views(torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8))
    online = simsiam.online_projections(torch.cat(views))
    online.retain_grad()
    loss = byol_loss(simsiam.predictor(online)[:8], online[8:].detach())
    loss.backward()
    assert online.grad[8:].abs().sum() > 0  # ... through the predictor branch only
    with pytest.raises(ValueError, match="stop_gradient=False needs momentum=0"):
        BYOL(momentum=0.5, stop_gradient=False)


def _pool() -> CachedImages:
    rng = np.random.default_rng(0)
    images = rng.integers(0, 256, (256, 16, 16, 3), dtype=np.uint8)
    return CachedImages(images, np.full(256, -1))


def _train(method: BYOL, epochs: int, out=None, **watch) -> list[dict]:
    return fit(method, _pool(), "ci", out, hyper=Hyperparameters(epochs=epochs, batch_size=64,
                                                                 seed=0),
               hardware=Hardware(amp=False), watch=Watch(progress_bar=False, **watch))


def test_without_its_stop_gradient_simsiam_collapses_and_with_it_does_not():
    torch.manual_seed(0)
    kept = BYOL(image_size=16, hidden_dim=64, projection_dim=32, momentum=0.0)
    torch.manual_seed(0)
    removed = BYOL(image_size=16, hidden_dim=64, projection_dim=32, momentum=0.0,
                   stop_gradient=False)
    spread = _train(kept, 4)[-1]["embedding_std"]
    collapsed = _train(removed, 4)[-1]["embedding_std"]
    assert collapsed < 0.2 * spread, (collapsed, spread)


def test_a_byol_run_resumes_exactly_with_its_target(tmp_path):
    def fresh() -> BYOL:
        torch.manual_seed(0)
        return BYOL(image_size=16, hidden_dim=16, projection_dim=8, momentum=0.9)

    straight = fresh()
    _train(straight, 2, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        _train(fresh(), 2, tmp_path / "cut", monitors=[Interrupt(2)])
    resumed = fresh()
    _train(resumed, 2, tmp_path / "cut")
    for name, tensor in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, rtol=0, atol=1e-6,
                                   msg=name)


def _halves(rank: int, world: int) -> dict:
    generator = torch.Generator().manual_seed(0)
    p, z = (torch.randn(8, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    mine = slice(rank * 4, (rank + 1) * 4)
    local = p[mine].clone().requires_grad_(True)
    loss = byol_loss(local, z[mine])
    loss.backward()
    return {"loss": loss.detach(), "grad": local.grad / world}


def test_two_processes_with_half_the_batch_each_give_the_one_process_loss(tmp_path):
    """BYOL's loss is a mean over images: DDP's averaging over ranks gives the whole batch's
    loss and gradients (the target's update after each step is tested under torchrun with a
    momentum toy in tests/test_torchrun.py)."""
    ranks = on_two_ranks(_halves, tmp_path)
    generator = torch.Generator().manual_seed(0)
    p, z = (torch.randn(8, 6, generator=generator, dtype=torch.float64) for _ in range(2))
    p.requires_grad_(True)
    byol_loss(p, z).backward()
    mean = (ranks[0]["loss"] + ranks[1]["loss"]) / 2
    assert mean.item() == pytest.approx(byol_loss(p, z).item(), rel=1e-12)
    torch.testing.assert_close(torch.cat([r["grad"] for r in ranks]), p.grad)
