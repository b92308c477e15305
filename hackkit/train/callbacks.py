"""The Trainer callbacks of the training session: the time budget's safety net and plan
correction, live progress for `hackkit run`, TensorBoard, and the step-0 scores of a warm start."""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from hackkit.progress import postfix
from hackkit.train.plan import TrainPlan


def tensorboard_callback(log_dir: Path) -> TrainerCallback:
    """Trainer's TensorBoard logger writing into log_dir (transformers 5 has no logging_dir)."""
    from torch.utils.tensorboard import SummaryWriter  # deferred: TensorBoard loads slowly
    from transformers.integrations import TensorBoardCallback

    callback = TensorBoardCallback(SummaryWriter(log_dir=str(log_dir)))
    callback.logging_dir = str(log_dir)  # also where it reopens, never under checkpoints/
    return callback


class StartScores(TrainerCallback):
    """Log known step-0 validation scores (eval_loss, eval_<metric>) as the evaluation Trainer's
    eval_on_start would have run: a warm start's own scores, without evaluating again."""

    def __init__(self, scores: dict) -> None:
        self.scores = scores

    def on_train_begin(self, args, state, control, **kwargs):
        state.log_history.append({**self.scores, "epoch": 0, "step": 0})


def _examples_done(plan: TrainPlan, steps: int) -> int:
    """Training examples processed after `steps` steps (the last batch of an epoch is smaller)."""
    full, rest = divmod(steps, plan.steps_per_epoch)
    return full * plan.train_examples + min(rest * plan.batch_size, plan.train_examples)


class BudgetCallback(TrainerCallback):
    """Safety net: if real time overruns the budget, stop cleanly (evaluate + save) and record it."""

    def __init__(self, plan: TrainPlan, clock: Callable[[], float] = time.monotonic,
                 safety_fraction: float = 0.05,
                 on_replan: Callable[[int], None] | None = None) -> None:
        self.plan = plan
        self.on_replan = on_replan  # told the corrected max_steps (a resume must follow it)
        self.clock = clock
        self.budget_seconds = plan.budget_minutes * 60
        self.safety_fraction = safety_fraction
        self.start = self._mark = 0.0
        self.start_step = 0
        self.steps = 0
        self.epochs = 0.0
        self.seconds = 0.0
        self.overhead_seconds = 0.0  # evaluation, checkpointing and logging after steps
        self.stopped_by_budget = False
        self.max_steps = plan.max_steps  # lowered (or raised) once the real speed is known
        self.calibration: dict[str, Any] | None = None
        self._first_step_at: float | None = None  # the first step also warms caches up: not timed
        self._overhead_at_first = 0.0
        self._evals = 0
        self._eval_seconds = 0.0
        self._step_capacity = plan.max_steps
        self._scheduler = None

    def _lr_factor(self, step: int) -> float:
        """Linear warm-up, then linear decay reaching 0 at the current max_steps."""
        warmup = self.plan.warmup_steps
        if step < warmup:
            return step / max(1, warmup)
        return max(0.0, (self.max_steps - step) / max(1, self.max_steps - warmup))

    def calibration_step(self) -> int:
        """The step at which the plan is corrected: after 5% of it (at least 5 steps), or
        before its last step when the plan is shorter (a pessimistic estimate can be raised)."""
        wanted = self.start_step + max(5, math.ceil(0.05 * self.plan.max_steps))
        return min(wanted, max(self.start_step + 2, self.plan.max_steps - 1))

    def _calibrate(self, state, now: float) -> None:
        """Re-plan max_steps from the real seconds per step so the schedule ends with the budget."""
        timed = state.global_step - self.start_step - 1
        step_seconds = (now - self._first_step_at - (self.overhead_seconds
                                                     - self._overhead_at_first)) / timed
        eval_each = (self._eval_seconds / self._evals if self._evals else
                     self.plan.planned_eval_seconds / max(1, math.ceil(
                         self.plan.max_steps / self.plan.eval_steps)))
        per_step = step_seconds + eval_each / self.plan.eval_steps  # evaluations included
        left = self.budget_seconds * (1 - self.safety_fraction) - (now - self.start)
        every, done = self.plan.eval_steps, state.global_step

        def cost(extra: int) -> float:
            """Seconds for `extra` more steps and the evaluations among them (the last step's
            one too: Trainer evaluates at the end), at the real speeds."""
            end = done + extra
            evals = end // every - done // every + (1 if end % every else 0)
            return extra * step_seconds + evals * eval_each

        extra = max(1, math.floor(left / per_step))  # evaluations spread over the steps ...
        while extra > 1 and cost(extra) > left:  # ... then counted: the final one must fit too
            extra -= 1
        wanted = done + extra
        epoch_cap = max(1, math.ceil(self.plan.max_epochs * self.plan.steps_per_epoch))
        new = max(state.global_step + 1, min(wanted, epoch_cap, self._step_capacity))
        self.calibration = {
            "at_step": state.global_step, "planned_steps": self.plan.max_steps,
            "steps": new, "real_examples_per_second": round(
                self.plan.batch_size / step_seconds, 2) if step_seconds > 0 else None,
            "planned_examples_per_second": self.plan.examples_per_second,
            "applied": abs(new - self.max_steps) > 0.1 * self.max_steps}
        if self.calibration["applied"]:  # within 10%: keep the plan
            self.max_steps = state.max_steps = new
            scheduler = self._scheduler
            if scheduler is not None:  # the next step's rate already follows the new schedule
                for group, base in zip(scheduler.optimizer.param_groups, scheduler.base_lrs):
                    group["lr"] = base * self._lr_factor(scheduler.last_epoch)
            if self.on_replan:
                self.on_replan(new)

    def on_train_begin(self, args, state, control, **kwargs):
        if state.max_steps != self.plan.max_steps:
            raise ValueError(
                f"TrainingArguments.max_steps={args.max_steps} gives {state.max_steps} steps but "
                f"the plan has {self.plan.max_steps}: pass **plan.training_arguments() to "
                "TrainingArguments so the LR schedule ends with the budget."
            )
        self.start = self._mark = self.clock()
        self.start_step = self.steps = state.global_step
        # Trainer's loop runs whole epochs up to the planned steps: the most a new plan can ask.
        per_epoch = self.plan.steps_per_epoch
        self._step_capacity = math.ceil(state.max_steps / per_epoch) * per_epoch
        scheduler = kwargs.get("lr_scheduler")
        if self.budget_seconds and hasattr(scheduler, "lr_lambdas"):
            # The linear schedule reads max_steps from here, so a corrected plan still decays
            # to 0 at its last step.
            scheduler.lr_lambdas = [self._lr_factor] * len(scheduler.lr_lambdas)
            self._scheduler = scheduler

    def on_step_end(self, args, state, control, **kwargs):
        now = self.clock()
        if self._first_step_at is None:
            self._first_step_at, self._overhead_at_first = now, self.overhead_seconds
        # One process only: every DDP process would have to change its schedule in step.
        elif (self.budget_seconds and self.calibration is None and self.plan.processes == 1
              and state.global_step >= self.calibration_step()
              and state.global_step < state.max_steps):
            self._calibrate(state, now)
        self._mark, self.steps = now, state.global_step
        if (self.budget_seconds and now - self.start > self.budget_seconds
                and state.global_step < state.max_steps):
            self.stopped_by_budget = True
            # Evaluate and save now so the best-checkpoint logic sees this last state.
            control.should_training_stop = True
            control.should_evaluate = True
            control.should_save = True
        return control

    def _overhead(self) -> None:
        now = self.clock()
        self.overhead_seconds += now - self._mark
        self._mark = now

    def on_evaluate(self, args, state, control, **kwargs):
        before = self.overhead_seconds
        self._overhead()
        self._evals += 1
        self._eval_seconds += self.overhead_seconds - before

    def on_save(self, args, state, control, **kwargs):
        self._overhead()

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.stopped_by_budget:  # already evaluated and saved at the stopping step
            control.should_evaluate = False
            control.should_save = False
        return control

    def on_train_end(self, args, state, control, **kwargs):
        self.steps, self.epochs = state.global_step, float(state.epoch or 0)
        self.seconds = self.clock() - self.start

    def result(self) -> dict[str, Any]:
        """Planned vs realised steps, whether the schedule completed, and the real speed."""
        examples = _examples_done(self.plan, self.steps) - _examples_done(self.plan, self.start_step)
        step_seconds = self.seconds - self.overhead_seconds
        return {
            "planned_steps": self.plan.max_steps,
            "steps": self.steps,
            "planned_epochs": self.plan.expected_epochs,
            "epochs": round(self.epochs, 3),
            "schedule_completed": self.steps >= self.max_steps,
            "replanned_steps": self.max_steps,
            "stopped_by_budget": self.stopped_by_budget,
            "seconds": round(self.seconds, 2),
            "eval_and_save_seconds": round(self.overhead_seconds, 2),
            "planned_examples_per_second": self.plan.examples_per_second,
            "train_examples_per_second": round(examples / step_seconds, 2) if step_seconds > 0 else None,
            "recalibrated": self.calibration,
        }


class ProgressCallback(TrainerCallback):
    """Append progress records (JSON Lines) to `path`; a tqdm.auto bar only if Trainer shows none."""

    def __init__(self, path: str | Path, notebook: str = "", budget_seconds: float = 0.0,
                 metric: str = "accuracy", min_interval: float = 1.0, bar: bool | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 wall: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.notebook = notebook
        self.budget_seconds = budget_seconds
        self.metric = metric
        self.min_interval = min_interval
        self.bar_wanted = bar
        self.clock, self.wall = clock, wall
        self.start = self.last_write = 0.0
        self.start_step = 0
        self.validation: dict[str, float] = {}
        self.bar = None

    def _write(self, event: str, args, state, **extra: Any) -> dict:
        now = self.clock()
        elapsed = now - self.start
        per_step = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
        done = state.global_step - self.start_step
        rate = done / elapsed if elapsed > 0 and done else 0.0
        record = {
            "event": event, "notebook": self.notebook, "time": round(self.wall(), 3),
            "step": state.global_step, "max_steps": state.max_steps,
            "epoch": round(float(state.epoch or 0), 3),
            "examples_per_second": round(rate * per_step, 2),
            "elapsed_seconds": round(elapsed, 1),
            "eta_seconds": round((state.max_steps - state.global_step) / rate, 1) if rate else None,
            "seconds_left": (round(max(0.0, self.budget_seconds - elapsed), 1)
                             if self.budget_seconds else None),
            "metric": self.metric,
            "validation": self.validation.get(self.metric),
            **extra,
        }
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # One write of one line per record: a reader sees whole lines or an unfinished tail.
        with self.path.open("a", encoding="utf-8") as f:
            f.write(json.dumps(record) + "\n")
        self.last_write = now
        return record

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = self.clock()
        self.start_step = state.global_step
        self._write("start", args, state)
        show = args.disable_tqdm if self.bar_wanted is None else self.bar_wanted
        if show:  # Trainer draws its own bar (console or notebook) unless disable_tqdm is set
            from tqdm.auto import tqdm

            self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="training",
                            unit="step", dynamic_ncols=True)

    def on_step_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.update(state.global_step - self.bar.n)
        if self.clock() - self.last_write >= self.min_interval:
            record = self._write("step", args, state)
            if self.bar is not None:
                self.bar.set_postfix_str(postfix(record), refresh=False)

    def on_evaluate(self, args, state, control, metrics=None, **kwargs):
        self.validation = {k.removeprefix("eval_"): float(v) for k, v in (metrics or {}).items()
                           if isinstance(v, (int, float))}
        self._write("evaluate", args, state, metrics=self.validation)

    def on_train_end(self, args, state, control, **kwargs):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        self._write("end", args, state)
