"""The fixes of the study's 13 bugs (the references) and the checks of the behaviour each bug
broke: :mod:`fgssl.exercises.bugs` tells the story, this module holds the code.

Each check is an :class:`~fgssl.exercises.checks.Exercise` named ``bug01`` … ``bug13``: hidden
cases (fresh models, crafted scores, a folder with one unreadable image) and a verdict on
the student's answer — after one training step, did the weights that should move, move?
"""

# Over 300 lines: a catalogue, one short solution and its behavioural check per study bug.

from __future__ import annotations

import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import confusion_matrix
from torch import nn

from fgssl.exercises.checks import Exercise
from fgssl.methods.jigsaw import max_min_hamming
from fgssl.transforms import MEAN, STD


def _model() -> nn.Module:
    """A tiny network shaped like a torchvision ResNet: ``layer4`` then the ``fc`` head."""
    torch.manual_seed(0)
    return _Net()


class _Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.layer3 = nn.Linear(6, 6)
        self.layer4 = nn.Linear(6, 6)
        self.fc = nn.Linear(6, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(torch.relu(self.layer4(torch.relu(self.layer3(x)))))


def _changed_by_a_step(model: nn.Module) -> set[str]:
    """Names of the parameters one SGD step on the trainable ones changes."""
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    trainable = [p for p in model.parameters() if p.requires_grad]
    if trainable:
        optimizer = torch.optim.SGD(trainable, lr=0.5)
        torch.manual_seed(1)
        F.cross_entropy(model(torch.randn(8, 6)), torch.arange(8) % 3).backward()
        optimizer.step()
    return {n for n, p in model.named_parameters() if not torch.equal(before[n], p)}


# 1 --------------------------------------------------------------------------------------
def finetune_last_block(model: nn.Module) -> nn.Module:
    """Reference: train ``layer4`` and the ``fc`` head only — chosen by module, not by a
    parameter name that may not exist."""
    model.requires_grad_(False)
    for module in (model.layer4, model.fc):
        module.requires_grad_(True)
    return model


def _only_last_block_trains(yours: Any, expected: Any, arguments: tuple) -> str | None:
    changed = {name.split(".")[0] for name in _changed_by_a_step(yours)}
    return None if changed == {"layer4", "fc"} else \
        f"a training step changed {sorted(changed) or 'nothing'}; expected layer4 and fc"


# 2 --------------------------------------------------------------------------------------
def dropout_head(features: torch.Tensor, weight: torch.Tensor, training: bool) -> torch.Tensor:
    """Reference: dropout (p = 0.5) that follows the mode, then a linear layer."""
    return F.dropout(features, p=0.5, training=training) @ weight.T


def _dropout_follows_mode(yours: Any, expected: Any, arguments: tuple) -> str | None:
    features, weight, training = arguments
    if training:
        again = dropout_head(features, weight, True)
        return None if not torch.equal(yours, again) and yours.shape == again.shape else \
            "in training, dropout should drop (two calls should differ)"
    return None if torch.allclose(yours, features @ weight.T) else \
        "in eval, the output should be the plain linear layer (no dropout)"


# 3 --------------------------------------------------------------------------------------
def balancing_weights(labels: np.ndarray, num_classes: int) -> torch.Tensor:
    """Reference: class weights inversely proportional to class frequency, mean 1 over the
    samples (``n / (k * count)``, scikit-learn's "balanced")."""
    counts = np.bincount(labels, minlength=num_classes).astype(np.float64)
    return torch.as_tensor(len(labels) / (num_classes * counts), dtype=torch.float32)


# 4 --------------------------------------------------------------------------------------
def unfreeze(module: nn.Module) -> nn.Module:
    """Reference: every parameter of ``module`` trainable again."""
    return module.requires_grad_(True)


def _all_trainable(yours: Any, expected: Any, arguments: tuple) -> str | None:
    frozen = [n for n, p in arguments[0].named_parameters() if not p.requires_grad]
    return None if not frozen else f"still frozen: {frozen[:3]}"


# 5 --------------------------------------------------------------------------------------
def new_head_and_optimizer(model: nn.Module, num_classes: int
                           ) -> tuple[nn.Module, torch.optim.Optimizer]:
    """Reference: replace the head first, *then* build the optimizer over the parameters."""
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model, torch.optim.SGD(model.parameters(), lr=0.1)


def _new_head_trains(yours: Any, expected: Any, arguments: tuple) -> str | None:
    model, optimizer = yours
    if model.fc.out_features != arguments[1]:
        return f"the head has {model.fc.out_features} outputs, expected {arguments[1]}"
    before = model.fc.weight.detach().clone()
    optimizer.zero_grad()
    F.cross_entropy(model(torch.randn(4, 6)), torch.arange(4) % arguments[1]).backward()
    optimizer.step()
    return None if not torch.equal(before, model.fc.weight) else \
        "an optimizer step left the new head unchanged: it is not in the optimizer"


# 6 --------------------------------------------------------------------------------------
def learning_rates(epochs: int) -> list[float]:
    """Reference: train ``epochs`` epochs with SGD (lr 0.1) and a step schedule (x0.1 every
    2 epochs), stepping the scheduler after each epoch; the rate used in each epoch."""
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    scheduler = torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.zero_grad()
        model(torch.ones(1, 2)).sum().backward()
        optimizer.step()
        scheduler.step()
    return rates


# 7 --------------------------------------------------------------------------------------
class _ModeRecorder(nn.Module):
    """Records, at every forward pass, whether it ran in training mode and under no_grad."""

    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 2)
        self.log: list[tuple[bool, bool]] = []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.log.append((self.training, torch.is_grad_enabled()))
        return self.linear(x)


def train_and_validate(model: nn.Module, epochs: int) -> None:
    """Reference: each epoch, a training step in train mode, then validation in eval mode
    without gradients — and back to train mode for the next epoch."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        model(torch.ones(4, 2)).sum().backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            model(torch.ones(4, 2))


def _modes_right(yours: Any, expected: Any, arguments: tuple) -> str | None:
    log = arguments[0].log
    want = [(True, True), (False, False)] * arguments[1]
    return None if log == want else \
        f"forward passes ran as (training, gradients) {log}; expected {want}"


# 8 --------------------------------------------------------------------------------------
def select_then_report(val_scores: Sequence[float], test_scores: Sequence[float]
                       ) -> tuple[int, float]:
    """Reference: the model chosen on validation, and *its* test score (read once)."""
    best = int(np.argmax(val_scores))
    return best, float(test_scores[best])


# 9 --------------------------------------------------------------------------------------
def confusion(true: np.ndarray, predicted: np.ndarray, num_classes: int) -> np.ndarray:
    """Reference: rows are the true classes, columns the predictions."""
    return confusion_matrix(true, predicted, labels=list(range(num_classes)))


# 10 -------------------------------------------------------------------------------------
def seeded_permutations(count: int, tiles: int, seed: int) -> np.ndarray:
    """Reference: a max-min Hamming set drawn from a generator seeded with ``seed``."""
    return max_min_hamming(count, tiles, np.random.default_rng(seed))


def _closest_pair(permutations: np.ndarray) -> int:
    """The smallest Hamming distance between two of the (K, T) permutations."""
    count, tiles = permutations.shape
    distances = (permutations[:, None] != permutations[None]).sum(-1)
    return int((distances + tiles * np.eye(count, dtype=int)).min())


def _seeded_max_min(yours: Any, expected: Any, arguments: tuple) -> str | None:
    count, tiles, seed = arguments
    yours = np.asarray(yours)
    if yours.shape != (count, tiles) or len({tuple(p) for p in yours}) != count:
        return f"need {count} different permutations of {tiles} tiles, got shape {yours.shape}"
    if _closest_pair(yours) < _closest_pair(expected):
        return (f"the closest two permutations differ in {_closest_pair(yours)} places; "
                f"max-min gives {_closest_pair(expected)}")
    return None if np.array_equal(yours, expected) else \
        f"not the set max_min_hamming({count}, {tiles}, np.random.default_rng({seed})) gives"


# 11 -------------------------------------------------------------------------------------
def read_images(paths: Sequence[Path], labels: Sequence[int]
                ) -> tuple[list[np.ndarray], list[int], list[Path]]:
    """Reference: the readable images (RGB arrays) with *their* labels, and the paths that
    could not be read — skipped and reported, never replaced by another image."""
    images, kept, skipped = [], [], []
    for path, label in zip(paths, labels, strict=True):
        try:
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB")))
        except OSError:
            skipped.append(path)
            continue
        kept.append(label)
    return images, kept, skipped


def _image_folder() -> list[tuple]:
    folder = Path(tempfile.mkdtemp(prefix="fgssl_bug11_"))
    paths = []
    for k, colour in enumerate([(255, 0, 0), (0, 255, 0), None, (0, 0, 255)]):
        path = folder / f"{k}.png"
        if colour is None:
            path.write_bytes(b"not a png")
        else:
            Image.new("RGB", (4, 4), colour).save(path)
        paths.append(path)
    return [(paths, [0, 1, 2, 3])]


def _skips_and_keeps_labels(yours: Any, expected: Any, arguments: tuple) -> str | None:
    images, labels, skipped = yours
    if [Path(p).name for p in skipped] != ["2.png"]:
        return f"skipped {skipped}; expected the unreadable 2.png alone"
    if labels != [0, 1, 3] or len(images) != 3:
        return f"kept labels {labels} for {len(images)} images; expected [0, 1, 3] for 3"
    return None if int(np.asarray(images[2])[0, 0, 2]) == 255 else \
        "the third image kept should be 3.png (blue)"


# 12 -------------------------------------------------------------------------------------
def cam_preprocess(images: torch.Tensor) -> torch.Tensor:
    """Reference: uint8 (B, 3, H, W) -> what the network saw in training: [0, 1], then the
    ImageNet mean and std (``fgssl.transforms.normalise``)."""
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (images.float() / 255 - mean) / std


# 13 -------------------------------------------------------------------------------------
def pick_device(cuda_available: Any = None) -> str:
    """Reference: ``"cuda"`` when a GPU is there, else ``"cpu"`` (call the function!)."""
    available = torch.cuda.is_available if cuda_available is None else cuda_available
    return "cuda" if available() else "cpu"


def _device_cases() -> list[tuple]:
    return [(_Availability(False),), (_Availability(True),)]


class _Availability:
    """A stand-in for ``torch.cuda.is_available``: a function (truthy as an object, like it)."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer

    def __call__(self) -> bool:
        return self.answer


def _same(yours: Any, expected: Any, arguments: tuple) -> str | None:
    return None if yours == expected else f"got {yours!r}, expected {expected!r}"


def _close(yours: Any, expected: Any, arguments: tuple) -> str | None:
    yours, expected = np.asarray(yours, dtype=np.float64), np.asarray(expected, np.float64)
    if yours.shape != expected.shape:
        return f"shape {yours.shape}, expected {expected.shape}"
    return None if np.allclose(yours, expected, atol=1e-6) else \
        f"got {np.round(yours, 4).tolist()}, expected {np.round(expected, 4).tolist()}"


BUG_EXERCISES: tuple[Exercise, ...] = (
    Exercise("bug01", finetune_last_block, lambda: [(_model(),)], _only_last_block_trains,
             "freeze everything (model.requires_grad_(False)), then call requires_grad_(True) "
             "on model.layer4 and model.fc — modules, not names"),
    Exercise("bug02", dropout_head,
             lambda: [(torch.ones(64, 8), torch.ones(3, 8), training) for training in
                      (False, True)], _dropout_follows_mode,
             "F.dropout has a `training` argument, and it defaults to True"),
    Exercise("bug03", balancing_weights,
             lambda: [(np.array([0] * 8 + [1] * 2 + [2] * 10), 3),
                      (np.array([0, 1, 1, 1]), 2)], _close,
             "count each class (np.bincount); weight = number of samples / (classes x count)"),
    Exercise("bug04", unfreeze, lambda: [(_model().requires_grad_(False),)],
             _all_trainable, "Module.requires_grad_(True), with the trailing underscore"),
    Exercise("bug05", new_head_and_optimizer, lambda: [(_model(), 5)], _new_head_trains,
             "replace model.fc first; build the optimizer afterwards, from model.parameters()"),
    Exercise("bug06", learning_rates, lambda: [(5,), (2,)], _close,
             "call scheduler.step() once at the end of every epoch, after optimizer.step()"),
    Exercise("bug07", train_and_validate, lambda: [(_ModeRecorder(), 2), (_ModeRecorder(), 1)],
             _modes_right, "model.train() at the start of every epoch; model.eval() and "
             "torch.no_grad() for validation"),
    Exercise("bug08", select_then_report,
             lambda: [([0.5, 0.7, 0.6], [0.9, 0.6, 0.8]), ([0.2, 0.1], [0.1, 0.3])], _same,
             "np.argmax over the *validation* scores; then read that model's test score"),
    Exercise("bug09", confusion,
             lambda: [(np.array([0, 0, 1, 2, 2]), np.array([0, 1, 1, 2, 0]), 3),
                      (np.array([1, 1]), np.array([0, 0]), 3)], _close,
             "sklearn.metrics.confusion_matrix(y_true, y_pred, labels=range(num_classes))"),
    Exercise("bug10", seeded_permutations, lambda: [(20, 4, 0), (30, 9, 3)], _seeded_max_min,
             "fgssl.methods.jigsaw.max_min_hamming(count, tiles, np.random.default_rng(seed))"),
    Exercise("bug11", read_images, _image_folder, _skips_and_keeps_labels,
             "try Image.open(path) ... except OSError: remember the path and skip it; append "
             "the label only when the image was read"),
    Exercise("bug12", cam_preprocess,
             lambda: [(torch.randint(0, 256, (2, 3, 5, 5), dtype=torch.uint8),)], _close,
             "images.float() / 255, then subtract fgssl.transforms.MEAN and divide by STD, "
             "per channel"),
    Exercise("bug13", pick_device, _device_cases, _same,
             "cuda_available is a function: call it"),
)
