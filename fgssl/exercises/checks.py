"""Self-checks for the notebooks' exercises: hidden cases, a clear verdict, a hint.

Each exercise asks for one function of the lesson (NT-Xent, VICReg's variance and covariance
terms, the max-min Hamming selection,
the SR degradation, PSNR, freezing a backbone, the kNN classifier, the pointing score). Its
``check_<exercise>(your_function)`` runs a few cases the student does not see against the
kit's own implementation and prints one line — passed, or which case failed and a hint —
never a bare traceback. It returns the function the rest of the notebook should use: yours
when it passes, else (wrong, crashing, or not written yet: ``raise NotImplementedError``) the
kit's reference, so that a student notebook runs top to bottom with nothing solved and the
cells after an exercise show what a right answer does. The verdict printed is what a grader
reads (:mod:`fgssl.exercises.grade`). ``show_solution(name)`` prints the reference.

Example::

    >>> def my_psnr(prediction, target):
    ...     raise NotImplementedError
    >>> my_psnr = check_psnr(my_psnr)                     # doctest: +SKIP
    psnr: not solved yet (write your code in place of `raise ...`); the cells below use ...
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from fgssl.evaluate.features import assert_frozen, freeze
from fgssl.evaluate.probe import knn_predict
from fgssl.image_quality import psnr
from fgssl.methods.jigsaw import hamming, select_max_min
from fgssl.methods.simclr import nt_xent
from fgssl.methods.srgan import degrade
from fgssl.methods.vicreg import regularisers
from fgssl.viz.cam import pointing_game

Verdict = Callable[[Any, Any, tuple], str | None]  # (yours, reference's, arguments) -> problem
RESULTS: dict[str, bool] = {}  # exercise name -> whether its last check passed (this session)


@dataclass(frozen=True)
class Exercise:
    """An exercise: the kit's reference, the hidden cases (argument tuples), how to judge an
    answer against the reference's, and a hint for when it is wrong."""

    name: str
    reference: Callable[..., Any]
    cases: Callable[[], Sequence[tuple]]
    verdict: Verdict
    hint: str


def _close(tolerance: float) -> Verdict:
    def verdict(yours: Any, expected: Any, arguments: tuple) -> str | None:
        yours = torch.as_tensor(yours, dtype=torch.float64)
        expected = torch.as_tensor(expected, dtype=torch.float64)
        if yours.shape != expected.shape:
            return f"shape {tuple(yours.shape)}, expected {tuple(expected.shape)}"
        worst = float((yours - expected).abs().max()) if yours.numel() else 0.0
        return None if worst <= tolerance else f"off by up to {worst:.3g}"
    return verdict


def _equal(yours: Any, expected: Any, arguments: tuple) -> str | None:
    yours, expected = np.asarray(yours), np.asarray(expected)
    if yours.shape != expected.shape:
        return f"shape {yours.shape}, expected {expected.shape}"
    wrong = int((yours != expected).sum())
    return None if wrong == 0 else f"{wrong} of {expected.size} differ"


def _greedy_max_min(yours: Any, expected: Any, arguments: tuple) -> str | None:
    """Any tie-breaking is fine: every pick must be as far as possible from those before."""
    candidates, count, first = arguments
    chosen = [int(i) for i in np.asarray(yours).ravel()]
    if len(chosen) != count or chosen[0] != first or len(set(chosen)) != count:
        return f"need {count} different indices starting with {first}, got {chosen}"
    nearest = hamming(candidates, candidates[first])
    for step, pick in enumerate(chosen[1:], start=2):
        if nearest[pick] != nearest.max():
            return (f"pick {step} (row {pick}) is {nearest[pick]} from the chosen set; the "
                    f"farthest candidate is {nearest.max()}")
        np.minimum(nearest, hamming(candidates, candidates[pick]), out=nearest)
    return None


def _frozen_in_place(yours: Any, expected: Any, arguments: tuple) -> str | None:
    if yours is not arguments[0]:
        return "return the backbone you were given (frozen in place), not a new one"
    try:
        assert_frozen(yours)
    except AssertionError as error:
        return str(error)
    return None


def _generator() -> torch.Generator:
    return torch.Generator().manual_seed(2107_13973)


def _nt_xent_cases() -> list[tuple]:
    g = _generator()
    return [(torch.randn(n, d, generator=g), torch.randn(n, d, generator=g), t)
            for n, d, t in ((4, 8, 0.5), (16, 32, 0.2), (2, 3, 1.0))]


def _embedding_cases() -> list[tuple]:
    g = _generator()
    spread = torch.randn(64, 8, generator=g) * torch.linspace(0.2, 3.0, 8)  # some below γ
    mixed = torch.randn(32, 4, generator=g) @ torch.randn(4, 4, generator=g)  # correlated
    return [(spread,), (mixed,), (torch.ones(16, 5) + 1e-3 * torch.randn(16, 5, generator=g),)]


def _hamming_cases() -> list[tuple]:
    rng = np.random.default_rng(0)
    return [(np.argsort(rng.random((n, t)), axis=1), k, first)
            for n, t, k, first in ((120, 5, 10, 0), (400, 9, 20, 7), (24, 4, 6, 3))]


def _image_cases() -> list[tuple]:
    g = _generator()
    return [(torch.rand(b, 3, s, s, generator=g), scale)
            for b, s, scale in ((2, 16, 4), (3, 24, 2), (1, 64, 4))]


def _psnr_cases() -> list[tuple]:
    g = _generator()
    cases = []
    for b, s, noise in ((2, 16, 0.1), (3, 8, 0.01), (1, 32, 0.3)):
        target = torch.rand(b, 3, s, s, generator=g)
        noisy = (target + noise * torch.randn(target.shape, generator=g)).clamp(0, 1)
        cases.append((noisy, target))
    return cases


def _backbones() -> list[tuple]:
    torch.manual_seed(0)
    return [(nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.Dropout(0.5)),),
            (nn.Sequential(nn.Linear(5, 5), nn.Sequential(nn.BatchNorm1d(5), nn.Linear(5, 2))),)]


def _knn_cases() -> list[tuple]:
    g = _generator()
    cases = []
    for n, q, d, classes, k in ((50, 10, 8, 3, 5), (200, 40, 16, 7, 20), (12, 5, 4, 2, 1)):
        bank = torch.randn(n, d, generator=g).numpy()
        labels = torch.randint(0, classes, (n,), generator=g).numpy()
        cases.append((bank, labels, torch.randn(q, d, generator=g).numpy(), k))
    return cases


def _pointing_cases() -> list[tuple]:
    g = _generator()
    return [(torch.rand(b, s, s, generator=g), torch.rand(b, 2, generator=g) * s, tolerance)
            for b, s, tolerance in ((20, 8, 1.5), (50, 16, 3.0), (10, 7, 0.5))]


def _pointing_reference(maps: torch.Tensor, points: torch.Tensor, tolerance: float) -> float:
    return pointing_game(maps, points, tolerance)["hit_rate"]


EXERCISES: dict[str, Exercise] = {exercise.name: exercise for exercise in (
    Exercise("nt_xent", nt_xent, _nt_xent_cases, _close(1e-4),
             "normalise the rows, build the 2N x 2N cosine similarities divided by the "
             "temperature, remove each row's similarity with itself (set it to -inf), and take "
             "the cross-entropy whose target for row i is its other view: i + N, or i - N"),
    Exercise("vicreg_regularisers", regularisers, _embedding_cases, _close(1e-5),
             "variance: per column, std = sqrt(var + 1e-4) (var over the N rows, unbiased), "
             "then the mean of relu(1 - std); covariance: centre the columns, C = Zc^T Zc / "
             "(N - 1), zero its diagonal, sum the squares and divide by d; return both"),
    Exercise("max_min_hamming", select_max_min, _hamming_cases, _greedy_max_min,
             "keep, for every candidate, its smallest Hamming distance to the rows chosen so "
             "far; pick a candidate where that is largest, then update the smallest distances "
             "with the distances to the new pick"),
    Exercise("degrade", degrade, _image_cases, _close(1e-5),
             "F.interpolate to (H / scale, W / scale) with mode='bicubic', antialias=True and "
             "align_corners=False, then clamp to [0, 1]"),
    Exercise("psnr", psnr, _psnr_cases, _close(1e-3),
             "per image: the mean squared error between the two luminance channels "
             "(luminance(x), shape (B, 1, H, W)), then 10 * log10(1 / MSE)"),
    Exercise("freeze", freeze, _backbones, _frozen_in_place,
             "two things: backbone.eval() (BatchNorm and dropout in every sub-module) and "
             "backbone.requires_grad_(False) (every parameter); note the trailing underscore: "
             "backbone.requires_grad = False only sets an attribute"),
    Exercise("knn", knn_predict, _knn_cases, _equal,
             "normalise bank and queries to unit length; for each query take the k largest "
             "cosine similarities; each neighbour votes for its label with weight "
             "exp(similarity / 0.07); predict the label with the largest total"),
    Exercise("pointing_score", _pointing_reference, _pointing_cases, _close(1e-6),
             "for each map find its peak pixel (argmax); its centre is (column + 0.5, row + 0.5) "
             "in x, y; it is a hit when within `tolerance` pixels of the point (Euclidean); "
             "return the share of hits"),
)}


def check(name: str, yours: Callable[..., Any]) -> Callable[..., Any]:
    """Run exercise ``name``'s hidden cases on ``yours``; print the verdict; return the
    function to use from here on: ``yours`` if it passed, else the kit's reference."""
    exercise = EXERCISES[name]
    RESULTS[name] = False
    then = f"; the cells below use the kit's {name}"
    cases = exercise.cases()
    for number, arguments in enumerate(cases, start=1):
        try:
            answer = yours(*arguments)
        except NotImplementedError:
            print(f"{name}: not solved yet (write your code in place of "
                  f"`raise NotImplementedError`){then}")
            return exercise.reference
        except Exception as error:  # a student's bug: report it in one line, not a traceback
            print(f"✗ {name}: case {number} raised {type(error).__name__}: {error}{then}\n"
                  f"  hint: {exercise.hint}")
            return exercise.reference
        expected = exercise.reference(*copy.deepcopy(arguments))  # yours may work in place
        problem = exercise.verdict(answer, expected, arguments)
        if problem is not None:
            print(f"✗ {name}: case {number} of {len(cases)}: {problem}{then}\n"
                  f"  hint: {exercise.hint}")
            return exercise.reference
    print(f"✓ {name}: passes {len(cases)} hidden case{'s' * (len(cases) > 1)}")
    RESULTS[name] = True
    return yours


def passed(name: str) -> bool:
    """Whether exercise ``name`` was checked in this session and passed — for an autograder's
    test cell (nbgrader, otter-grader): ``assert passed("nt_xent")``."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise {name!r}: choose one of {', '.join(EXERCISES)}")
    return RESULTS.get(name, False)


def whose(name: str) -> str:
    """Whose function the cells after an exercise's check use, for what they print.

    Args:
        name: an exercise, e.g. ``"nt_xent"``.

    Returns:
        ``"your"`` when that exercise passed in this session, else ``"the kit's"``."""
    return "your" if passed(name) else "the kit's"


def show_solution(name: str) -> None:
    """Print the kit's reference implementation of exercise ``name``."""
    if name not in EXERCISES:
        raise ValueError(f"no exercise {name!r}: choose one of {', '.join(EXERCISES)}")
    reference = EXERCISES[name].reference
    if reference is _pointing_reference:
        reference = pointing_game
    print(inspect.getsource(reference))
