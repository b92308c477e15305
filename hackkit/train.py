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
from hackkit.paths import write_json

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
        report_to="none",
    )
    budget = TimeBudgetCallback(config.time_budget_minutes)
    callbacks: list[TrainerCallback] = [budget]
    if config.patience:
        callbacks.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    trainer = Trainer(
        model=parts.model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
        processing_class=tokenizer, data_collator=parts.collator,
        compute_metrics=parts.compute_metrics, callbacks=callbacks,
    )
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started

    trainer.save_model(str(model_dir))  # safetensors weights, config with id2label, tokenizer
    # Trainer also pickles its arguments there; they are in train_summary.json, so keep model/ pickle-free.
    (model_dir / "training_args.bin").unlink(missing_ok=True)
    write_json(model_dir / "labels.json", labels)
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
        "train_seconds": round(seconds, 2),
        "train_examples_per_second": round(float(state.epoch or 0) * len(train_ds) / seconds, 2),
        "stopped_by_time_budget": budget.stopped,
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
