"""The `finetune` method: every layer of a pretrained model trained with transformers' Trainer.

The task supplies the head, the encoded splits, the collator and the metrics; this module sets up
Trainer (time budget, early stopping on the task's main metric, best checkpoint, resume) and
saves a self-describing model/ folder.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

from transformers import TrainerCallback

from hackkit.base import Task, TrainParts
from hackkit.device import resolve_device, resolve_precision
from hackkit.models import resolve_model
from hackkit.params import TrainConfig
from hackkit.paths import atomic_folder, read_json, write_json
from hackkit.runfolder import ModelInfo, Run, load_splits, write_model_info


class TimeBudgetCallback(TrainerCallback):
    """Stop training cleanly once the time budget is spent, evaluating and saving first."""

    def __init__(self, minutes: float) -> None:
        self.seconds = minutes * 60
        self.start = 0.0
        self.stopped = False

    def on_train_begin(self, args, state, control, **kwargs):
        self.start = time.monotonic()

    def on_step_end(self, args, state, control, **kwargs):
        if self.seconds and time.monotonic() - self.start > self.seconds:
            self.stopped = True
            # Evaluate and save now so the best-checkpoint logic sees this last state.
            control.should_training_stop = True
            control.should_evaluate = True
            control.should_save = True
        return control

    def on_epoch_end(self, args, state, control, **kwargs):
        if self.stopped:  # already evaluated and saved at the stopping step
            control.should_evaluate = False
            control.should_save = False
        return control


def tensorboard_callback(log_dir: Path) -> TrainerCallback:
    """Trainer's TensorBoard logger writing into log_dir (transformers 5 has no logging_dir)."""
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    callback = TensorBoardCallback(SummaryWriter(log_dir=str(log_dir)))
    callback.logging_dir = str(log_dir)  # also where it reopens, never under checkpoints/
    return callback


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
    from hackkit.tasks import get_task

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


def training_arguments(run: Run, config: TrainConfig, task: Task, train_size: int,
                       device: str, precision: str):
    """Trainer's arguments: per-epoch evaluation, best checkpoint by the task's main metric."""
    from transformers import TrainingArguments

    steps_per_epoch = max(1, -(-train_size // config.batch_size))
    return TrainingArguments(
        output_dir=str(run.checkpoints),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(32, config.batch_size),
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup,  # a ratio in [0, 1) in transformers 5
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model=task.main_metric,
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=max(1, steps_per_epoch // 5),
        seed=config.seed,
        use_cpu=device == "cpu",
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        dataloader_pin_memory=device == "cuda",
        report_to="none",  # TensorBoard is added by callbacks() with its folder inside the run
    )


def callbacks(run: Run, config: TrainConfig) -> list[TrainerCallback]:
    """Time budget, TensorBoard and (with PATIENCE) early stopping."""
    from transformers import EarlyStoppingCallback

    found: list[TrainerCallback] = [TimeBudgetCallback(config.time_budget_minutes),
                                    tensorboard_callback(run.tensorboard)]
    if config.patience:
        found.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    from hackkit.pruning import trial_callbacks  # a search trial: report to Optuna, maybe prune

    return found + trial_callbacks(run)


def save_model(trainer, run: Run, config: TrainConfig, labels: list[str]) -> Path:
    """Write model/ all or nothing: safetensors, config, tokenizer and MODEL_INFO."""
    with atomic_folder(run.model_dir) as tmp:  # a crash while saving leaves no half-written model/
        trainer.save_model(str(tmp))  # safetensors weights, config with id2label, tokenizer
        # Trainer also pickles its arguments; they are in train_summary.json: keep model/ pickle-free.
        (tmp / "training_args.bin").unlink(missing_ok=True)
        write_model_info(tmp, ModelInfo(task=config.task, labels=labels,
                                        max_length=config.max_length, method=config.method,
                                        base_model=config.model))
    return run.model_dir


def finetune(run_dir: str | Path, config: TrainConfig) -> dict:
    """Fine-tune on the run's splits and save model/, the history and the summary into it."""
    from transformers import Trainer, set_seed

    run = Run(run_dir)
    task = check_run(run, config)
    device = resolve_device(config.device)
    precision = resolve_precision(device, config.precision)
    resolved = resolve_model(config.model)
    resume = check_resumable(run, config)
    splits, labels = load_splits(run.path)
    train_frame = task.subsample(splits["train"], config.max_train_examples, config.seed)

    set_seed(config.seed)  # before loading: the new head is randomly initialised
    parts: TrainParts = task.train_parts(train_frame, splits["validation"], labels,
                                         resolved.location, config.max_length)
    budget, *others = callbacks(run, config)
    trainer = Trainer(
        model=parts.model, args=training_arguments(run, config, task, len(parts.train_ds),
                                                   device, precision),
        train_dataset=parts.train_ds, eval_dataset=parts.val_ds, processing_class=parts.processor,
        data_collator=parts.collator, compute_metrics=parts.compute_metrics,
        callbacks=[budget, *others],
    )
    start_epoch = float(read_json(resume / "trainer_state.json").get("epoch") or 0) if resume else 0.0
    if resume:
        print(f"resuming the interrupted training from {resume} (epoch {start_epoch:g})")
    else:
        shutil.rmtree(run.checkpoints, ignore_errors=True)  # incomplete leftovers only
        write_json(run.checkpoint_config, asdict(config))
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.monotonic() - started
    save_model(trainer, run, config, labels)

    state = trainer.state
    summary = {
        "task": config.task,
        "method": config.method,
        "main_metric": task.main_metric,
        "model": config.model,
        "model_source": resolved.source,
        "device": device,
        "precision": precision,
        "train_examples": len(parts.train_ds),
        "validation_examples": len(parts.val_ds),
        "epochs_completed": round(float(state.epoch or 0), 3),
        "steps": state.global_step,
        "train_seconds": round(seconds, 2),  # this attempt only, when resumed
        "train_examples_per_second": round(
            (float(state.epoch or 0) - start_epoch) * len(parts.train_ds) / seconds, 2),
        "stopped_by_time_budget": budget.stopped,
        "resumed_from": resume.name if resume else None,
        f"best_validation_{task.main_metric}": state.best_metric,
        "best_checkpoint": Path(state.best_model_checkpoint).name if state.best_model_checkpoint else None,
        **parts.extra,
        "config": asdict(config),
    }
    write_json(run.history, state.log_history)
    write_json(run.train_summary, summary)
    # The best weights are in model/ now; checkpoints hold optimizer state we no longer need.
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    return summary


def plot_learning_curve(run_dir: str | Path):
    """Training and validation loss, and the validation main metric and accuracy, per epoch."""
    import matplotlib.pyplot as plt

    run = Run(run_dir)
    task = run.task()
    history = read_json(run.history)
    train = [(h["epoch"], h["loss"]) for h in history if "loss" in h and "epoch" in h]
    evals = [h for h in history if "eval_loss" in h]
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(10, 3.5))
    if train:
        ax_loss.plot(*zip(*train), label="training loss")
    if evals:
        ax_loss.plot([h["epoch"] for h in evals], [h["eval_loss"] for h in evals], "o-",
                     label="validation loss")
        for key, style in ((task.main_metric, "o-"), ("accuracy", "s--")):
            if f"eval_{key}" in evals[0] and (key == task.main_metric or key in task.metric_names):
                ax_score.plot([h["epoch"] for h in evals], [h[f"eval_{key}"] for h in evals],
                              style, label=f"validation {task.metric_names.get(key, key)}")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_score.set(xlabel="epoch", ylabel="score", title="Validation", ylim=(0, 1.02))
    for ax in (ax_loss, ax_score):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
