"""The `finetune` method: every layer of the pretrained model trained with transformers' Trainer.

It is the training session (hackkit.train.session) with nothing changed: the task supplies the
head, the encoded splits, the collator and the metrics; the session does the rest.
"""

from __future__ import annotations

from pathlib import Path

from hackkit.params import TrainConfig
from hackkit.summary import TrainSummary
from hackkit.train.session import SessionMethod, train_session


def finetune(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """Fine-tune on the run's splits and save model/, the history and the summary."""
    return train_session(run_dir, config, SessionMethod())
