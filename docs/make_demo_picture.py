"""Make docs/images/demo.png: the 04_demo widget in real headless Chromium, cropped to the widget.

Serves a copy of notebooks/04_demo.ipynb from a temp folder with its own JupyterLab (127.0.0.1, a
token, Jupyter and IPython state in the temp folder), opens it in Chromium, runs every cell, types
MESSAGE into the demo's text box, presses Predict and saves a PNG of the widget's output area. The
server is stopped by its own PID. Needs a finished run with a model (the latest under runs/, or
HACKKIT_RUNS_DIR) and Debian's chromium and chromium-driver, as the browser tests do:

    python -m hackkit run                      # once, if there is no run yet
    python docs/make_demo_picture.py [--out docs/images/demo.png]
"""

from __future__ import annotations

import argparse
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MESSAGE = "my parcel never arrived and nobody answers my emails"
KERNEL_STATUS = """
const w = window.jupyterapp && window.jupyterapp.shell.currentWidget;
const k = w && w.sessionContext && w.sessionContext.session && w.sessionContext.session.kernel;
return k ? k.status : null;
"""


def wait(condition, timeout: float, what: str):
    """Poll `condition()` until it returns something truthy; fail naming `what`."""
    from selenium.common.exceptions import WebDriverException

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = condition()
            if result:
                return result
        except WebDriverException:  # not rendered yet
            pass
        time.sleep(0.25)
    raise SystemExit(f"timed out after {timeout:.0f} s waiting for {what}")


def main() -> None:
    """Start JupyterLab and Chromium, run 04, type a message, save the cropped widget."""
    import httpx
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "docs" / "images" / "demo.png"))
    args = parser.parse_args()
    chromium = shutil.which("/usr/lib/chromium/chromium") or shutil.which("chromium")
    driver_path = shutil.which("/usr/bin/chromedriver") or shutil.which("chromedriver")
    if not (chromium and driver_path):
        raise SystemExit("needs chromium and chromedriver (Debian: apt-get install chromium chromium-driver)")

    tmp = Path(tempfile.mkdtemp(prefix="hackkit-demo-picture-"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "JUPYTER_CONFIG_DIR": str(tmp / "jupyter"),
           "JUPYTER_DATA_DIR": str(tmp / "jupyter-data"), "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
           "IPYTHONDIR": str(tmp / "ipython"),
           "HACKKIT_RUNS_DIR": os.environ.get("HACKKIT_RUNS_DIR", str(ROOT / "runs"))}
    lab = tmp / "lab"
    lab.mkdir()
    shutil.copy(ROOT / "notebooks" / "04_demo.ipynb", lab)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
           f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={lab}",
           "--LabApp.expose_app_in_browser=True"]
    if os.geteuid() == 0:
        cmd.append("--allow-root")
    log = open(tmp / "jupyterlab.log", "w")
    server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT)
    driver = None
    try:
        url = f"http://127.0.0.1:{port}"

        def up() -> bool:
            if server.poll() is not None:
                raise SystemExit(f"JupyterLab exited; see {tmp / 'jupyterlab.log'}")
            try:
                return httpx.get(f"{url}/api/status", params={"token": token}, timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        wait(up, 90, "JupyterLab")
        options = webdriver.ChromeOptions()
        options.binary_location = chromium
        for flag in ("--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update",
                     "--disable-sync", "--disable-dev-shm-usage", "--window-size=1400,1100",
                     f"--user-data-dir={tmp / 'chromium-profile'}"):
            options.add_argument(flag)
        driver = webdriver.Chrome(service=Service(executable_path=driver_path), options=options)
        driver.get(f"{url}/lab/tree/04_demo.ipynb?token={token}")
        wait(lambda: driver.execute_script(KERNEL_STATUS) == "idle", 120, "an idle kernel")
        driver.execute_script("return window.jupyterapp.commands.execute('notebook:run-all-cells')")
        box = wait(lambda: next((e for e in driver.find_elements(By.CSS_SELECTOR, ".hackkit-demo-input textarea")
                                 if e.is_displayed()), None), 180, "the demo's text box")
        box.click()
        box.send_keys(Keys.CONTROL, "a")
        box.send_keys(Keys.BACKSPACE)
        box.send_keys(MESSAGE)
        driver.find_element(By.CSS_SELECTOR, "button.hackkit-demo-predict").click()
        result = ".hackkit-demo-result .hackkit-demo-label"
        wait(lambda: driver.find_element(By.CSS_SELECTOR, result).text, 60, "the label")
        time.sleep(1.0)  # let the bars finish rendering
        widget = driver.execute_script(
            "return document.querySelector('.hackkit-demo-input').closest('.jp-OutputArea-output')")
        driver.execute_script("arguments[0].scrollIntoView({block: 'center'})", widget)
        out = Path(args.out)
        out.parent.mkdir(parents=True, exist_ok=True)
        widget.screenshot(str(out))
        print(f"wrote {out} ({out.stat().st_size // 1024} KB); label shown: "
              f"{driver.find_element(By.CSS_SELECTOR, result).text}")
    finally:
        if driver is not None:
            driver.quit()
        server.terminate()  # JupyterLab shuts its kernels down on SIGTERM
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
        log.close()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
