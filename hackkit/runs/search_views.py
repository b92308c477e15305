"""05's views of an Optuna search: a summary, the optimisation history, parameter importances,
every trial's validation curve and the pruned trials."""

from __future__ import annotations

from pathlib import Path

from hackkit.figures import message_figure
from hackkit.runs.search import trial_counts

MIN_IMPORTANCE_TRIALS = 4  # parameter importances from fewer finished trials are noise



def search_summary(study) -> str:
    """One paragraph: trials by state and the best trial's run."""
    if study is None:
        return "No Optuna search yet (a sweep file with `search: {method: tpe}` makes one)."
    counts = trial_counts(study)
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
    if study is None or not trial_counts(study)["done"]:
        return message_figure("No finished trial yet: the optimisation history appears once "
                               "one trial of a search has finished.")
    from optuna.visualization.matplotlib import plot_optimization_history

    quiet = _quiet()
    try:
        return _figure_of(plot_optimization_history(study, target_name="validation score"))
    finally:
        quiet.__exit__(None, None, None)


def plot_search_importances(study):
    """How much each searched parameter explains the score (needs a few finished trials)."""
    done = trial_counts(study)["done"] if study is not None else 0
    if done < MIN_IMPORTANCE_TRIALS:
        return message_figure(f"Parameter importances need at least {MIN_IMPORTANCE_TRIALS} "
                               f"finished trials; this search has {done}. Run more trials.")
    from optuna.visualization.matplotlib import plot_param_importances

    quiet = _quiet()
    try:
        return _figure_of(plot_param_importances(study))
    finally:
        quiet.__exit__(None, None, None)


def plot_search_curves(study):
    """Validation score after each evaluation, per trial: pruned trials are the short lines."""
    if study is None or not any(t.intermediate_values for t in study.get_trials(deepcopy=False)):
        return message_figure("No trial has reported a validation score yet.")
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
