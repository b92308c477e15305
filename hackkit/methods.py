"""The method registry: how a model is trained from a run's splits (METHOD in 02_finetune).

Every method reads the run folder's splits and writes a self-describing model/ folder that the
one prediction path (hackkit.predict.Predictor) loads. Adding one is a function and a line here.
"""

from __future__ import annotations

import importlib
from pathlib import Path

# METHOD value -> "module:function(run_dir, config) -> summary dict"; imported on first use.
METHODS: dict[str, str] = {
    "finetune": "hackkit.train:finetune",  # full fine-tuning of every layer with Trainer
    "embeddings": "hackkit.fewlabels:train_embeddings",  # frozen encoder + logistic regression
    "zero-shot": "hackkit.fewlabels:train_zero_shot",  # label-name similarity, no training
    "auto": "hackkit.fewlabels:train_auto",  # picks one of the above from examples per class
    "lora": "hackkit.lora:finetune_lora",  # LoRA adapters (peft) + the head, merged on save
}
# Methods that can train one model with NPROC > 1 processes (hackkit.distributed, torchrun).
DISTRIBUTED_METHODS = ("finetune", "lora")
# Methods that need one label per text: a task says whether it supports them (Task.embedding_methods).
CLASSIFICATION_METHODS = ("embeddings", "zero-shot", "auto")

# METHOD value -> "module:function(splits, labels, config) -> plan with .describe()": what the
# method would do on this data, for `hackkit run --dry-run` (measured, without training).
PLANS: dict[str, str] = {
    "finetune": "hackkit.train:estimate_plan",
}


def method_names() -> tuple[str, ...]:
    """The valid METHOD values."""
    return tuple(METHODS)


def train_model(run_dir: str | Path, config) -> dict:
    """Train with the method config.method names (a TrainConfig); return the training summary.

    With NPROC > 1 the method starts NPROC processes with torchrun (hackkit.distributed), each of
    which calls it again; the first one writes the model and the summary returned here.
    """
    config.validate()
    module, function = METHODS[config.method].split(":")
    return getattr(importlib.import_module(module), function)(run_dir, config)


def plan_method(splits: dict, labels: list[str], config):
    """What config.method would do on these splits (an object with .describe()), or None."""
    config.validate()
    if config.method not in PLANS:
        return None
    module, function = PLANS[config.method].split(":")
    return getattr(importlib.import_module(module), function)(splits, labels, config)
