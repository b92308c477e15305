"""The one training session: every method that trains with transformers' Trainer (finetune, lora,
the distill command's student) goes through `train_session`.

The session checks the run, picks the device and precision, reads and subsamples the splits, asks
the task for the model, encoded splits, collator and metrics, starts the head from the probe
(HEAD_INIT), freezes the word-embedding table (FREEZE_EMBEDDINGS), measures the speed and plans the
steps for the time budget (hackkit.train.plan), sets up Trainer with the budget, progress,
TensorBoard, early-stopping and search-pruning callbacks, resumes an interrupted training, trains,
averages checkpoints (AVERAGE_CHECKPOINTS), keeps the warm start when nothing beat it, saves model/
all or nothing, writes the history and the summary, and removes the checkpoints. With NPROC > 1 it
starts the processes (hackkit.train.distributed) that come back here.

A method supplies only what differs, as a `SessionMethod`: how the model is wrapped, the trainer
class or its loss, extra columns, how the model is saved, what it adds to the summary. The shared
options it honours are the ones its registry line names (hackkit.registry.METHODS); the others are
refused before any work by TrainConfig.validate.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import numpy as np
import pandas as pd
from transformers import (
    EarlyStoppingCallback,
    Trainer,
    TrainerCallback,
    TrainingArguments,
    set_seed,
)
from transformers.trainer_pt_utils import LengthGroupedSampler, get_length_grouped_indices

from hackkit.base import Task, TrainParts
from hackkit.device import resolve_device, resolve_precision
from hackkit.models.resolve import resolve_for_task
from hackkit.params import TrainConfig
from hackkit.paths import atomic_folder, read_json, write_json
from hackkit.registry import get_method, get_task
from hackkit.runfolder import ModelInfo, Run, load_splits, portable_model_name, write_model_info
from hackkit.summary import TrainSummary
from hackkit.train.averaging import average_best_checkpoints
from hackkit.train.callbacks import (
    BudgetCallback,
    ProgressCallback,
    StartScores,
    tensorboard_callback,
)
from hackkit.train.distributed import (
    agree_to_stop_callback,
    backend_for,
    barrier,
    check_processes,
    is_main_process,
    launch_training,
    process_report,
    rank_and_world,
)
from hackkit.train.plan import TrainPlan, eval_batch_size, measured_plan
from hackkit.train.pruning import trial_callbacks


class SessionMethod:
    """What a Trainer-based method changes in the session. Every hook has plain fine-tuning's
    behaviour, so a method overrides only what differs."""

    name = "finetune"  # METHOD (or the command) recorded in model/ and the summary
    resumable = True  # goes on from the last checkpoint of an interrupted training

    @property
    def options(self) -> tuple[str, ...]:
        """02's parameters this method honours: its registry line's (hackkit.registry.METHODS)."""
        return get_method(self.name).options

    def check(self, run: Run, config: TrainConfig) -> None:
        """Refuse, before any work, what this method cannot train."""

    def prepare(self, parts: TrainParts, config: TrainConfig) -> TrainParts:
        """The parts Trainer gets, after the session built them and started the head."""
        return parts

    def trainer(self, **kwargs) -> Trainer:
        """The Trainer (or a subclass with the method's loss) for these arguments."""
        return Trainer(**kwargs)

    def arguments(self) -> dict:
        """TrainingArguments fields this method needs beyond the session's."""
        return {}

    def save(self, trainer: Trainer, folder: Path, run: Run) -> None:
        """Write the trained weights, config and processor into `folder` (model/ being written)."""
        trainer.save_model(str(folder))

    def model_name(self, config: TrainConfig, resolved) -> tuple[str, str]:
        """(what was trained, where it came from) for the summary."""
        return resolved.name, resolved.source

    def base_model(self, config: TrainConfig, resolved) -> str:
        """The pretrained model the saved one comes from (model/hackkit.json): a hub id or a
        packaged model's name, never a path of this machine."""
        return resolved.name

    def details(self, trainer: Trainer, parts: TrainParts) -> dict:
        """The method's own part of the training summary."""
        return {}


def train_session(run_dir: str | Path, config: TrainConfig, method: SessionMethod,
                  train_frame: pd.DataFrame | None = None) -> TrainSummary:
    """Train on the run's splits the method's way; save model/, the history and the summary.

    `train_frame` replaces the run's (subsampled) training split, e.g. with texts a teacher labelled.
    """
    run = Run(run_dir)
    honours = set(method.options)
    if "NPROC" in honours and config.nproc > 1 and rank_and_world()[1] == 1:
        check_run(run, config)  # fail here in seconds, not in every process
        method.check(run, config)
        return launch_training(run.path, config)  # NPROC processes that come back here
    _, world = check_processes(config)
    main = is_main_process()
    task = check_run(run, config)
    method.check(run, config)
    device = resolve_device(config.device)
    precision = resolve_precision(device, config.precision, task.cpu_precision)
    resolved = resolve_for_task(task, config.model)
    resume = check_resumable(run, config) if method.resumable else None
    barrier()  # every process has seen the checkpoints before rank 0 may clear them
    splits, labels = load_splits(run.path)
    if train_frame is None:
        train_frame = task.subsample(splits["train"], config.max_train_examples, config.seed)

    set_seed(config.seed)  # before loading: a new head is randomly initialised
    parts = task.train_parts(train_frame, splits["validation"], labels, resolved.location,
                             config.max_length)
    if "HEAD_INIT" in honours and config.head_init == "probe":
        if not main:
            barrier()  # rank 0 fills the run's embedding cache first; the others read it
        parts = task.warm_start(parts, train_frame, splits["validation"], labels,
                                resolved.location, config.max_length, run.embeddings, device,
                                config.seed)
        if main:
            barrier()
    name_portably(parts.model, portable_model_name(resolved.name))
    parts = method.prepare(parts, config)
    frozen = (freeze_word_embeddings(parts.model)
              if "FREEZE_EMBEDDINGS" in honours and config.freeze_embeddings else 0)
    averaging = config.average_checkpoints if "AVERAGE_CHECKPOINTS" in honours else 0
    if resume and run.checkpoint_plan.is_file():  # the schedule the checkpoint was made on
        plan = TrainPlan(**read_json(run.checkpoint_plan))
        plan = dataclasses.replace(plan, budget_minutes=float(config.time_budget_minutes))
    else:
        plan = measured_plan(parts, config, device, precision)
    if main:
        print(plan.describe(), flush=True)

    # A warm start already predicts: it is scored before the first step (by the task's own known
    # scores when it has them), and its weights are kept to fall back on if no checkpoint beats it.
    # A resumed attempt keeps them too: its warm start was rebuilt the same way above, and the
    # step-0 scores are in the checkpoint's history, so it falls back exactly as an unbroken run.
    start_eval = parts.warm_start and resume is None
    known_start = start_eval and parts.start_scores is not None
    budget, *others = callbacks(run, config, plan, task)
    if known_start:
        others.insert(0, StartScores(parts.start_scores))
    initial = ({k: v.detach().to("cpu", copy=True) for k, v in parts.model.state_dict().items()}
               if parts.warm_start else None)
    args = training_arguments(run, config, task, plan, device, precision, averaging, {
        **parts.training_args, **method.arguments(),
        "eval_on_start": start_eval and not known_start})
    trainer = method.trainer(
        model=parts.model, args=args, train_dataset=parts.train_ds,
        eval_dataset=length_sorted(parts.val_ds), processing_class=parts.processor,
        data_collator=parts.collator, compute_metrics=parts.compute_metrics,
        preprocess_logits_for_metrics=parts.preprocess_logits,
        callbacks=[budget, *others])
    if parts.length_window:
        draw_near_length_batches(trainer, parts.length_window)
    start_epoch = float(read_json(resume / "trainer_state.json").get("epoch") or 0) if resume else 0.0
    if resume and main:
        print(f"resuming the interrupted training from {resume} (epoch {start_epoch:g})")
    elif main:
        shutil.rmtree(run.checkpoints, ignore_errors=True)  # incomplete leftovers only
        write_json(run.checkpoint_config, asdict(config))
        write_json(run.checkpoint_plan, plan.to_dict())
    barrier()
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.monotonic() - started
    # Every process evaluates the averages (evaluation is shared out between them).
    metric = task.checkpoint_metric()  # what validation measures; main_metric unless it needs more
    averaged = average_best_checkpoints(trainer, run.checkpoints, metric, averaging,
                                        config.average_mode)
    processes = process_report(device)  # None in a single process
    if not main:  # rank 0 writes the model and the summary
        barrier()
        return TrainSummary(task=task.name, main_metric=metric, method=method.name)
    kept_start = keep_start_if_better(trainer, initial, metric)
    name, source = method.model_name(config, resolved)
    tuned = {}
    if task.tunes_on_validation:  # e.g. decision thresholds, fitted on the kept model's outputs
        output = trainer.predict(length_sorted(parts.val_ds))
        tuned = task.tune(output.predictions, output.label_ids, labels)
    save_model(trainer, run, method, ModelInfo(task=task.name, labels=labels,
                                               max_length=config.max_length, method=method.name,
                                               base_model=method.base_model(config, resolved),
                                               tuned=tuned))
    # Never below the task's own baseline: model/ predicts as whichever of the model, the baseline
    # or a mix of the two scores best on validation (one process: rank 0 alone cannot predict under DDP).
    final = task.keep_the_better(run.model_dir,
                                 lambda: task.probabilities(trainer.predict(parts.val_ds).predictions),
                                 splits, labels, config.seed) if (
        plan.processes == 1 and "BASELINE_BLEND" in honours and config.baseline_blend) else {}
    if final:
        print(final_model_line(final), flush=True)
    state = trainer.state
    epochs = float(state.epoch or 0)
    summary = TrainSummary(
        task=task.name, method=method.name, main_metric=metric, model=name,
        model_source=source, device=device, precision=precision,
        train_examples=len(parts.train_ds), validation_examples=len(parts.val_ds),
        best_validation=state.best_metric, steps=state.global_step,
        epochs_completed=round(epochs, 3), train_seconds=round(seconds, 2),
        train_examples_per_second=round((epochs - start_epoch) * len(parts.train_ds) / seconds, 2),
        available_train_examples=len(splits["train"]),
        stopped_by_time_budget=budget.stopped_by_budget,
        resumed_from=resume.name if resume else None,
        best_checkpoint=(Path(state.best_model_checkpoint).name if state.best_model_checkpoint
                         else None),
        plan=plan.to_dict(), budget=budget.result(), processes=world, distributed=processes,
        config={**config.read_by(method.options), "method": method.name},
        details={"kept_warm_start": kept_start, "checkpoint_averaging": averaged,
                 "frozen_word_embeddings": frozen,  # weights left as pretrained
                 "final_model": final,  # model, baseline or a mix: what model/ predicts with
                 **method.details(trainer, parts), **parts.extra})
    write_json(run.history, state.log_history)
    summary.write(run.train_summary)
    # The best weights are in model/ now; checkpoints hold optimizer state no longer needed.
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    barrier()
    return summary


def final_model_line(final: dict) -> str:
    """What model/ predicts with, said in one line after training."""
    if final.get("said"):
        return f"final model: {final['said']}."
    scores = (f"validation {final['metric']}: model alone {final['model_alone']:.4f}, baseline alone "
              f"{final['baseline_alone']:.4f}")
    if final["kind"] == "model":
        return f"final model: the trained model ({scores})."
    if final["kind"] == "baseline":
        return f"final model: the baseline alone, which beat every mix with the model ({scores})."
    return (f"final model: {final['model_share']:.0%} the trained model + "
            f"{1 - final['model_share']:.0%} the baseline's probabilities, "
            f"{final['validation']:.4f} ({scores}); saved in model/ (baseline_blend.*).")


def training_arguments(run: Run, config: TrainConfig, task: Task, plan: TrainPlan, device: str,
                       precision: str, averaging: int = 0, extra: dict | None = None
                       ) -> TrainingArguments:
    """Trainer's arguments from the plan: its steps and cadence, best checkpoint by the main
    metric; `averaging` checkpoints are kept for AVERAGE_CHECKPOINTS, otherwise only the best."""
    settings = dict(
        output_dir=str(run.checkpoints),
        learning_rate=config.learning_rate,
        per_device_eval_batch_size=eval_batch_size(config),
        weight_decay=config.weight_decay,
        # Plain shuffled batches: length-grouped ones scored lower on the sample (RESULTS.md,
        # "Length-grouped batches"); the padding they save is small for short texts.
        train_sampling_strategy="random",
        save_total_limit=None if averaging > 1 else 1,
        load_best_model_at_end=True,
        metric_for_best_model=task.checkpoint_metric(),
        greater_is_better=True,
        seed=config.seed,
        use_cpu=device == "cpu",
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        dataloader_pin_memory=device == "cuda",
        report_to="none",  # TensorBoard is added by callbacks() with its folder inside the run
    )
    settings.update(plan.training_arguments())  # max_steps, warm-up, linear decay, eval/save cadence
    if plan.processes > 1:  # Trainer reads RANK / WORLD_SIZE from torchrun and wraps in DDP
        settings["ddp_backend"] = backend_for(device)
        # On (the transformers 5 default), Trainer multiplies the loss by the number of processes
        # for every model whose forward takes **kwargs, expecting it to divide by the tokens of all
        # processes; sequence classifiers take a plain mean, so their gradients came out NPROC
        # times too large (a logged loss of 2 x ln 4 on 4 classes, and a stuck run).
        # Off, each process's mean loss is averaged by DDP: the single-process gradient.
        settings["average_tokens_across_devices"] = False
    settings.update(extra or {})  # the task's and the method's own settings
    return TrainingArguments(**settings)


def callbacks(run: Run, config: TrainConfig, plan: TrainPlan, task: Task) -> list[TrainerCallback]:
    """Budget safety net (first), live progress, TensorBoard, early stopping (PATIENCE) and, in a
    search trial, the pruning reporter.

    With several processes, rank 0 alone keeps the time, writes progress and TensorBoard and
    reports to a search; the last callback makes every process follow its decisions.
    """
    def replanned(max_steps: int) -> None:  # a resumed attempt follows the corrected schedule
        write_json(run.checkpoint_plan, {**plan.to_dict(), "max_steps": max_steps})

    main = is_main_process()
    found: list[TrainerCallback] = [
        BudgetCallback(plan if main else dataclasses.replace(plan, budget_minutes=0.0),
                       on_replan=replanned),
    ]
    if main:
        found += [ProgressCallback(run.progress, budget_seconds=plan.budget_minutes * 60,
                                   metric=task.checkpoint_metric()),
                  tensorboard_callback(run.tensorboard)]
    if config.patience:  # counts evaluations without a better main metric
        found.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    if main:
        found += trial_callbacks(run)
    if plan.processes > 1:
        found.append(agree_to_stop_callback())
    return found


def save_model(trainer: Trainer, run: Run, method: SessionMethod, info: ModelInfo) -> Path:
    """Write model/ all or nothing: the method's weights, config and processor, and MODEL_INFO."""
    with atomic_folder(run.model_dir) as tmp:  # a crash while saving leaves no half-written model/
        method.save(trainer, tmp, run)
        # Trainer also pickles its arguments; they are in train_summary.json: keep model/ pickle-free.
        (tmp / "training_args.bin").unlink(missing_ok=True)
        write_model_info(tmp, info)
    return run.model_dir


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of an interrupted training in the run folder, if any."""
    complete = []
    for folder in Run(run_dir).checkpoints.glob("checkpoint-*"):
        try:  # Trainer writes trainer_state.json last, so a readable one marks a whole checkpoint
            read_json(folder / "trainer_state.json")
        except (OSError, ValueError):
            continue
        complete.append((int(folder.name.rsplit("-", 1)[1]), folder))
    return max(complete)[1] if complete else None


def check_resumable(run: Run, config: TrainConfig) -> Path | None:
    """Return the checkpoint to resume from, after checking it was made with the same settings."""
    checkpoint = last_checkpoint(run.path)
    if checkpoint is None or not run.checkpoint_config.is_file():
        return None
    # The time budget may change between attempts; everything else shapes the result.
    before = {k: v for k, v in read_json(run.checkpoint_config).items() if k != "time_budget_minutes"}
    now = {k: v for k, v in asdict(config).items() if k != "time_budget_minutes"}
    changed = sorted(k for k in now if before.get(k, now[k]) != now[k])
    if changed:
        listed = ", ".join(f"{k.upper()} {before.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ValueError(
            f"{run.path} holds an interrupted training ({checkpoint.name}) made with other "
            f"settings: {listed}. Use the same settings to resume it, or start a new run "
            f"(01_explore with RUN_DIR='') to train with the new ones."
        )
    return checkpoint


def check_run(run: Run, config: TrainConfig) -> Task:
    """Check, before any work, that the run can be trained with this config; return its task."""
    config.validate()
    if run.model_dir.exists():
        raise FileExistsError(
            f"{run.model_dir} already exists; refusing to overwrite a trained model. Start a new "
            "run with 01_explore (RUN_DIR='') or give RUN_DIR a run folder without a model."
        )
    written = run.task_name()
    if written != config.task:
        raise ValueError(
            f"TASK={config.task!r}, but {run.path} holds {written} data written by 01_explore. "
            f"Set TASK = {written!r} in 02_finetune (or re-run 01 with TASK = {config.task!r})."
        )
    return get_task(config.task)


def name_portably(model, name: str) -> None:
    """Make the model name where it came from as `name` (a hub id, or ""), not as the folder it was
    loaded from: files written from it, such as a LoRA adapter's config and card, record this."""
    model.name_or_path = name  # what peft's adapter_config.json records as its base model
    model.config.name_or_path = name  # the `_name_or_path` of a config and peft's model card


def freeze_word_embeddings(model) -> int:
    """Keep the model's input word-embedding table as pretrained; return its size (0: it has none).

    It is half of MiniLM's weights (30,522 x 384), and most rows belong to words the training data
    never uses, yet AdamW updates (and decays) every row at every step: frozen, a step runs
    faster, so the budget buys more steps (benchmarks/RESULTS.md, "Frozen word embeddings").
    Position embeddings and every layer still train.
    """
    try:
        table = model.get_input_embeddings()
    except (NotImplementedError, AttributeError):  # e.g. an image network
        return 0
    if table is None or getattr(table, "weight", None) is None:
        return 0
    table.weight.requires_grad_(False)
    return int(table.weight.numel())


class NearLengthSampler(LengthGroupedSampler):
    """transformers' length-grouped order with mega-batches of `window` batches instead of 50:
    each window of shuffled examples is sorted by length and cut into batches, windows follow in a
    random order. A run that ends inside its first 50 batches (a language model's minutes) sees
    examples of every length, not the longest of a mega-batch first, and pads little: on E2E pairs
    (40-136 tokens) windows of 8 pad 6% against 36% for shuffled batches."""

    def __init__(self, batch_size: int, lengths: list[int], window: int) -> None:
        super().__init__(batch_size, lengths=lengths)
        self.window = window

    def __iter__(self):
        return iter(get_length_grouped_indices(self.lengths, self.batch_size,
                                               mega_batch_mult=self.window,
                                               generator=self.generator))


def draw_near_length_batches(trainer: Trainer, window: int) -> None:
    """Let `trainer` draw its training batches with NearLengthSampler (TrainParts.length_window);
    plan.sample_batches times the same kind of batches."""
    dataset = trainer.train_dataset
    if len(dataset) == 0 or "input_ids" not in (getattr(dataset, "column_names", None) or []):
        return
    lengths = [len(ids) for ids in dataset["input_ids"]]
    batch = trainer.args.train_batch_size * trainer.args.gradient_accumulation_steps
    trainer._get_train_sampler = lambda train_dataset=None: NearLengthSampler(batch, lengths, window)


def length_sorted(dataset):
    """The evaluation set ordered by length (token ids), so each batch pads little; unchanged when
    its rows have no token ids (images). Trainer evaluates in order, and the scores do not depend
    on it: each row's predictions stay with its own labels."""
    if len(dataset) == 0 or "input_ids" not in (getattr(dataset, "column_names", None) or []):
        return dataset
    return dataset.select(np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable"))


def start_score(history: list[dict], metric: str) -> float | None:
    """The validation `metric` of the evaluation before the first step (eval_on_start), if any."""
    for entry in history:
        if entry.get("step") == 0 and f"eval_{metric}" in entry:
            return float(entry[f"eval_{metric}"])
    return None


def keep_start_if_better(trainer, initial: dict | None, metric: str) -> dict | None:
    """Put the warm start's weights back when it scored better on validation than every checkpoint."""
    if initial is None:
        return None
    start, best = start_score(trainer.state.log_history, metric), trainer.state.best_metric
    if start is None or best is None or start <= best:
        return {"kept": False, "start_validation": start, "best_validation": best}
    trainer.model.load_state_dict(initial)
    trainer.state.best_metric = start
    print(f"fine-tuning never beat its starting point on validation {metric} ({best:.4f} < "
          f"{start:.4f}): keeping the starting model (the frozen features + probe head). More steps "
          "(TIME_BUDGET_MINUTES) or a lower LEARNING_RATE may help.", flush=True)
    return {"kept": True, "start_validation": start, "best_validation": best}
