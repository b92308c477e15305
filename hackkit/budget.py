"""Budget-first training: measure speed, plan steps so the LR schedule ends with the budget, explain."""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any


# Evaluation is a forward pass only, without the backward pass (~2x the forward), with no grads:
# at least 3x the training throughput per example. Used to reserve time for evaluations only when
# the evaluation speed was not measured: measured on clinc150 (2-core CPU), it was 5.7x.
EVAL_SPEEDUP = 3.0
# Fine-tuning a fresh classification head needs roughly this many optimizer steps per class before
# every class is learned (800 examples x 2 epochs / batch 8 = 200 steps for 77 classes gave 0.42
# accuracy; ~4,000 steps gave 0.92).
MIN_STEPS_PER_CLASS = 10
# Under a budget, evaluations take at most this share of the usable time (fewer of them when each
# is expensive), down to one in the middle of the run and the final one ...
EVAL_SHARE = 0.25
MIN_EVALS_UNDER_BUDGET = 2
# ... and if even those two would take more than this share, the budget is too short for the data.
MAX_EVAL_SHARE = 0.5


@dataclass
class TrainPlan:
    """How long to train: steps, schedule and evaluation cadence that fit the time budget."""

    train_examples: int
    batch_size: int
    steps_per_epoch: int
    max_steps: int
    expected_epochs: float
    warmup_steps: int
    eval_steps: int
    save_steps: int
    examples_per_second: float
    seconds_per_epoch: float
    budget_minutes: float
    planned_train_seconds: float
    planned_eval_seconds: float
    max_epochs: float
    capped_by: str  # "budget", "epochs", or "none" (no budget: MAX_EPOCHS alone decides)
    warning: str = ""  # set when the budget is too short for even the smallest useful plan
    processes: int = 1  # NPROC: each takes batch_size / processes examples of every step
    eval_examples_per_second: float = 0.0  # measured evaluation speed (0: EVAL_SPEEDUP x training)

    def describe(self) -> str:
        """One line: measured speed, minutes per epoch, epochs the budget allows, the schedule."""
        speed = (f"about {self.examples_per_second:.0f} examples/s here; one epoch ≈ "
                 f"{self.seconds_per_epoch / 60:.1f} min" if self.examples_per_second else
                 "speed not measured")
        split = (f" ({self.batch_size // self.processes} in each of {self.processes} processes)"
                 if self.processes > 1 else "")
        schedule = (f"{self.max_steps:,} steps of {self.batch_size}{split}, warm-up {self.warmup_steps}, "
                    f"linear decay to 0 at the last step, evaluation every {self.eval_steps} steps")
        if self.capped_by == "none":
            return f"{speed}; no time budget: {self.expected_epochs:.2f} epochs ({schedule})"
        limit = {"budget": f"the budget allows ≈ {self.expected_epochs:.2f} epochs "
                           f"(EPOCHS={self.max_epochs:g} would need more time)",
                 "epochs": f"the budget allows more, so EPOCHS={self.max_epochs:g} decides: "
                           f"{self.expected_epochs:.2f} epochs"}[self.capped_by]
        line = f"{speed}; {limit} in {self.budget_minutes:g} min ({schedule})"
        return f"{line}\nWARNING: {self.warning}" if self.warning else line

    def training_arguments(self) -> dict[str, Any]:
        """The TrainingArguments fields this plan sets (merge them into the other arguments)."""
        return {
            "max_steps": self.max_steps,  # overrides num_train_epochs
            "per_device_train_batch_size": self.batch_size // self.processes,  # DDP: per process
            "warmup_steps": self.warmup_steps,  # an int >= 1 counts steps; 0 means none
            "lr_scheduler_type": "linear",
            "eval_strategy": "steps",
            "eval_steps": self.eval_steps,
            "save_strategy": "steps",
            "save_steps": self.save_steps,  # a multiple of eval_steps, for load_best_model_at_end
            "logging_strategy": "steps",
            "logging_steps": max(1, self.eval_steps // 4),
        }

    def to_dict(self) -> dict[str, Any]:
        """Plain values, for train_summary.json."""
        return asdict(self)


def plan_training(
    train_examples: int, batch_size: int, examples_per_second: float, budget_minutes: float,
    max_epochs: float, eval_overhead_fraction: float = 0.1, min_evals: int = 5,
    warmup_ratio: float = 0.1, validation_examples: int = 0, safety_fraction: float = 0.05,
    eval_examples_per_second: float = 0.0, start_evaluation: bool = False,
) -> TrainPlan:
    """Size max_steps so warm-up + linear decay end when the budget ends (or at max_epochs).

    Evaluations are timed at `eval_examples_per_second` when it was measured, else at
    EVAL_SPEEDUP times the training speed. `start_evaluation`: one more evaluation before the first
    step (a warm start is scored first), paid from the same budget.
    """
    checks = [
        ("train_examples", train_examples, train_examples >= 1, "at least 1 training example"),
        ("BATCH_SIZE", batch_size, batch_size >= 1, "a positive integer, e.g. 32"),
        ("EPOCHS", max_epochs, max_epochs > 0, "a positive number of epochs, e.g. 4"),
        ("TIME_BUDGET_MINUTES", budget_minutes, budget_minutes >= 0,
         "0 (no budget) or a positive number of minutes"),
        ("examples_per_second", examples_per_second, examples_per_second >= 0,
         "the measured throughput (measure_throughput), or 0 when unknown and there is no budget"),
        ("eval_overhead_fraction", eval_overhead_fraction, 0 <= eval_overhead_fraction < 0.9,
         "a share of the budget in [0, 0.9), e.g. 0.1"),
        ("safety_fraction", safety_fraction, 0 <= safety_fraction < 0.5, "e.g. 0.05"),
        ("min_evals", min_evals, min_evals >= 1, "a positive integer, e.g. 5"),
        ("WARMUP", warmup_ratio, 0 <= warmup_ratio < 1, "a ratio in [0, 1), e.g. 0.1"),
        ("validation_examples", validation_examples, validation_examples >= 0, "0 or more"),
        ("eval_examples_per_second", eval_examples_per_second, eval_examples_per_second >= 0,
         "the measured evaluation speed (measure_throughput(..., backward=False)), or 0"),
    ]
    for name, value, ok, expected in checks:
        if not ok:
            raise ValueError(f"{name}={value!r} is out of range: use {expected}.")
    if budget_minutes > 0 and examples_per_second <= 0:
        raise ValueError(
            f"TIME_BUDGET_MINUTES={budget_minutes:g} needs the measured speed: pass "
            "examples_per_second from measure_throughput(...), or set TIME_BUDGET_MINUTES=0."
        )
    steps_per_epoch = math.ceil(train_examples / batch_size)
    epoch_steps = max(1, math.ceil(max_epochs * steps_per_epoch))
    eps = float(examples_per_second)
    eval_eps = float(eval_examples_per_second) or eps * EVAL_SPEEDUP
    eval_seconds_each = validation_examples / eval_eps if eval_eps else 0.0

    def cadence(steps: int, most: int | None = None) -> tuple[int, int]:
        """Evaluation interval and count: at least every epoch and min_evals times, at most `most`."""
        wanted = max(min_evals, math.ceil(steps / steps_per_epoch))
        if most is not None:  # expensive evaluations: fewer of them, never fewer training steps
            wanted = min(wanted, most)
        # Rounded, not floored: the count stays near `wanted` (a floor can double it for few steps,
        # and then reserving time for evaluations would eat the training steps).
        every = max(1, round(steps / wanted))
        if most is not None and wanted == most:  # a ceiling: never more than `most` evaluations
            every = max(1, math.ceil(steps / most))
        if most is None or wanted >= math.ceil(steps / steps_per_epoch):
            every = min(every, steps_per_epoch)
        return every, math.ceil(steps / every)  # Trainer also evaluates at the last step

    most_evals = None
    if budget_minutes <= 0:
        max_steps, capped_by = epoch_steps, "none"
    else:
        budget_seconds = budget_minutes * 60
        reserve = budget_seconds * eval_overhead_fraction
        usable = budget_seconds * (1 - safety_fraction)
        if eval_seconds_each > 0:
            # Evaluations get at most EVAL_SHARE of the usable time: when min_evals of them cost
            # more, evaluate less often (down to MIN_EVALS_UNDER_BUDGET: one mid-run + the final).
            most_evals = max(MIN_EVALS_UNDER_BUDGET,
                             math.floor(EVAL_SHARE * usable / eval_seconds_each))
        eval_cost = ((min(min_evals, most_evals) if most_evals else min_evals)
                     + int(start_evaluation)) * eval_seconds_each
        train_seconds = usable - max(reserve, eval_cost)
        if eval_cost > MAX_EVAL_SHARE * usable or train_seconds <= 0:
            train_seconds = 0.0  # even the fewest evaluations would crowd out training
        budget_steps = math.floor(train_seconds * eps / batch_size)
        warning = ""
        if budget_steps < 1:
            step = batch_size / eps  # the smallest useful plan: min_evals steps, and 2 evaluations
            minimum = max(min_evals * step / (1 - safety_fraction - eval_overhead_fraction),
                          (MIN_EVALS_UNDER_BUDGET + int(start_evaluation)) * eval_seconds_each
                          / MAX_EVAL_SHARE / (1 - safety_fraction)) / 60
            # Never leave a team stuck: train the smallest plan (min_evals steps, one final
            # evaluation), say loudly that the budget is too short, and let the safety net stop it.
            warning = (
                f"TIME_BUDGET_MINUTES={budget_minutes:g} is too short to train and evaluate at "
                f"{eps:.1f} examples/s with batches of {batch_size}: give at least "
                f"{max(minimum, 0.1):.1f} minutes, or 0 for no budget. Training only the "
                f"smallest plan now, so expect a weak model."
                + (f" Each evaluation of the {validation_examples} validation texts takes ≈ "
                   f"{eval_seconds_each:.0f} s: a smaller validation split leaves more time."
                   if eval_seconds_each > reserve / min_evals else "")
            )
            budget_steps = min_evals
            most_evals = 1
        max_steps = min(budget_steps, epoch_steps)
        capped_by = "budget" if budget_steps < epoch_steps else "epochs"
    eval_steps, n_evals = cadence(max_steps, most_evals)
    seconds_per_epoch = train_examples / eps if eps else 0.0
    return TrainPlan(
        train_examples=train_examples, batch_size=batch_size, steps_per_epoch=steps_per_epoch,
        max_steps=max_steps, expected_epochs=round(max_steps / steps_per_epoch, 3),
        warmup_steps=math.ceil(warmup_ratio * max_steps) if warmup_ratio else 0,
        eval_steps=eval_steps, save_steps=eval_steps, examples_per_second=round(eps, 2),
        seconds_per_epoch=round(seconds_per_epoch, 1), budget_minutes=float(budget_minutes),
        planned_train_seconds=round(max_steps * batch_size / eps, 1) if eps else 0.0,
        planned_eval_seconds=round((n_evals + int(start_evaluation)) * eval_seconds_each, 1),
        max_epochs=float(max_epochs), capped_by=capped_by,
        warning=warning if budget_minutes > 0 else "",
        eval_examples_per_second=round(float(eval_examples_per_second), 2),
    )


def sample_batches(dataset: Any, collator: Callable, batch_size: int, count: int = 4,
                   seed: int = 0, grouped: bool = False) -> list[dict]:
    """A few training batches drawn like the real sampler would (length-grouped if `grouped`)."""
    import numpy as np

    if len(dataset) == 0:
        raise ValueError("sample_batches: the training dataset is empty.")
    rng = np.random.default_rng(seed)  # own generator: leaves the global RNGs untouched
    grouped = grouped and "input_ids" in dataset[0]  # images have no length to group by
    if grouped:  # like transformers' LengthGroupedSampler: sort a random mega-batch of 50 batches
        pool = rng.permutation(len(dataset))[: 50 * batch_size]
        pool = sorted(pool, key=lambda i: len(dataset[int(i)]["input_ids"]), reverse=True)
        chunks = [pool[i:i + batch_size] for i in range(0, len(pool), batch_size)]
        picks = rng.choice(len(chunks), size=count, replace=count > len(chunks))
        chosen = [chunks[i] for i in picks]
    else:
        need = count * batch_size
        flat = rng.choice(len(dataset), size=need, replace=need > len(dataset))
        chosen = [flat[i:i + batch_size] for i in range(0, need, batch_size)]
    return [collator([dataset[int(i)] for i in chunk]) for chunk in chosen]


def measure_throughput(trainer_or_model: Any, sample_batches: Sequence[dict],
                       warmup_batches: int = 1, dtype: Any = None, backward: bool = True) -> float:
    """Training examples/s (forward + backward, no weight update) over batches after a warm-up.

    A bare model is measured where it is, under autocast to `dtype` if given (e.g. torch.bfloat16).
    With backward=False: evaluation examples/s (eval mode, forward only, no gradients).
    """
    import contextlib

    import torch

    if isinstance(trainer_or_model, torch.nn.Module):
        model = trainer_or_model
        device = next(model.parameters()).device
    else:  # a Trainer: its model, device and mixed precision
        model, args = trainer_or_model.model, trainer_or_model.args
        device = args.device
        dtype = torch.bfloat16 if args.bf16 else torch.float16 if args.fp16 else None
    if len(sample_batches) < warmup_batches + 1:
        raise ValueError(f"sample_batches: got {len(sample_batches)} batches; give at least "
                         f"{warmup_batches + 1} (one warm-up, then the measured ones).")
    params = list(model.parameters())
    old_grads = [p.grad for p in params]
    was_training = model.training
    cpu_rng = torch.get_rng_state()  # dropout draws random numbers: keep training reproducible
    cuda_rng = torch.cuda.get_rng_state_all() if device.type == "cuda" else None
    autocast = (torch.autocast(device_type=device.type, dtype=dtype) if dtype
                else contextlib.nullcontext())

    def sync() -> None:
        if device.type == "cuda":
            torch.cuda.synchronize(device)

    try:
        model.train(backward)
        for p in params:
            p.grad = None
        examples, start = 0, 0.0
        for i, batch in enumerate(sample_batches):
            if i == warmup_batches:
                sync()
                start = time.perf_counter()
            batch = {k: v.to(device) if hasattr(v, "to") else v for k, v in batch.items()}
            if "labels" not in batch:
                raise ValueError("sample_batches: each batch needs 'labels' (use the training "
                                 "collator, e.g. DataCollatorWithPadding on labelled data).")
            with autocast, torch.set_grad_enabled(backward):
                loss = model(**batch).loss
            if backward:
                loss.backward()
            for p in params:
                p.grad = None
            if i >= warmup_batches:
                examples += int(batch["labels"].shape[0])
        sync()
        seconds = time.perf_counter() - start
    finally:
        for p, g in zip(params, old_grads):
            p.grad = g
        model.train(was_training)
        torch.set_rng_state(cpu_rng)
        if cuda_rng is not None:
            torch.cuda.set_rng_state_all(cuda_rng)
    return examples / seconds


def _examples_done(plan: TrainPlan, steps: int) -> int:
    """Training examples processed after `steps` steps (the last batch of an epoch is smaller)."""
    full, rest = divmod(steps, plan.steps_per_epoch)
    return full * plan.train_examples + min(rest * plan.batch_size, plan.train_examples)


@functools.cache
def _budget_callback_class() -> type:
    """Define BudgetCallback on first use, so importing this module does not import transformers."""
    from transformers import TrainerCallback

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

    BudgetCallback.__qualname__ = "BudgetCallback"
    return BudgetCallback


def __getattr__(name: str) -> Any:
    """Module attribute hook: BudgetCallback is built on first access (PEP 562)."""
    if name == "BudgetCallback":
        return _budget_callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _losses(history: list[dict]) -> list[float]:
    """Training-loss values from Trainer's log history, in order."""
    return [float(h["loss"]) for h in history if "loss" in h]


def _evals(history: list[dict], metric: str) -> list[float]:
    """Validation values of `metric` (eval_<metric>) from Trainer's log history, in order."""
    key = metric if metric.startswith("eval_") else f"eval_{metric}"
    return [float(h[key]) for h in history if key in h]


def explain_result(
    scores: dict[str, float], baselines: dict[str, dict[str, float]], history: list[dict], *,
    num_classes: int, train_examples: int, steps: int, epochs_completed: float,
    learning_rate: float, stopped_by_budget: bool, metric: str = "accuracy",
    available_train_examples: int | None = None, batch_size: int | None = None,
    seconds_per_epoch: float | None = None, split: str = "test",
    warm_start: dict | None = None,
) -> dict[str, Any]:
    """A verdict: does the model beat the baselines, which problems explain it, and their fixes.

    `warm_start` (train_summary's kept_warm_start) says the head started as a fitted probe: it
    needs no steps to learn the classes, and its loss starts low.
    """
    if metric not in scores:
        raise ValueError(f"metric={metric!r} is not among the model's scores {sorted(scores)}.")
    score = float(scores[metric])
    rivals = {name: float(s[metric]) for name, s in baselines.items() if metric in s}
    best_name, best = max(rivals.items(), key=lambda kv: kv[1]) if rivals else (None, None)
    beats = best is None or score > best
    problems: list[dict[str, str]] = []
    minutes = f" (≈ {seconds_per_epoch / 60:.1f} min per epoch here)" if seconds_per_epoch else ""

    needed_steps = MIN_STEPS_PER_CLASS * num_classes
    if warm_start and warm_start.get("kept"):
        problems.append({
            "cause": f"fine-tuning never beat its starting point (the frozen embeddings + probe "
                     f"head) on validation: {warm_start['best_validation']:.4f} against "
                     f"{warm_start['start_validation']:.4f}, so the starting model was kept.",
            "fix": f"give it more steps (raise TIME_BUDGET_MINUTES{minutes}) or a lower "
                   f"LEARNING_RATE (e.g. {learning_rate / 2:g}).",
        })
    if steps < needed_steps and not warm_start:
        seen = steps * batch_size if batch_size else None
        problems.append({
            "cause": f"too few training steps for {num_classes} classes: {steps} steps"
                     + (f" ({seen / num_classes:.0f} examples seen per class)" if seen else "")
                     + f"; a new {num_classes}-class head needs about {needed_steps} or more.",
            "fix": f"train for {needed_steps}+ steps: use all data (MAX_TRAIN_EXAMPLES=0), more "
                   f"EPOCHS or a larger TIME_BUDGET_MINUTES{minutes}.",
        })
    if stopped_by_budget and epochs_completed < 1:
        need = f"{2 * seconds_per_epoch / 60:.0f}" if seconds_per_epoch else "more"
        problems.append({
            "cause": f"the time budget ran out inside the first epoch ({epochs_completed:.2f} "
                     f"epochs): {100 * epochs_completed:.0f}% of the training data was seen once.",
            "fix": f"give TIME_BUDGET_MINUTES={need} or more (two epochs){minutes}, or train on less "
                   "(MAX_TRAIN_EXAMPLES, a shorter MAX_LENGTH) or a smaller MODEL.",
        })
    losses = _losses(history)
    if len(losses) >= 4:
        k = max(1, len(losses) // 5)
        first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
        chance = math.log(num_classes) if num_classes > 1 else 0.0
        # A warm start begins near its best loss, and small batches make it noisy: only a loss
        # climbing towards chance level is a problem then.
        failing = (last > max(1.5 * first, 0.5 * chance) if warm_start else last > 0.9 * first)
        if not math.isfinite(last) or failing:
            if warm_start:
                hint = (f"LEARNING_RATE={learning_rate:g} is likely too high for a head that starts "
                        f"from the probe: try {learning_rate / 2:g}")
            else:
                hint = (f"LEARNING_RATE={learning_rate:g} is likely too high for full fine-tuning: "
                        f"try {min(learning_rate / 4, 5e-5):g}"
                        if learning_rate > 1e-4 or not math.isfinite(last)
                        else f"LEARNING_RATE={learning_rate:g} may be too low: try {learning_rate * 4:g}")
            problems.append({
                "cause": f"the training loss did not fall: {first:.3f} at the start, {last:.3f} at "
                         f"the end (predicting every class equally gives {chance:.3f}).",
                "fix": f"{hint}; check the labels match the texts.",
            })
    if available_train_examples and train_examples < available_train_examples:
        per_all = (f"; one epoch of all data ≈ "
                   f"{seconds_per_epoch * available_train_examples / train_examples / 60:.1f} min"
                   if seconds_per_epoch else "")
        problems.append({
            "cause": f"trained on {train_examples:,} of {available_train_examples:,} training "
                     f"examples (MAX_TRAIN_EXAMPLES={train_examples}).",
            "fix": f"set MAX_TRAIN_EXAMPLES=0 to use all of them{per_all}.",
        })
    evals = _evals(history, metric)
    if stopped_by_budget and len(evals) >= 2 and evals[-1] >= max(evals[:-1]) and evals[-1] > evals[-2]:
        more = f"about {seconds_per_epoch / 60:.1f} minutes more per epoch" if seconds_per_epoch \
            else "more minutes"
        problems.append({
            "cause": f"validation {metric} was still rising when the budget ran out "
                     f"({evals[-2]:.4f} -> {evals[-1]:.4f} at the last two evaluations).",
            "fix": f"more time would help: {more} (raise TIME_BUDGET_MINUTES).",
        })

    name = best_name if "baseline" in str(best_name).lower() else f"{best_name} baseline"
    against = f"the {name}, {best:.4f}" if best is not None else "no baseline"
    if best is None:
        head = f"The model reached {split} {metric} {score:.4f} (no baseline to compare)."
    elif beats:
        head = f"The model beats {against}: {split} {metric} {score:.4f} (+{score - best:.4f})."
    else:
        head = (f"The model does NOT beat the baseline: {split} {metric} {score:.4f} vs "
                f"{against} ({score - best:+.4f}).")
    if problems:
        listed = " ".join(f"({i}) {p['cause']} Fix: {p['fix']}" for i, p in enumerate(problems, 1))
        body = f" {'Likely causes' if not beats else 'Still worth fixing'}: {listed}"
    elif not beats:
        body = (" Training itself looks healthy (enough steps, loss falling, all data used): the "
                "baseline is strong on this data. Try another MODEL, a longer MAX_LENGTH, or keep "
                "the baseline.")
    else:
        body = " No training problems found."
    return {"beats_baseline": beats, "metric": metric, "score": score, "best_baseline": best_name,
            "baseline_score": best, "problems": problems, "message": head + body}
