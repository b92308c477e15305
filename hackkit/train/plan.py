"""Where training is planned: measure how fast this machine trains and evaluates on a few batches
of the real data, then size the steps so the learning-rate schedule ends with the time budget."""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from hackkit.base import TrainParts
from hackkit.device import resolve_device, resolve_precision
from hackkit.models.resolve import resolve_for_task
from hackkit.params import TrainConfig, check_ranges
from hackkit.registry import get_task
from hackkit.train.distributed import check_processes, slowest

# Evaluation is a forward pass only, without the backward pass (~2x the forward), with no grads:
# at least 3x the training throughput per example. Used to reserve time for evaluations only when
# the evaluation speed was not measured; measured, it is usually higher (benchmarks/RESULTS.md,
# "Time budget plan").
EVAL_SPEEDUP = 3.0
# Under a budget, evaluations take at most this share of the usable time (fewer of them when each
# is expensive), down to one in the middle of the run and the final one ...
EVAL_SHARE = 0.25
MIN_EVALS_UNDER_BUDGET = 2
# Evaluations a run plans for at least (more when it runs more epochs: one per epoch); a task may
# ask for fewer (TrainParts.evaluations).
MIN_EVALS = 5
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
    max_epochs: float, eval_overhead_fraction: float = 0.1, min_evals: int = MIN_EVALS,
    warmup_ratio: float = 0.1, validation_examples: int = 0, safety_fraction: float = 0.05,
    eval_examples_per_second: float = 0.0, start_evaluation: bool = False,
) -> TrainPlan:
    """Size max_steps so warm-up + linear decay end when the budget ends (or at max_epochs).

    Evaluations are timed at `eval_examples_per_second` when it was measured, else at
    EVAL_SPEEDUP times the training speed. `start_evaluation`: one more evaluation before the first
    step (a warm start is scored first), paid from the same budget.
    """
    # Its own arguments, by their names: TrainConfig.validate has checked the parameters they
    # come from, so these only catch a direct caller's mistake.
    check_ranges([
        ("train_examples", train_examples, train_examples >= 1, "at least 1 training example"),
        ("batch_size", batch_size, batch_size >= 1, "a positive integer"),
        ("max_epochs", max_epochs, max_epochs > 0, "a positive number of epochs"),
        ("budget_minutes", budget_minutes, budget_minutes >= 0,
         "0 (no budget) or a positive number of minutes"),
        ("examples_per_second", examples_per_second, examples_per_second >= 0,
         "the measured throughput (measure_throughput), or 0 when unknown and there is no budget"),
        ("eval_overhead_fraction", eval_overhead_fraction, 0 <= eval_overhead_fraction < 0.9,
         "a share of the budget in [0, 0.9), e.g. 0.1"),
        ("safety_fraction", safety_fraction, 0 <= safety_fraction < 0.5, "e.g. 0.05"),
        ("min_evals", min_evals, min_evals >= 1, "a positive integer, e.g. 5"),
        ("warmup_ratio", warmup_ratio, 0 <= warmup_ratio < 1, "a ratio in [0, 1)"),
        ("validation_examples", validation_examples, validation_examples >= 0, "0 or more"),
        ("eval_examples_per_second", eval_examples_per_second, eval_examples_per_second >= 0,
         "the measured evaluation speed (measure_throughput(..., backward=False)), or 0"),
    ])
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
            # Two evaluations would crowd out training: evaluate once, at the end (the best of
            # it and a scored warm start is kept), rather than fall to the smallest plan. Without
            # this, 10% slower evaluations on Reuters took a 1-minute run from 62 steps to 15
            # (benchmarks/RESULTS.md, "Time budget plan").
            final_only = (1 + int(start_evaluation)) * eval_seconds_each
            train_seconds = usable - max(reserve, final_only)
            most_evals = 1
            if final_only > MAX_EVAL_SHARE * usable or train_seconds <= 0:
                train_seconds = 0.0  # even one evaluation would crowd out training
        budget_steps = math.floor(train_seconds * eps / batch_size)
        warning = ""
        if budget_steps < 1:
            step = batch_size / eps  # the smallest useful plan: min_evals steps, one evaluation
            minimum = max(min_evals * step / (1 - safety_fraction - eval_overhead_fraction),
                          (1 + int(start_evaluation)) * eval_seconds_each
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
                   seed: int = 0, grouped: bool = False, window: int = 0) -> list[dict]:
    """A few training batches drawn like the real sampler would: length-grouped if `grouped` (as
    transformers' LengthGroupedSampler, mega-batches of 50 batches), from `window` batches sorted
    by length if given (NearLengthSampler), else shuffled."""
    import numpy as np

    if len(dataset) == 0:
        raise ValueError("sample_batches: the training dataset is empty.")
    rng = np.random.default_rng(seed)  # own generator: leaves the global RNGs untouched
    window = window or (50 if grouped else 0)
    if window and "input_ids" in dataset[0]:  # images have no length to group by
        # A random mega-batch of `window` batches sorted by length, cut into batches
        pool = rng.permutation(len(dataset))[: window * batch_size]
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
                       warmup_batches: int = 1, dtype: Any = None, backward: bool = True,
                       max_seconds: float = 0.0) -> float:
    """Training examples/s (forward + backward, no weight update) over batches after a warm-up.

    A bare model is measured where it is, under autocast to `dtype` if given (e.g. torch.bfloat16).
    With backward=False: evaluation examples/s (eval mode, forward only, no gradients).
    With max_seconds, a slow model is measured on fewer batches: a warm-up batch that alone took
    that long ends the warm-up, and the timing stops once it has lasted that long (one batch at
    least).
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
        examples, start, measured = 0, 0.0, 0
        batch_start = time.perf_counter()
        for i, batch in enumerate(sample_batches):
            sync()
            now = time.perf_counter()
            if measured and max_seconds and now - start >= max_seconds:
                break  # enough of a slow model
            if i < warmup_batches and i and max_seconds and now - batch_start >= max_seconds:
                warmup_batches = i  # the last warm-up batch alone took that long: warm enough
            if i == warmup_batches:
                start = now
            batch_start = now
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
                measured += 1
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


# Batches measured before planning: two warm-up batches (a CPU's first passes run several times
# slower while kernels and memory are set up), then these many timed.
WARMUP_BATCHES = 2
# A model slower than this per batch is warmed up and timed on fewer batches (measure_throughput's
# max_seconds): SmolLM2's 16-pair LoRA steps took 8 s here, and six of them, with three
# evaluation batches, were 70 s of a 1-minute run's planning (benchmarks/RESULTS.md).
MEASURE_SECONDS = 4.0


MEASURED_BATCHES = 4


# Evaluation batches timed after the training ones (the model is warm by then): one more warm-up.
MEASURED_EVAL_BATCHES = 2


def eval_batch_size(config: TrainConfig) -> int:
    """Examples per evaluation batch (per process): forward passes only, so larger than training's."""
    return max(32, config.batch_size)


def measure_speed(parts: TrainParts, config: TrainConfig, device: str, precision: str,
                  batch_size: int = 0) -> tuple[float, float]:
    """Training and evaluation examples/s on this machine, from a few batches of the real data.

    Evaluation is timed on validation batches of its own size: a fixed ratio to the training
    speed (EVAL_SPEEDUP) had overestimated an evaluation on clinc150 so far that the plan left no
    time for training (benchmarks/RESULTS.md, "Time budget plan").
    """
    import torch

    batches = sample_batches(parts.train_ds, parts.collator, batch_size or config.batch_size,
                             count=WARMUP_BATCHES + MEASURED_BATCHES, seed=config.seed,
                             window=parts.length_window)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    model = parts.model.to(device)
    started = time.perf_counter()
    train = measure_throughput(model, batches, warmup_batches=WARMUP_BATCHES, dtype=dtype,
                               max_seconds=MEASURE_SECONDS)
    if len(parts.val_ds) == 0:
        return train, 0.0
    # A model that slow (a language model: seconds per batch) is warm after its training batches,
    # and one evaluation batch times it well enough; a fast one gets a warm-up batch and two.
    slow = time.perf_counter() - started >= 2 * MEASURE_SECONDS
    warmup, measured = (0, 1) if slow else (1, MEASURED_EVAL_BATCHES)
    evals = sample_batches(parts.val_ds, parts.collator, eval_batch_size(config),
                           count=warmup + measured, seed=config.seed)
    return train, measure_throughput(model, evals, warmup_batches=warmup, dtype=dtype,
                                     backward=False, max_seconds=MEASURE_SECONDS)


def plan_for(parts: TrainParts, config: TrainConfig, speed: tuple[float, float],
             processes: int = 1) -> TrainPlan:
    """Steps, warm-up and evaluation cadence that fit TIME_BUDGET_MINUTES, EPOCHS as a cap.

    `speed` is (training, evaluation) examples/s of the whole run, as measure_speed returns. A warm
    start is evaluated before the first step (finetune): that evaluation is planned for too,
    unless the task already knows its scores (TrainParts.start_scores).
    """
    train, evaluation = speed
    plan = plan_training(
        len(parts.train_ds), config.batch_size, examples_per_second=train,
        budget_minutes=config.time_budget_minutes, max_epochs=config.epochs,
        warmup_ratio=config.warmup, validation_examples=len(parts.val_ds),
        eval_examples_per_second=evaluation,
        start_evaluation=parts.warm_start and parts.start_scores is None,
        min_evals=parts.evaluations or MIN_EVALS,
    )
    return dataclasses.replace(plan, processes=processes)


def measured_plan(parts: TrainParts, config: TrainConfig, device: str, precision: str) -> TrainPlan:
    """Measure the speed and plan; with NPROC processes, one plan that every process shares.

    Every process measures its share of a batch at the same time (so CPU processes compete as
    they will while training); the slowest one's speed times NPROC is the run's speed, and the
    same inputs give every process the same max_steps.
    """
    _, world = check_processes(config)
    train, evaluation = measure_speed(parts, config, device, precision, config.batch_size // world)
    # Evaluation is shared out between the processes too.
    return plan_for(parts, config, (slowest(train) * world, slowest(evaluation) * world), world)


def estimate_plan(splits: dict, labels: list[str], config: TrainConfig) -> TrainPlan:
    """The plan 02 would follow on these splits, measured on a few batches: no training, no files."""
    config.validate()
    task = get_task(config.task)
    device = resolve_device(config.device)
    precision = resolve_precision(device, config.precision, task.cpu_precision)
    resolved = resolve_for_task(task, config.model)
    train_frame = task.subsample(splits["train"], config.max_train_examples, config.seed)
    parts = task.train_parts(train_frame, splits["validation"], labels, resolved.location,
                             config.max_length)
    return plan_for(parts, config, measure_speed(parts, config, device, precision))
