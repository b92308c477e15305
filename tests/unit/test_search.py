"""Optuna searches: sampling within the space, pruning, the best trial, resuming, workers."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

import hackkit as hk
from fake_search import TARGET_LR, FakeTraining
from hackkit.runs.search import load_search, visible_gpus, worker_environments
from hackkit.train.trial import open_storage

ROOT = Path(__file__).resolve().parents[2]

TPE = """
name: tpe
fixed: {{EPOCHS: 3}}
search:
  method: {method}
  pruner: {pruner}
  trials: {trials}
  seed: 0
  space:
    LEARNING_RATE: {{low: 1.0e-6, high: 1.0e-1, log: true}}
    BATCH_SIZE: [8, 16]
    WARMUP: {{low: 0.0, high: 0.2}}
"""


@pytest.fixture
def search_file(tmp_path):
    def _write(method="tpe", pruner="median", trials=12, extra="") -> Path:
        path = tmp_path / "search.yaml"
        path.write_text(TPE.format(method=method, pruner=pruner, trials=trials) + extra)
        return path
    return _write


def _quiet(_line: str) -> None:
    pass


@pytest.mark.parametrize("text, message", [
    ("search: {trials: 2, method: bayes, space: {EPOCHS: [1]}}", r"method='bayes'; use one of \['tpe', 'random'\]"),
    ("search: {trials: 2, pruner: asha, space: {EPOCHS: [1]}}", r"pruner='asha'; use one of"),
    ("search: {trials: 2, storage: 3, space: {EPOCHS: [1]}}", "search storage=3; use a database URL"),
    ("search: {trials: 2, prune_from: 1.5, space: {EPOCHS: [1]}}", r"prune_from=1.5; use the share"),
])
def test_bad_search_sections_name_the_key_and_the_fix(tmp_path, text, message):
    path = tmp_path / "s.yaml"
    path.write_text(text)
    with pytest.raises(ValueError, match=message):
        hk.load_sweep(path)


def test_a_space_with_a_bad_end_fails_before_any_trial(runs_dir, tmp_path):
    path = tmp_path / "s.yaml"
    path.write_text("search: {trials: 2, space: {EPOCHS: {low: 1, high: 3}, BATCH_SIZE: [8, 0]}}")
    runner = FakeTraining()
    with pytest.raises(ValueError, match="sweep setting 'space-BATCH_SIZE=0': BATCH_SIZE=0"):
        hk.run_sweep(path, log=_quiet, runner=runner)
    path.write_text("search: {trials: 2, space: {LEARNING_RATE: {low: 0, high: 1.0e-3, log: true}}}")
    with pytest.raises(ValueError, match="LEARNING_RATE: log scale needs low > 0"):
        hk.run_sweep(path, log=_quiet, runner=runner)
    assert runner.calls == []


def test_random_search_draws_typed_values_within_the_space_and_stops_at_trials(runs_dir, search_file):
    runner = FakeTraining()
    state = hk.run_sweep(search_file(method="random", pruner="none", trials=6), log=_quiet, runner=runner)
    assert len(runner.calls) == 6 and state["summary"] == {"done": 6, "pruned": 0, "failed": 0, "pending": 0}
    for p in runner.calls:
        assert 1e-6 <= p["LEARNING_RATE"] <= 1e-1 and p["BATCH_SIZE"] in (8, 16)
        assert type(p["BATCH_SIZE"]) is int and type(p["EPOCHS"]) is float and 0 <= p["WARMUP"] <= 0.2
    again = FakeTraining()
    hk.run_sweep(search_file(method="random", pruner="none", trials=6), log=_quiet, runner=again)
    assert again.calls == []  # the study in storage says it is finished
    board = hk.leaderboard(sweep="tpe")  # every trial is an ordinary run folder of the sweep
    assert len(board) == 6 and set(board["status"]) == {"done"}


@pytest.mark.parametrize("pruner", ["trend", "median"])
def test_tpe_with_pruning_stops_bad_trials_early_and_reports_the_best_not_the_last(
        runs_dir, search_file, pruner):
    runner, lines = FakeTraining(), []
    # The fake trains 3 'epochs': stops are judged from the second (the default waits for 75%).
    state = hk.run_sweep(search_file(trials=14, pruner=pruner, extra="  prune_from: 0.5\n"),
                         log=lines.append, runner=runner)
    s = state["summary"]
    assert s["done"] + s["pruned"] == 14 and s["pruned"] >= 3 and s["failed"] == 0
    assert state["seconds_saved_by_pruning"] >= 0
    study = load_search("tpe")
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    best = max(done, key=lambda t: t.value)
    assert state["best"]["trial"] == best.number and state["best"]["value"] == best.value
    assert state["best"]["run_dir"] == best.user_attrs["run_dir"]
    assert hk.read_json(Path(best.user_attrs["run_dir"]) / "train_summary.json")[
        "best_validation_macro_f1"] == best.value
    pruned = [t for t in study.trials if t.state == optuna.trial.TrialState.PRUNED]
    for t in pruned:  # stopped before the last evaluation, marked in its run folder
        assert max(t.intermediate_values) < 3
        status = hk.run_status(t.user_attrs["run_dir"])
        assert status["status"] == "pruned" and f"{pruner} pruner stopped trial" in status["pruned_reason"]
    board = hk.leaderboard(sweep="tpe")
    assert (board["status"] == "pruned").sum() == len(pruned)
    assert any("pruned after" in line for line in lines) and any(line.startswith("best: ") for line in lines)
    table = hk.pruned_trials(study)
    assert list(table.index) == [t.number for t in pruned] and table["reason"].str.len().min() > 0
    # TPE moves towards the good region: the best found is close to the target
    assert abs(__import__("math").log10(best.params["LEARNING_RATE"] / TARGET_LR)) < 1


def test_a_new_search_starts_from_the_defaults_its_space_holds(runs_dir, search_file):
    defaults = {k: v["default"] for nb in hk.notebook_parameters().values() for k, v in nb.items()}
    searched = ("LEARNING_RATE", "BATCH_SIZE", "WARMUP")
    runner, lines = FakeTraining(), []
    hk.run_sweep(search_file(method="random", pruner="none", trials=3), log=lines.append,
                 runner=runner)
    assert {k: runner.calls[0][k] for k in searched} == {k: defaults[k] for k in searched}
    assert all(call["LEARNING_RATE"] != defaults["LEARNING_RATE"] for call in runner.calls[1:])
    starts = [t.number for t in load_search("tpe").trials if t.user_attrs.get("start") == "defaults"]
    assert starts == [0] and any("first trial: the defaults" in line for line in lines)
    # Resumed with more trials: the defaults are not queued again.
    more = FakeTraining()
    hk.run_sweep(search_file(method="random", pruner="none", trials=5), log=_quiet, runner=more)
    assert len(more.calls) == 2 and len(load_search("tpe").trials) == 5
    assert [t.number for t in load_search("tpe").trials
            if t.user_attrs.get("start") == "defaults"] == [0]
    assert all(call["LEARNING_RATE"] != defaults["LEARNING_RATE"] for call in more.calls)


def test_defaults_outside_the_space_are_drawn_and_the_start_can_be_switched_off(
        runs_dir, search_file, tmp_path):
    from hackkit.runs.search import defaults_in_space

    defaults = {"LEARNING_RATE": 1e-4, "BATCH_SIZE": 8, "WARMUP": 0.1}
    space = {"LEARNING_RATE": {"low": 1e-3, "high": 1e-2, "log": True}, "BATCH_SIZE": [16, 32],
             "WARMUP": {"low": 0.0, "high": 0.2}}
    assert defaults_in_space(space, defaults) == {"WARMUP": 0.1}
    path = tmp_path / "off.yaml"
    path.write_text(search_file(method="random", pruner="none", trials=2).read_text().replace(
        "  seed: 0", "  seed: 0\n  start_from_defaults: false"))
    runner = FakeTraining()
    hk.run_sweep(path, log=_quiet, runner=runner)
    assert len(runner.calls) == 2 and all(call["LEARNING_RATE"] != 1e-4 for call in runner.calls)
    assert not any("start" in t.user_attrs for t in load_search("tpe").trials)
    path.write_text(path.read_text().replace("start_from_defaults: false", "start_from_defaults: 1"))
    with pytest.raises(ValueError, match="start_from_defaults=1; use true"):
        hk.load_sweep(path)


def test_a_crashed_search_resumes_and_a_killed_workers_trial_is_run_again(runs_dir, search_file):
    path = search_file(trials=5, pruner="none")
    with pytest.raises(KeyboardInterrupt):
        hk.run_sweep(path, log=_quiet, runner=FakeTraining(interrupt_after=2))
    study = load_search("tpe")
    assert [t.state.name for t in study.trials] == ["COMPLETE", "COMPLETE", "FAIL"]

    # A worker killed mid-trial: its trial stays RUNNING with the dead process's id.
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    orphan = study.ask()
    orphan.suggest_float("LEARNING_RATE", 1e-6, 1e-1, log=True)
    orphan.set_user_attr("pid", dead.pid)
    orphan.set_user_attr("host", __import__("socket").gethostname())

    runner, lines = FakeTraining(), []
    state = hk.run_sweep(path, log=lines.append, runner=runner)
    assert state["summary"] == {"done": 5, "pruned": 0, "failed": 1, "pending": 0}  # the Ctrl-C one
    study = load_search("tpe")
    retry = [t for t in study.trials if t.user_attrs.get("retry_of") == orphan.number]
    assert len(retry) == 1 and retry[0].state.name == "COMPLETE"
    assert retry[0].params["LEARNING_RATE"] == orphan.params["LEARNING_RATE"]
    assert study.trials[orphan.number].state.name == "FAIL"
    assert any(f"trial {orphan.number} was left running by worker process {dead.pid}" in line
               for line in lines)
    assert len(runner.calls) == 3


def test_workers_get_a_share_of_the_cpu_threads_or_their_own_gpu(monkeypatch):
    import torch

    cpu = worker_environments(3, cpus=8)
    mine = worker_environments(1)[0]["OMP_NUM_THREADS"]  # this machine's count
    assert mine == str(os.cpu_count() or 1)
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert visible_gpus() == [str(i) for i in range(torch.cuda.device_count())]
    assert [e["OMP_NUM_THREADS"] for e in cpu] == ["2", "2", "2"] and cpu[0]["CUDA_VISIBLE_DEVICES"] == ""
    assert worker_environments(4, cpus=2)[3]["OMP_NUM_THREADS"] == "1"
    gpu = worker_environments(3, gpus=["0", "1"])
    assert [e["CUDA_VISIBLE_DEVICES"] for e in gpu] == ["0", "1", "0"]


def run_two_workers(path: Path, storage: str, tmp_path: Path, env: dict) -> None:
    """Two worker processes on one study, started together; wait for both."""
    ready = tmp_path / "ready"
    ready.mkdir()
    env = {**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'tests'}"}
    procs = [subprocess.Popen([sys.executable, str(ROOT / "tests" / "fake_search.py"), str(path),
                               storage, str(i), str(ready)], env=env) for i in range(2)]
    codes = [p.wait(timeout=180) for p in procs]
    assert codes == [0, 0]


def check_split_once(storage: str, trials: int) -> None:
    """Each trial ran once, by one of the two workers, and both workers ran some."""
    study = optuna.load_study(study_name="tpe", storage=open_storage(storage))
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) >= trials and all(t.state.name in ("COMPLETE", "PRUNED") for t in finished)
    run_dirs = [t.user_attrs["run_dir"] for t in finished]
    assert len(set(run_dirs)) == len(run_dirs)  # never two runs for one trial
    assert len({t.number for t in finished}) == len(finished)
    assert len({t.user_attrs["pid"] for t in finished}) == 2  # both workers took trials


def test_two_local_workers_share_the_journal_study_without_duplicates(runs_dir, search_file, tmp_path):
    path = search_file(trials=6, pruner="none")
    storage = str(hk.sweep_dir("tpe") / "study.journal")
    hk.sweep_dir("tpe").mkdir(parents=True)
    run_two_workers(path, storage, tmp_path, dict(os.environ))
    check_split_once(storage, 6)
    assert len(list(runs_dir.glob("*-tpe-trial-*"))) == len(load_search_trials(storage))


def load_search_trials(storage: str) -> list:
    return optuna.load_study(study_name="tpe", storage=open_storage(storage)).trials


def test_05_views_of_a_search_and_of_no_search(runs_dir, search_file):
    assert hk.load_search("") is None and "No Optuna search yet" in hk.search_summary(None)
    assert hk.pruned_trials(None) == "No Optuna search yet."
    message = hk.plot_search_importances(None)
    assert "need at least 4 finished trials; this search has 0" in message.axes[0].texts[0].get_text()
    with pytest.raises(ValueError, match="sweep='nope': no search of that name"):
        hk.load_search("nope")
    hk.run_sweep(search_file(trials=3, pruner="none"), log=_quiet, runner=FakeTraining())
    study = hk.load_search("tpe")
    assert hk.search_summary(study).startswith("search tpe: 3 finished, 0 pruned")
    assert "this search has 3" in hk.plot_search_importances(study).axes[0].texts[0].get_text()
    history = hk.plot_search_history(study)
    assert len(history.axes[0].collections) >= 1  # one point per finished trial
    assert hk.pruned_trials(study) == "No trial was pruned."


def test_shipped_sweep_files_load():
    files = sorted((ROOT / "sweeps").glob("*.yaml"))
    assert files and all(hk.load_sweep(f).name for f in files)


def test_the_training_callback_reports_and_stops_a_hopeless_trial_cleanly(tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from hackkit.runfolder import Run
    from hackkit.train.pruning import OptunaPruningCallback, trial_callbacks
    from hackkit.train.trial import TrialLink, make_pruner

    url = str(tmp_path / "study.journal")
    study = optuna.create_study(study_name="s", storage=open_storage(url), direction="maximize",
                                pruner=make_pruner("median"))
    for value in (0.8, 0.9):  # two finished trials that scored well at evaluations 1 to 3
        t = study.ask()
        for step in (1, 2, 3):
            t.report(value - 0.1 * (3 - step), step)
        study.tell(t, value)
    pruned = study.ask()  # a pruned trial does not count towards the median (as in Optuna's rule)
    for step in (1, 2, 3):
        pruned.report(0.1, step)
    study.tell(pruned, state=optuna.trial.TrialState.PRUNED)
    trial = study.ask()
    link = TrialLink(url, "s", trial.number, "median")
    assert trial_callbacks(Run(tmp_path)) == []  # an ordinary run: no reporter
    os.environ.update(link.env())
    try:
        assert isinstance(trial_callbacks(Run(tmp_path))[0], OptunaPruningCallback)
    finally:
        for key in link.env():
            os.environ.pop(key)
    callback = OptunaPruningCallback(link, Run(tmp_path))
    args = TrainingArguments(output_dir=str(tmp_path / "c"), metric_for_best_model="macro_f1",
                             report_to="none")
    state, control = TrainerState(max_steps=30, global_step=10), TrainerControl()
    callback.on_train_begin(args, state, control)
    # A third of the way through: reported, but too early to judge (a slow start often ends best).
    callback.on_evaluate(args, state, control, metrics={"eval_macro_f1": 0.2})
    assert not control.should_training_stop and not Run(tmp_path).pruned_mark.exists()
    # At 80% and below the median (0.75), but better than before: still climbing, not stopped.
    state.global_step = 24
    callback.on_evaluate(args, state, control, metrics={"eval_macro_f1": 0.25})
    assert not control.should_training_stop and not Run(tmp_path).pruned_mark.exists()
    state.global_step = 27  # below the median and no better than before: stopped
    callback.on_evaluate(args, state, control, metrics={"eval_macro_f1": 0.22})
    assert control.should_training_stop
    mark = hk.read_json(Run(tmp_path).pruned_mark)
    assert mark["used_steps"] == 27 and mark["planned_steps"] == 30 and mark["step"] == 3
    assert ("validation macro_f1 0.2200 after evaluation 3; no better than its best so far, 0.2500, "
            "which is below the finished trials' median there, 0.8500") in mark["reason"]
    assert study.trials[trial.number].intermediate_values == {1: 0.2, 2: 0.25, 3: 0.22}
    with pytest.raises(KeyError, match="no eval_macro_f1 to report"):
        callback.on_evaluate(args, state, TrainerControl(), metrics={"eval_loss": 1.0})


def test_the_trend_pruner_stops_a_trial_that_flattened_below_the_best_and_lets_climbers_go_on(
        tmp_path):
    from transformers import TrainerControl, TrainerState, TrainingArguments

    from hackkit.runfolder import Run
    from hackkit.train.pruning import OptunaPruningCallback, evaluations_left
    from hackkit.train.trial import TrialLink, make_pruner

    url = str(tmp_path / "study.journal")
    study = optuna.create_study(study_name="s", storage=open_storage(url), direction="maximize",
                                pruner=make_pruner("trend"))
    for value in (0.8, 0.9):  # two finished trials; the best scored 0.9
        t = study.ask()
        for step in (1, 2, 3, 4):
            t.report(value - 0.1 * (4 - step), step)
        study.tell(t, value)
    link = TrialLink(url, "s", study.ask().number, "trend")
    args = TrainingArguments(output_dir=str(tmp_path / "c"), metric_for_best_model="macro_f1",
                             report_to="none", eval_strategy="steps", eval_steps=10)
    state, control = TrainerState(max_steps=100, global_step=10), TrainerControl()
    assert evaluations_left(args, state) == 9  # at 20, 30, ... 90 and the final one at 100

    def evaluate(step: int, value: float) -> bool:
        state.global_step = step
        callback.on_evaluate(args, state, control, metrics={"eval_macro_f1": value})
        return control.should_training_stop

    callback = OptunaPruningCallback(link, Run(tmp_path))
    callback.on_train_begin(args, state, control)
    assert not evaluate(10, 0.30)  # a tenth of the way: too early to judge
    assert not evaluate(60, 0.35)  # flat and far below the best (0.9), but 60%: still too early
    # At 80%, far below the best but gaining 0.35 per evaluation with 2 left: goes on.
    assert not evaluate(80, 0.70) and not Run(tmp_path).pruned_mark.exists()
    assert evaluate(90, 0.72)  # gaining 0.02 with 1 left would reach 0.74 at most: stopped
    mark = hk.read_json(Run(tmp_path).pruned_mark)
    assert mark["used_steps"] == 90 and mark["planned_steps"] == 100 and mark["step"] == 4
    assert ("best so far 0.7200, latest gain +0.0200 per evaluation: at that pace it would reach "
            "at most 0.7400, below the best finished trial's 0.9000") in mark["reason"]
    trial = study.trials[link.number]
    assert trial.user_attrs["evaluations_left"] == 1
    # The sweep file's prune_from travels to the kernel: judged only from 90%, a trial stalled at
    # 80% of its training goes on.
    late = TrialLink.from_env(TrialLink(url, "s", study.ask().number, "trend", 0.9).env())
    assert late.prune_from == 0.9 and TrialLink.from_env(link.env()).prune_from == 0.75
    for step, value in ((1, 0.3), (2, 0.55)):
        late.report(value, step, done=0.2 * step, left=5 - step)
    assert not late.report(0.60, 3, done=0.8, left=1) and late.report(0.60, 4, done=0.9, left=1)
    # Without the count of evaluations left (e.g. an older kernel), the trend pruner never stops.
    other = study.ask()
    for step, value in ((1, 0.1), (2, 0.1), (3, 0.1)):
        other.report(value, step)
    assert not make_pruner("trend").prune(study, study.trials[other.number])
