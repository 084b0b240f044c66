"""Each self-check accepts a correct implementation written from the formula (not the kit's),
rejects a wrong one with a hint, reports an unsolved exercise, and hands back the student's
function only when it passed (else the kit's reference, so the notebook runs on)."""

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from fgssl import exercises
from fgssl.exercises.checks import EXERCISES
from fgssl.image_quality import luminance


def nt_xent_from_formula(z1, z2, temperature):
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    total = 0.0
    for i in range(2 * n):
        positive = (i + n) % (2 * n)
        similarities = [z[i] @ z[k] / temperature for k in range(2 * n) if k != i]
        total += -(z[i] @ z[positive] / temperature - torch.logsumexp(torch.stack(similarities), 0))
    return total / (2 * n)


def nt_xent_keeping_itself(z1, z2, temperature):  # forgets to remove the self-similarity
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = len(z1)
    return F.cross_entropy(z @ z.T / temperature, (torch.arange(2 * n) + n) % (2 * n))


def greedy_max_min(candidates, count, first):
    chosen = [first]
    while len(chosen) < count:
        distances = (candidates[:, None, :] != candidates[chosen][None]).sum(2).min(1)
        chosen.append(int(np.argmax(distances)))
    return np.array(chosen)


def first_rows(candidates, count, first):
    return np.array([first, *[i for i in range(len(candidates)) if i != first][:count - 1]])


def degrade_from_docs(images, scale):
    size = (images.shape[-2] // scale, images.shape[-1] // scale)
    return F.interpolate(images, size=size, mode="bicubic", antialias=True,
                         align_corners=False).clamp(0, 1)


def degrade_without_antialiasing(images, scale):
    return F.interpolate(images, scale_factor=1 / scale, mode="bicubic").clamp(0, 1)


def psnr_from_formula(prediction, target):
    mse = ((luminance(prediction) - luminance(target)) ** 2).mean(dim=(1, 2, 3))
    return 10 * torch.log10(1 / mse)


def psnr_on_rgb(prediction, target):
    return 10 * torch.log10(1 / ((prediction - target) ** 2).mean(dim=(1, 2, 3)))


def freeze_properly(backbone):
    backbone.eval()
    for parameter in backbone.parameters():
        parameter.requires_grad = False
    return backbone


def freeze_like_the_study(backbone):  # bug 4: sets an attribute, freezes nothing
    backbone.requires_grad = False
    return backbone.eval()


def knn_from_formula(bank, labels, queries, k):
    bank = bank / np.linalg.norm(bank, axis=1, keepdims=True)
    queries = queries / np.linalg.norm(queries, axis=1, keepdims=True)
    predictions = []
    for query in queries:
        similarity = bank @ query
        nearest = np.argsort(-similarity)[:k]
        votes = np.zeros(labels.max() + 1)
        np.add.at(votes, labels[nearest], np.exp(similarity[nearest] / 0.07))
        predictions.append(votes.argmax())
    return np.array(predictions)


def knn_majority(bank, labels, queries, k):  # forgets the weights
    similarity = (bank / np.linalg.norm(bank, axis=1, keepdims=True)) @ queries.T
    nearest = np.argsort(-similarity, axis=0)[:k].T
    return np.array([np.bincount(labels[row], minlength=labels.max() + 1).argmax()
                     for row in nearest])


def pointing_from_formula(maps, points, tolerance):
    hits = 0
    for heat, (x, y) in zip(maps, points, strict=True):
        row, column = divmod(int(heat.flatten().argmax()), heat.shape[1])
        hits += ((column + 0.5 - x) ** 2 + (row + 0.5 - y) ** 2) ** 0.5 <= tolerance
    return hits / len(maps)


def pointing_with_corners(maps, points, tolerance):  # pixel corners, and rows for x
    hits = 0
    for heat, (x, y) in zip(maps, points, strict=True):
        row, column = divmod(int(heat.flatten().argmax()), heat.shape[1])
        hits += ((row - x) ** 2 + (column - y) ** 2) ** 0.5 <= tolerance
    return hits / len(maps)


def regularisers_from_formula(z):
    n, d = z.shape
    std = torch.sqrt(z.var(dim=0) + 1e-4)
    variance = torch.clamp(1 - std, min=0).mean()
    centred = z - z.mean(dim=0)
    covariance = sum(float((centred[:, i] @ centred[:, j]) / (n - 1)) ** 2
                     for i in range(d) for j in range(d) if i != j) / d
    return variance, torch.tensor(covariance)


def regularisers_with_the_diagonal(z):  # the variances counted as covariances too
    variance, _ = regularisers_from_formula(z)
    centred = z - z.mean(dim=0)
    return variance, (centred.T @ centred / (len(z) - 1)).pow(2).sum() / z.shape[1]


CHECKS = {  # exercise: (its check, a correct answer, a wrong one)
    "nt_xent": (exercises.check_nt_xent, nt_xent_from_formula, nt_xent_keeping_itself),
    "vicreg_regularisers": (exercises.check_vicreg_regularisers, regularisers_from_formula,
                            regularisers_with_the_diagonal),
    "max_min_hamming": (exercises.check_max_min_hamming, greedy_max_min, first_rows),
    "degrade": (exercises.check_degrade, degrade_from_docs, degrade_without_antialiasing),
    "psnr": (exercises.check_psnr, psnr_from_formula, psnr_on_rgb),
    "freeze": (exercises.check_freeze, freeze_properly, freeze_like_the_study),
    "knn": (exercises.check_knn, knn_from_formula, knn_majority),
    "pointing_score": (exercises.check_pointing_score, pointing_from_formula,
                       pointing_with_corners),
}


def test_every_exercise_has_a_check_under_test():
    assert set(CHECKS) == {name for name in EXERCISES if not name.startswith("bug")}


@pytest.mark.parametrize("name", CHECKS)
def test_a_correct_answer_passes_and_is_used(name, capsys):
    check, correct, _ = CHECKS[name]
    assert check(correct) is correct
    assert capsys.readouterr().out.startswith(f"✓ {name}: passes ")


@pytest.mark.parametrize("name", CHECKS)
def test_a_wrong_answer_fails_with_a_hint(name, capsys):
    check, _, wrong = CHECKS[name]
    assert check(wrong) is EXERCISES[name].reference  # the cells below run on the kit's
    out = capsys.readouterr().out
    assert out.startswith(f"✗ {name}: case ") and "hint: " in out and "Traceback" not in out
    assert f"the cells below use the kit's {name}" in out


def _unsolved(*arguments):
    raise NotImplementedError


def test_an_unsolved_exercise_says_so_in_one_line_and_the_reference_takes_over(capsys):
    assert exercises.check_psnr(_unsolved) is EXERCISES["psnr"].reference
    out = capsys.readouterr().out
    assert out.startswith("psnr: not solved yet") and out.count("\n") == 1
    assert not exercises.passed("psnr")


def test_a_crash_is_one_line_not_a_traceback(capsys):
    exercises.check_knn(lambda bank, labels, queries, k: bank[k * 1000])
    out = capsys.readouterr().out
    assert out.startswith("✗ knn: case 1 raised IndexError") and "Traceback" not in out


def test_show_solution_prints_the_reference(capsys):
    exercises.show_solution("degrade")
    assert "def degrade(" in capsys.readouterr().out
    with pytest.raises(ValueError, match="choose one of nt_xent"):
        exercises.show_solution("nope")


def test_passed_reports_the_last_check_of_each_exercise():
    from fgssl.exercises import passed

    exercises.check_psnr(psnr_on_rgb)
    assert not passed("psnr")
    exercises.check_psnr(psnr_from_formula)
    assert passed("psnr")
    with pytest.raises(ValueError, match="no exercise"):
        passed("nope")


def test_whose_says_whose_function_the_cells_below_use(capsys):
    from fgssl.exercises import whose

    exercises.check_psnr(psnr_on_rgb)
    assert whose("psnr") == "the kit's"
    exercises.check_psnr(psnr_from_formula)
    assert whose("psnr") == "your"


def test_each_check_names_the_notebook_that_calls_it():
    root = Path(__file__).resolve().parents[2]
    for name in ("nt_xent", "vicreg_regularisers", "max_min_hamming", "degrade", "psnr",
                 "freeze", "knn", "pointing_score"):
        callers = [path.name[:2] for path in sorted((root / "notebooks").glob("[0-9]*.ipynb"))
                   if f"check_{name}(" in path.read_text()]
        cited = re.findall(r"\(notebook (\d\d)\)", getattr(exercises, f"check_{name}").__doc__)
        assert cited == callers, name
