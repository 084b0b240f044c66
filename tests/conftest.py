"""Shared test setup: the ``ci`` profile, and data / runs folders that never touch the repo."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("fgssl")
    monkeypatch.setenv("FGSSL_PROFILE", "ci")
    monkeypatch.setenv("FGSSL_DATA", str(base / "data"))
    monkeypatch.setenv("FGSSL_RUNS", str(base / "runs"))
    monkeypatch.delenv("FGSSL_SOLUTIONS", raising=False)
