"""Inside a search trial's training: the Trainer callback that reports the validation score to the
trial after each evaluation and stops the training when its pruner says so (the trial side is
hackkit.train.trial)."""

from __future__ import annotations

import math
import time

from transformers import TrainerCallback

from hackkit.paths import write_json
from hackkit.runfolder import Run
from hackkit.train.trial import TrialLink, prune_record


class OptunaPruningCallback(TrainerCallback):
    """After each evaluation, report the main metric to the trial; stop cleanly when pruned
    (the pruner is asked from the sweep file's `prune_from` share of the planned steps on,
    three quarters by default: PRUNE_FROM).

    Training stops through Trainer's own flag, so the best checkpoint is still loaded and saved,
    03 still evaluates, and the run folder gets a pruned marker with the reason and time saved.
    """

    def __init__(self, link: TrialLink, run: Run) -> None:
        self.link, self.run = link, run
        self.start, self.evaluations = 0.0, 0
        self.pruned: dict | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        metric = args.metric_for_best_model or "loss"
        key = metric if metric.startswith("eval_") else f"eval_{metric}"
        if not metrics or key not in metrics:
            raise KeyError(f"the evaluation returned no {key} to report to Optuna trial "
                           f"{self.link.number}; metrics: {sorted(metrics or {})}.")
        self.evaluations += 1  # the step pruners compare across trials: the n-th evaluation
        prune = self.link.report(metrics[key], self.evaluations,
                                 done=state.global_step / max(1, state.max_steps),
                                 left=evaluations_left(args, state))
        if prune and state.global_step < state.max_steps:  # pruning at the end saves nothing
            self.pruned = prune_record(self.link, key.removeprefix("eval_"), metrics[key],
                                       self.evaluations, state.max_steps, state.global_step,
                                       time.monotonic() - self.start)
            write_json(self.run.pruned_mark, self.pruned)
            print(f"pruned: {self.pruned['reason']}; stopping training "
                  f"(~{self.pruned['seconds_saved']:.0f}s saved)")
            control.should_training_stop = True
        return control


def evaluations_left(args, state) -> int:
    """Evaluations still planned after this one: one every eval_steps (a share of the steps when
    below 1, as in Trainer), the final one included."""
    every = args.eval_steps or 0
    if 0 < every < 1:
        every = math.ceil(every * state.max_steps)
    if every <= 0:  # no step cadence (e.g. per epoch): at least the final evaluation
        return int(state.global_step < state.max_steps)
    return math.ceil(max(0, state.max_steps - state.global_step) / every)


def trial_callbacks(run: Run) -> list[TrainerCallback]:
    """The pruning reporter when this training is a search trial (env set by the worker), else none."""
    link = TrialLink.from_env()
    return [OptunaPruningCallback(link, run)] if link else []
