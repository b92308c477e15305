"""What a running search trial needs, without any training library: the link to its Optuna trial
(set in the environment by the search worker, hackkit.runs.search), the storage, the pruners and the
record of a pruned trial. The pruning callback (hackkit.train.pruning) uses it inside training; the
search imports both, and training never imports the search.
"""

from __future__ import annotations

import os
import statistics
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PRUNERS = ("trend", "median", "hyperband", "none")
DEFAULT_PRUNER = "trend"
EVALUATIONS_LEFT = "evaluations_left"  # trial user attribute: the trend pruner's horizon
# What a trial's kernel needs to report to its trial (set by the worker, read here).
ENV_STORAGE, ENV_STUDY = "HACKKIT_OPTUNA_STORAGE", "HACKKIT_OPTUNA_STUDY"
ENV_TRIAL, ENV_PRUNER = "HACKKIT_OPTUNA_TRIAL", "HACKKIT_OPTUNA_PRUNER"
ENV_PRUNE_FROM = "HACKKIT_OPTUNA_PRUNE_FROM"
HEARTBEAT_SECONDS, GRACE_SECONDS = 60, 180  # database storage: a silent worker's trial fails after 3 min
# By default no trial is pruned before this share of its training (the sweep file's `prune_from`
# changes it): with warm-up and a learning rate decaying to zero, the order of short runs changes
# late, and pruning from half-way stopped the eventual best setting (benchmarks/RESULTS.md,
# "Search pruning").
PRUNE_FROM = 0.75


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
        the rate reaches zero (benchmarks/RESULTS.md, "Search pruning", shows one). Trials that
        do not say how many evaluations they have left are never stopped."""

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
