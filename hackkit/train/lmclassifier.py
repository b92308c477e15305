"""METHOD lm-classifier: a small chat language model classifies texts with no training, by how
likely it finds each label's words (its name made readable, or its LABEL_DESCRIPTIONS line) as the
answer, zero-shot or with LM_SHOTS labelled training texts per label shown in the prompt.

It saves model/ as hackkit.models.lmscorer's sequence classifier, so 03, 04, serve and the
leaderboard treat it like any text classifier and a team sees, on its own data, whether it beats
the fine-tuned encoder and at what latency. MODEL left at its default means the text-generation
task's packaged SmolLM2-135M-Instruct (the kit's default encoder writes no text).
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from hackkit.device import resolve_device
from hackkit.models.embeddings import label_texts
from hackkit.models.lmscorer import build
from hackkit.models.resolve import resolve_model
from hackkit.params import DEFAULT_MODEL, TrainConfig
from hackkit.paths import atomic_folder
from hackkit.runfolder import ModelInfo, write_model_info
from hackkit.summary import TrainSummary
from hackkit.tasks.batches import in_batches
from hackkit.tasks.generation import GENERATOR
from hackkit.train.fewlabels import _finish, _start, _validation_scores, read_label_descriptions

# Validation texts scored to fill the summary: every label costs one pass per text.
MAX_VALIDATION_TEXTS = 300


def pick_shots(train, labels: list[str], per_label: int, seed: int) -> list[tuple[str, str]]:
    """per_label training texts of each label (the shortest of a random draw), interleaved."""
    if per_label <= 0:
        return []
    shots = []
    for label in labels:
        rows = train[train["label"] == label]
        drawn = rows.sample(n=min(len(rows), 4 * per_label), random_state=seed)
        shortest = drawn.assign(n=drawn["text"].str.len()).sort_values("n", kind="stable")
        shots.append(list(shortest["text"].head(per_label)))
    return [(texts[i], label) for i in range(per_label)
            for texts, label in zip(shots, labels) if i < len(texts)]


def probabilities(model, tokenizer, texts: list[str], max_length: int, device: str,
                  batch_size: int = 8) -> np.ndarray:
    """Label probabilities per text (softmax over the label scores)."""
    import torch

    def run(indices):
        batch = tokenizer([texts[i] for i in indices], truncation=True, max_length=max_length,
                          padding=True, return_tensors="pt")
        with torch.inference_mode():
            logits = model(**{k: v.to(device) for k, v in batch.items()}).logits
        return torch.softmax(logits.float(), -1).cpu().numpy()

    return np.asarray(in_batches(texts, batch_size, run, length=len, desc="Scoring labels"))


def train_lm_classifier(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """No training: build the label scorer from the run's labels (and shots), save model/."""
    run, task, splits, labels = _start(run_dir, config)
    descriptions = read_label_descriptions(config.label_descriptions, labels)
    name = GENERATOR if config.model == DEFAULT_MODEL else config.model
    resolved = resolve_model(name)
    device = resolve_device(config.device)
    started = time.monotonic()
    texts = label_texts(labels, descriptions)
    shots = pick_shots(splits["train"], labels, config.lm_shots, config.seed)
    model, tokenizer = build(resolved.location, labels, texts,
                             [(t, texts[labels.index(y)]) for t, y in shots])
    tokenizer.padding_side = "right"
    seconds = time.monotonic() - started
    with atomic_folder(run.model_dir) as tmp:
        model.save_pretrained(str(tmp))
        tokenizer.save_pretrained(str(tmp))
        write_model_info(tmp, ModelInfo(task=config.task, labels=labels,
                                        max_length=config.max_length, method="lm-classifier",
                                        base_model=name))
    validation = splits["validation"]
    if len(validation) > MAX_VALIDATION_TEXTS:
        validation = validation.sample(n=MAX_VALIDATION_TEXTS, random_state=config.seed)
    scored = time.monotonic()
    proba = probabilities(model.to(device), tokenizer, list(validation["text"]), config.max_length,
                          device)
    per_text = (time.monotonic() - scored) / max(len(validation), 1)
    val_scores = _validation_scores(task, validation, proba, labels)
    return _finish(run, config, task, "lm-classifier", device, resolved.source, len(shots),
                   val_scores, len(validation), seconds,
                   {"lm_classifier": {"model": name, "label_texts": dict(zip(labels, texts)),
                                      "shots": len(shots), "prompt_tokens": len(model.config.prefix_ids)
                                      + len(model.config.suffix_ids),
                                      "validation_seconds_per_text": round(per_text, 4)}})
