"""A real browser: JupyterLab serves notebook 00, headless Chromium runs every cell, and the
notebook's ipywidgets explorer renders — what a student sees, beyond what nbval can check.

Needs Debian's ``chromium`` and ``chromium-driver`` (no browser is downloaded) and the dev
extra's ``selenium``. Where they are missing the test is skipped with the command to install
them, unless ``FGSSL_BROWSER_TEST=1`` (``.ci/run`` sets it after installing them): then it
fails. It saves a screenshot of the rendered widget to ``build/browser/00_start_here.png``.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:  # selenium is imported only when the test runs
    from selenium.webdriver.remote.webdriver import WebDriver
    from selenium.webdriver.remote.webelement import WebElement

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = "00_start_here.ipynb"
CHROMIUM, CHROMEDRIVER = Path("/usr/bin/chromium"), Path("/usr/bin/chromedriver")
SCREENSHOT = ROOT / "build" / "browser" / "00_start_here.png"
REQUIRED = os.environ.get("FGSSL_BROWSER_TEST") == "1"
INSTALL = ("apt-get install chromium chromium-driver (Debian's packages) and "
           "pip install -e \".[dev]\" (selenium)")
RUN_S = 180  # at most, for the whole notebook in the ci profile (nbclient: 22 s)
SETTINGS = {  # JupyterLab user settings
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false",  # nothing online
                                                    "checkForUpdates": False}}


def _missing() -> list[str]:
    missing = [str(path) for path in (CHROMIUM, CHROMEDRIVER) if not path.is_file()]
    try:
        import selenium  # noqa: F401
    except ImportError:
        missing.append("selenium")
    return missing


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def jupyterlab(tmp_path: Path) -> Iterator[str]:
    """JupyterLab on loopback serving a copy of notebook 00 (the committed one is never
    saved over); yields the notebook's URL with its token."""
    missing = _missing()
    if missing:
        message = f"the browser test needs {', '.join(missing)}: {INSTALL}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    served = tmp_path / "notebooks"
    served.mkdir()
    shutil.copy(ROOT / "notebooks" / NOTEBOOK, served / NOTEBOOK)
    port, token = _free_port(), secrets.token_hex(16)
    settings = tmp_path / "settings"
    for plugin, values in SETTINGS.items():
        (settings / plugin).parent.mkdir(parents=True, exist_ok=True)
        (settings / f"{plugin}.jupyterlab-settings").write_text(json.dumps(values))
    env = {**os.environ, "JUPYTER_CONFIG_DIR": str(tmp_path / "config"),
           "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "IPYTHONDIR": str(tmp_path / "ipython")}
    command = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
               f"--ServerApp.root_dir={served}", f"--LabApp.workspaces_dir={tmp_path / 'ws'}",
               "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        command.append("--allow-root")
    log = (tmp_path / "jupyterlab.log").open("w")
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        _wait_for_server(f"http://127.0.0.1:{port}/api/status?token={token}", server,
                         tmp_path / "jupyterlab.log")
        yield f"http://127.0.0.1:{port}/lab/tree/{NOTEBOOK}?token={token}"
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def _wait_for_server(url: str, server: subprocess.Popen, log: Path, timeout_s: float = 90
                     ) -> None:
    """Until JupyterLab answers ``url``; a failure with its log if it exits or never does."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.poll() is not None:
            pytest.fail(f"JupyterLab exited with {server.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"JupyterLab did not answer within {timeout_s} s:\n{log.read_text()}")


def _chromium() -> WebDriver:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage",
                     "--window-size=1280,1600"):
        options.add_argument(argument)
    return webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)


# JupyterLab's own commands, through the application object it exposes
# (--LabApp.expose_app_in_browser): the same ones its Run and File menus call.
NOTEBOOK_STATE = """
const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;
const kernel = panel && panel.sessionContext && panel.sessionContext.session
    && panel.sessionContext.session.kernel;
if (!kernel || !panel.content.model) { return null; }
const cells = Array.from(panel.content.model.cells).filter((cell) => cell.type === "code");
const errors = cells.flatMap((cell) => cell.outputs.toJSON())
    .filter((output) => output.output_type === "error")
    .map((output) => output.ename + ": " + output.evalue);
return {idle: kernel.status === "idle", counts: cells.map((cell) => cell.executionCount),
        errors: errors};
"""
COMMAND = """
const done = arguments[arguments.length - 1];
window.jupyterapp.commands.execute(arguments[0]).then(
    () => done("ok"), (error) => done("failed: " + error));
"""


def _until(condition: Callable[[], object], timeout_s: float, what: str) -> object:
    """``condition()``'s first true value, polled; a failure naming ``what`` on timeout."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.5)
    pytest.fail(f"{what} within {timeout_s} s")


def _state(driver: WebDriver, ready: Callable[[dict], bool]) -> dict | None:
    """The notebook's state (its kernel idle, its code cells' execution counts, the errors they
    printed) if ready."""
    state = driver.execute_script(NOTEBOOK_STATE)
    return state if state and ready(state) else None


def _figure_source(widget: WebElement) -> str:
    """The data URL of the figure an explorer's output shows."""
    from selenium.webdriver.common.by import By

    images = widget.find_elements(By.CSS_SELECTOR, ".widget-output img")
    assert images, "the explorer's figure is not drawn"
    return images[0].get_attribute("src")


def _opened(state: dict) -> bool:
    return state["idle"] and len(state["counts"]) > 0


def _all_ran_or_failed(state: dict) -> bool:
    return state["idle"] and (all(state["counts"]) or bool(state["errors"]))


def test_notebook_00_runs_in_jupyterlab_in_headless_chromium(jupyterlab: str,
                                                             tmp_path: Path) -> None:
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    driver = _chromium()
    try:
        driver.set_script_timeout(RUN_S)
        driver.get(jupyterlab)
        _until(lambda: _state(driver, _opened), 90,
               "JupyterLab did not open the notebook with an idle kernel")
        assert driver.execute_async_script(COMMAND, "notebook:run-all-cells") == "ok"
        state = _until(lambda: _state(driver, _all_ran_or_failed), RUN_S,
                       "the notebook's cells did not all run")
        assert not state["errors"], f"a cell failed in the browser: {state['errors']}"

        widget = driver.find_element(By.CSS_SELECTOR, ".jupyter-widgets.widget-vbox")
        assert widget.find_elements(By.CSS_SELECTOR, ".widget-slider")
        figure = _figure_source(widget)
        page = driver.find_element(By.TAG_NAME, "body").text
        assert "Error displaying widget" not in page and "Loading widget" not in page
        # live: choosing another pair in the page makes the kernel draw another figure
        Select(widget.find_element(By.CSS_SELECTOR, ".widget-dropdown select")).select_by_index(2)
        _until(lambda: _figure_source(widget) != figure, 60, "the explorer did not redraw")
        assert "03a / 03b" in widget.text

        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", widget)
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        assert driver.save_screenshot(str(SCREENSHOT))
        assert driver.execute_async_script(COMMAND, "docmanager:save") == "ok"
    finally:
        driver.quit()
    saved = json.loads((tmp_path / "notebooks" / NOTEBOOK).read_text())
    code = [cell for cell in saved["cells"] if cell["cell_type"] == "code"]
    errors = [output for cell in code for output in cell["outputs"]
              if output["output_type"] == "error"]
    assert not errors, f"error outputs: {[e['ename'] + ': ' + e['evalue'] for e in errors]}"
    assert all(cell["execution_count"] for cell in code), "a cell did not run"
    assert any("application/vnd.jupyter.widget-view+json" in output.get("data", {})
               for cell in code for output in cell["outputs"]), "no widget in the outputs"
