"""`python -m hackkit run` killed during training shows as interrupted and `--resume` finishes it."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil

import hackkit as hk
from hackkit.train.session import last_checkpoint


def _kill_tree(pid: int) -> None:
    """SIGKILL a process and everything it started (papermill's kernel runs in its own session)."""
    parent = psutil.Process(pid)
    for proc in parent.children(recursive=True) + [parent]:
        try:
            proc.send_signal(signal.SIGKILL)
        except psutil.NoSuchProcess:
            pass


def _first_checkpoint(runs: Path, proc: subprocess.Popen, timeout: float = 300) -> Path:
    """Wait until a run folder under `runs` holds a complete checkpoint; return that run folder."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for run in runs.glob("*"):
            if last_checkpoint(run):
                return run
        if proc.poll() is not None:
            raise AssertionError(f"the run ended before its first checkpoint: {proc.stderr.read()}")
        time.sleep(0.05)
    raise AssertionError("no checkpoint appeared in time")


def test_killed_run_is_marked_interrupted_and_resumes_where_it_stopped(runs_dir, tiny_model):
    params = ["-p", "MODEL", str(tiny_model), "-p", "EPOCHS", "4", "-p", "MAX_TRAIN_EXAMPLES", "240",
              "-p", "PATIENCE", "0", "-p", "DEVICE", "cpu", "-p", "TIME_BUDGET_MINUTES", "0"]
    proc = subprocess.Popen([sys.executable, "-m", "hackkit", "run", *params, "--name", "killed"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env=os.environ.copy())
    try:
        run_dir = _first_checkpoint(runs_dir, proc)
    finally:
        _kill_tree(proc.pid)
        proc.wait(timeout=60)
    status = hk.run_status(run_dir)
    assert status["status"] == "interrupted" and status["notebooks"]["02_finetune.ipynb"] == "running"
    assert not (run_dir / "model").exists()

    resumed = subprocess.run([sys.executable, "-m", "hackkit", "run", "--resume", str(run_dir)],
                             capture_output=True, text=True, timeout=600, env=os.environ.copy())
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    # Live progress reached the terminal (not a TTY here: one line per evaluation, then the end),
    # and papermill's kernel noise did not.
    terminal = resumed.stdout + resumed.stderr
    assert "running 02_finetune.ipynb" in terminal
    assert "training started: 120 steps" in terminal
    assert "evaluation at step 120/120 (100%), epoch 4.00: " in terminal
    assert "training ended at step 120/120" in terminal and "ex/s" in terminal
    assert "Kernel is running over TCP" not in terminal
    # ... and so did the verdict on the test split, whatever it is
    verdict = hk.read_json(run_dir / "metrics.json")["verdict"]
    assert verdict["message"] in resumed.stdout
    status = hk.run_status(run_dir)
    assert status["status"] == "done" and status["attempts"] == 2
    summary = hk.read_json(run_dir / "train_summary.json")
    assert summary["resumed_from"].startswith("checkpoint-") and summary["epochs_completed"] == 4.0
    assert (run_dir / "02_finetune.attempt-1.ipynb").is_file()  # the killed attempt is kept
    assert not (run_dir / "01_explore.attempt-1.ipynb").exists()  # 01 was done: skipped, not rerun
    assert hk.read_json(run_dir / "metrics.json")["test_examples"] == 372

    again = subprocess.run([sys.executable, "-m", "hackkit", "run", "--resume", str(run_dir)],
                           capture_output=True, text=True, timeout=120, env=os.environ.copy())
    assert again.returncode == 2 and "finished already; nothing to resume" in again.stderr
