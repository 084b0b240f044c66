import pytest
import torch

from fgssl.methods.vicreg import VICReg, vicreg_loss
from tests.gloo import on_two_ranks


def reference_vicreg(z1: torch.Tensor, z2: torch.Tensor, lam: float, mu: float, nu: float
                     ) -> torch.Tensor:
    """Bardes et al. (2022), eqs. 1-6, coordinate by coordinate, in float64 (the invariance
    per coordinate: eq. 5 divided by d)."""
    n, d = z1.shape
    invariance = sum((z1[i, j] - z2[i, j]) ** 2 for i in range(n) for j in range(d)) / (n * d)

    def variance(z: torch.Tensor) -> torch.Tensor:
        total = torch.zeros((), dtype=torch.float64)
        for j in range(d):
            mean = z[:, j].sum() / n
            var = ((z[:, j] - mean) ** 2).sum() / (n - 1)
            total = total + torch.clamp(1 - torch.sqrt(var + 1e-4), min=0)
        return total / d

    def covariance(z: torch.Tensor) -> torch.Tensor:
        mean = z.sum(0) / n
        total = torch.zeros((), dtype=torch.float64)
        for a in range(d):
            for b in range(d):
                if a != b:
                    c = sum((z[i, a] - mean[a]) * (z[i, b] - mean[b]) for i in range(n)) / (n - 1)
                    total = total + c ** 2
        return total / d

    return lam * invariance + mu * (variance(z1) + variance(z2)) + nu * (covariance(z1)
                                                                          + covariance(z2))


@pytest.mark.parametrize("n, d, scale", [(2, 3, 1.0), (5, 4, 0.1), (8, 6, 2.0), (16, 5, 0.5)])
def test_vicreg_matches_the_formula_and_its_gradients(n, d, scale):
    torch.manual_seed(n)
    z1 = (scale * torch.randn(n, d, dtype=torch.float64)).requires_grad_(True)
    z2 = (scale * torch.randn(n, d, dtype=torch.float64)).requires_grad_(True)
    ours, _ = vicreg_loss(z1, z2, 25.0, 25.0, 1.0)
    reference = reference_vicreg(z1, z2, 25.0, 25.0, 1.0)
    assert ours.dtype == torch.float64 and torch.allclose(ours, reference, atol=1e-10)
    ours_grads = torch.autograd.grad(ours, (z1, z2))
    reference_grads = torch.autograd.grad(reference, (z1, z2))
    for a, b in zip(ours_grads, reference_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def test_each_term_does_its_job():
    z = torch.randn(64, 8)
    _, same = vicreg_loss(z, z.clone())
    assert same["invariance"] == 0
    _, point = vicreg_loss(torch.zeros(64, 8), torch.zeros(64, 8))
    assert point["variance"].item() == pytest.approx(2 * (1 - 1e-2), rel=1e-4)  # both at std 0
    assert point["covariance"] == 0
    twin = torch.randn(64, 1).repeat(1, 8)  # eight copies of one coordinate
    _, redundant = vicreg_loss(twin, twin)
    assert redundant["covariance"] > 1.0  # covariance punishes the redundancy


def test_the_loss_is_float32_under_bf16_autocast():
    z1, z2 = torch.randn(32, 16), torch.randn(32, 16)
    exact, _ = vicreg_loss(z1, z2)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        mixed, _ = vicreg_loss(z1.bfloat16(), z2.bfloat16())
    assert mixed.dtype == torch.float32
    assert mixed.item() == pytest.approx(exact.item(), rel=1e-2)  # only the inputs rounded


def test_bad_embeddings_are_refused():
    with pytest.raises(ValueError, match="N >= 2"):
        vicreg_loss(torch.zeros(1, 4), torch.zeros(1, 4))
    with pytest.raises(ValueError, match="same shape"):
        vicreg_loss(torch.zeros(4, 4), torch.zeros(4, 3))


def _embeddings() -> tuple[torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return (torch.randn(8, 5, generator=generator, dtype=torch.float64),
            torch.randn(8, 5, generator=generator, dtype=torch.float64))


def _gathered(rank: int, world: int) -> dict:
    z1, z2 = _embeddings()
    mine = slice(rank * 4, (rank + 1) * 4)
    local1, local2 = z1[mine].clone().requires_grad_(True), z2[mine].clone().requires_grad_(True)
    loss, _ = vicreg_loss(local1, local2, gather=True)
    loss.backward()
    return {"loss": loss.detach(), "grad1": local1.grad / world, "grad2": local2.grad / world}


def test_under_torchrun_the_statistics_are_the_whole_batch_s(tmp_path):
    """Two gloo processes with half the batch each: the single-process loss, and (after
    DDP's averaging) its gradients."""
    ranks = on_two_ranks(_gathered, tmp_path)
    z1, z2 = (z.requires_grad_(True) for z in _embeddings())
    loss, _ = vicreg_loss(z1, z2)
    loss.backward()
    for rank, result in enumerate(ranks):
        assert result["loss"].item() == pytest.approx(loss.item(), rel=1e-6)
        mine = slice(rank * 4, (rank + 1) * 4)
        torch.testing.assert_close(result["grad1"], z1.grad[mine], rtol=1e-5, atol=1e-7)
        torch.testing.assert_close(result["grad2"], z2.grad[mine], rtol=1e-5, atol=1e-7)


def test_a_vicreg_step_logs_its_three_terms():
    torch.manual_seed(0)
    method = VICReg(image_size=16, expander_dim=32)
    views = method.views(torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8))
    loss, logs = method.training_step(views, torch.full((8,), -1))
    loss.backward()
    assert set(logs) == {"invariance", "variance", "covariance"}
    assert all(p.grad is not None for p in method.backbone.parameters())
