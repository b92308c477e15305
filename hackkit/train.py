"""Fine-tune a transformer (text or token classification) with transformers' Trainer, on CPU or GPU."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from sklearn.metrics import accuracy_score, f1_score
from transformers import TrainerCallback

from hackkit.data import load_splits, subsample
from hackkit.device import DEVICES, PRECISIONS, resolve_device, resolve_precision
from hackkit.models import TASKS, load_for_classification, load_tokenizer, resolve_model
from hackkit.paths import atomic_folder, read_json, write_json

DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


@dataclass
class TrainConfig:
    """Fine-tuning settings; each field matches an upper-case notebook parameter."""

    task: str = field(default=TASKS[0], metadata={"help": "text-classification or token-classification"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "hub id or local model folder"})
    epochs: float = field(default=3.0, metadata={"help": "passes over the training set"})
    learning_rate: float = field(default=2e-4, metadata={"help": "peak AdamW learning rate"})
    batch_size: int = field(default=8, metadata={"help": "examples per training step"})
    max_length: int = field(default=128, metadata={"help": "tokens kept per text"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup: float = field(default=0.1, metadata={"help": "warm-up share of all steps, in [0, 1)"})
    seed: int = field(default=42, metadata={"help": "seed for head init, shuffling, dropout"})
    time_budget_minutes: float = field(default=0.0, metadata={"help": "stop after N min; 0 = none"})
    patience: int = field(default=2, metadata={"help": "epochs without gain before stopping; 0=off"})
    max_train_examples: int = field(default=0, metadata={"help": "stratified subsample; 0 = all"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or mps"})
    precision: str = field(default="auto", metadata={"help": "auto, fp32, fp16 or bf16"})

    def validate(self) -> None:
        """Raise a ValueError naming the parameter for any out-of-range value."""
        checks = [
            ("TASK", self.task, self.task in TASKS, f"one of {TASKS}"),
            ("EPOCHS", self.epochs, self.epochs > 0, "a positive number, e.g. 3"),
            ("LEARNING_RATE", self.learning_rate, 0 < self.learning_rate < 1, "e.g. 5e-5 to 2e-4"),
            ("BATCH_SIZE", self.batch_size, self.batch_size >= 1, "a positive integer, e.g. 16"),
            ("MAX_LENGTH", self.max_length, 8 <= self.max_length <= 4096, "e.g. 128"),
            ("WEIGHT_DECAY", self.weight_decay, self.weight_decay >= 0, "0 or more, e.g. 0.01"),
            ("WARMUP", self.warmup, 0 <= self.warmup < 1, "a ratio in [0, 1), e.g. 0.1"),
            ("TIME_BUDGET_MINUTES", self.time_budget_minutes, self.time_budget_minutes >= 0,
             "0 (no limit) or a positive number of minutes"),
            ("PATIENCE", self.patience, self.patience >= 0, "0 (off) or a positive integer"),
            ("MAX_TRAIN_EXAMPLES", self.max_train_examples, self.max_train_examples >= 0,
             "0 (all) or a positive integer"),
            ("DEVICE", self.device, self.device in DEVICES, f"one of {DEVICES}"),
            ("PRECISION", self.precision, self.precision in PRECISIONS, f"one of {PRECISIONS}"),
        ]
        for name, value, ok, expected in checks:
            if not ok:
                raise ValueError(f"{name}={value!r} is out of range: use {expected}.")


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


def compute_metrics(eval_pred) -> dict[str, float]:
    """Accuracy and macro-F1 from logits, for Trainer's evaluation."""
    logits, labels = eval_pred
    preds = np.argmax(logits, axis=-1)
    return {
        "accuracy": float(accuracy_score(labels, preds)),
        "macro_f1": float(f1_score(labels, preds, average="macro")),
    }


def _tokenized(frame, tokenizer, labels: list[str], max_length: int):
    """A datasets.Dataset of token ids and label ids; padding is left to the collator."""
    from datasets import Dataset

    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted(set(frame["label"]) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the training labels {labels}")
    ds = Dataset.from_dict({"text": list(frame["text"]), "label": [index[x] for x in frame["label"]]})
    return ds.map(
        lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
        batched=True, remove_columns=["text"], desc="Tokenizing",
    )


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of an interrupted training in the run folder, if any."""
    complete = []
    for folder in (Path(run_dir) / "checkpoints").glob("checkpoint-*"):
        try:  # Trainer writes trainer_state.json last, so a readable one marks a whole checkpoint
            read_json(folder / "trainer_state.json")
        except (OSError, ValueError):
            continue
        complete.append((int(folder.name.rsplit("-", 1)[1]), folder))
    return max(complete)[1] if complete else None


def _check_resumable(run_dir: Path, config: TrainConfig) -> Path | None:
    """Return the checkpoint to resume from, after checking it was made with the same settings."""
    checkpoint = last_checkpoint(run_dir)
    saved = run_dir / "checkpoints" / "hackkit_config.json"
    if checkpoint is None or not saved.is_file():
        return None
    # The time budget may change between attempts; everything else shapes the result.
    before = {k: v for k, v in read_json(saved).items() if k != "time_budget_minutes"}
    now = {k: v for k, v in asdict(config).items() if k != "time_budget_minutes"}
    changed = sorted(k for k in now if before.get(k) != now[k])
    if changed:
        listed = ", ".join(f"{k.upper()} {before.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ValueError(
            f"{run_dir} holds an interrupted training ({checkpoint.name}) made with other "
            f"settings: {listed}. Use the same settings to resume it, or start a new run "
            f"(01_explore with RUN_DIR='') to train with the new ones."
        )
    return checkpoint


@dataclass
class TaskParts:
    """What differs between tasks in a Trainer set-up; `extra` goes into train_summary.json."""

    model: Any
    train_ds: Any
    val_ds: Any
    collator: Any
    compute_metrics: Callable
    metric: str
    extra: dict = field(default_factory=dict)


def _text_parts(train_frame, val_frame, tokenizer, labels: list[str], location: str,
                max_length: int) -> TaskParts:
    """Sequence-classification head, tokenized texts, dynamic padding, macro-F1."""
    from transformers import DataCollatorWithPadding

    return TaskParts(
        model=load_for_classification(location, labels),
        train_ds=_tokenized(train_frame, tokenizer, labels, max_length),
        val_ds=_tokenized(val_frame, tokenizer, labels, max_length),
        collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics,
        metric="macro_f1",
    )


def finetune(run_dir: str | Path, config: TrainConfig) -> dict:
    """Fine-tune on the run's splits and save model, tokenizer, labels and history into it."""
    from transformers import EarlyStoppingCallback, Trainer, TrainingArguments, set_seed

    run_dir = Path(run_dir)
    config.validate()
    device = resolve_device(config.device)
    precision = resolve_precision(device, config.precision)
    resolved = resolve_model(config.model)
    model_dir = run_dir / "model"
    if model_dir.exists():
        raise FileExistsError(
            f"{model_dir} already exists; refusing to overwrite a trained model. Start a new run "
            "with 01_explore (RUN_DIR='') or give RUN_DIR a run folder without a model."
        )
    resume = _check_resumable(run_dir, config)
    splits, labels = load_splits(run_dir)
    train_frame = subsample(splits["train"], config.max_train_examples, config.seed)

    set_seed(config.seed)  # before loading: the new classification head is randomly initialised
    tokenizer = load_tokenizer(resolved.location)  # resolved once above; a path loads as is
    if config.task == "token-classification":
        from hackkit.ner import token_parts as make_parts
    else:
        make_parts = _text_parts
    parts = make_parts(train_frame, splits["validation"], tokenizer, labels, resolved.location,
                       config.max_length)
    train_ds, val_ds = parts.train_ds, parts.val_ds
    steps_per_epoch = max(1, -(-len(train_ds) // config.batch_size))
    args = TrainingArguments(
        output_dir=str(run_dir / "checkpoints"),
        num_train_epochs=config.epochs,
        learning_rate=config.learning_rate,
        per_device_train_batch_size=config.batch_size,
        per_device_eval_batch_size=max(32, config.batch_size),
        weight_decay=config.weight_decay,
        warmup_steps=config.warmup,
        eval_strategy="epoch",
        save_strategy="epoch",
        save_total_limit=1,
        load_best_model_at_end=True,
        metric_for_best_model=parts.metric,
        greater_is_better=True,
        logging_strategy="steps",
        logging_steps=max(1, steps_per_epoch // 5),
        seed=config.seed,
        use_cpu=device == "cpu",
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        dataloader_pin_memory=device == "cuda",
        report_to="none",  # TensorBoard is added below with its folder inside the run
    )
    budget = TimeBudgetCallback(config.time_budget_minutes)
    callbacks: list[TrainerCallback] = [budget, tensorboard_callback(run_dir / "tensorboard")]
    if config.patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    trainer = Trainer(
        model=parts.model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        processing_class=tokenizer, data_collator=parts.collator,
        compute_metrics=parts.compute_metrics, callbacks=callbacks,
    )
    start_epoch = float(read_json(resume / "trainer_state.json").get("epoch") or 0) if resume else 0.0
    if resume:
        print(f"resuming the interrupted training from {resume} (epoch {start_epoch:g})")
    else:
        shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # incomplete leftovers only
        write_json(run_dir / "checkpoints" / "hackkit_config.json", asdict(config))
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.monotonic() - started

    with atomic_folder(model_dir) as tmp:  # a crash while saving leaves no half-written model/
        trainer.save_model(str(tmp))  # safetensors weights, config with id2label, tokenizer
        # Trainer also pickles its arguments; they are in train_summary.json: keep model/ pickle-free.
        (tmp / "training_args.bin").unlink(missing_ok=True)
        write_json(tmp / "labels.json", labels)
    state = trainer.state
    summary = {
        "task": config.task,
        "model": config.model,
        "model_source": resolved.source,
        "device": device,
        "precision": precision,
        "train_examples": len(train_ds),
        "validation_examples": len(val_ds),
        "epochs_completed": round(float(state.epoch or 0), 3),
        "steps": state.global_step,
        "train_seconds": round(seconds, 2),  # this attempt only, when resumed
        "train_examples_per_second": round(
            (float(state.epoch or 0) - start_epoch) * len(train_ds) / seconds, 2),
        "stopped_by_time_budget": budget.stopped,
        "resumed_from": resume.name if resume else None,
        f"best_validation_{parts.metric}": state.best_metric,
        "best_checkpoint": Path(state.best_model_checkpoint).name if state.best_model_checkpoint else None,
        **parts.extra,
        "config": asdict(config),
    }
    write_json(run_dir / "training_history.json", state.log_history)
    write_json(run_dir / "train_summary.json", summary)
    # The best weights are in model/ now; checkpoints hold optimizer state we no longer need.
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)
    return summary


def plot_learning_curve(history: list[dict]):
    """Plot training and validation loss, and validation F1 (macro or entity), against epochs."""
    import matplotlib.pyplot as plt

    train = [(h["epoch"], h["loss"]) for h in history if "loss" in h and "epoch" in h]
    evals = [h for h in history if "eval_loss" in h]
    fig, (ax_loss, ax_f1) = plt.subplots(1, 2, figsize=(10, 3.5))
    if train:
        ax_loss.plot(*zip(*train), label="training loss")
    if evals:
        ax_loss.plot([h["epoch"] for h in evals], [h["eval_loss"] for h in evals], "o-",
                     label="validation loss")
        f1 = "eval_macro_f1" if "eval_macro_f1" in evals[0] else "eval_entity_f1"
        ax_f1.plot([h["epoch"] for h in evals], [h[f1] for h in evals], "o-",
                   label="validation macro-F1" if f1 == "eval_macro_f1" else "validation entity F1")
        ax_f1.plot([h["epoch"] for h in evals], [h["eval_accuracy"] for h in evals], "s--",
                   label="validation accuracy")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_f1.set(xlabel="epoch", ylabel="score", title="Validation", ylim=(0, 1.02))
    for ax in (ax_loss, ax_f1):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
