"""Sweeps: run the pipeline once per setting of a grid or a list, or an Optuna search; resumably."""

from __future__ import annotations

import hashlib
import json
import os
import re
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from hackkit.params import as_type_of, check_params, notebook_parameters, read_yaml
from hackkit.paths import process_alive, read_json, runs_root, write_json
from hackkit.runfolder import Run
from hackkit.runs.pipeline import preflight, run_pipeline
from hackkit.train.trial import DEFAULT_PRUNER, PRUNE_FROM, PRUNERS
from hackkit.runs.search import SAMPLERS
from hackkit.runs.search import space_checks
from hackkit.runs.search import run_search
from hackkit.runs.search import work

SECTIONS = {"name", "fixed", "grid", "settings", "search"}
SEARCH_KEYS = {"method", "pruner", "prune_from", "trials", "time_budget_minutes", "seed", "space",
               "storage", "start_from_defaults"}


@dataclass
class Trial:
    """One setting of a sweep: a label, the parameters it sets and a stable key from them."""

    label: str
    params: dict[str, Any]
    key: str = ""

    def __post_init__(self) -> None:
        text = json.dumps(self.params, sort_keys=True, default=str)
        self.key = hashlib.sha1(text.encode()).hexdigest()[:12]


@dataclass
class SweepSpec:
    """A parsed sweep file."""

    name: str
    path: Path
    fixed: dict[str, Any] = field(default_factory=dict)
    grid: dict[str, list] = field(default_factory=dict)
    settings: list[dict[str, Any]] = field(default_factory=list)
    search: dict[str, Any] = field(default_factory=dict)
    raw: dict[str, Any] = field(default_factory=dict)  # the file as read
    defaults: dict[str, Any] = field(default_factory=dict)  # notebook defaults, for typing values

    @property
    def fixed_typed(self) -> dict[str, Any]:
        """The fixed parameters with the notebooks' types (YAML 1 -> 1.0 where a float is meant)."""
        return {k: as_type_of(v, self.defaults.get(k)) for k, v in self.fixed.items()}


def load_sweep(path: str | Path) -> SweepSpec:
    """Read and check the layout of a sweep YAML file (parameter values are checked later)."""
    path = Path(path)
    raw = read_yaml(path, "sweep file") or {}
    if not isinstance(raw, dict):
        raise ValueError(f"{path}: expected a mapping with fixed/grid/settings/search, "
                         f"got {type(raw).__name__}.")
    unknown = sorted(set(raw) - SECTIONS)
    if unknown:
        raise ValueError(f"{path}: unknown section(s) {unknown}; use {sorted(SECTIONS)}.")
    name = str(raw.get("name") or path.stem)
    if not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        raise ValueError(f"{path}: name={name!r}; use letters, digits, '.', '_' or '-' only.")
    spec = SweepSpec(name=name, path=path, fixed=raw.get("fixed") or {},
                     grid=raw.get("grid") or {}, settings=raw.get("settings") or [],
                     search=raw.get("search") or {}, raw=raw)
    for section, kind in (("fixed", dict), ("grid", dict), ("settings", list), ("search", dict)):
        if not isinstance(getattr(spec, section), kind):
            raise ValueError(f"{path}: '{section}' must be a {kind.__name__}, "
                             f"got {type(getattr(spec, section)).__name__}.")
    for key, values in spec.grid.items():
        if not isinstance(values, list) or not values:
            raise ValueError(f"{path}: grid {key} must be a non-empty list, e.g. {key}: [1, 2].")
    for i, setting in enumerate(spec.settings):
        if not isinstance(setting, dict) or not setting.get("name"):
            raise ValueError(f"{path}: settings[{i}] must be a mapping with a 'name' and parameters.")
    if spec.search:
        _check_search(spec.search, path)
        if spec.grid or spec.settings:
            raise ValueError(f"{path}: a search replaces grid and settings; use one or the other.")
    elif not spec.grid and not spec.settings:
        raise ValueError(f"{path}: nothing to run; add a 'grid', a list of 'settings' or a 'search'.")
    return spec


def _check_search(search: dict, path: Path) -> None:
    """Check the search section: method, bounds and the space to draw from."""
    unknown = sorted(set(search) - SEARCH_KEYS)
    if unknown:
        raise ValueError(f"{path}: unknown search key(s) {unknown}; use {sorted(SEARCH_KEYS)}.")

    if search.get("method", "random") not in SAMPLERS:
        raise ValueError(f"{path}: search method={search['method']!r}; use one of {list(SAMPLERS)} "
                         "(or a 'grid' section for every combination).")
    if search.get("pruner", DEFAULT_PRUNER) not in PRUNERS:
        raise ValueError(f"{path}: search pruner={search['pruner']!r}; use one of {list(PRUNERS)}.")
    if "storage" in search and not isinstance(search["storage"], str):
        raise ValueError(f"{path}: search storage={search['storage']!r}; use a database URL such as "
                         "postgresql://user:pw@host/db, or leave it out for a local file.")
    trials, budget = search.get("trials"), search.get("time_budget_minutes")
    if trials is None and budget is None:
        raise ValueError(f"{path}: a search needs 'trials' and/or 'time_budget_minutes' to end.")
    if trials is not None and (not isinstance(trials, int) or trials < 1):
        raise ValueError(f"{path}: search trials={trials!r}; use a positive integer.")
    if budget is not None and (not isinstance(budget, (int, float)) or budget <= 0):
        raise ValueError(f"{path}: search time_budget_minutes={budget!r}; use a positive number.")
    prune_from = search.get("prune_from", PRUNE_FROM)
    if isinstance(prune_from, bool) or not isinstance(prune_from, (int, float)) \
            or not 0 <= prune_from < 1:
        raise ValueError(f"{path}: search prune_from={prune_from!r}; use the share of a trial's "
                         f"training before which no trial is stopped, in [0, 1), e.g. {PRUNE_FROM}.")
    if not isinstance(search.get("start_from_defaults", True), bool):
        raise ValueError(f"{path}: search start_from_defaults={search['start_from_defaults']!r}; "
                         "use true (the first trial runs the notebooks' defaults) or false.")
    space = search.get("space")
    if not isinstance(space, dict) or not space:
        raise ValueError(f"{path}: search needs a 'space', e.g. LEARNING_RATE: {{low: 1.0e-5, "
                         "high: 3.0e-4, log: true}} or BATCH_SIZE: [8, 16].")
    for key, dist in space.items():
        ok = (isinstance(dist, list) and dist) or (isinstance(dist, dict) and {"low", "high"} <= set(dist)
                                                   and set(dist) <= {"low", "high", "log"})
        if not ok:
            raise ValueError(f"{path}: search space {key}={dist!r}; use a list of choices or "
                             "{low: ..., high: ..., log: true|false}.")


def sweep_settings(spec: SweepSpec, defaults: dict[str, Any]) -> list[Trial]:
    """Every setting the sweep runs, in order: named settings, then the grid (or a search's space ends)."""
    def typed(params: dict) -> dict:
        return {k: as_type_of(v, defaults.get(k)) for k, v in params.items()}

    fixed = typed(spec.fixed)
    trials = [Trial(str(s["name"]), {**fixed, **typed({k: v for k, v in s.items() if k != "name"})})
              for s in spec.settings]
    keys, values = list(spec.grid), list(spec.grid.values())
    if keys:
        combos = [[]]
        for options in values:
            combos = [c + [v] for c in combos for v in options]
        width = len(str(len(combos)))
        trials += [Trial(f"grid-{i:0{width}d}", {**fixed, **typed(dict(zip(keys, combo)))})
                   for i, combo in enumerate(combos, 1)]
    if spec.search:  # Optuna draws the trials; check the ends of the space instead

        trials += [Trial(label, params) for label, params in space_checks(spec.search, fixed, defaults)]
    seen: dict[str, str] = {}
    for t in trials:
        if t.key in seen and not spec.search:  # a search's checks may coincide; they run once
            raise ValueError(f"{spec.path}: settings {seen[t.key]!r} and {t.label!r} have the same "
                             f"parameters {t.params}; remove one.")
        seen.setdefault(t.key, t.label)
    return [t for t in trials if seen[t.key] == t.label]


def check_plan(trials: list[Trial], declared: dict[str, dict[str, Any]]) -> None:
    """Check every setting's names, types and data/model/training values before the first run."""
    checked: set[str] = set()
    for t in trials:
        try:
            merged = check_params(t.params, declared)
            text = json.dumps(merged, sort_keys=True, default=str)
            if text not in checked:
                preflight(merged)
                checked.add(text)
        except (ValueError, FileNotFoundError) as e:
            raise type(e)(f"sweep setting {t.label!r}: {e}") from e


def sweep_dir(name: str, root: Path | None = None) -> Path:
    """The folder holding a sweep's state: runs/sweeps/<name>/."""
    return (root or runs_root()) / "sweeps" / name



def _lock(folder: Path) -> Path:
    """Claim the sweep for this process; refuse if another live process holds it."""
    lock = folder / "lock.json"
    for _ in range(3):
        try:
            fd = os.open(lock, os.O_CREAT | os.O_EXCL | os.O_WRONLY)  # atomic: one winner
        except FileExistsError:
            try:
                holder = read_json(lock)
            except (json.JSONDecodeError, FileNotFoundError):  # being written or just released
                time.sleep(0.2)
                continue
            if holder.get("host") == socket.gethostname() and holder.get("pid") != os.getpid() \
                    and process_alive(holder.get("pid", 0)):
                raise ValueError(f"sweep {folder.name!r} is already running (process "
                                 f"{holder['pid']}); wait for it, or stop it and run again. "
                                 f"Lock: {lock}") from None
            lock.unlink(missing_ok=True)  # left by a process that is gone
            continue
        with os.fdopen(fd, "w") as f:
            json.dump({"pid": os.getpid(), "host": socket.gethostname(),
                       "started": datetime.now().isoformat(timespec="seconds")}, f)
        return lock
    raise ValueError(f"could not claim {lock}; another process keeps taking it.")


def _mark_interrupted(entry: dict) -> None:
    """A run left 'running' by a process that is gone: record it as failed, keep its folder."""
    run_json = Run(entry["run_dir"]).record if entry.get("run_dir") else None
    if run_json and run_json.is_file():
        record = read_json(run_json)
        if record.get("status") == "running":
            record.update(status="failed", error="interrupted: the process running it stopped")
            write_json(run_json, record)
    entry.update(status="failed", error="interrupted: the process running it stopped")


def checked_plan(path: str | Path) -> tuple[SweepSpec, list[Trial]]:
    """Read a sweep file and check every setting it expands to; nothing runs."""
    spec = load_sweep(path)
    declared = notebook_parameters()
    defaults = {k: v["default"] for nb in declared.values() for k, v in nb.items()}
    spec.defaults = defaults
    trials = sweep_settings(spec, defaults)
    check_plan(trials, declared)  # a typo in any setting fails now, not hours in
    return spec, trials


def run_sweep(
    path: str | Path, log: Callable[[str], None] = print, runner: Callable[..., Path] = run_pipeline,
    storage: str = "", workers: int = 1,
    clock: Callable[[], float] = time.time,  # counts a search's time budget (tests: a fake one)
) -> dict:
    """Run every setting of a sweep file not yet done, or its Optuna search; return its state."""
    if workers < 1:
        raise ValueError(f"--workers {workers}: use 1 or more worker processes.")
    spec, trials = checked_plan(path)
    if spec.search:
        return run_search(spec, Path(path), log=log, runner=runner, storage=storage, workers=workers,
                          clock=clock)
    if workers > 1 or storage:
        raise ValueError(f"{path}: --workers and --storage share an Optuna study between processes; "
                         "they need a 'search' section (method: tpe or random), not a grid.")
    folder = sweep_dir(spec.name)
    folder.mkdir(parents=True, exist_ok=True)
    lock = _lock(folder)
    state_file = folder / "state.json"
    state = read_json(state_file) if state_file.is_file() else {"name": spec.name, "trials": {}}
    state.update(sweep_file=str(spec.path.resolve()), spec=read_yaml(spec.path, "sweep file"))
    entries = state["trials"]
    for entry in entries.values():
        if entry["status"] == "running":  # we hold the lock, so its process is gone
            _mark_interrupted(entry)
    write_json(state_file, state)

    try:
        for i, t in enumerate(trials, 1):
            entry = entries.setdefault(t.key, {"label": t.label, "params": t.params, "status": "pending",
                                               "run_dir": None, "attempts": []})
            entry["label"] = t.label  # the file may have been reordered since
            head = f"[{i}/{len(trials)}] {t.label} {_short(t.params, spec.fixed)}"
            if entry["status"] == "done" and Run(entry["run_dir"]).record.is_file():
                log(f"{head}: done before, skipped ({entry['run_dir']})")
                continue  # a done run whose folder was deleted runs again
            _run_one(t, entry, spec.name, runner, log, head,
                     lambda: write_json(state_file, state))
    finally:
        state["updated"] = datetime.now().isoformat(timespec="seconds")
        write_json(state_file, state)
        lock.unlink(missing_ok=True)
    mine = [entries[t.key] for t in trials if t.key in entries]
    counts = {s: sum(e["status"] == s for e in mine) for s in ("done", "failed")}
    counts["pending"] = len(trials) - counts["done"] - counts["failed"]
    state["summary"] = counts
    write_json(state_file, state)
    log(f"sweep {spec.name}: {counts['done']} done, {counts['failed']} failed, "
        f"{counts['pending']} not run; state in {state_file}")
    return state


def _short(params: dict, fixed: dict) -> str:
    """The parameters a setting adds to the fixed ones, as NAME=value pairs."""
    return " ".join(f"{k}={v}" for k, v in params.items() if k not in fixed or fixed[k] != v)


def _run_one(t: Trial, entry: dict, sweep: str, runner: Callable[..., Path],
             log: Callable[[str], None], head: str, save: Callable[[], Any]) -> None:
    """Run one setting into a new run folder and record the outcome; a failure is recorded, not raised."""
    def on_start(run_dir: Path) -> None:
        entry.update(status="running", run_dir=str(run_dir), error=None)
        entry["attempts"].append(str(run_dir))
        save()

    started = time.monotonic()
    log(f"{head}: running ...")
    try:
        run_dir = runner(t.params, name=f"{sweep}-{t.label}", log=lambda _: None, on_start=on_start)
    except Exception as e:  # kept with its traceback in the run folder; the sweep goes on
        last = (str(e).strip().splitlines() or [""])[-1]  # the full traceback is in the run folder
        entry.update(status="failed", error=f"{type(e).__name__}: {last}"[:500])
        save()
        log(f"{head}: FAILED after {time.monotonic() - started:.0f}s: {entry['error']} "
            f"(traceback in {entry['run_dir']})")
        return
    except BaseException:  # Ctrl-C: the run is marked failed, the sweep stops and can be resumed
        entry.update(status="failed", error="interrupted")
        save()
        raise
    entry.update(status="done", run_dir=str(run_dir))
    save()
    scores = _scores(run_dir)
    log(f"{head}: done in {time.monotonic() - started:.0f}s{scores} ({run_dir})")


def _scores(run_dir: Path) -> str:
    """A few headline test metrics of a finished run, for the progress line."""
    metrics = Run(run_dir).read(Run(run_dir).metrics)
    if not metrics:
        return ""
    scores = metrics.get("model", {})
    shown = [f"{k} {v:.4f}" for k, v in scores.items() if isinstance(v, float)][:2]
    return ", " + ", ".join(shown) if shown else ""


def run_worker(path: str | Path, worker: int, storage: str, deadline: float | None = None,
               log: Callable[[str], None] = print) -> None:
    """One worker process of `sweep --workers N` (or one joining from another machine)."""
    spec = load_sweep(path)  # checked by the process that started the workers
    if not spec.search:
        raise ValueError(f"{path}: a worker needs a sweep file with a 'search' section.")
    spec.defaults = {k: v["default"] for nb in notebook_parameters().values() for k, v in nb.items()}
    work(spec, storage, run_pipeline, log, worker, deadline)
