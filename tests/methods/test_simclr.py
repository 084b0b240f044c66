import math

import pytest
import torch

from fgssl.methods.simclr import SimCLR, nt_xent


def reference_nt_xent(z1: torch.Tensor, z2: torch.Tensor, temperature: float) -> torch.Tensor:
    """The formula of Chen et al. (2020), eq. 1, term by term, in float64."""
    z = torch.cat([z1, z2]).double()
    z = z / z.norm(dim=1, keepdim=True)
    count, n = len(z), len(z1)
    total = torch.zeros((), dtype=torch.float64)
    for i in range(count):
        j = (i + n) % count
        denominator = sum(torch.exp(z[i] @ z[k] / temperature) for k in range(count) if k != i)
        total = total - torch.log(torch.exp(z[i] @ z[j] / temperature) / denominator)
    return total / count


@pytest.mark.parametrize("n, dim, temperature", [(1, 3, 0.5), (2, 8, 0.1), (5, 16, 0.5),
                                                 (16, 32, 1.0), (7, 4, 0.07)])
def test_nt_xent_matches_the_formula_and_its_gradients(n, dim, temperature):
    torch.manual_seed(n)
    z1 = torch.randn(n, dim, dtype=torch.float64, requires_grad=True)
    z2 = torch.randn(n, dim, dtype=torch.float64, requires_grad=True)
    ours = nt_xent(z1, z2, temperature)
    ours_grads = torch.autograd.grad(ours, (z1, z2))
    reference = reference_nt_xent(z1, z2, temperature)
    reference_grads = torch.autograd.grad(reference, (z1, z2))
    assert torch.allclose(ours, reference, atol=1e-10)
    for a, b in zip(ours_grads, reference_grads, strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def test_nt_xent_extremes():
    z = torch.eye(4)
    # identical views that are orthogonal to everything else: loss -> log(1 + 6 e^0 / e^(1/t))
    t = 0.5
    expected = math.log(math.exp(1 / t) + 6) - 1 / t
    assert nt_xent(z, z.clone(), t).item() == pytest.approx(expected, rel=1e-6)
    assert nt_xent(z, z.clone(), 0.01).item() < 1e-6  # sharp temperature: positive wins


def test_nt_xent_rejects_bad_input():
    with pytest.raises(ValueError, match="same shape"):
        nt_xent(torch.zeros(3, 4), torch.zeros(2, 4))
    with pytest.raises(ValueError, match="temperature must be positive"):
        nt_xent(torch.zeros(3, 4), torch.zeros(3, 4), temperature=0)


def test_simclr_step_on_uint8_images():
    torch.manual_seed(0)
    method = SimCLR(image_size=16, hidden_dim=32, projection_dim=8)
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    view1, view2 = method.views(images)
    assert view1.shape == view2.shape == (6, 3, 16, 16) and view1.dtype == torch.float32
    assert not torch.equal(view1, view2)
    loss, logs = method.training_step((view1, view2), torch.full((6,), -1))
    loss.backward()
    assert loss.item() > 0 and 0 <= logs["pair_accuracy"] <= 1
    assert all(p.grad is not None for p in method.backbone.parameters())
    assert method.config()["image_size"] == 16
