"""Test-wide set-up: keep Jupyter, IPython, matplotlib and run folders out of $HOME and runs/."""

from __future__ import annotations

import os
import shutil
import tempfile

import pytest

_TMP = tempfile.mkdtemp(prefix="hackkit-tests-")


def pytest_configure(config: pytest.Config) -> None:
    """Point every tool's state into a temp folder before any kernel starts (kernels inherit it)."""
    for name, sub in {
        "HACKKIT_RUNS_DIR": "runs", "JUPYTER_CONFIG_DIR": "jupyter/config",
        "JUPYTER_DATA_DIR": "jupyter/data", "JUPYTER_RUNTIME_DIR": "jupyter/runtime",
        "IPYTHONDIR": "ipython", "MPLCONFIGDIR": "matplotlib",
    }.items():
        os.environ[name] = os.path.join(_TMP, sub)
        os.makedirs(os.environ[name], exist_ok=True)
    os.environ["MPLBACKEND"] = "Agg"
    os.environ["HF_HUB_OFFLINE"] = "1"  # tests never reach for the hub; unknown ids fail at once
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    if os.environ.get("PYTEST_XDIST_WORKER"):  # one of several test processes sharing the cores:
        os.environ.setdefault("OMP_NUM_THREADS", "1")  # one thread each (kernels inherit it)


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the temp folder."""
    shutil.rmtree(_TMP, ignore_errors=True)


def _cost(item: pytest.Item) -> int:
    """A rank of a test file's cost: nbval's notebooks, then the papermill and browser tests, then
    the rest. With `-n N` the workers take whole files in this order, so the long ones start first
    and the many short unit files fill in around them, instead of one worker running the last
    long file alone."""
    path = str(item.path)
    if path.endswith(".ipynb"):
        return 0
    if "/tests/notebooks/" in path:
        return 1
    if "/tests/browser/" in path:
        return 2
    return 3


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark tests by cost (notebooks: papermill tests and nbval cells), put the costly files first;
    skip gpu tests without CUDA."""
    import torch

    items.sort(key=_cost)  # stable: a file's tests, and nbval's cells, keep their order
    for item in items:
        path = str(item.path)
        if "/tests/notebooks/" in path or path.endswith(".ipynb"):
            item.add_marker(pytest.mark.notebooks)
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU; none is available")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """With `-n N` (pytest-xdist; `make test` uses 2): each test file goes whole to one worker, so
    its module fixtures are built once, and nbval's notebooks go together, in order, to one
    worker, since each reads the run folder the notebook before it wrote."""
    from xdist.scheduler import LoadScopeScheduling

    class ByFileNotebooksTogether(LoadScopeScheduling):
        def _split_scope(self, nodeid: str) -> str:
            path = nodeid.split("::", 1)[0]
            return "notebooks/*.ipynb" if path.endswith(".ipynb") else path

    return ByFileNotebooksTogether(config, log)
