import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fgssl.data.cache import CachedImages
from fgssl.methods.dino import DINO, dino_loss
from fgssl.train import Hardware, Hyperparameters, Watch, fit
from tests.gloo import on_two_ranks
from tests.toy_methods import Interrupt


def reference_dino_loss(student: list[torch.Tensor], teacher: list[torch.Tensor],
                        temperature: float) -> torch.Tensor:
    """Caron et al. (2021), eq. 3, element by element in float64, averaged over its terms."""
    total, terms = torch.zeros((), dtype=torch.float64), 0
    for i, t in enumerate(teacher):
        for j, s in enumerate(student):
            if i == j:
                continue
            for row_t, row_s in zip(t, s, strict=True):
                log_p = row_s / temperature - torch.logsumexp(row_s / temperature, 0)
                total = total - (row_t * log_p).sum() / len(t)
            terms += 1
    return total / terms


@pytest.mark.parametrize("views, batch, k", [(2, 1, 3), (4, 3, 5), (8, 2, 7)])
def test_dino_loss_matches_the_formula_and_its_gradients(views, batch, k):
    torch.manual_seed(views)
    student = [torch.randn(batch, k, dtype=torch.float64, requires_grad=True)
               for _ in range(views)]
    teacher = [F.softmax(torch.randn(batch, k, dtype=torch.float64), -1) for _ in range(2)]
    ours, reference = dino_loss(student, teacher, 0.1), reference_dino_loss(student, teacher, 0.1)
    assert torch.allclose(ours, reference, atol=1e-10)
    for a, b in zip(torch.autograd.grad(ours, student),
                    torch.autograd.grad(reference, student), strict=True):
        assert torch.allclose(a, b, atol=1e-10)


def _small(**options) -> DINO:
    torch.manual_seed(0)
    return DINO(image_size=16, hidden_dim=32, bottleneck_dim=16, prototypes=64, **options)


def test_two_global_views_for_both_networks_and_local_ones_for_the_student():
    method = _small(local_crops=4)
    views = method.views(torch.randint(0, 256, (3, 3, 16, 16), dtype=torch.uint8))
    assert [tuple(v.shape) for v in views] == [(3, 3, 16, 16)] * 2 + [(3, 3, 8, 8)] * 4
    loss, logs = method.training_step(views, torch.full((3,), -1))
    loss.backward()
    assert logs["kl"].item() == pytest.approx(loss.item() - logs["teacher_entropy"].item())
    assert 0 <= logs["teacher_entropy"] <= np.log(64) + 1e-5
    assert not any(p.grad is not None for p in method.teacher.parameters())
    with pytest.raises(ValueError, match="local_crops must be even"):
        _small(local_crops=3)


def test_local_views_are_the_paper_s_six_from_64_px_and_none_below_unless_asked_for():
    assert DINO(image_size=32).crops.local_crops == 0
    assert DINO(image_size=64).crops.local_crops == 6
    assert DINO(image_size=32).config()["local_crops"] == 0  # a checkpoint rebuilds the choice
    assert DINO(image_size=32, local_crops=2).crops.local_crops == 2
    assert len(DINO(image_size=32).views(torch.zeros(2, 3, 32, 32, dtype=torch.uint8))) == 2


def test_batch_norm_in_the_head_spreads_nearly_equal_features_apart():
    normed, plain = _small(), _small(head_batch_norm=False)
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in normed.head.mlp) == 2
    assert sum(isinstance(m, torch.nn.BatchNorm1d) for m in normed.teacher[1].mlp) == 2
    assert not any(isinstance(m, torch.nn.BatchNorm1d) for m in plain.head.modules())
    generator = torch.Generator().manual_seed(0)
    features = 1 + 1e-3 * torch.randn(16, normed.backbone.feature_dim, generator=generator)
    spread = {name: head(features).std(0).mean().item()  # across images, per prototype
              for name, head in (("normed", normed.head), ("plain", plain.head))}
    assert spread["normed"] > 100 * spread["plain"]


def test_the_centre_is_a_moving_average_of_the_teacher_s_outputs():
    method = _small(local_crops=0, center_momentum=0.9)
    views = method.views(torch.randint(0, 256, (4, 3, 16, 16), dtype=torch.uint8))
    with torch.no_grad():
        teacher = method.teacher(torch.cat(views[:2]))
    method.training_step(views, torch.full((4,), -1))
    torch.testing.assert_close(method.center, 0.1 * teacher.mean(0))


class _Answers(torch.nn.Module):
    """A teacher that gives these logits (B, K) whatever it is shown."""

    def __init__(self, logits: torch.Tensor) -> None:
        super().__init__()
        self.logits = logits

    def forward(self, view: torch.Tensor) -> torch.Tensor:
        return self.logits


def test_held_out_metrics_say_how_much_the_teacher_tells_images_apart():
    method = _small(warmup_teacher_temperature=0.05, teacher_warmup=0.5)
    images = torch.randint(0, 256, (6, 3, 16, 16), dtype=torch.uint8)
    same = torch.randn(1, 64).expand(6, 64)
    method.teacher = _Answers(same)  # every image the same answer: nothing to tell apart
    metrics = method.pretext_metrics(images)
    assert metrics["teacher_spread"] == pytest.approx(0.0, abs=1e-6)
    entropy = -(F.softmax(same[0] / 0.05, 0) * F.log_softmax(same[0] / 0.05, 0)).sum()
    assert metrics["teacher_entropy"] == pytest.approx(float(entropy), rel=1e-5)
    apart = torch.randn(6, 64)
    method.teacher = _Answers(apart)
    metrics = method.pretext_metrics(images)
    assert metrics["teacher_spread"] == pytest.approx(float(apart.std(0).mean()) / 0.05, rel=1e-5)
    state = torch.get_rng_state()
    method.pretext_metrics(images)
    assert torch.equal(state, torch.get_rng_state())  # the training's random stream untouched


def test_the_teacher_temperature_warms_up_then_stays():
    method = _small(warmup_teacher_temperature=0.04, teacher_temperature=0.07,
                    teacher_warmup=0.5)
    temperatures = []
    for progress in (0.0, 0.25, 0.5, 0.9):
        method.progress = progress
        temperatures.append(method.teacher_temperature)
    assert temperatures == pytest.approx([0.04, 0.055, 0.07, 0.07])


def _pool() -> CachedImages:
    rng = np.random.default_rng(0)
    return CachedImages(rng.integers(0, 256, (128, 16, 16, 3), dtype=np.uint8),
                        np.full(128, -1))


def _train(method: DINO, out=None, **watch) -> list[dict]:
    return fit(method, _pool(), "ci", out,
               hyper=Hyperparameters(epochs=2, batch_size=32, seed=0),
               hardware=Hardware(amp=False), watch=Watch(progress_bar=False, **watch))


def test_the_prototypes_stay_frozen_for_the_first_part_of_the_run():
    method = _small(local_crops=2, freeze_last_layer=0.5)
    start = method.head.prototypes.detach().clone()
    seen = []
    _train(method, monitors=[lambda m, d: seen.append(m.head.prototypes.detach().clone()) or {}])
    assert torch.equal(seen[0], start) and not torch.equal(seen[1], start)


def test_a_dino_run_resumes_exactly_with_its_teacher_and_centre(tmp_path):
    straight = _small(local_crops=2)
    _train(straight, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        _train(_small(local_crops=2), tmp_path / "cut", monitors=[Interrupt(2)])
    resumed = _small(local_crops=2)
    _train(resumed, tmp_path / "cut")
    assert resumed.center.abs().sum() > 0
    for name, tensor in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, rtol=0, atol=1e-6,
                                   msg=name)


def _centre_on_half(rank: int, world: int) -> dict:
    method = _small(local_crops=0)
    generator = torch.Generator().manual_seed(1)
    teacher = torch.randn(8, 64, generator=generator)
    method._update_center(teacher[rank * 4:(rank + 1) * 4])
    return {"center": method.center}


def test_under_torchrun_the_centre_is_every_process_s_batch_mean(tmp_path):
    ranks = on_two_ranks(_centre_on_half, tmp_path)
    method = _small(local_crops=0)
    method._update_center(torch.randn(8, 64, generator=torch.Generator().manual_seed(1)))
    for result in ranks:
        torch.testing.assert_close(result["center"], method.center)
