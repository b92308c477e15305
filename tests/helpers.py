"""Constants and helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import importlib.util
import os
import signal
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import hackkit as hk

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "support_intents.csv"
NER_SAMPLE = ROOT / "data" / "support_entities.conll"
GENERATION_SAMPLE = ROOT / "data" / "product_descriptions.csv"
TEXT = hk.get_task("text-classification")
NER = hk.get_task("token-classification")
MODEL = "sentence-transformers/all-MiniLM-L6-v2"
IMAGE_LABELS = ("circle", "star", "triangle")


def image_generator():
    """data/make_sample_images.py as a module: it draws the shapes sample's images."""
    spec = importlib.util.spec_from_file_location("make_sample_images", ROOT / "data" / "make_sample_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def make_image_folder(root: Path, per_class: int = 8, labels=IMAGE_LABELS, seed: int = 0) -> Path:
    """root/<label>/<label>_<i>.jpg, drawn by the sample's generator."""
    import numpy as np

    generator, rng = image_generator(), np.random.default_rng(seed)
    for label in labels:
        (root / label).mkdir(parents=True, exist_ok=True)
        for i in range(per_class):
            generator.draw_image(label, rng).save(root / label / f"{label}_{i}.jpg", quality=90)
    return root


def headless_run(tmp_path_factory, params: dict, name: str,
                 notebooks: tuple[str, ...] = hk.params.NOTEBOOKS) -> Path:
    """One run of `notebooks` (01 -> 03 unless given) with these parameters, each notebook in its
    own papermill kernel, under a runs root of its own (for module fixtures)."""
    import pytest

    runs = tmp_path_factory.mktemp(f"{name}-runs")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HACKKIT_RUNS_DIR", str(runs))
        return hk.run_pipeline(params, name=name, notebooks=notebooks, log=lambda _: None)


# 01 -> 04: the pipeline a team walks, demo included.
THROUGH_DEMO = (*hk.params.NOTEBOOKS, "04_demo.ipynb")


def notebook_errors(path: Path) -> list[str]:
    """The error outputs of an executed notebook ("ename: evalue"), none when every cell ran."""
    import nbformat

    cells = nbformat.read(path, as_version=4).cells
    return [f"{o['ename']}: {o['evalue']}" for c in cells for o in c.get("outputs", [])
            if o.get("output_type") == "error"]


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server this test started, by its own PID (its process group when it has one)."""
    if proc.poll() is not None:
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:  # started with start_new_session: stop its children too
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        proc.kill()
        proc.wait(timeout=timeout)


@contextmanager
def served(run_dir: Path, timeout: float = 120):
    """`python -m hackkit serve RUN --port 0` in its own process (the server takes a free loopback
    port itself, so no other process can take it first); yields its URL once /health answers, and
    stops it by its PID afterwards."""
    import re
    import threading

    import httpx
    import pytest

    proc = subprocess.Popen([sys.executable, "-m", "hackkit", "serve", str(run_dir), "--port", "0",
                             "--device", "cpu"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        deadline = time.monotonic() + timeout
        url = None
        while True:
            if proc.poll() is not None:
                reader.join(timeout=5)
                pytest.fail(f"server exited with {proc.returncode}: {''.join(lines)}")
            found = url or next((m.group(1) for line in list(lines)
                                 if (m := re.search(r" on (http://\S+) ", line))), None)
            url = found
            try:
                if url and httpx.get(f"{url}/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"server did not answer /health within {timeout:.0f} s: "
                            f"{''.join(lines)}")
            time.sleep(0.3)
        yield url
    finally:
        stop_process(proc, timeout=30)
