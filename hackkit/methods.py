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
    "lora": "hackkit.lora:finetune_lora",  # LoRA adapters (peft) + the head, merged on save
}


def method_names() -> tuple[str, ...]:
    """The valid METHOD values."""
    return tuple(METHODS)


def train_model(run_dir: str | Path, config) -> dict:
    """Train with the method config.method names (a TrainConfig); return the training summary."""
    config.validate()
    module, function = METHODS[config.method].split(":")
    return getattr(importlib.import_module(module), function)(run_dir, config)
