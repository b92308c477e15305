"""Fixtures of the browser tier: headless Chromium through Debian's chromedriver, and a notebook
served from a temp folder by its own JupyterLab (127.0.0.1, a token, stopped by its PID), opened in
Chromium with every cell run.

Needs Debian's chromium and chromium-driver (the Makefile's set-up installs them when it can);
each test is skipped with the reason when they are missing. Deselect with `-m "not browser"`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import hackkit as hk
from helpers import free_port, stop_process


def _find(*names: str) -> str | None:
    """The first of these executables that exists (full paths or names on PATH)."""
    for name in names:
        path = name if os.path.isabs(name) and os.access(name, os.X_OK) else shutil.which(name)
        if path:
            return path
    return None


# Debian's /usr/bin/chromium is a shell wrapper; the driver starts the real binary directly.
CHROMIUM = _find("/usr/lib/chromium/chromium", "chromium", "chromium-browser", "google-chrome")
DRIVER = _find("/usr/bin/chromedriver", "chromedriver")

KERNEL_STATUS = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
return k ? k.status : null;
"""


@pytest.fixture
def browser(tmp_path):
    """Headless Chromium driven by Debian's chromedriver; no downloads of any kind."""
    if not (CHROMIUM and DRIVER):
        pytest.skip("no Chromium and chromedriver found (Debian: apt-get install chromium "
                    "chromium-driver; `make setup` does it as root)")
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1100",
                 f"--user-data-dir={tmp_path / 'chromium-profile'}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=DRIVER), options=options)
    try:
        yield driver
    finally:
        driver.quit()


@dataclass
class NotebookPage:
    """A notebook open in JupyterLab in Chromium: `folder` is where the served copy lives."""

    driver: object
    folder: Path

    def wait(self, condition, timeout: float, what: str):
        """Poll `condition(driver)` until it returns something truthy; fail naming `what`."""
        from selenium.common.exceptions import WebDriverException

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                result = condition(self.driver)
                if result:
                    return result
            except WebDriverException:  # not rendered yet, or re-rendered under our feet
                pass
            time.sleep(0.25)
        raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")

    def element(self, css: str, timeout: float, what: str):
        """The first element matching `css`, once it is displayed."""
        from selenium.webdriver.common.by import By

        return self.wait(lambda d: next((e for e in d.find_elements(By.CSS_SELECTOR, css)
                                         if e.is_displayed()), None), timeout, what)

    def text(self, css: str) -> str:
        """The visible text of the first element matching `css` ('' when there is none)."""
        from selenium.webdriver.common.by import By

        found = self.driver.find_elements(By.CSS_SELECTOR, css)
        return found[0].text if found else ""

    def screenshot(self, path: Path, centre_on: str) -> Path:
        """Scroll the element matching `centre_on` into view and save a PNG of the window."""
        self.driver.execute_script(
            f"document.querySelector({centre_on!r})?.scrollIntoView({{block: 'center'}})")
        self.driver.save_screenshot(str(path))
        return path


def _answers(proc: subprocess.Popen, url: str, params: dict, log_path: Path) -> bool:
    """Wait until the server answers `url`; False when it exited because its port was taken."""
    deadline = time.monotonic() + 90
    while True:
        if proc.poll() is not None:
            if "already in use" in log_path.read_text():
                return False
            pytest.fail(f"JupyterLab exited: {log_path.read_text()[-2000:]}")
        try:
            if httpx.get(url, params=params, timeout=2).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            pytest.fail("JupyterLab did not start within 90 s")
        time.sleep(0.25)


@pytest.fixture
def open_notebook(browser, tmp_path):
    """Serve a copy of notebooks/NAME from a temp folder with JupyterLab, open it in Chromium and
    run all cells; returns a NotebookPage.

    `parameters` are injected after the parameters cell as papermill does it; `env` is added to the
    server's environment (its kernels inherit it). The repository's notebook is never written: the
    browser saves into the copy. The server is stopped by its PID (SIGTERM: it shuts its kernels
    down on the way out).
    """
    started: list[tuple[subprocess.Popen, object]] = []

    def _open(name: str, parameters: dict | None = None, env: dict | None = None) -> NotebookPage:
        import nbformat
        from papermill.iorw import load_notebook_node
        from papermill.parameterize import parameterize_notebook

        folder = tmp_path / "lab"
        folder.mkdir()
        if parameters:
            notebook = load_notebook_node(str(hk.params.notebooks_dir() / name))
            nbformat.write(parameterize_notebook(notebook, parameters), folder / name)
        else:
            shutil.copy(hk.params.notebooks_dir() / name, folder)
        token = secrets.token_hex(16)
        for attempt in range(3):  # another process may take the chosen port before the server does
            port = free_port()
            cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser",
                   "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
                   f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
                   "--LabApp.expose_app_in_browser=True"]
            if os.geteuid() == 0:
                cmd.append("--allow-root")
            log_path = tmp_path / f"jupyterlab-{attempt}.log"
            log = open(log_path, "w")
            proc = subprocess.Popen(cmd, env={**os.environ, **(env or {})}, stdout=log,
                                    stderr=subprocess.STDOUT)
            started.append((proc, log))
            url = f"http://127.0.0.1:{port}"
            if _answers(proc, f"{url}/api/status", {"token": token}, log_path):
                break
        else:
            pytest.fail(f"JupyterLab found no free port in 3 tries: {log_path.read_text()[-2000:]}")
        page = NotebookPage(browser, folder)
        browser.get(f"{url}/lab/tree/{name}?token={token}")
        page.wait(lambda d: d.execute_script(KERNEL_STATUS) == "idle", 120, "an idle kernel")
        browser.execute_script("return window.jupyterapp.commands.execute('notebook:run-all-cells')")
        return page

    try:
        yield _open
    finally:
        for proc, log in started:
            stop_process(proc, timeout=30)
            log.close()
