"""pytest setup for the whole checkout: the notebooks (run by nbval in ``make test``) train
into a temporary runs folder, removed at the end, unless ``FGSSL_RUNS`` names one. So a test
run never reuses, nor leaves, checkpoints in the checkout's ``runs/``: what it tests is what
this version of fgssl trains. (The unit tests isolate themselves: ``tests/conftest.py``.)"""

from __future__ import annotations

import functools
import os
import shutil
import tempfile

import pytest


def pytest_configure(config: pytest.Config) -> None:
    if os.environ.get("FGSSL_RUNS"):
        return
    runs = tempfile.mkdtemp(prefix="fgssl-test-runs-")
    os.environ["FGSSL_RUNS"] = runs  # the notebooks' kernels inherit it
    config.add_cleanup(functools.partial(shutil.rmtree, runs, ignore_errors=True))
