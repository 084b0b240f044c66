"""Exercises: self-checks for the notebooks' exercise cells, and the student notebooks.

In a notebook::

    from fgssl.exercises import check_nt_xent, show_solution

    def my_nt_xent(z1, z2, temperature):
        ...                                   # your code
    my_nt_xent = check_nt_xent(my_nt_xent)    # ✓ or ✗ with a hint; what to use from here on

``python -m fgssl.exercises.make_student`` writes ``notebooks/student/`` from the solution
notebooks (:mod:`fgssl.exercises.make_student`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fgssl.exercises.bugs import BUGS, check_bug, show_bug
from fgssl.exercises.checks import EXERCISES, check, passed, show_solution, whose

Function = Callable[..., Any]


def check_nt_xent(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 05) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(z1, z2, temperature)``: SimCLR's NT-Xent loss of two (N, D)
            batches.

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("nt_xent", yours)


def check_vicreg_regularisers(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 06) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(z)``: VICReg's variance and covariance terms ``(v, c)`` of one
            (N, d) embedding, γ = 1, ε = 1e-4.

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("vicreg_regularisers", yours)


def check_max_min_hamming(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 03) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(candidates, count, first)``: indices (count,) of a greedy
            max-min Hamming selection of rows of ``candidates`` (M, T), starting at
            row ``first``.

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("max_min_hamming", yours)


def check_degrade(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 04) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(images, scale)``: bicubic, antialiased down-scaling of (B, 3,
            H, W) images in [0, 1] by ``scale``, clamped to [0, 1].

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("degrade", yours)


def check_psnr(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 04) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(prediction, target)``: PSNR in dB per image (B,) on the
            luminance channel of (B, 3, H, W) images in [0, 1].

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("psnr", yours)


def check_freeze(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 02) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(backbone)``: the backbone frozen in place for a linear probe,
            returned.

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("freeze", yours)


def check_knn(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 02) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(bank_features, bank_labels, query_features, k)``: weighted-kNN
            predictions (Q,) with cosine similarity and weights exp(similarity /
            0.07).

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("knn", yours)


def check_pointing_score(yours: Function) -> Function:
    """Check your solution of the exercise (notebook 09) on hidden cases and print the verdict
    (✓, or ✗ with a hint).

    Args:
        yours: ``yours(maps, points, tolerance)``: the share of (B, H, W) maps whose
            peak pixel's centre lies within ``tolerance`` pixels of its point (B, 2)
            as x, y.

    Returns:
        ``yours`` when it passed, else the kit's own function: what the cells after it use."""
    return check("pointing_score", yours)


__all__ = [
    "BUGS",
    "EXERCISES",
    "check",
    "check_bug",
    "check_degrade",
    "check_freeze",
    "check_knn",
    "check_max_min_hamming",
    "check_nt_xent",
    "check_pointing_score",
    "check_psnr",
    "check_vicreg_regularisers",
    "passed",
    "show_bug",
    "show_solution",
    "whose",
]
