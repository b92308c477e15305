"""The training summary (train_summary.json): one schema, written by every method through
`TrainSummary.write` and read by every reader (the verdict, the model card, the leaderboard, the
search, the comparison table) through `TrainSummary.read`."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hackkit.paths import read_json, write_json

BEST_PREFIX = "best_validation_"  # + the main metric: the key readers of older runs know


@dataclass
class TrainSummary:
    """What a training did: the method, the model, the data it saw, time, steps and the best
    validation score; `details` holds what only one method or task records (its own options, the
    kept warm start, averaging, the LoRA adapter, the teacher ...), written at the top level."""

    task: str
    main_metric: str
    method: str = "finetune"
    model: str = ""  # MODEL as given (or what the method says it trained, e.g. a thinned teacher)
    model_source: str = ""  # local, packaged, hub or teacher
    device: str = ""
    precision: str = ""
    train_examples: int = 0
    validation_examples: int = 0
    best_validation: float | None = None  # of main_metric
    steps: int = 0
    epochs_completed: float | None = None  # None: the method has no epochs (embeddings, zero-shot)
    train_seconds: float = 0.0  # this attempt only, when resumed
    train_examples_per_second: float | None = None
    available_train_examples: int | None = None  # before MAX_TRAIN_EXAMPLES
    stopped_by_time_budget: bool = False
    resumed_from: str | None = None  # the checkpoint an interrupted training went on from
    best_checkpoint: str | None = None
    plan: dict | None = None  # the training plan (hackkit.train.plan.TrainPlan.to_dict)
    budget: dict | None = None  # planned against realised (the budget callback's result)
    processes: int = 1
    distributed: dict | None = None  # NPROC > 1: backend, each process's rank, pid and device
    config: dict = field(default_factory=dict)  # the TrainConfig it was trained with
    details: dict = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """The JSON object: the fields, the best score under best_validation_<metric>, details."""
        out = {f.name: getattr(self, f.name) for f in fields(self)
               if f.name not in ("details", "best_validation", "config")}
        out[BEST_PREFIX + self.main_metric] = self.best_validation
        return {**out, **self.details, "config": self.config}

    def write(self, path: str | Path) -> Path:
        """Write train_summary.json."""
        return write_json(Path(path), self.to_dict())

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainSummary:
        """The summary of a JSON object written by to_dict (unknown keys go to details)."""
        known = {f.name for f in fields(cls)}
        data = dict(data)
        metric = data.get("main_metric", "")
        best = data.pop(BEST_PREFIX + metric, None)
        given = {k: data.pop(k) for k in list(data) if k in known}
        missing = [name for name in ("task", "main_metric") if name not in given]
        if missing:
            raise ValueError(f"a training summary needs {missing}; it has {sorted(given)}.")
        return cls(**given, best_validation=best, details=data)

    @classmethod
    def read(cls, path: str | Path) -> TrainSummary:
        """train_summary.json as a TrainSummary; a missing file names the notebook that writes it."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path} not found: run 02_finetune on this run folder first "
                                    "(it writes the training summary).")
        return cls.from_dict(read_json(path))

    def brief(self) -> dict[str, Any]:
        """The figures a person reads after training (02 shows them)."""
        return {"method": self.method, "model": self.model, "device": self.device,
                "precision": self.precision, "train_examples": self.train_examples,
                "steps": self.steps, "epochs_completed": self.epochs_completed,
                "train_seconds": self.train_seconds,
                "stopped_by_time_budget": self.stopped_by_time_budget,
                f"best validation {self.main_metric}": self.best_validation}

