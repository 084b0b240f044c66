import json
from typing import Any

import numpy as np
import pytest
import torch

from fgssl.data.cache import CachedImages
from fgssl.evaluate.monitors import KNNMonitor
from fgssl.files import BusyError, exclusive
from fgssl.methods.simclr import SimCLR
from fgssl.methods.supervised import Supervised
from fgssl.train import Hardware, Hyperparameters, Watch, fit
from fgssl.utils import LOCK, load_checkpoint
from tests.toy_methods import Interrupt, MomentumLinear, toy_data


def _data(n: int = 48, size: int = 16, seed: int = 0) -> CachedImages:
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, size, size, 3), dtype=np.uint8)
    return CachedImages(images, np.arange(n) % 4)


def _simclr() -> SimCLR:
    return SimCLR(image_size=16, hidden_dim=32, projection_dim=8)


def _fit(method, out=None, epochs: int = 2, seed: int = 3, data_path: str = "auto",
         **watch: Any) -> list[dict]:
    return fit(method, _data(), "ci", out,
               hyper=Hyperparameters(epochs=epochs, batch_size=16, seed=seed),
               hardware=Hardware(data_path=data_path), watch=Watch(progress_bar=False, **watch))


def _losses(history: list[dict]) -> list[float]:
    return [record["loss"] for record in history]


def _seeded_simclr(disturb: int) -> SimCLR:
    torch.manual_seed(0)  # the same initial weights ...
    method = _simclr()
    torch.manual_seed(disturb)  # ... and then a global state that fit() must not depend on
    return method


def test_same_seed_same_losses_on_cpu():
    first = _losses(_fit(_seeded_simclr(123)))
    second = _losses(_fit(_seeded_simclr(456)))
    assert first == second
    assert _losses(_fit(_seeded_simclr(123), seed=4)) != first


def test_resume_after_an_interruption_continues_exactly(tmp_path):
    straight = _fit(_seeded_simclr(1), tmp_path / "straight", epochs=3, monitors=[Interrupt(0)])
    with pytest.raises(KeyboardInterrupt):  # stopped during epoch 2: epoch 1 is on disk
        _fit(_seeded_simclr(1), tmp_path / "interrupted", epochs=3, monitors=[Interrupt(2)])
    assert load_checkpoint(tmp_path / "interrupted" / "checkpoint.pt")["epoch"] == 1
    resumed_method = _seeded_simclr(3)  # its weights are replaced by the checkpoint's
    resumed = _fit(resumed_method, tmp_path / "interrupted", epochs=3, monitors=[Interrupt(0)])
    assert _losses(resumed) == pytest.approx(_losses(straight), abs=1e-6)
    final = load_checkpoint(tmp_path / "straight" / "checkpoint.pt")["model"]
    for name, tensor in resumed_method.state_dict().items():
        assert torch.allclose(tensor, final[name], atol=1e-6), name


def test_checkpoint_and_history_files(tmp_path):
    history = _fit(_simclr(), tmp_path)
    state = load_checkpoint(tmp_path / "checkpoint.pt")  # weights_only=True inside
    assert state["epoch"] == 2 and state["method"] == "simclr"
    assert state["config"]["image_size"] == 16
    saved = json.loads((tmp_path / "history.json").read_text())
    assert saved["history"] == json.loads(json.dumps(history))
    assert saved["trace"] == state["trace"] == json.loads(json.dumps(state["trace"]))
    assert sorted(p.name for p in tmp_path.iterdir()) == [".fgssl_lock", "checkpoint.pt",
                                                          "history.json"]


def test_resume_refuses_a_different_method(tmp_path):
    _fit(_simclr(), tmp_path, epochs=1)
    other = SimCLR(image_size=16, hidden_dim=32, projection_dim=8, temperature=0.5)
    with pytest.raises(ValueError, match="belongs to simclr"):
        _fit(other, tmp_path)


def test_the_schedule_is_stepped():
    history = _fit(_simclr(), epochs=3)
    lrs = [record["lr"] for record in history]
    assert lrs[0] > lrs[1] > lrs[2] >= 0  # the scheduler really moved


class _ExplodingSimCLR(SimCLR):
    """Returns a NaN loss from the second epoch on."""

    steps = 0

    def training_step(self, inputs, labels):
        loss, logs = super().training_step(inputs, labels)
        self.steps += 1
        return (loss * float("nan") if self.steps > 3 else loss), logs


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    method = _ExplodingSimCLR(image_size=16, hidden_dim=32, projection_dim=8)
    with pytest.raises(FloatingPointError, match=r"became nan at epoch 2.*epoch 1"):
        _fit(method, tmp_path, epochs=3)
    assert load_checkpoint(tmp_path / "checkpoint.pt")["epoch"] == 1


def test_supervised_learns_and_the_monitor_reports():
    data = _data(64)
    data.labels = (data.images.reshape(64, -1).mean(1) > 127.5).astype(np.int64)
    data.images[data.labels == 1] //= 3  # make the two classes easy to tell apart
    method = Supervised(2, image_size=16)
    history = fit(method, data, "ci", None, hyper=Hyperparameters(epochs=4, batch_size=16),
                  watch=Watch(monitors=[KNNMonitor(data, data, k=5)], progress_bar=False))
    assert history[-1]["knn_top1"] > 0.9
    assert history[-1]["loss"] < history[0]["loss"]


def test_supervised_refuses_unlabelled_data():
    data = CachedImages(np.zeros((8, 16, 16, 3), np.uint8), np.full(8, -1))
    with pytest.raises(ValueError, match="needs labels"):
        fit(Supervised(2, image_size=16), data, "ci", None,
            hyper=Hyperparameters(epochs=1, batch_size=4), watch=Watch(progress_bar=False))


class _TwoPlayers(Supervised):
    """Two optimizers stepped in turn: the 'critic' (a scalar) first, then the classifier,
    whose loss reads the critic's value *after* its step; the critic steps in the second
    half of training only (a method whose objective changes with ``progress``)."""

    def __init__(self) -> None:
        super().__init__(4, image_size=16)
        self.critic = torch.nn.Parameter(torch.zeros(()))
        self.seen: list[float] = []

    def optimizers(self, lr, weight_decay):
        critic = torch.optim.SGD([self.critic], lr=0.25)
        rest = [p for name, p in self.named_parameters() if name != "critic"]
        return [torch.optim.SGD(rest, lr=lr), critic]

    def training_steps(self, inputs, labels):
        if self.progress >= 0.5:
            loss = (self.critic - 1.0) ** 2
            yield 1, loss, {"critic_loss": loss.item()}
        self.seen.append(self.critic.item())
        loss, logs = self.training_step(inputs, labels)
        yield 0, loss, logs


def test_several_optimizers_step_in_turn_and_objectives_follow_progress():
    data = _data(32)
    method = _TwoPlayers()
    history = fit(method, data, "ci", None,
                  hyper=Hyperparameters(epochs=4, batch_size=16, lr=0.1, warmup_fraction=0.01),
                  watch=Watch(progress_bar=False))
    assert method.seen[:4] == [0.0] * 4  # the critic did not move in the first half
    assert 0.0 < method.seen[4] < 1.0  # the classifier's step saw the critic just updated
    assert "critic_loss" not in history[1] and "critic_loss" in history[2]
    assert history[2]["critic_loss"] > history[3]["critic_loss"]  # averaged over its own steps


def test_the_trace_averages_the_steps_between_its_points(tmp_path):
    method = _seeded_simclr(1)
    history = _fit(method, tmp_path, epochs=2, trace_points=3)  # 48 images / 16: 3 steps
    assert [point["step"] for point in method.trace] == [1, 2, 3, 4, 5, 6]
    assert [point["epoch"] for point in method.trace][:3] == pytest.approx([1 / 3, 2 / 3, 1],
                                                                          abs=1e-4)
    first_epoch = np.mean([point["loss"] for point in method.trace[:3]])
    assert history[0]["loss"] == pytest.approx(first_epoch)
    coarse = _seeded_simclr(1)  # the same run, traced once per epoch
    _fit(coarse, epochs=2, trace_points=1)
    assert [point["step"] for point in coarse.trace] == [3, 6]
    assert coarse.trace[0]["loss"] == pytest.approx(history[0]["loss"], rel=1e-5)


def test_both_data_paths_train_the_same_run():
    on_device = _losses(_fit(_seeded_simclr(0), data_path="gpu"))
    through_loader = _losses(_fit(_seeded_simclr(0), data_path="cpu-loader"))
    assert on_device == through_loader


class _OutOfMemory(SimCLR):
    def training_step(self, inputs, labels):
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")


def test_out_of_memory_suggests_a_smaller_batch():
    method = _OutOfMemory(image_size=16, hidden_dim=32, projection_dim=8)
    with pytest.raises(MemoryError, match=r"batches of 16 images .*try --batch 8"):
        _fit(method)


def _momentum_fit(method: MomentumLinear, out=None, epochs: int = 3, **watch: Any) -> list:
    return fit(method, toy_data(), "ci", out, hyper=Hyperparameters(epochs=epochs, batch_size=8,
                                                                   seed=1),
               hardware=Hardware(amp=False), watch=Watch(progress_bar=False, **watch))


def test_after_step_runs_after_every_optimizer_step_with_its_index():
    method = MomentumLinear()
    _momentum_fit(method, epochs=2)  # 40 images in batches of 8: 5 steps an epoch
    assert method.stepped == [0] * 10
    assert method.progress_seen == [step / 10 for step in range(10)]  # set before each step


def test_a_momentum_target_is_checkpointed_and_resumed_exactly(tmp_path):
    straight = MomentumLinear()
    _momentum_fit(straight, tmp_path / "straight")
    with pytest.raises(KeyboardInterrupt):
        _momentum_fit(MomentumLinear(), tmp_path / "cut", monitors=[Interrupt(2)])
    resumed = MomentumLinear()
    with torch.no_grad():  # other weights, the target's too: all come from the checkpoint
        for tensor in resumed.state_dict().values():
            tensor.add_(1.0)
    _momentum_fit(resumed, tmp_path / "cut")
    assert not torch.equal(straight.target.weight, straight.backbone[1].weight)  # it lags
    for name, tensor in straight.state_dict().items():
        torch.testing.assert_close(resumed.state_dict()[name], tensor, rtol=0, atol=1e-7)


def test_frozen_parameters_stay_as_they_are_until_released():
    method = MomentumLinear(freeze_bias_until=0.5)
    bias = method.backbone[1].bias.detach().clone()
    _momentum_fit(method, epochs=2, monitors=[method.watch_bias])
    assert torch.equal(method.bias_after_epoch[0], bias)  # frozen in the first half
    assert not torch.equal(method.bias_after_epoch[1], bias)  # trained in the second


def test_gradients_are_clipped_to_the_method_s_norm():
    method = MomentumLinear(clip=1e-3, plain_sgd=True)
    before = [p.detach().clone() for p in method.parameters() if p.requires_grad]
    fit(method, toy_data(8), "ci", None, hyper=Hyperparameters(epochs=1, batch_size=8,
                                                               warmup_fraction=0.0),
        hardware=Hardware(amp=False), watch=Watch(progress_bar=False))
    after = [p.detach() for p in method.parameters() if p.requires_grad]
    moved = torch.cat([(a - b).flatten() for a, b in zip(after, before, strict=True)]).norm()
    assert 0 < moved <= 1e-3 * (1 + 1e-5)  # one step of plain SGD at lr 1: the clipped norm


@pytest.mark.parametrize("settings, message", [
    ({"epochs": 0}, "epochs must be at least 1, got 0"),
    ({"lr": -0.1}, "lr must be positive, got -0.1"),
    ({"seed": -1}, "seed must be a whole number, 0 or more, e.g. 0; got -1"),
    ({"seed": 1.5}, "seed must be a whole number"),
    ({"warmup_fraction": 1.0}, r"warmup_fraction must be in \[0, 1\)"),
])
def test_hyperparameters_are_checked_by_name(settings, message):
    with pytest.raises(ValueError, match=message):
        Hyperparameters(**settings)


def test_a_second_writer_into_a_run_folder_is_refused_and_changes_nothing(tmp_path):
    _fit(_simclr(), tmp_path, epochs=1)
    before = (tmp_path / "checkpoint.pt").read_bytes()
    held = exclusive(tmp_path / LOCK, "training into it")  # as another process training there
    with held, pytest.raises(BusyError, match=f"is training into {tmp_path}: wait for it"):
        _fit(_simclr(), tmp_path, epochs=2)
    assert (tmp_path / "checkpoint.pt").read_bytes() == before
