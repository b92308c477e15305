"""Hyper-parameter search on Optuna: a sampler and a pruner chosen in the sweep file, a study kept
in storage (a journal file by default, or any database URL), and workers that share it.

Every trial is an ordinary run folder made by the papermill pipeline. The kernel that trains it
learns which trial it is through environment variables (TrialLink) and reports its validation
score after each evaluation, so the pruner can stop a hopeless trial in the last quarter of its
training (`prune_from`; hackkit.pruning). A new study's first trial runs the notebooks' defaults.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from hackkit.params import as_type_of
from hackkit.paths import process_alive, read_json, runs_root, write_json
from hackkit.runfolder import Run

METHODS = ("tpe", "random")
PRUNERS = ("trend", "median", "hyperband", "none")
DEFAULT_PRUNER = "trend"
EVALUATIONS_LEFT = "evaluations_left"  # trial user attribute: the trend pruner's horizon
JOURNAL_FILE = "study.journal"  # inside runs/sweeps/<name>/: the default, serverless storage
STATE_FILE = "state.json"  # inside runs/sweeps/<name>/: what the leaderboard and --dry-run read
STATE_LOCK = "state.lock"
# What a trial's kernel needs to report to its trial (set by the worker, read by hackkit.pruning).
ENV_STORAGE, ENV_STUDY = "HACKKIT_OPTUNA_STORAGE", "HACKKIT_OPTUNA_STUDY"
ENV_TRIAL, ENV_PRUNER = "HACKKIT_OPTUNA_TRIAL", "HACKKIT_OPTUNA_PRUNER"
ENV_PRUNE_FROM = "HACKKIT_OPTUNA_PRUNE_FROM"
HEARTBEAT_SECONDS, GRACE_SECONDS = 60, 180  # database storage: a silent worker's trial fails after 3 min
MIN_IMPORTANCE_TRIALS = 4  # parameter importances from fewer finished trials are noise
# By default no trial is pruned before this share of its training (the sweep file's `prune_from`
# changes it). With warm-up and a learning rate decaying to zero, the order of short runs changes
# late. Measured on the sample (bench_search.py): a trial at 5.2e-5 pruned at 40% with 0.913 where
# the grid's 5e-5 run ended best at 0.9365; with the trend pruner from half-way, a trial at
# 1.25e-4 (batch 16) stopped at 60% with 0.916, and the same setting run to its end scored 0.9465,
# the best of both searches. From 75% it went on.
PRUNE_FROM = 0.75


def storage_url(search: dict, folder: Path, override: str = "") -> str:
    """--storage, else the sweep file's `storage`, else the journal file in the sweep's folder."""
    return override or str(search.get("storage") or "") or str(folder / JOURNAL_FILE)


def open_storage(url: str, heartbeat: bool = False):
    """Optuna storage for a database URL (RDB, with heartbeats for workers) or a journal file path.

    The default is Optuna's journal file, not SQLite: it is an append-only log guarded by a lock
    file, so several worker processes (even on NFS) append to it without SQLite's 'database is
    locked' timeouts, and it needs no server. Several machines share a search through a database.
    """
    import optuna
    from optuna.storages import RDBStorage, RetryHeartbeatStaleTrialCallback

    if "://" in url:
        kwargs: dict[str, Any] = {}
        if heartbeat:  # a worker that dies stops beating; its trial is failed and run again
            retry = RetryHeartbeatStaleTrialCallback(max_retry=2)
            kwargs = dict(heartbeat_interval=HEARTBEAT_SECONDS, grace_period=GRACE_SECONDS,
                          heartbeat_stale_trial_callback=retry)
        engine = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {"pool_pre_ping": True}
        return RDBStorage(url, engine_kwargs=engine, **kwargs)
    from optuna.storages.journal import JournalFileBackend

    Path(url).parent.mkdir(parents=True, exist_ok=True)
    return optuna.storages.JournalStorage(JournalFileBackend(url))


def make_sampler(method: str, seed: int, trials: int | None):
    """TPE (Bayesian) or random sampling; TPE explores at random for its first few trials."""
    import optuna

    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Optuna's default of 10 random trials first would leave a hackathon-sized search all random.
    startup = min(10, max(2, (trials or 40) // 4))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


def _trend_pruner_class():
    """Optuna's BasePruner with the trend rule (defined here: optuna loads lazily)."""
    import optuna

    class TrendPruner(optuna.pruners.BasePruner):
        """Stop a trial that cannot reach the best finished trial even if its latest gain per
        evaluation went on for every evaluation it has left.

        On short runs with a decaying learning rate every curve rises to the end and the order
        changes late (a high rate is behind half-way and ends best), so a pruner on the score's
        level (median) stops winners or nothing. This one looks at the trend: a trial that is
        still climbing fast goes on, one that flattened (or fell) below the best finished score
        stops. It can still stop a trial whose biggest gains come in its last evaluations, as
        the rate reaches zero (the README's search benchmark shows one). Trials that do not say
        how many evaluations they have left are never stopped."""

        def __init__(self, n_startup_trials: int = 2) -> None:
            self.n_startup_trials = n_startup_trials

        def prune(self, study, trial) -> bool:
            bar = trend_bar(study, trial, self.n_startup_trials)
            return bar is not None and bar[2] < bar[3]

    return TrendPruner


def trend_bar(study, trial, n_startup_trials: int = 2) -> tuple[float, float, float, float] | None:
    """The trend pruner's test: (the trial's best so far, its latest gain per evaluation, the
    most it would reach at that gain over the evaluations it has left, the best finished score);
    None when there is nothing to test yet (fewer than two evaluations, too few finished trials,
    or no evaluations-left count)."""
    from optuna.trial import TrialState

    values = [trial.intermediate_values[step] for step in sorted(trial.intermediate_values)]
    left = trial.user_attrs.get(EVALUATIONS_LEFT)
    finished = [t.value for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                if t.value is not None]
    if len(values) < 2 or left is None or len(finished) < max(1, n_startup_trials):
        return None
    gain = max(0.0, values[-1] - values[-2])
    reach = max(max(values), values[-1] + gain * left)
    return max(values), gain, reach, max(finished)


def make_pruner(name: str):
    """The pruner named in the sweep file: trend (default), median, hyperband (successive
    halving) or none."""
    import optuna

    if name == "trend":
        return _trend_pruner_class()(n_startup_trials=2)
    if name == "median":  # stop a trial below the median of finished ones at the same evaluation,
        # unless its latest evaluation improved on its best: short runs on a decaying learning rate
        # keep climbing to the end, and the ones climbing slowly often end best.
        with warnings.catch_warnings():  # PatientPruner is marked experimental since Optuna 2.8
            warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
            return optuna.pruners.PatientPruner(
                optuna.pruners.MedianPruner(n_startup_trials=2, n_warmup_steps=0), patience=0)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=1, reduction_factor=3)
    if name == "none":
        return optuna.pruners.NopPruner()
    raise ValueError(f"search pruner={name!r}: use one of {list(PRUNERS)}.")


def suggest(trial, key: str, dist: Any, default: Any) -> Any:
    """One parameter from the sweep file's space: a list of choices, or {low, high, log}."""
    if isinstance(dist, list):
        choices = [as_type_of(v, default) for v in dist]
        return trial.suggest_categorical(key, choices)
    low, high = (as_type_of(dist[k], default if default is not None else 0.0) for k in ("low", "high"))
    if isinstance(default, int) and not isinstance(default, bool):
        return trial.suggest_int(key, int(low), int(high), log=bool(dist.get("log")))
    return trial.suggest_float(key, float(low), float(high), log=bool(dist.get("log")))


def defaults_in_space(space: dict, defaults: dict) -> dict[str, Any]:
    """The notebooks' default value of each searched parameter that the space holds (inside a
    range, or among the choices); parameters whose default it does not hold are left out."""
    start = {}
    for key, dist in space.items():
        default = defaults.get(key)
        if default is None:
            continue
        if isinstance(dist, list):
            if default in [as_type_of(v, default) for v in dist]:
                start[key] = default
        elif (float(as_type_of(dist["low"], 0.0)) <= float(default)
              <= float(as_type_of(dist["high"], 0.0))):
            start[key] = default
    return start


def _settings(params: dict, keys) -> str:
    """The searched parameters of a trial, short: "BATCH_SIZE=8 LEARNING_RATE=0.0001"."""
    return " ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}"
                    for k, v in params.items() if k in keys)


def queue_defaults(study, spec, log: Callable[[str], None]) -> None:
    """A new study's first trial: the notebooks' defaults where the space holds them (Optuna
    draws the rest). A search then never reports worse than a plain run of the same settings,
    and TPE learns from a setting known to train well. Off with `start_from_defaults: false`."""
    if not spec.search.get("start_from_defaults", True) or study.get_trials(deepcopy=False):
        return
    start = defaults_in_space(spec.search["space"], {**spec.defaults, **spec.fixed_typed})
    if start:
        study.enqueue_trial(start, user_attrs={"start": "defaults"})
        log(f"first trial: the defaults {_settings(start, start)}")


def space_checks(search: dict, fixed: dict, defaults: dict) -> list[tuple[str, dict]]:
    """Settings at the ends of every range and at every choice, to check before any trial runs."""
    space = search["space"]
    ends = {k: (list(d) if isinstance(d, list) else [d["low"], d["high"]]) for k, d in space.items()}
    for key, d in space.items():
        if isinstance(d, dict):
            low, high = (float(as_type_of(d[k], 0.0)) for k in ("low", "high"))
            if low > high:
                raise ValueError(f"search space {key}: low={low} is above high={high}; swap them.")
            if d.get("log") and low <= 0:
                raise ValueError(f"search space {key}: log scale needs low > 0, got {low}.")
    base = {k: as_type_of(v[0], defaults.get(k)) for k, v in ends.items()}
    checks = [("space-first", {**fixed, **base})]
    for key, values in ends.items():
        for value in values[1:]:
            typed = as_type_of(value, defaults.get(key))
            checks.append((f"space-{key}={typed}", {**fixed, **base, key: typed}))
    return checks


@dataclass
class TrialLink:
    """Which trial of which study a training run reports to; travels in environment variables."""

    storage: str
    study: str
    number: int
    pruner: str = DEFAULT_PRUNER
    prune_from: float = PRUNE_FROM  # no stop before this share of the trial's training

    def env(self) -> dict[str, str]:
        """The environment variables the papermill kernel inherits."""
        return {ENV_STORAGE: self.storage, ENV_STUDY: self.study, ENV_TRIAL: str(self.number),
                ENV_PRUNER: self.pruner, ENV_PRUNE_FROM: repr(float(self.prune_from))}

    @classmethod
    def from_env(cls, environ: dict | None = None) -> TrialLink | None:
        """The link set by a search worker, or None for an ordinary run."""
        environ = os.environ if environ is None else environ
        if not environ.get(ENV_STUDY):
            return None
        return cls(environ[ENV_STORAGE], environ[ENV_STUDY], int(environ[ENV_TRIAL]),
                   environ.get(ENV_PRUNER, DEFAULT_PRUNER),
                   float(environ.get(ENV_PRUNE_FROM, PRUNE_FROM)))

    def _open(self):
        """Load the study and find this trial's id (once)."""
        if not hasattr(self, "_cache"):
            import optuna

            optuna.logging.set_verbosity(optuna.logging.WARNING)
            storage = open_storage(self.storage)
            study = optuna.load_study(study_name=self.study, storage=storage,
                                      sampler=optuna.samplers.RandomSampler(),
                                      pruner=make_pruner(self.pruner))
            study_id = storage.get_study_id_from_name(self.study)
            self._cache = (study, storage, storage.get_trial_id_from_study_id_trial_number(
                study_id, self.number))
        return self._cache

    def report(self, value: float, step: int, done: float = 1.0, left: int | None = None) -> bool:
        """Record the validation score after evaluation `step`, with `done` the share of the
        trial's training behind it and `left` the evaluations still planned (the trend pruner's
        horizon); True when the pruner says stop (never before `prune_from`)."""
        study, storage, trial_id = self._open()
        storage.set_trial_intermediate_value(trial_id, step, float(value))
        if left is not None:
            storage.set_trial_user_attr(trial_id, EVALUATIONS_LEFT, int(left))
        if done < self.prune_from:
            return False
        return bool(study.pruner.prune(study, storage.get_trial(trial_id)))

    def trend_bar(self) -> tuple[float, float, float, float] | None:
        """The trend pruner's test for this trial now (see trend_bar)."""
        study, storage, trial_id = self._open()
        return trend_bar(study, storage.get_trial(trial_id))

    def median_bar(self, step: int) -> tuple[float, float] | None:
        """The median pruner's test at this evaluation, for the pruning reason: this trial's best
        score so far, and the median of the finished trials' scores there (Optuna's
        MedianPruner stops a trial whose best so far is below it; pruned and running trials do
        not count; the PatientPruner around it asks only when the latest score did not improve
        on that best). None when no finished trial reached this evaluation."""
        from optuna.trial import TrialState

        study, storage, trial_id = self._open()
        finished = [t.intermediate_values[step] for t in
                    study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
                    if step in t.intermediate_values]
        mine = storage.get_trial(trial_id).intermediate_values.values()
        return (max(mine), statistics.median(finished)) if finished and mine else None


def prune_record(link: TrialLink, metric: str, value: float, step: int, planned_steps: int,
                 used_steps: int, seconds_used: float) -> dict:
    """What the pruned-run marker holds: why the trial stopped and the time it saved."""
    versus = ""
    if link.pruner == "median" and (bar := link.median_bar(step)):
        versus = (f"; no better than its best so far, {bar[0]:.4f}, which is below the finished "
                  f"trials' median there, {bar[1]:.4f}")
    elif link.pruner == "trend" and (trend := link.trend_bar()):
        best, gain, reach, target = trend
        versus = (f"; best so far {best:.4f}, latest gain {gain:+.4f} per evaluation: at that "
                  f"pace it would reach at most {reach:.4f}, below the best finished trial's "
                  f"{target:.4f}")
    per_step = seconds_used / max(1, used_steps)
    return {
        "reason": f"{link.pruner} pruner stopped trial {link.number}: validation {metric} "
                  f"{value:.4f} after evaluation {step}{versus}",
        "pruner": link.pruner, "trial": link.number, "step": step, "value": value,
        "planned_steps": planned_steps, "used_steps": used_steps,
        "seconds_used": round(seconds_used, 2),
        "seconds_saved": round(per_step * max(0, planned_steps - used_steps), 2),
    }


# ---- the sweep side: one study, many trials, one or more workers ----

@contextmanager
def _state(folder: Path) -> Iterator[dict]:
    """The sweep's state.json, read and written under a file lock (workers share it)."""
    folder.mkdir(parents=True, exist_ok=True)
    with open(folder / STATE_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        path = folder / STATE_FILE
        state = read_json(path) if path.is_file() else {"name": folder.name, "trials": {}}
        yield state
        state["updated"] = datetime.now().isoformat(timespec="seconds")
        write_json(path, state)



def open_study(spec, url: str, worker: int = 0, heartbeat: bool = True):
    """Create or load (resume) the sweep's study; each worker gets its own sampler seed."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    search = spec.search
    seed = int(search.get("seed", 0)) + worker  # the same seed would make workers draw alike
    method = search.get("method", "random")
    study = optuna.create_study(
        study_name=spec.name, storage=open_storage(url, heartbeat=heartbeat), direction="maximize",
        sampler=make_sampler(method, seed, search.get("trials")),
        pruner=make_pruner(search.get("pruner", DEFAULT_PRUNER)), load_if_exists=True)
    done = len(study.get_trials(deepcopy=False))
    if done:  # resumed: a fresh sampler with the same seed would repeat the first draws
        study.sampler = make_sampler(method, seed + 1000 * done, search.get("trials"))
    return study


def recover_stale(study, folder: Path, log: Callable[[str], None]) -> int:
    """Trials left running by a killed worker on this machine: fail them and queue them again."""
    from optuna.trial import TrialState

    storage = study._storage
    study_id = storage.get_study_id_from_name(study.study_name)
    recovered = 0
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        pid, host = t.user_attrs.get("pid"), t.user_attrs.get("host")
        if host != socket.gethostname() or not isinstance(pid, int) or process_alive(pid):
            continue  # another machine's, or still running: heartbeats cover remote workers
        trial_id = storage.get_trial_id_from_study_id_trial_number(study_id, t.number)
        try:
            storage.set_trial_state_values(trial_id, TrialState.FAIL)
        except RuntimeError:  # another worker finished it first
            continue
        study.enqueue_trial(t.params, user_attrs={"retry_of": t.number})
        with _state(folder) as state:
            entry = state["trials"].get(_label(t.number))
            if entry:
                entry.update(status="failed", error="interrupted: the worker running it stopped")
        log(f"trial {t.number} was left running by worker process {pid}, which is gone: "
            "marked failed and queued to run again")
        recovered += 1
    return recovered


def _label(number: int) -> str:
    return f"trial-{number:04d}"


def _validation_score(run_dir: Path) -> tuple[str, float]:
    """The best validation main metric the run's training reached (what the search maximises)."""
    run = Run(run_dir)
    summary = run.read(run.train_summary)
    if not summary:
        raise FileNotFoundError(f"{run.train_summary} not found: the trial's 02 wrote no summary, "
                                "so it has no validation score to rank it by.")
    metric = summary.get("main_metric", "")
    value = summary.get(f"best_validation_{metric}")
    if not isinstance(value, (int, float)):
        raise ValueError(f"{run.train_summary}: best_validation_{metric} is {value!r}; the "
                         "training never evaluated (check EPOCHS and TIME_BUDGET_MINUTES).")
    return metric, float(value)


def _count(study) -> dict[str, int]:
    """Trials by state: finished (complete + pruned), pruned, failed not retried, running."""
    from optuna.trial import TrialState

    trials = study.get_trials(deepcopy=False)
    retried = {t.user_attrs.get("retry_of") for t in trials}
    return {
        "done": sum(t.state == TrialState.COMPLETE for t in trials),
        "pruned": sum(t.state == TrialState.PRUNED for t in trials),
        "failed": sum(t.state == TrialState.FAIL and t.number not in retried for t in trials),
        "running": sum(t.state == TrialState.RUNNING for t in trials),
    }


def work(spec, url: str, runner: Callable[..., Path], log: Callable[[str], None],
         worker: int = 0, deadline: float | None = None) -> None:
    """One worker: run trials of the shared study until `trials` are finished or time is up."""
    import optuna

    study = open_study(spec, url, worker)
    folder = _sweep_folder(spec.name)
    search, fixed = spec.search, spec.fixed_typed
    limit = search.get("trials")
    pruner = search.get("pruner", DEFAULT_PRUNER)

    def stop_when_enough(study, _trial) -> None:
        # Trials other workers are running count as finishing: starting one more would overshoot
        # `trials` (this worker's own trial is no longer running when Optuna calls this). If one
        # of them fails, its own worker runs the replacement.
        counts = _count(study)
        if limit and (counts["done"] + counts["pruned"] + counts["running"] >= limit
                      or counts["failed"] >= limit):
            study.stop()  # every worker sees the same counts in storage

    def objective(trial) -> float:
        params = {**fixed, **{k: suggest(trial, k, d, spec.defaults.get(k))
                              for k, d in search["space"].items()}}
        label = _label(trial.number)
        trial.set_user_attr("pid", os.getpid())
        trial.set_user_attr("host", socket.gethostname())
        head = f"[worker {worker}] {label} {_settings(params, search['space'])}"

        def on_start(run_dir: Path) -> None:
            trial.set_user_attr("run_dir", str(run_dir))
            with _state(folder) as state:
                entry = state["trials"].setdefault(label, {"label": label, "params": params,
                                                           "attempts": []})
                entry.update(status="running", run_dir=str(run_dir), trial=trial.number,
                             error=None)
                entry["attempts"].append(str(run_dir))

        def finish(**fields) -> None:
            with _state(folder) as state:
                state["trials"].setdefault(label, {"label": label, "params": params,
                                                   "attempts": []}).update(**fields)

        log(f"{head}: running ...")
        started = time.monotonic()
        link = TrialLink(url, spec.name, trial.number, pruner,
                         float(search.get("prune_from", PRUNE_FROM)))
        try:
            with _environment(link.env()):
                run_dir = runner(params, name=f"{spec.name}-{label}", log=lambda _: None,
                                 on_start=on_start)
            marker = Run(run_dir).read(Run(run_dir).pruned_mark)
            if marker:
                trial.set_user_attr("pruned", marker)
                finish(status="pruned", run_dir=str(run_dir), error=marker["reason"])
                log(f"{head}: pruned after {time.monotonic() - started:.0f}s "
                    f"(saved ~{marker['seconds_saved']:.0f}s): {marker['reason']}")
                raise optuna.TrialPruned(marker["reason"])
            metric, value = _validation_score(run_dir)
        except optuna.TrialPruned:
            raise
        except Exception as e:  # the traceback is in the run folder; the search goes on
            last = (str(e).strip().splitlines() or [""])[-1]
            finish(status="failed", error=f"{type(e).__name__}: {last}"[:500])
            log(f"{head}: FAILED after {time.monotonic() - started:.0f}s: {type(e).__name__}: {last}")
            raise
        except BaseException:  # Ctrl-C: the trial fails (Optuna marks it), the search can resume
            finish(status="failed", error="interrupted")
            raise
        trial.set_user_attr("metric", metric)
        finish(status="done", run_dir=str(run_dir), value=value, metric=metric)
        log(f"{head}: done in {time.monotonic() - started:.0f}s, validation {metric} {value:.4f}")
        return value

    counts = _count(study)
    left = (limit - counts["done"] - counts["pruned"]) if limit else None
    if left is not None and left <= 0:
        return
    timeout = None if deadline is None else max(0.0, deadline - time.time())
    if timeout == 0.0:
        return
    study.optimize(objective, n_trials=left, timeout=timeout, catch=(Exception,),
                   callbacks=[stop_when_enough], gc_after_trial=False)


@contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    """Set environment variables for the duration of a trial (the kernel inherits them)."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _sweep_folder(name: str) -> Path:
    return runs_root() / "sweeps" / name


def worker_environments(workers: int, cpus: int | None = None, gpus: list[str] | None = None
                        ) -> list[dict[str, str]]:
    """Per-worker environment: its own GPU, or a share of the CPU threads so workers don't fight."""
    if gpus:
        return [{"CUDA_VISIBLE_DEVICES": gpus[i % len(gpus)]} for i in range(workers)]
    threads = str(max(1, (cpus or os.cpu_count() or 1) // workers))
    return [{"OMP_NUM_THREADS": threads, "MKL_NUM_THREADS": threads, "CUDA_VISIBLE_DEVICES": ""}
            for _ in range(workers)]


def visible_gpus() -> list[str]:
    """The GPUs this machine shows to new processes, as CUDA_VISIBLE_DEVICES entries."""
    shown = os.environ.get("CUDA_VISIBLE_DEVICES")
    if shown is not None:
        return [g for g in shown.split(",") if g.strip() and g.strip() != "-1"]
    import torch

    return [str(i) for i in range(torch.cuda.device_count())]


def run_search(spec, sweep_file: Path, log: Callable[[str], None] = print,
               runner: Callable[..., Path] | None = None, storage: str = "",
               workers: int = 1) -> dict:
    """Run (or resume, or join) an Optuna search; return the sweep state with the best trial."""
    folder = _sweep_folder(spec.name)
    url = storage_url(spec.search, folder, storage)
    study = open_study(spec, url)  # creates it, or loads it: a search resumes where it stopped
    queue_defaults(study, spec, log)  # before any worker starts: a new study only
    recover_stale(study, folder, log)
    with _state(folder) as state:
        state.update(name=spec.name, sweep_file=str(Path(sweep_file).resolve()),
                     spec=spec.raw, storage=url, engine="optuna")
    budget = float(spec.search.get("time_budget_minutes") or 0) * 60
    deadline = time.time() + budget if budget else None
    log(f"search {spec.name}: {spec.search.get('method', 'random')} sampler, "
        f"{spec.search.get('pruner', DEFAULT_PRUNER)} pruner, storage {url}, {workers} worker(s)")
    if workers > 1:
        _spawn_workers(sweep_file, url, workers, deadline, log)
    else:
        if runner is None:
            from hackkit.runs import run_pipeline as runner
        work(spec, url, runner, log, 0, deadline)
    return search_state(spec.name, study=open_study(spec, url, heartbeat=False), log=log)


def _spawn_workers(sweep_file: Path, url: str, workers: int, deadline: float | None,
                   log: Callable[[str], None]) -> None:
    """Start N worker processes on this machine on the same study and wait for them."""
    gpus = visible_gpus() if os.environ.get("CUDA_VISIBLE_DEVICES", "x") != "" else []
    envs = worker_environments(workers, gpus=gpus)
    procs = []
    for i, extra in enumerate(envs):
        command = [sys.executable, "-m", "hackkit", "sweep", str(sweep_file), "--storage", url,
                   "--worker", str(i)]
        if deadline:
            command += ["--deadline", str(deadline)]
        log(f"worker {i}: {' '.join(f'{k}={v}' for k, v in extra.items())}")
        procs.append(subprocess.Popen(command, env={**os.environ, **extra}))
    try:
        codes = [p.wait() for p in procs]
    except BaseException:
        for p in procs:  # Ctrl-C reaches them too; wait so none is left behind
            p.wait()
        raise
    if any(c not in (0, 1) for c in codes):
        log(f"worker exit codes {codes}: a worker stopped abnormally; run the sweep again to resume")


def search_state(name: str, study=None, log: Callable[[str], None] | None = None) -> dict:
    """Summarise the study into state.json: counts, the best trial's run, seconds saved by pruning."""
    from optuna.trial import TrialState

    folder = _sweep_folder(name)
    study = study or load_search(name)
    counts = _count(study)
    trials = study.get_trials(deepcopy=False)
    saved = sum(t.user_attrs.get("pruned", {}).get("seconds_saved", 0) for t in trials
                if t.state == TrialState.PRUNED)
    best = None
    if counts["done"]:
        b = study.best_trial  # the best finished trial, never simply the last one
        best = {"label": _label(b.number), "trial": b.number, "value": b.value,
                "metric": b.user_attrs.get("metric", ""), "run_dir": b.user_attrs.get("run_dir"),
                "params": b.params}
    with _state(folder) as state:
        limit = (state.get("spec", {}).get("search") or {}).get("trials")
        pending = max(0, limit - counts["done"] - counts["pruned"]) if limit else 0
        state["summary"] = {"done": counts["done"], "pruned": counts["pruned"],
                            "failed": counts["failed"], "pending": pending}
        state.update(best=best, seconds_saved_by_pruning=round(saved, 1))
        result = json.loads(json.dumps(state, default=str))
    if log:
        s = result["summary"]
        log(f"search {name}: {s['done']} done, {s['pruned']} pruned (~{saved:.0f}s saved), "
            f"{s['failed']} failed, {s['pending']} not run; state in {folder / STATE_FILE}")
        if best:
            log(f"best: {best['label']} validation {best['metric']} {best['value']:.4f} "
                f"{best['params']} -> {best['run_dir']}")
    return result


# ---- 05: looking at a search ----

def load_search(name: str = "", root: Path | None = None):
    """The Optuna study of sweep `name` (empty: the newest search under runs/sweeps/), or None."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    root = root or runs_root()
    states = sorted(root.glob(f"sweeps/{name or '*'}/{STATE_FILE}"), key=lambda p: p.stat().st_mtime)
    searches = [p for p in states if read_json(p).get("engine") == "optuna"]
    if not searches:
        if name and states:
            return None  # a grid or list sweep: nothing to show beyond the leaderboard
        if name:
            raise ValueError(f"sweep={name!r}: no search of that name under {root / 'sweeps'}; "
                             "run `python -m hackkit sweep FILE` with a `search:` section first.")
        return None
    state = read_json(searches[-1])
    return optuna.load_study(study_name=state["name"], storage=open_storage(state["storage"]))


def search_summary(study) -> str:
    """One paragraph: trials by state and the best trial's run."""
    if study is None:
        return "No Optuna search yet (a sweep file with `search: {method: tpe}` makes one)."
    counts = _count(study)
    text = (f"search {study.study_name}: {counts['done']} finished, {counts['pruned']} pruned, "
            f"{counts['failed']} failed, {counts['running']} running.")
    if counts["done"]:
        b = study.best_trial
        text += (f" Best: trial {b.number}, validation {b.user_attrs.get('metric', 'score')} "
                 f"{b.value:.4f}, {b.params}, run {b.user_attrs.get('run_dir')}")
    return text


def _figure_of(ax):
    """The matplotlib figure of what Optuna's plot returned (Axes or an array of them)."""
    import numpy as np

    first = ax.flat[0] if isinstance(ax, np.ndarray) else ax
    fig = first.get_figure()
    fig.set_size_inches(8, 3.5)
    fig.tight_layout()
    return fig


def _quiet():
    """Optuna's matplotlib plots are marked experimental; the warning says nothing to a user."""
    import warnings

    import optuna

    context = warnings.catch_warnings()
    context.__enter__()
    warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
    return context


def plot_search_history(study):
    """Validation score per trial and the best so far (Optuna's optimisation history)."""
    from hackkit.leaderboard import _message_figure

    if study is None or not _count(study)["done"]:
        return _message_figure("No finished trial yet: the optimisation history appears once "
                               "one trial of a search has finished.")
    from optuna.visualization.matplotlib import plot_optimization_history

    quiet = _quiet()
    try:
        return _figure_of(plot_optimization_history(study, target_name="validation score"))
    finally:
        quiet.__exit__(None, None, None)


def plot_search_importances(study):
    """How much each searched parameter explains the score (needs a few finished trials)."""
    from hackkit.leaderboard import _message_figure

    done = _count(study)["done"] if study is not None else 0
    if done < MIN_IMPORTANCE_TRIALS:
        return _message_figure(f"Parameter importances need at least {MIN_IMPORTANCE_TRIALS} "
                               f"finished trials; this search has {done}. Run more trials.")
    from optuna.visualization.matplotlib import plot_param_importances

    quiet = _quiet()
    try:
        return _figure_of(plot_param_importances(study))
    finally:
        quiet.__exit__(None, None, None)


def plot_search_curves(study):
    """Validation score after each evaluation, per trial: pruned trials are the short lines."""
    from hackkit.leaderboard import _message_figure

    if study is None or not any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        return _message_figure("No trial has reported a validation score yet.")
    from optuna.visualization.matplotlib import plot_intermediate_values

    quiet = _quiet()
    try:
        return _figure_of(plot_intermediate_values(study))
    finally:
        quiet.__exit__(None, None, None)


def pruned_trials(study):
    """A table of the pruned trials: their run, when and why they stopped, the time saved."""
    import pandas as pd
    from optuna.trial import TrialState

    if study is None:
        return "No Optuna search yet."
    rows = [{"trial": t.number, "run": Path(t.user_attrs.get("run_dir", "")).name,
             **{k: t.user_attrs.get("pruned", {}).get(k) for k in
                ("step", "value", "used_steps", "planned_steps", "seconds_saved", "reason")},
             **t.params}
            for t in study.get_trials(deepcopy=False, states=(TrialState.PRUNED,))]
    return pd.DataFrame(rows).set_index("trial") if rows else "No trial was pruned."
