"""Shared test setup: the ``ci`` profile, and data / runs / cache folders that never touch the
repository or the home folder."""

from __future__ import annotations

import pytest


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path_factory, monkeypatch):
    base = tmp_path_factory.mktemp("fgssl")
    monkeypatch.setenv("FGSSL_PROFILE", "ci")
    monkeypatch.setenv("FGSSL_DATA", str(base / "data"))
    monkeypatch.setenv("FGSSL_RUNS", str(base / "runs"))
    # the command line's facts: derived once per test session, kept outside the home folder
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path_factory.getbasetemp() / "xdg-cache"))
