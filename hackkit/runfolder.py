"""The run folder contract: the one place that names its files and answers questions about a run.

01 writes the data report and splits, 02 the model and training history, 03 metrics and
predictions, 04 reads the model, 05 reads every run. `model/` is self-describing (MODEL_INFO).
"""

from __future__ import annotations

import socket
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import pandas as pd

from hackkit.base import SPLITS, Task
from hackkit.paths import (
    atomic_folder,
    find_input,
    process_alive,
    read_json,
    repo_root,
    runs_root,
    write_json,
)
from hackkit.registry import get_task, task_for_architectures
from hackkit.summary import TrainSummary

# Every file of a run folder, by role. Nobody else writes these names as strings.
RUN_RECORD = "run.json"  # hackkit run: parameters, plan, status, pid
DATA_REPORT = "data_report.json"  # 01: what the data doctor and the explorer found
SPLITS_DIR = "splits"  # 01: one file per split (suffix from the task) and LABELS
LABELS = "labels.json"
SPLITS_INFO = "info.json"  # inside splits/: the task the splits were written for
MODEL_DIR = "model"  # 02: weights (safetensors), config, tokenizer, MODEL_INFO, MODEL_CARD
MODEL_INFO = "hackkit.json"  # inside model/: task, labels, max_length, method, base model
MODEL_CARD = "README.md"  # inside model/
ONNX_FILE = "model.onnx"  # inside model/
ONNX_CHECK = "onnx_check.json"  # inside model/
ONNX_INT8_FILE = "model.int8.onnx"  # inside model/: ONNX Runtime's dynamic int8, made on first use
TRAIN_SUMMARY = "train_summary.json"  # 02
HISTORY = "training_history.json"  # 02: Trainer's log history
LEARNING_CURVE = "learning_curve.png"  # 02
CHECKPOINTS = "checkpoints"  # 02 while training; removed when done
CHECKPOINT_CONFIG = "hackkit_config.json"  # inside checkpoints/: the settings to resume with
CHECKPOINT_PLAN = "hackkit_plan.json"  # inside checkpoints/: the training plan a resume keeps
TENSORBOARD = "tensorboard"  # 02
METRICS = "metrics.json"  # 03
PREDICTIONS = "predictions_test.csv"  # 03
CONFUSION = "confusion_matrix.png"  # 03
SCORED = "scored"  # 04: scored copies of uploaded files
PROGRESS = "progress.jsonl"  # 02: live training progress for `hackkit run`
EMBEDDINGS = ".embedding_cache"  # beside the run folders: sentence embeddings and probes, shared by runs on the same data
FEEDBACK = "feedback.csv"  # 04: corrections given in the demo, appended; 01 merges them (FEEDBACK)
ADAPTER_DIR = "lora_adapter"  # 02 with METHOD="lora": the adapter alone (model/ holds it merged)
MODEL_COMPARISON = "model_comparison.csv"  # compare_models: the run and its derived models
PRUNED_MARK = "pruned.json"  # 02: an Optuna pruner stopped this trial's training early (why, time saved)
TRAIN_CONFIG = "train_config.json"  # 02 with NPROC > 1: the TrainConfig every worker process reads
DISTRIBUTED_LOG = "distributed.log"  # 02 with NPROC > 1: the output of torchrun and its workers

DEFAULT_MAX_LENGTH = 128  # only for model folders saved before MODEL_INFO existed


@dataclass(frozen=True)
class ModelInfo:
    """What a saved model folder says about itself."""

    task: str
    labels: list[str]
    max_length: int
    method: str = "finetune"
    base_model: str = ""  # a hub id or packaged model's name (portable_model_name), or ""
    tuned: dict = field(default_factory=dict)  # fitted on validation after training (Task.tune)


def portable_model_name(name: str, follow: int = 8) -> str:
    """What a saved model records as the model it comes from, never a path of this machine: a hub
    id or packaged name as given; for a local folder, the model that folder comes from (its
    MODEL_INFO, followed `follow` folders deep), else its path inside the repository, else ""."""
    if not name:
        return ""
    local = find_input(name)
    if local.is_dir():
        if (local / MODEL_INFO).is_file() and follow > 0:
            return portable_model_name(read_json(local / MODEL_INFO).get("base_model") or "",
                                       follow - 1)
        try:  # e.g. models/my-bert inside the project: the same relative path in every clone
            return local.relative_to(repo_root()).as_posix()
        except ValueError:
            return ""
    # A folder that is not here (an older MODEL_INFO's record) is still a path, not a model's name.
    return "" if Path(name).expanduser().is_absolute() else name


def write_model_info(model_dir: Path, info: ModelInfo) -> Path:
    """Record task, labels, MAX_LENGTH, method and base model inside a model folder; the base
    model as portable_model_name gives it, so a copied folder names no path of this machine."""
    return write_json(Path(model_dir) / MODEL_INFO,
                      {**vars(info), "base_model": portable_model_name(info.base_model)})


def read_model_info(model_dir: str | Path) -> ModelInfo:
    """Task, labels and MAX_LENGTH of a saved model folder (older folders: from config.json)."""
    model_dir = Path(model_dir)
    info_file, config_file = model_dir / MODEL_INFO, model_dir / "config.json"
    if info_file.is_file():
        return ModelInfo(**read_json(info_file))
    if not config_file.is_file():
        raise FileNotFoundError(
            f"{config_file} not found: {model_dir} holds no saved model; run 02_finetune first, "
            "or point at a run folder (or its model/ folder) that has one."
        )
    config = read_json(config_file)
    task = task_for_architectures(config.get("architectures") or [], config_file)
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    summary = model_dir.parent / TRAIN_SUMMARY  # a run's model saved before MODEL_INFO existed
    max_length = (read_json(summary).get("config", {}).get("max_length", DEFAULT_MAX_LENGTH)
                  if summary.is_file() else DEFAULT_MAX_LENGTH)
    return ModelInfo(task=task.name, labels=labels, max_length=max_length)


class Run:
    """A run folder: where each file lives, and what the run is (task, labels, status)."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r})"

    def __fspath__(self) -> str:
        return str(self.path)

    @property
    def name(self) -> str:
        """The folder's name, which identifies the run."""
        return self.path.name

    # file locations
    record = property(lambda self: self.path / RUN_RECORD)
    data_report = property(lambda self: self.path / DATA_REPORT)
    splits_dir = property(lambda self: self.path / SPLITS_DIR)
    labels_file = property(lambda self: self.path / SPLITS_DIR / LABELS)
    splits_info = property(lambda self: self.path / SPLITS_DIR / SPLITS_INFO)
    model_dir = property(lambda self: self.path / MODEL_DIR)
    model_card = property(lambda self: self.path / MODEL_DIR / MODEL_CARD)
    onnx_file = property(lambda self: self.path / MODEL_DIR / ONNX_FILE)
    train_summary = property(lambda self: self.path / TRAIN_SUMMARY)
    history = property(lambda self: self.path / HISTORY)
    learning_curve = property(lambda self: self.path / LEARNING_CURVE)
    checkpoints = property(lambda self: self.path / CHECKPOINTS)
    checkpoint_config = property(lambda self: self.path / CHECKPOINTS / CHECKPOINT_CONFIG)
    checkpoint_plan = property(lambda self: self.path / CHECKPOINTS / CHECKPOINT_PLAN)
    tensorboard = property(lambda self: self.path / TENSORBOARD)
    metrics = property(lambda self: self.path / METRICS)
    predictions = property(lambda self: self.path / PREDICTIONS)
    confusion = property(lambda self: self.path / CONFUSION)
    scored = property(lambda self: self.path / SCORED)
    progress = property(lambda self: self.path / PROGRESS)
    # A cache, not part of the run: keyed by texts, model and length, so every run under the same
    # root (a sweep's trials, a second run on the same data) reuses the embeddings and the probe.
    embeddings = property(lambda self: self.path.parent / EMBEDDINGS)
    feedback = property(lambda self: self.path / FEEDBACK)
    adapter_dir = property(lambda self: self.path / ADAPTER_DIR)
    model_comparison = property(lambda self: self.path / MODEL_COMPARISON)
    pruned_mark = property(lambda self: self.path / PRUNED_MARK)
    train_config = property(lambda self: self.path / TRAIN_CONFIG)
    distributed_log = property(lambda self: self.path / DISTRIBUTED_LOG)

    def split_file(self, split: str, task: Task) -> Path:
        """splits/<split><suffix>, the suffix being the task's split format."""
        if split not in SPLITS:
            raise ValueError(f"split={split!r}: use one of {SPLITS}.")
        return self.splits_dir / f"{split}{task.split_suffix}"

    def has(self, what: str) -> bool:
        """Whether the run has reached a stage: 'splits', 'model' or 'metrics'."""
        stage = {"splits": self.labels_file, "model": self.model_dir / "config.json",
                 "metrics": self.metrics}
        if what not in stage:
            raise ValueError(f"{what!r}: a run stage is one of {sorted(stage)}.")
        return stage[what].exists()

    def read(self, path: Path, default=None):
        """A JSON file of the run, or `default` when it does not exist (yet)."""
        return read_json(path) if path.is_file() else default

    def summary(self) -> TrainSummary | None:
        """The training summary 02 wrote, or None before training."""
        return TrainSummary.read(self.train_summary) if self.train_summary.is_file() else None

    def task_name(self, default: str = "") -> str:
        """The run's task: from its model, its data report, or the parameters it was run with."""
        if (self.model_dir / MODEL_INFO).is_file():
            return read_model_info(self.model_dir).task
        for source, key in ((self.splits_info, "task"), (self.data_report, "task"),
                            (self.train_summary, "task")):
            found = self.read(source, {}).get(key)
            if found:
                return found
        for source in (self.data_report, self.record):
            found = self.read(source, {}).get("params", {}).get("TASK")
            if found:
                return found
        if (self.model_dir / "config.json").is_file():
            return read_model_info(self.model_dir).task
        if default:
            return default
        raise FileNotFoundError(f"{self.path}: no data report, model or run record tells its "
                                "task; is it a run folder written by 01_explore?")

    def task(self) -> Task:
        """The run's Task object."""
        return get_task(self.task_name())

    def labels(self) -> list[str]:
        """The label list written by 01 (or, failing that, the model's)."""
        if self.labels_file.is_file():
            return list(read_json(self.labels_file))
        return read_model_info(self.model_dir).labels

    def max_length(self) -> int:
        """MAX_LENGTH the model was trained with (or 01's when there is no model yet)."""
        if (self.model_dir / "config.json").is_file():
            return read_model_info(self.model_dir).max_length
        params = self.read(self.data_report, {}).get("params", {})
        return int(params.get("MAX_LENGTH", DEFAULT_MAX_LENGTH))

    def status(self) -> dict:
        """run.json; a 'running' run whose process is gone is reported 'interrupted'."""
        record = read_json(self.record)
        pid = record.get("pid")
        if (record.get("status") == "running" and isinstance(pid, int) and pid > 0
                and record.get("host") == socket.gethostname() and not process_alive(pid)):
            record["status"] = "interrupted"
        if record.get("status") == "done" and self.pruned_mark.is_file():  # finished 03, cut short
            record.update(status="pruned", pruned_reason=read_json(self.pruned_mark).get("reason"))
        return record



def run_status(run_dir: str | Path) -> dict:
    """The run.json record of a run folder, with crashed runs reported 'interrupted'."""
    return Run(run_dir).status()


def new_run_dir(name: str = "", root: Path | None = None) -> Path:
    """Create a fresh, uniquely named run folder; never reuses an existing one."""
    root = root or runs_root()
    root.mkdir(parents=True, exist_ok=True)
    stem = datetime.now().strftime("%Y%m%d-%H%M%S") + (f"-{name}" if name else "")
    for i in range(1000):
        candidate = root / (stem if i == 0 else f"{stem}-{i}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"Could not create a new run folder under {root}")


def start_run(run_dir: str = "") -> Path:
    """The run folder 01 writes into: RUN_DIR as given (created if needed), or a new one."""
    if not run_dir:
        return new_run_dir()
    path = find_input(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


STAGE_WRITERS = {"splits": "01_explore", "model": "02_finetune", "metrics": "03_evaluate"}


def latest_run(needs: str, root: Path | None = None) -> Path:
    """The newest run folder that has reached stage `needs` (splits, model or metrics)."""
    root = root or runs_root()
    candidates = sorted((d for d in root.glob("*") if d.is_dir() and Run(d).has(needs)),
                        key=lambda d: d.stat().st_mtime)
    if not candidates:
        raise FileNotFoundError(
            f"No run folder under {root} has {needs} yet. Run {STAGE_WRITERS[needs]} first (it "
            f"writes them), or set RUN_DIR to a run folder that has them."
        )
    return candidates[-1]


def find_run(run_dir: str | Path, needs: str) -> Path:
    """Resolve a notebook's RUN_DIR: the given folder, or the latest one that has `needs`."""
    if not run_dir:
        return latest_run(needs)
    path = find_input(run_dir)
    if not Run(path).has(needs):
        raise FileNotFoundError(
            f"RUN_DIR={str(run_dir)!r}: {path} has no {needs} yet. Run {STAGE_WRITERS[needs]} "
            f"into this run folder first, or point RUN_DIR at a run folder that has them."
        )
    return path


def save_splits(splits: dict[str, pd.DataFrame], run_dir: str | Path, task: Task) -> list[str]:
    """Write the splits and label list into the run folder, all or nothing; return the labels."""
    run = Run(run_dir)
    labels = task.labels(splits)
    out = run.splits_dir
    if out.exists():
        if _same_splits(splits, labels, run_dir):  # a resumed run re-running 01: nothing to do
            return labels
        raise FileExistsError(
            f"{out} already exists with different data: this run folder already has its data. "
            "Start a new run (RUN_DIR='') instead of overwriting it."
        )
    with atomic_folder(out) as tmp:
        for name, frame in splits.items():
            task.write_split(frame, tmp / run.split_file(name, task).name)
        write_json(tmp / run.labels_file.name, labels)
        write_json(tmp / run.splits_info.name, {"task": task.name})
    return labels


def _same_splits(splits: dict[str, pd.DataFrame], labels: list[str], run_dir: str | Path) -> bool:
    """Whether the run folder already holds exactly these splits."""
    try:
        saved, saved_labels = load_splits(run_dir)
    except (OSError, ValueError):
        return False
    return saved_labels == labels and all(
        saved[k].astype(str).equals(splits[k].reset_index(drop=True).astype(str)) for k in SPLITS
    )


def load_splits(run_dir: str | Path) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Read the splits and the label list written by save_splits, in the run's task format."""
    run = Run(run_dir)
    task = run.task()
    splits = {s: task.read_split(run.split_file(s, task)) for s in SPLITS}
    return splits, run.labels()
