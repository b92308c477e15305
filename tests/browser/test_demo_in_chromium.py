"""04_demo in a real browser: JupyterLab, headless Chromium, type a message, see the label.

Needs Debian's chromium and chromium-driver (the Makefile's set-up installs them when it can);
skipped with the reason when they are missing. Deselect with `-m "not browser"`.
"""

from __future__ import annotations

import os
import secrets
import shutil
import subprocess
import sys
import time

import httpx
import pytest

from helpers import free_port, stop_process

import hackkit as hk

pytestmark = pytest.mark.browser

MESSAGE = "my parcel never arrived and nobody answers my emails"


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


@pytest.fixture
def lab(tiny_run, tmp_path):
    """JupyterLab on 127.0.0.1 with a token, serving a copy of 04_demo; stopped by its PID."""
    folder = tmp_path / "lab"
    folder.mkdir()
    shutil.copy(hk.params.notebooks_dir() / "04_demo.ipynb", folder)  # the browser saves into the copy
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={folder}",
           "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    env = {**os.environ, "HACKKIT_RUNS_DIR": str(tiny_run.parent)}  # RUN_DIR="" finds the tiny run
    log = open(tmp_path / "jupyterlab.log", "w")
    proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while True:
            if proc.poll() is not None:
                pytest.fail(f"JupyterLab exited: {(tmp_path / 'jupyterlab.log').read_text()[-2000:]}")
            try:
                if httpx.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail("JupyterLab did not start within 90 s")
            time.sleep(0.5)
        yield url, token
    finally:
        stop_process(proc, timeout=30)  # SIGTERM: the server shuts its kernels down on the way out
        log.close()


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


def _wait(driver, condition, timeout: float, what: str):
    """Poll `condition(driver)` until it returns something truthy; fail naming `what`."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition(driver)
            if result:
                return result
        except WebDriverException:
            pass
        time.sleep(0.5)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")


KERNEL_STATUS = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
return k ? k.status : null;
"""


def test_demo_notebook_predicts_what_is_typed_in_chromium(lab, browser, tiny_run, tmp_path):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    url, token = lab
    expected = hk.Predictor.from_run(tiny_run, device="cpu").predict(MESSAGE)[0]["label"]
    browser.get(f"{url}/lab/tree/04_demo.ipynb?token={token}")
    try:
        _wait(browser, lambda d: d.execute_script(KERNEL_STATUS) == "idle", 120, "an idle kernel")
        browser.execute_script("return window.jupyterapp.commands.execute('notebook:run-all-cells')")
        box = _wait(browser, lambda d: d.find_element(By.CSS_SELECTOR, ".hackkit-demo-input textarea"),
                    180, "the demo widget's text box")
        label = lambda d: d.find_element(By.CSS_SELECTOR, ".hackkit-demo-result").text  # noqa: E731
        _wait(browser, lambda d: "Predicted:" in label(d), 60, "the example's prediction")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)  # live prediction of the empty box asks for a message
        _wait(browser, lambda d: "Type a message" in label(d), 30, "the empty-box prompt")
        box.send_keys(MESSAGE)
        browser.find_element(By.CSS_SELECTOR, "button.hackkit-demo-predict").click()
        shown = _wait(browser, lambda d: d.find_element(
            By.CSS_SELECTOR, ".hackkit-demo-result .hackkit-demo-label").text, 60, "the label")
        assert shown == expected
        assert box.get_attribute("value") == MESSAGE
    finally:
        browser.execute_script("document.querySelector('.hackkit-demo-input')?.scrollIntoView({block: 'center'})")
        browser.save_screenshot(str(tmp_path / "04_demo.png"))
    assert (tmp_path / "04_demo.png").stat().st_size > 10_000
