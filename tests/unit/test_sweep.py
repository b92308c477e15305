"""Sweep files, the plan they expand to, and resuming (with a fast stand-in for the pipeline)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

import hackkit as hk
from hackkit.params import notebook_parameters
from hackkit.runs.sweep import Trial

DEFAULTS = {k: v["default"] for nb in notebook_parameters().values() for k, v in nb.items()}


@pytest.fixture
def sweep_file(tmp_path):
    """Write a sweep YAML file and return its path."""
    def _write(text: str, name: str = "s.yaml") -> Path:
        path = tmp_path / name
        path.write_text(text)
        return path
    return _write


class FakeClock:
    """A clock that moves only when a fake run says so: a search's time budget is then spent by
    its trials alone, however fast or loaded the machine is."""

    def __init__(self, now: float = 1e9) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class FakePipeline:
    """Stands in for run_pipeline: a real run folder and run.json, no notebooks; can fail on cue;
    with a FakeClock, each run moves it on by `seconds` instead of sleeping."""

    def __init__(self, fail_when=lambda params: False, seconds: float = 0.0,
                 clock: FakeClock | None = None):
        self.fail_when, self.seconds, self.clock, self.calls = fail_when, seconds, clock, []

    def __call__(self, params, name, log, on_start):
        run_dir = hk.new_run_dir(name)
        record = {"status": "running", "params": params}
        hk.write_json(run_dir / "run.json", record)
        on_start(run_dir)
        self.calls.append(params)
        if self.clock:
            self.clock.now += self.seconds
        else:
            time.sleep(self.seconds)
        if self.fail_when(params):
            hk.write_json(run_dir / "run.json", {**record, "status": "failed"})
            raise RuntimeError("boom\nValueError: planted failure")
        hk.write_json(run_dir / "run.json", {**record, "status": "done"})
        hk.write_json(run_dir / "metrics.json", {"model": {"macro_f1": params["LEARNING_RATE"]}})
        hk.TrainSummary(task="text-classification", main_metric="macro_f1",
                        best_validation=params["LEARNING_RATE"]).write(run_dir / "train_summary.json")
        return run_dir


GRID = """
name: lr
fixed: {EPOCHS: 1}
grid:
  LEARNING_RATE: [1e-4, 2e-4, 3e-4]
"""


@pytest.mark.parametrize("text, message", [
    ("- a list", "expected a mapping"),
    ("grid: {EPOCHS: [1]}\nfixd: {}", r"unknown section\(s\) \['fixd'\]"),
    ("fixed: {EPOCHS: 1}", "nothing to run"),
    ("grid: {EPOCHS: 2}", "grid EPOCHS must be a non-empty list"),
    ("settings: [{EPOCHS: 2}]", r"settings\[0\] must be a mapping with a 'name'"),
    ("search: {space: {EPOCHS: [1, 2]}}", "needs 'trials' and/or 'time_budget_minutes'"),
    ("search: {trials: 2, method: grid, space: {EPOCHS: [1]}}", r"method='grid'; use one of \['tpe', 'random'\]"),
    ("search: {trials: 2, space: {EPOCHS: {low: 1}}}", "search space EPOCHS"),
    ("search: {trials: 2, space: {EPOCHS: [1]}}\ngrid: {SEED: [1, 2]}", "a search replaces grid"),
    ("name: my sweep\ngrid: {SEED: [1]}", "name='my sweep'"),
])
def test_malformed_sweep_files_are_rejected_with_the_fix(sweep_file, text, message):
    with pytest.raises(ValueError, match=message):
        hk.load_sweep(sweep_file(text))


def test_missing_sweep_file_names_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.yaml not found"):
        hk.load_sweep(tmp_path / "nope.yaml")


def test_plan_is_named_settings_then_the_grid_product_with_typed_values(sweep_file):
    spec = hk.load_sweep(sweep_file("""
fixed: {EPOCHS: 1, MAX_TRAIN_EXAMPLES: 64}
grid: {LEARNING_RATE: [1e-4, 3.0e-4], BATCH_SIZE: [8, 16]}
settings:
  - {name: long, EPOCHS: 3}
""", name="my-sweep.yaml"))
    trials = hk.sweep_settings(spec, DEFAULTS)
    assert spec.name == "my-sweep"
    assert [t.label for t in trials] == ["long", "grid-1", "grid-2", "grid-3", "grid-4"]
    assert trials[0].params == {"EPOCHS": 3.0, "MAX_TRAIN_EXAMPLES": 64}
    assert [(t.params["LEARNING_RATE"], t.params["BATCH_SIZE"]) for t in trials[1:]] == \
        [(1e-4, 8), (1e-4, 16), (3e-4, 8), (3e-4, 16)]
    assert all(type(t.params["EPOCHS"]) is float for t in trials)  # YAML 1 and 1.0: one key
    assert len({t.key for t in trials}) == 5


def test_keys_are_stable_across_order_and_duplicates_are_rejected(sweep_file):
    a = Trial("a", {"EPOCHS": 1.0, "SEED": 3})
    assert a.key == Trial("b", {"SEED": 3, "EPOCHS": 1.0}).key
    spec = hk.load_sweep(sweep_file("settings:\n  - {name: x, SEED: 1}\n  - {name: y, SEED: 1}"))
    with pytest.raises(ValueError, match="settings 'x' and 'y' have the same parameters"):
        hk.sweep_settings(spec, DEFAULTS)


def test_a_search_plan_is_the_ends_of_its_space_checked_before_optuna_draws(sweep_file):
    spec = hk.load_sweep(sweep_file("""
search:
  trials: 12
  space:
    LEARNING_RATE: {low: 1e-5, high: 1e-3, log: true}
    PRECISION: [auto, fp32]
"""))
    trials = hk.sweep_settings(spec, DEFAULTS)
    assert [t.label for t in trials] == ["space-first", "space-LEARNING_RATE=0.001", "space-PRECISION=fp32"]
    assert trials[0].params == {"LEARNING_RATE": 1e-5, "PRECISION": "auto"}


def test_a_bad_value_in_any_setting_fails_before_the_first_run(runs_dir, sweep_file):
    runner = FakePipeline()
    path = sweep_file(GRID + "settings:\n  - {name: typo, LEARNING_RAT: 1.0e-4}\n"
                             "  - {name: neg, EPOCHS: -1}\n")
    with pytest.raises(ValueError, match=r"sweep setting 'typo': unknown parameter\(s\) \['LEARNING_RAT'\]"):
        hk.run_sweep(path, log=lambda _: None, runner=runner)
    path = sweep_file(GRID + "settings:\n  - {name: neg, EPOCHS: -1}\n")
    with pytest.raises(ValueError, match="sweep setting 'neg': EPOCHS=-1.0 is out of range"):
        hk.run_sweep(path, log=lambda _: None, runner=runner)
    assert runner.calls == [] and not runs_dir.exists()


def _dead_pid() -> int:
    """The id of a process that has exited."""
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def test_failures_do_not_stop_the_sweep_and_a_rerun_retries_only_what_is_not_done(runs_dir, sweep_file):
    path, lines = sweep_file(GRID), []
    first = FakePipeline(fail_when=lambda p: p["LEARNING_RATE"] == 2e-4)
    state = hk.run_sweep(path, log=lines.append, runner=first)
    assert [p["LEARNING_RATE"] for p in first.calls] == [1e-4, 2e-4, 3e-4]  # went on after the failure
    assert state["summary"] == {"done": 2, "failed": 1, "pending": 0}
    failed = next(e for e in state["trials"].values() if e["status"] == "failed")
    assert failed["error"] == "RuntimeError: ValueError: planted failure"
    assert any("[2/3] grid-2 LEARNING_RATE=0.0002: FAILED" in line for line in lines)

    # Simulate a sweep killed mid-run: a done setting left 'running', a stale lock of a dead process.
    folder = hk.sweep_dir("lr")
    saved = hk.read_json(folder / "state.json")
    killed = next(e for e in saved["trials"].values() if e["params"]["LEARNING_RATE"] == 3e-4)
    killed["status"] = "running"
    hk.write_json(Path(killed["run_dir"]) / "run.json", {"status": "running"})
    hk.write_json(folder / "state.json", saved)
    hk.write_json(folder / "lock.json", {"pid": _dead_pid(), "host": __import__("socket").gethostname()})

    second, lines = FakePipeline(), []
    state = hk.run_sweep(path, log=lines.append, runner=second)
    assert sorted(p["LEARNING_RATE"] for p in second.calls) == [2e-4, 3e-4]  # 1e-4 was skipped
    assert any("grid-1 LEARNING_RATE=0.0001: done before, skipped" in line for line in lines)
    assert state["summary"] == {"done": 3, "failed": 0, "pending": 0}
    retried = state["trials"][Trial("", killed["params"]).key]
    old, new = retried["attempts"]
    assert old != new and retried["run_dir"] == new and Path(old).is_dir()  # old run kept
    assert hk.run_status(old)["status"] == "failed" and "interrupted" in hk.run_status(old)["error"]
    assert not (folder / "lock.json").exists()

    third = FakePipeline()
    hk.run_sweep(path, log=lambda _: None, runner=third)
    assert third.calls == []
    shutil.rmtree(retried["run_dir"])  # a finished run deleted by hand runs again
    fourth = FakePipeline()
    hk.run_sweep(path, log=lambda _: None, runner=fourth)
    assert fourth.calls == [killed["params"]]


def test_a_sweep_held_by_a_live_process_is_not_run_twice(runs_dir, sweep_file):
    folder = hk.sweep_dir("lr")
    folder.mkdir(parents=True)
    # Alive for as long as any machine needs to reach the check below; killed by its PID after.
    live = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:
        hk.write_json(folder / "lock.json", {"pid": live.pid, "host": __import__("socket").gethostname()})
        runner = FakePipeline()
        with pytest.raises(ValueError, match=f"sweep 'lr' is already running \\(process {live.pid}\\)"):
            hk.run_sweep(sweep_file(GRID), log=lambda _: None, runner=runner)
        assert runner.calls == []
    finally:
        live.kill()
        live.wait()


def test_ctrl_c_marks_the_setting_failed_and_stops_the_sweep(runs_dir, sweep_file):
    def interrupt(params):
        raise KeyboardInterrupt

    runner = FakePipeline(fail_when=lambda p: interrupt(p))
    with pytest.raises(KeyboardInterrupt):
        hk.run_sweep(sweep_file(GRID), log=lambda _: None, runner=runner)
    state = hk.read_json(hk.sweep_dir("lr") / "state.json")
    assert len(runner.calls) == 1 and not (hk.sweep_dir("lr") / "lock.json").exists()
    assert [e["status"] for e in state["trials"].values()] == ["failed"]


def test_search_stops_when_its_time_budget_is_spent_and_resumes(runs_dir, sweep_file):
    path = sweep_file("""
name: timed
search:
  trials: 8
  time_budget_minutes: 2
  space: {LEARNING_RATE: {low: 1e-5, high: 1e-3, log: true}}
""")
    clock = FakeClock()
    runner = FakePipeline(seconds=50, clock=clock)  # every trial takes 50 s of the clock
    state = hk.run_sweep(path, log=lambda _: None, runner=runner, clock=clock)
    # Trials start at 0, 50 and 100 s of the 120-s budget; at 150 s it is spent, so no fourth.
    assert len(runner.calls) == 3 and state["summary"] == {"done": 3, "pruned": 0, "failed": 0, "pending": 5}
    more = FakePipeline(seconds=50, clock=clock)
    state = hk.run_sweep(path, log=lambda _: None, runner=more, clock=clock)
    assert len(more.calls) == 3 and state["summary"]["done"] == 6  # a new budget, the same study
    assert not [p for p in more.calls if p in runner.calls]  # the next draws, not repeats


def test_cli_dry_run_lists_checked_settings_and_bad_files_exit_2(runs_dir, sweep_file, capsys):
    from hackkit.cli import main

    assert main(["sweep", str(sweep_file(GRID)), "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "grid-3       new      {'EPOCHS': 1.0, 'LEARNING_RATE': 0.0003}" in out
    assert "3 settings checked" in out
    assert not runs_dir.exists()
    assert main(["sweep", str(sweep_file("grid: {EPOCS: [1, 2]}"))]) == 2
    assert "sweep setting 'grid-1': unknown parameter(s) ['EPOCS']" in capsys.readouterr().err
