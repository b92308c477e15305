"""A real sweep of three tiny runs (one failing on purpose), its resume, the leaderboard and 05."""

from __future__ import annotations

import contextlib
import io
from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

import hackkit as hk
from hackkit.cli import main
from helpers import SAMPLE

SWEEP = """
name: tiny
fixed:
  DATA_PATH: {data}
  MODEL: {model}
  MAX_TRAIN_EXAMPLES: 64
  EPOCHS: 1
  TIME_BUDGET_MINUTES: 0
  DEVICE: cpu
grid:
  LEARNING_RATE: [1e-4, 1e-3]
"""
BROKEN = """settings:
  - name: broken  # passes the checks, then fails in 02: fp16 needs a GPU
    PRECISION: fp16
"""


@pytest.fixture(scope="module")
def sweep(tmp_path_factory, tiny_model):
    """Run the sweep once through the command line; return its folder, file, runs and output."""
    folder = tmp_path_factory.mktemp("sweep")
    # 30 texts per intent: the sweep is about its runs, not the data; the whole sample's 1,860
    # texts only made every 01, baseline and 03 slower.
    data = folder / "intents.csv"
    sample = pd.read_csv(SAMPLE)
    sample.groupby("label").head(30).to_csv(data, index=False)
    file = folder / "tiny.yaml"
    file.write_text(SWEEP.format(model=tiny_model, data=data) + BROKEN)
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HACKKIT_RUNS_DIR", str(folder / "runs"))
        with contextlib.redirect_stdout(io.StringIO()) as out:
            code = main(["sweep", str(file)])
    return {"root": folder / "runs", "file": file, "code": code, "lines": out.getvalue().splitlines()}


@pytest.fixture
def runs_env(sweep, monkeypatch):
    """Point run folders (and papermill kernels) at the sweep's runs root."""
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(sweep["root"]))
    return sweep["root"]


def _state(root: Path) -> dict:
    """The sweep's settings by label."""
    return {e["label"]: e for e in hk.read_json(root / "sweeps" / "tiny" / "state.json")["trials"].values()}


def test_every_setting_ran_into_its_own_folder_and_the_failure_did_not_stop_it(sweep):
    state = _state(sweep["root"])
    assert sweep["code"] == 1  # some setting failed
    assert {k: e["status"] for k, e in state.items()} == {"broken": "failed", "grid-1": "done", "grid-2": "done"}
    assert len({e["run_dir"] for e in state.values()}) == 3
    progress = [line for line in sweep["lines"] if line.startswith("[")]
    assert progress[0] == "[1/3] broken PRECISION=fp16: running ..."
    assert progress[1].startswith("[1/3] broken PRECISION=fp16: FAILED after")
    assert progress[-1].startswith("[3/3] grid-2 LEARNING_RATE=0.001: done in") and "macro_f1" in progress[-1]
    for label in ("grid-1", "grid-2"):
        run_dir = Path(state[label]["run_dir"])
        assert hk.run_status(run_dir)["status"] == "done" and (run_dir / "metrics.json").is_file()
        assert hk.run_status(run_dir)["params"]["MAX_TRAIN_EXAMPLES"] == 64
        assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    assert hk.run_status(state["grid-2"]["run_dir"])["params"]["LEARNING_RATE"] == 1e-3


def test_the_failed_run_is_kept_with_its_traceback(sweep):
    broken = _state(sweep["root"])["broken"]
    status = hk.run_status(broken["run_dir"])
    assert status["status"] == "failed" and status["failed_notebook"] == "02_finetune.ipynb"
    assert "PRECISION='fp16' needs a CUDA GPU" in broken["error"]
    executed = nbformat.read(Path(broken["run_dir"]) / "02_finetune.ipynb", as_version=4)
    errors = [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]
    assert errors and errors[0]["ename"] == "ValueError"


def test_rerunning_skips_finished_runs(sweep, runs_env, tiny_model):
    before = sorted(p.name for p in runs_env.iterdir())
    data = sweep["root"].parent / "intents.csv"
    sweep["file"].write_text(SWEEP.format(model=tiny_model, data=data))  # without the broken one
    lines: list[str] = []
    state = hk.run_sweep(sweep["file"], log=lines.append)
    assert state["summary"] == {"done": 2, "failed": 0, "pending": 0}
    assert sum("done before, skipped" in line for line in lines) == 2
    assert sorted(p.name for p in runs_env.iterdir()) == before  # no new run folder


def test_leaderboard_ranks_the_sweep_and_lists_the_failure(sweep, runs_env):
    board = hk.leaderboard(sweep="tiny")
    assert len(board) == 3 and set(board["status"]) == {"done", "failed"}
    ranked = board[board["rank"].notna()]
    assert list(ranked["macro_f1"]) == sorted(ranked["macro_f1"], reverse=True)
    assert set(ranked["LEARNING_RATE"]) == {1e-4, 1e-3}
    assert ((ranked["train_seconds"] > 0) & (ranked["baseline_macro_f1"] > 0.5)).all()
    assert board.loc[board["status"] == "failed", "PRECISION"].item() == "fp16"


def test_compare_notebook_under_papermill(sweep, runs_env, tmp_path, monkeypatch):
    monkeypatch.setenv("MPLBACKEND", "module://matplotlib_inline.backend_inline")  # as in Jupyter
    out = tmp_path / "05.ipynb"
    papermill.execute_notebook(
        str(hk.params.notebooks_dir() / "05_compare_runs.ipynb"), str(out),
        parameters={"SWEEP": "tiny", "TOP": 2}, kernel_name="python3", progress_bar=False,
        cwd=str(hk.params.notebooks_dir()),
    )
    table = pd.read_csv(runs_env / "leaderboard.csv")
    assert len(table) == 3 and set(table["sweep"]) == {"tiny"}
    executed = nbformat.read(out, as_version=4)
    outputs = [o for c in executed.cells for o in c.get("outputs", [])]
    # sections 3 and 4, and section 6's three views (each says in words that a grid has no study)
    assert sum("image/png" in o.get("data", {}) for o in outputs) == 5
    printed = "".join(o.get("text", "") for o in outputs)
    best = table.sort_values("macro_f1", ascending=False).iloc[0]["run"]
    assert "python -m hackkit run -p DATA_PATH " in printed and "-p DEVICE cpu" in printed
    assert f"--name best-of-{best}" in printed


@pytest.mark.slow
def test_random_search_bounded_by_trials(tmp_path, monkeypatch, tiny_model):
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(tmp_path / "runs"))
    file = tmp_path / "search.yaml"
    file.write_text(f"""
name: search
fixed: {{MODEL: {tiny_model}, MAX_TRAIN_EXAMPLES: 64, EPOCHS: 1, TIME_BUDGET_MINUTES: 0, DEVICE: cpu}}
search:
  trials: 2
  space: {{LEARNING_RATE: {{low: 1e-5, high: 1e-3, log: true}}, BATCH_SIZE: [8, 16]}}
""")
    state = hk.run_sweep(file, log=lambda _: None)
    assert state["summary"] == {"done": 2, "failed": 0, "pending": 0, "pruned": 0}
    assert len(hk.leaderboard(sweep="search")) == 2
