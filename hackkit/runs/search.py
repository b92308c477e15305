"""Hyper-parameter search on Optuna: a sampler and a pruner chosen in the sweep file, a study kept
in storage (a journal file by default, or any database URL), and workers that share it.

Every trial is an ordinary run folder made by the papermill pipeline. The kernel that trains it
learns which trial it is through environment variables (TrialLink) and reports its validation
score after each evaluation, so the pruner can stop a hopeless trial in the last quarter of its
training (`prune_from`; hackkit.train.trial and hackkit.train.pruning). A new study's first trial
runs the notebooks' defaults.
"""

from __future__ import annotations

import fcntl
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from hackkit.params import as_type_of
from hackkit.paths import process_alive, read_json, runs_root, write_json
from hackkit.runfolder import Run
from hackkit.train.trial import (DEFAULT_PRUNER, PRUNE_FROM, TrialLink, make_pruner,
                                    open_storage)
from hackkit.runs.pipeline import run_pipeline

SAMPLERS = ("tpe", "random")  # the sweep file's search `method`
JOURNAL_FILE = "study.journal"  # inside runs/sweeps/<name>/: the default, serverless storage
STATE_FILE = "state.json"  # inside runs/sweeps/<name>/: what the leaderboard and --dry-run read
STATE_LOCK = "state.lock"


def storage_url(search: dict, folder: Path, override: str = "") -> str:
    """--storage, else the sweep file's `storage`, else the journal file in the sweep's folder."""
    return override or str(search.get("storage") or "") or str(folder / JOURNAL_FILE)


def make_sampler(method: str, seed: int, trials: int | None):
    """TPE (Bayesian) or random sampling; TPE explores at random for its first few trials."""
    import optuna

    if method == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    # Optuna's default of 10 random trials first would leave a hackathon-sized search all random.
    startup = min(10, max(2, (trials or 40) // 4))
    return optuna.samplers.TPESampler(seed=seed, n_startup_trials=startup)


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
    summary = run.summary()
    if summary is None:
        raise FileNotFoundError(f"{run.train_summary} not found: the trial's 02 wrote no summary, "
                                "so it has no validation score to rank it by.")
    value = summary.best_validation
    if not isinstance(value, (int, float)):
        raise ValueError(f"{run.train_summary}: the best validation {summary.main_metric} is {value!r}; "
                         "the training never evaluated (check EPOCHS and TIME_BUDGET_MINUTES).")
    return summary.main_metric, float(value)


def trial_counts(study) -> dict[str, int]:
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
         worker: int = 0, deadline: float | None = None,
         clock: Callable[[], float] = time.time) -> None:
    """One worker: run trials of the shared study until `trials` are finished or `clock` reaches
    `deadline` (a trial that started in time runs to its end)."""
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
        counts = trial_counts(study)
        if limit and (counts["done"] + counts["pruned"] + counts["running"] >= limit
                      or counts["failed"] >= limit):
            study.stop()  # every worker sees the same counts in storage

    def stop_at_deadline(study, _trial) -> None:
        # Counted here in `clock` rather than by Optuna's timeout (which reads the wall clock
        # itself), so the budget is spent by the trials alone when a test gives a fake clock.
        if deadline is not None and clock() >= deadline:
            study.stop()

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

    counts = trial_counts(study)
    left = (limit - counts["done"] - counts["pruned"]) if limit else None
    if left is not None and left <= 0:
        return
    if deadline is not None and clock() >= deadline:
        return
    study.optimize(objective, n_trials=left, catch=(Exception,),
                   callbacks=[stop_when_enough, stop_at_deadline], gc_after_trial=False)


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
               workers: int = 1, clock: Callable[[], float] = time.time) -> dict:
    """Run (or resume, or join) an Optuna search; return the sweep state with the best trial.
    `clock` counts its time budget here; worker processes count in time.time."""
    folder = _sweep_folder(spec.name)
    url = storage_url(spec.search, folder, storage)
    study = open_study(spec, url)  # creates it, or loads it: a search resumes where it stopped
    queue_defaults(study, spec, log)  # before any worker starts: a new study only
    recover_stale(study, folder, log)
    with _state(folder) as state:
        state.update(name=spec.name, sweep_file=str(Path(sweep_file).resolve()),
                     spec=spec.raw, storage=url, engine="optuna")
    budget = float(spec.search.get("time_budget_minutes") or 0) * 60
    deadline = clock() + budget if budget else None
    log(f"search {spec.name}: {spec.search.get('method', 'random')} sampler, "
        f"{spec.search.get('pruner', DEFAULT_PRUNER)} pruner, storage {url}, {workers} worker(s)")
    if workers > 1:
        _spawn_workers(sweep_file, url, workers, deadline, log)
    else:
        work(spec, url, runner or run_pipeline, log, 0, deadline, clock)
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
    counts = trial_counts(study)
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
