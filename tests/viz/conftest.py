"""Figures drawn by a test are closed after it (pyplot keeps them open otherwise)."""

import matplotlib.pyplot as plt
import pytest


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")
