import pytest
import torch

from fgssl.methods.pmg import PMG
from fgssl.methods.supervised import Supervised
from fgssl.optimisation import optimisation, precision, warmup_cosine


def test_schedule_warms_up_then_decays():
    factor = warmup_cosine(total_steps=100, warmup_steps=10)
    assert factor(0) == pytest.approx(0.1) and factor(9) == pytest.approx(1.0)
    assert factor(55) == pytest.approx(0.5) and factor(99) < 0.01


def test_no_scaler_without_fp16():
    _, scaler = precision(torch.device("cpu"), amp=True)
    assert not scaler.is_enabled()
    autocast, _ = precision(torch.device("cpu"), amp=False)
    assert not isinstance(autocast, torch.autocast)


@pytest.mark.filterwarnings("ignore:.*CUDA is not available")
@pytest.mark.parametrize(("native", "dtype"), [(True, torch.bfloat16), (False, torch.float16)])
def test_gpus_get_bf16_only_where_it_is_native(monkeypatch, native, dtype):
    def supported(including_emulation: bool = True) -> bool:  # a T4 emulates bf16
        return native or including_emulation

    monkeypatch.setattr(torch.cuda, "is_bf16_supported", supported)
    autocast, _ = precision(torch.device("cuda"), amp=True)
    assert autocast.fast_dtype == dtype


def test_a_step_updates_the_weights_and_the_schedule_and_returns_a_detached_loss():
    torch.manual_seed(0)
    method = Supervised(4, image_size=16)
    opt = optimisation(method, torch.device("cpu"), lr=0.1, total_steps=100, amp=False)
    before = [p.detach().clone() for p in method.parameters()]
    first_lr = opt.lr
    images = torch.randint(0, 256, (8, 3, 16, 16), dtype=torch.uint8)
    loss, logs = opt.step(method.training_steps(method.views(images), torch.arange(8) % 4),
                          method)
    assert not loss.requires_grad and list(logs[0]) == ["train_accuracy"]
    assert any(not torch.equal(b, p) for b, p in zip(before, method.parameters(), strict=True))
    assert opt.lr > first_lr  # warming up
    restored = optimisation(method, torch.device("cpu"), lr=0.1, total_steps=100, amp=False)
    restored.load_state_dict(opt.state_dict())
    assert restored.lr == opt.lr


def test_several_steps_with_one_optimizer_advance_its_schedule_once():
    torch.manual_seed(0)
    method = PMG(3)
    opt = optimisation(method, torch.device("cpu"), lr=0.1, total_steps=100, amp=False)
    images, labels = torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])
    _, logs = opt.step(method.training_steps(images, labels), method)
    assert len(logs) == 4  # four optimizer steps ...
    assert opt.schedulers[0].last_epoch == 1  # ... one step of the schedule


def test_several_steps_with_one_optimizer_work_under_a_loss_scaler():
    """fp16 mixed precision (a T4) scales each loss; a scaler steps an optimizer once per
    update, so each of PMG's four steps is its own update (GradScaler on the CPU here)."""
    torch.manual_seed(0)
    method = PMG(3)
    opt = optimisation(method, torch.device("cpu"), lr=0.1, total_steps=100, amp=False)
    opt.scaler = torch.amp.GradScaler("cpu", init_scale=2.0**8)
    before = [p.detach().clone() for p in method.parameters()]
    _, logs = opt.step(method.training_steps(torch.rand(4, 3, 32, 32), torch.tensor([0, 1, 2, 0])),
                       method)
    assert len(logs) == 4 and opt.scaler.is_enabled()
    assert any(not torch.equal(b, p) for b, p in zip(before, method.parameters(), strict=True))
