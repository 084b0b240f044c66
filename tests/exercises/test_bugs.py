"""Every one of the study's 13 bugs: its checker accepts the fix and rejects the study's
code (written here as the study wrote it)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image
from sklearn.metrics import confusion_matrix
from torch import nn

from fgssl.exercises import BUGS, EXERCISES, check_bug, show_bug


def head_by_name(model):
    for name, param in model.named_parameters():
        param.requires_grad = name in ("layer4.0.weight", "fc.0.weight", "fc.0.bias")
    return model


def dropout_always(features, weight, training):
    return F.dropout(features, p=0.5) @ weight.T


def frequency_weights(labels, num_classes):
    counts = np.bincount(labels, minlength=num_classes)
    return torch.tensor(counts / counts.sum(), dtype=torch.float32)


def unfreeze_attribute(module):
    module.requires_grad = True
    return module


def optimizer_first(model, num_classes):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model.fc = nn.Linear(model.fc.in_features, num_classes)
    return model, optimizer


def never_stepped(epochs):
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    torch.optim.lr_scheduler.StepLR(optimizer, step_size=2, gamma=0.1)
    rates = []
    for _ in range(epochs):
        rates.append(optimizer.param_groups[0]["lr"])
        optimizer.step()
    return rates


def eval_forever(model, epochs):
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    for _ in range(epochs):
        optimizer.zero_grad()
        model(torch.ones(4, 2)).sum().backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            model(torch.ones(4, 2))


def chosen_on_test(val_scores, test_scores):
    best = int(np.argmax(test_scores))
    return best, float(test_scores[best])


def swapped(true, predicted, num_classes):
    return confusion_matrix(predicted, true, labels=list(range(num_classes)))


def unseeded_random(count, tiles, seed):
    return np.array([np.random.permutation(tiles) for _ in range(count)])


def first_image_instead(paths, labels):
    images, kept = [], []
    for path, label in zip(paths, labels, strict=True):
        try:
            with Image.open(path) as image:
                images.append(np.asarray(image.convert("RGB")))
            kept.append(label)
        except OSError:
            with Image.open(paths[0]) as image:
                images.append(np.asarray(image.convert("RGB")))
            kept.append(labels[0])
    return images, kept, []


def to_tensor_only(images):
    return images.float() / 255


def always_cuda(cuda_available):
    return "cuda" if cuda_available else "cpu"


STUDY = {1: head_by_name, 2: dropout_always, 3: frequency_weights, 4: unfreeze_attribute,
         5: optimizer_first, 6: never_stepped, 7: eval_forever, 8: chosen_on_test,
         9: swapped, 10: unseeded_random, 11: first_image_instead, 12: to_tensor_only,
         13: always_cuda}


def test_all_thirteen_bugs_are_there():
    assert sorted(BUGS) == sorted(STUDY) == list(range(1, 14))


@pytest.mark.parametrize("number", range(1, 14))
def test_the_fix_passes(number, capsys):
    reference = EXERCISES[f"bug{number:02d}"].reference
    assert check_bug(number, reference) is reference
    assert capsys.readouterr().out.startswith(f"✓ bug{number:02d}: passes ")


@pytest.mark.parametrize("number", range(1, 14))
def test_the_study_s_code_fails_with_a_hint(number, capsys):
    check_bug(number, STUDY[number])
    out = capsys.readouterr().out
    assert out.startswith(f"✗ bug{number:02d}: ") and "hint: " in out


def test_show_bug_prints_the_study_s_code_and_the_task(capsys):
    show_bug(9)
    out = capsys.readouterr().out
    assert out.startswith("Bug 9: a confusion matrix the wrong way round")
    assert "    cm = confusion_matrix(predictions, labels)" in out and "Write: confusion(" in out
    with pytest.raises(ValueError, match="bugs 1 to 13"):
        check_bug(14, print)
