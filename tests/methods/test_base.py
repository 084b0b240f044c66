"""What the Method base class derives for every method: its settings, its schedule, how it
is built for a profile."""

import inspect

import numpy as np
import pytest
import torch
from torch import nn

from fgssl.config import PROFILE_NAMES, profile
from fgssl.methods.about import Entry, Option, Schedule, schedules
from fgssl.methods.base import Method, cosine_momentum, momentum_update
from fgssl.methods.jigsaw import Jigsaw
from fgssl.methods.registry import method_classes
from fgssl.methods.srgan import SRGAN
from fgssl.methods.supervised import Supervised


class _Tiny(Method):
    name = "tiny"
    options = (Option("width", "channels", minimum=1, maximum=64),
               Option("mode", "how", choices=("a", "b")))
    schedule = schedules(cpu=Schedule(epochs=7))

    def __init__(self, width: int = 4, mode: str = "a", image_size: int = 32,
                 backbone: nn.Module | None = None) -> None:
        super().__init__(backbone or nn.Conv2d(3, width, 1))

    runtime_arguments = ("backbone",)


class _Wider(_Tiny):
    def __init__(self, width: int = 8, extra: float = 0.5) -> None:
        super().__init__(width=width, mode="b")


def test_config_is_the_constructor_call_with_its_defaults():
    assert _Tiny(width=3).config() == {"width": 3, "mode": "a", "image_size": 32}
    assert _Tiny(3, "b").config() == {"width": 3, "mode": "b", "image_size": 32}
    assert "backbone" not in _Tiny(backbone=nn.Identity()).config()  # handed over at run time
    assert _Wider().config() == {"width": 8, "extra": 0.5}  # the outermost constructor's
    rebuilt = _Tiny(**_Tiny(width=5, mode="b").config())
    assert rebuilt.config() == {"width": 5, "mode": "b", "image_size": 32}


def test_options_are_checked_with_the_parameter_s_name():
    with pytest.raises(ValueError, match="width must be from 1 to 64, got 0"):
        _Tiny(width=0)
    with pytest.raises(ValueError, match="mode must be one of a, b, got c"):
        _Tiny(mode="c")
    with pytest.raises(ValueError, match="grid must be one of 2, 3, 4, got 5"):
        Jigsaw(grid=5)


def test_a_constructor_with_variadic_arguments_is_refused_at_class_creation():
    with pytest.raises(TypeError, match=r"settings are named arguments, not \*options"):
        class _Loose(Method):
            def __init__(self, **options: int) -> None:
                super().__init__(nn.Identity())


@pytest.mark.filterwarnings("ignore:SRGAN. no VGG19")
def test_a_setting_decided_in_the_constructor_is_recorded_as_decided():
    assert SRGAN(image_size=16, hr_size=32).config()["content"] in ("vgg", "features")
    with pytest.raises(KeyError, match="no resolved setting 'nope'"):
        _Tiny().record_setting("nope", 1)
    with pytest.raises(KeyError, match="no resolved setting 'mode'"):  # not resolved_settings
        _Tiny().record_setting("mode", "b")


def test_the_schedule_is_the_method_s_where_it_has_one_else_the_profile_s():
    cpu, ci = profile("cpu"), profile("ci")
    assert _Tiny.epochs_for(cpu) == 7 and _Tiny.batch_size_for(cpu) == cpu.batch_size
    assert _Tiny.epochs_for(ci) == ci.epochs
    assert Supervised.epochs_for(cpu) == 120 and Supervised.batch_size_for(cpu) == 64


def test_build_hands_over_what_the_constructor_takes():
    built = _Tiny.build(profile("ci"), width=2)
    assert built.config() == {"width": 2, "mode": "a", "image_size": 32}
    assert Supervised.build(profile("ci"), num_classes=5).config()["num_classes"] == 5
    with pytest.raises(ValueError, match="the supervised method needs the number of classes"):
        Supervised.build(profile("ci"))
    with pytest.raises(ValueError, match="tiny has no setting colour: its settings are "
                                         "width, mode"):
        _Tiny.build(profile("ci"), colour=1)


def test_every_registered_method_describes_itself_consistently():
    """Options name constructor arguments; entries' options are settings; schedules name
    profiles; the names are unique."""
    entry_names = []
    for cls in method_classes():
        settings = inspect.signature(cls).parameters
        assert all(option.name in settings for option in cls.options), cls.name
        for entry in cls.entries:
            assert isinstance(entry, Entry) and set(entry.options) <= set(settings), entry
            assert not entry.features or entry.features in cls.feature_choices, entry
        assert set(cls.schedule) <= set(PROFILE_NAMES), cls.name
        entry_names += [entry.name for entry in cls.entries]
    assert len(entry_names) == len(set(entry_names))


@pytest.mark.parametrize("size", [64, 96])
def test_every_method_trains_at_an_image_size_the_user_chose(size):
    from fgssl.data.cache import CachedImages
    from fgssl.train import Hyperparameters, Watch, fit

    prof = profile("ci", size)
    images = torch.randint(0, 256, (8, size, size, 3), dtype=torch.uint8).numpy()
    data = CachedImages(images, np.arange(8) % 4)
    for cls in method_classes():
        method = cls.build(prof, num_classes=4)
        history = fit(method, data, prof, hyper=Hyperparameters(epochs=1, batch_size=8),
                      watch=Watch(progress_bar=False))
        assert np.isfinite(history[-1]["loss"]), cls.name


def test_evaluating_seeds_the_block_and_restores_mode_and_random_state():
    method = Supervised(num_classes=3)
    method.train()
    torch.manual_seed(123)
    expected_next = torch.rand(1)
    torch.manual_seed(123)
    draws = []
    for _ in range(2):
        with method.evaluating(torch.device("cpu"), seed=5):
            assert not method.training
            draws.append(torch.rand(3))
    assert method.training
    assert torch.equal(draws[0], draws[1])          # the same held-out draw each time
    assert torch.equal(torch.rand(1), expected_next)  # the outer random state untouched
    method.eval()
    with pytest.raises(RuntimeError), method.evaluating(torch.device("cpu")):
        method.train()
        raise RuntimeError
    assert not method.training                       # restored even after an error


def test_the_momentum_rises_on_a_cosine_to_one():
    assert cosine_momentum(0.99, 0.0) == pytest.approx(0.99)
    assert cosine_momentum(0.99, 0.5) == pytest.approx(0.995)
    assert cosine_momentum(0.99, 1.0) == pytest.approx(1.0)
    assert cosine_momentum(0.0, 0.0) == 0.0


def test_the_momentum_update_moves_the_target_by_one_minus_tau_towards_the_online_weights():
    torch.manual_seed(0)
    online = (nn.Linear(3, 4), nn.Linear(4, 2))
    target = nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))
    before = [p.clone() for p in target.parameters()]
    momentum_update(target, online, 0.9)
    weights = [p for module in online for p in module.parameters()]
    for moved, old, fast in zip(target.parameters(), before, weights, strict=True):
        assert torch.allclose(moved, 0.9 * old + 0.1 * fast)
    momentum_update(target, online, 0.0)  # τ = 0: the target is the online network
    assert all(torch.equal(a, b) for a, b in zip(target.parameters(), weights, strict=True))
    with pytest.raises(ValueError):  # a target of another shape is an error, not a silent zip
        momentum_update(nn.Linear(3, 4), online, 0.5)


def test_a_fine_tuning_head_must_take_a_backbone_and_classify():
    with pytest.raises(TypeError, match=r"backbone, backbone_lr_factor.*logits"):
        class _NotAHead(Method):
            fine_tuning_head = True

            def __init__(self, num_classes: int, image_size: int = 32) -> None:
                super().__init__(nn.Identity())

    class _Head(Method):
        fine_tuning_head = True

        def __init__(self, num_classes: int, image_size: int = 32,
                     backbone: nn.Module | None = None, backbone_lr_factor: float = 1.0) -> None:
            super().__init__(backbone or nn.Identity())

        def logits(self, images: torch.Tensor) -> torch.Tensor:
            return images

    assert _Head.fine_tuning_head and not Method.fine_tuning_head


def test_an_option_left_to_the_method_to_decide_is_not_checked_against_its_range():
    assert Option("local_crops", "local views", minimum=0).check(None) is None
    with pytest.raises(ValueError, match="at least 0"):
        Option("local_crops", "local views", minimum=0).check(-2)
