"""The few-labels methods (METHOD embeddings and zero-shot): frozen sentence embeddings with a
logistic-regression head, and label-name similarity. Neither trains with Trainer.

Both save model/ as hackkit.models.meanpool's model class (encoder + mean pooling + linear head), so
the one prediction path loads them like a fine-tuned model. METHOD auto chooses between them and
finetune (hackkit.train.methods).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.base import Task
from hackkit.device import resolve_device
from hackkit.models.embeddings import (
    ZERO_SHOT_TEMPERATURE,
    EmbeddingClassifier,
    cached_embeddings,
    embed,
    label_texts,
)
from hackkit.models.meanpool import build
from hackkit.models.resolve import resolve_model
from hackkit.params import TrainConfig, read_yaml
from hackkit.paths import atomic_folder, find_input, write_json
from hackkit.registry import get_method
from hackkit.runfolder import ModelInfo, Run, load_splits, write_model_info
from hackkit.summary import TrainSummary
from hackkit.train.session import check_run


def read_label_descriptions(path: str, labels: list[str]) -> dict[str, str]:
    """LABEL_DESCRIPTIONS: a CSV (label,description) or YAML ({label: one line}); {} when empty."""
    if not path:
        return {}
    file = find_input(path)
    if not file.is_file():
        raise FileNotFoundError(f"LABEL_DESCRIPTIONS={path!r}: {file} not found. Give a CSV with "
                                "columns label,description or a YAML file of label: description.")
    if file.suffix.lower() in (".yaml", ".yml"):
        found = read_yaml(file, "LABEL_DESCRIPTIONS file")
        if not isinstance(found, dict):
            raise ValueError(f"LABEL_DESCRIPTIONS={path!r}: expected a mapping label: description, "
                             f"got {type(found).__name__}.")
        pairs = {str(k): str(v) for k, v in found.items()}
    else:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        missing = [c for c in ("label", "description") if c not in frame.columns]
        if missing:
            raise ValueError(f"LABEL_DESCRIPTIONS={path!r}: no column {missing} in {file.name} "
                             f"(columns: {list(frame.columns)}); use the header label,description.")
        pairs = dict(zip(frame["label"], frame["description"]))
    unknown = sorted(set(pairs) - set(labels))
    if unknown:
        raise ValueError(f"LABEL_DESCRIPTIONS={path!r}: labels {unknown[:10]} are not among the "
                         f"run's labels {labels[:20]}; fix their spelling in {file.name}.")
    return {k: v.strip() for k, v in pairs.items() if v.strip()}


def _start(run_dir: str | Path, config: TrainConfig):
    """Check the run (as the training session does) and read its splits: run, task, splits, labels."""
    run = Run(run_dir)
    task = check_run(run, config)
    splits, labels = load_splits(run.path)
    return run, task, splits, labels


def _embedded(run: Run, frame: pd.DataFrame, name: str, location: str, config: TrainConfig,
              device: str) -> np.ndarray:
    """Cached embeddings of a split's texts in the run folder."""
    return cached_embeddings(list(frame["text"]), location, config.max_length, run.embeddings,
                             name=name, device=device)


def _validation_scores(task: Task, frame: pd.DataFrame, proba: np.ndarray, labels: list[str]) -> dict:
    """The task's metrics of validation probabilities (columns: labels)."""
    predicted = [labels[i] for i in proba.argmax(axis=1)]
    scores = task.score(pd.DataFrame({"label": list(frame["label"]), "predicted": predicted}), labels)
    index = {label: i for i, label in enumerate(labels)}
    gold = np.array([index.get(label, -1) for label in frame["label"]])
    known = gold >= 0  # cross-entropy, as Trainer logs eval_loss, over labels the model knows
    picked = proba[np.flatnonzero(known), gold[known]]
    return {**scores, "loss": float(-np.log(np.clip(picked, 1e-12, None)).mean())}


def _save(run: Run, config: TrainConfig, method: str, labels: list[str], location: str,
          weight: np.ndarray, bias: np.ndarray, task: Task) -> Path:
    """Write model/ all or nothing: encoder + head as safetensors, config, tokenizer, MODEL_INFO."""
    model = build(location, labels, weight, bias)
    with atomic_folder(run.model_dir) as tmp:
        model.save_pretrained(str(tmp))
        task.load_processor(location).save_pretrained(str(tmp))
        write_model_info(tmp, ModelInfo(task=config.task, labels=labels,
                                        max_length=config.max_length, method=method,
                                        base_model=config.model))
    return run.model_dir


def _finish(run: Run, config: TrainConfig, task: Task, method: str, device: str, source: str,
            train_examples: int, val_scores: dict, validation_examples: int, seconds: float,
            details: dict) -> TrainSummary:
    """The training summary, and a one-evaluation history."""
    validation = {k: v for k, v in val_scores.items() if k != "per_class"}
    summary = TrainSummary(
        task=config.task, method=method, main_metric=task.main_metric, model=config.model,
        model_source=source, device=device, precision="fp32", train_examples=train_examples,
        validation_examples=validation_examples, best_validation=val_scores[task.main_metric],
        train_seconds=round(seconds, 2), config=config.read_by(get_method(method).options),
        details={"validation": validation, **details})
    # One evaluation, in Trainer's log format, so the learning-curve plots read it like any run.
    write_json(run.history, [{"epoch": 1.0, "step": 0,
                              **{f"eval_{k}": v for k, v in validation.items()}}])
    summary.write(run.train_summary)
    return summary


def train_embeddings(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """Embed the splits once (cached), fit class-balanced logistic regression, save model/."""
    run, task, splits, labels = _start(run_dir, config)
    device = resolve_device(config.device)
    resolved = resolve_model(config.model)
    train = task.subsample(splits["train"], config.max_train_examples, config.seed)
    started = time.monotonic()
    full = splits["train"]
    if len(full) <= 4 * len(train):  # embed all of train once: the 02/03 baseline reuses the cache
        rows = dict(zip(full["text"], range(len(full))))
        train_emb = _embedded(run, full, "train", resolved.location, config, device)[
            [rows[t] for t in train["text"]]]
    else:
        train_emb = _embedded(run, train, "train-subsample", resolved.location, config, device)
    val_emb = _embedded(run, splits["validation"], "validation", resolved.location, config, device)
    probe = EmbeddingClassifier(embedding={"model": config.model, "max_length": config.max_length,
                                           "pooling": "mean, L2-normalised"})
    probe.fit(train_emb, train["label"], val_emb, splits["validation"]["label"], seed=config.seed)
    if probe.labels != labels:  # a class missing from the subsample: keep the run's label order
        raise ValueError(f"MAX_TRAIN_EXAMPLES={config.max_train_examples}: the training sample has "
                         f"labels {probe.labels}, the run {labels}; raise it (0 keeps all rows).")
    weight, bias = probe.head_weights()
    seconds = time.monotonic() - started
    _save(run, config, "embeddings", labels, resolved.location, weight, bias, task)
    val_scores = _validation_scores(task, splits["validation"], probe.predict_proba(val_emb), labels)
    return _finish(run, config, task, "embeddings", device, resolved.source, len(train), val_scores,
                   len(splits["validation"]), seconds,
                   {"probe": {"c": probe.c, "c_source": probe.c_source,
                              "validation_scores_by_c": probe.validation_scores}})


def train_zero_shot(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """No training: the head's rows are the label texts' embeddings / temperature (labels from train)."""
    run, task, splits, labels = _start(run_dir, config)
    descriptions = read_label_descriptions(config.label_descriptions, labels)
    device = resolve_device(config.device)
    resolved = resolve_model(config.model)
    started = time.monotonic()
    texts = label_texts(labels, descriptions)
    label_emb = embed(texts, resolved.location, max_length=config.max_length, device=device,
                      progress=False)
    weight = np.ascontiguousarray(label_emb / ZERO_SHOT_TEMPERATURE, dtype=np.float32)
    bias = np.zeros(len(labels), dtype=np.float32)
    seconds = time.monotonic() - started
    _save(run, config, "zero-shot", labels, resolved.location, weight, bias, task)
    val_emb = _embedded(run, splits["validation"], "validation", resolved.location, config, device)
    logits = val_emb @ weight.T
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    val_scores = _validation_scores(task, splits["validation"], proba / proba.sum(1, keepdims=True),
                                    labels)
    return _finish(run, config, task, "zero-shot", device, resolved.source, 0, val_scores,
                   len(splits["validation"]), seconds,
                   {"zero_shot": {"label_texts": dict(zip(labels, texts)),
                                  "temperature": ZERO_SHOT_TEMPERATURE,
                                  "label_descriptions": config.label_descriptions}})
