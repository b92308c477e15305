"""The parameter vocabulary: the notebooks' `parameters` cells, their coercion and validation, and
the typed configs (DataConfig for 01, TrainConfig for 02) that the code receives."""

from __future__ import annotations

import ast
from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from hackkit.device import DEVICES, PRECISIONS
from hackkit.paths import repo_root
from hackkit.registry import COMMON_PARAMETERS, METHODS, TASKS, Method, get_method, get_task

HEAD_INITS = ("probe", "new")  # HEAD_INIT: how a fine-tuned head starts

NOTEBOOKS = ("01_explore.ipynb", "02_finetune.ipynb", "03_evaluate.ipynb")
DEFAULT_MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def notebooks_dir() -> Path:
    """The folder with the numbered notebooks."""
    return repo_root() / "notebooks"


def notebook_parameters(
    notebooks: tuple[str, ...] = NOTEBOOKS, source: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Each notebook's parameters: {notebook: {NAME: {"default": value, "help": text}}}."""
    import papermill

    out: dict[str, dict[str, Any]] = {}
    for name in notebooks:
        found = papermill.inspect_notebook(str((source or notebooks_dir()) / name))
        out[name] = {
            key: {"default": ast.literal_eval(p["default"]), "help": p["help"]}
            for key, p in found.items()
        }
    return out


def parse_value(text: str) -> Any:
    """Turn a command-line string into int, float, bool, None or str, as a literal would."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None, "null": None}.get(text.lower(), text)


def read_yaml(path: str | Path, what: str = "parameters file") -> Any:
    """A YAML file's content; a missing file or a syntax error names the file and the line."""
    import yaml

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{what} {path} not found.")
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e).splitlines()[0]
        raise ValueError(f"{what} {path}: not valid YAML{where}: {problem}. Fix the line (YAML "
                         "wants `NAME: value`, one per line, spaces not tabs).") from e


def load_params(file: str | Path | None = None, pairs: list[tuple[str, str]] = ()) -> dict:
    """Merge parameters from a YAML file and NAME VALUE pairs (pairs win)."""
    params: dict[str, Any] = {}
    if file:
        loaded = read_yaml(file) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{file}: expected a mapping of NAME: value, got {type(loaded).__name__}.")
        params.update(loaded)
    params.update({name: parse_value(value) for name, value in pairs})
    return params


def as_type_of(value: Any, default: Any) -> Any:
    """YAML reads 1e-4 as a string and 2 as an int: give numbers their default's type."""
    if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
        value = parse_value(value)
    if isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)  # EPOCHS: 2 and EPOCHS: 2.0 are the same setting
    return value


def coerce(key: str, value: Any, default: Any) -> Any:
    """Give a value its default's type; reject, naming the parameter, what cannot have it."""
    value = as_type_of(value, default)
    if not isinstance(value, type(default)) or (isinstance(value, bool) != isinstance(default, bool)):
        raise ValueError(
            f"{key}={value!r} has type {type(value).__name__}; expected "
            f"{type(default).__name__} like the default {default!r}."
        )
    return value


def check_params(params: dict, declared: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Reject unknown names and wrong types; return the merged defaults + params."""
    defaults = {k: v["default"] for nb in declared.values() for k, v in nb.items()}
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown}. Valid names: {', '.join(sorted(defaults))} "
            "(see `python -m hackkit params`)."
        )
    if "RUN_DIR" in params:
        raise ValueError("RUN_DIR is chosen by the run command; use --name to label the run.")
    typed = {key: coerce(key, value, defaults[key]) for key, value in params.items()}
    return {**defaults, **typed}


def check_ranges(checks: list[tuple[str, Any, bool, str]]) -> None:
    """Raise a ValueError for the first (name, value, ok, expected) whose `ok` is false, naming the
    value and what to use instead: the one way settings are checked."""
    for name, value, ok, expected in checks:
        if not ok:
            raise ValueError(f"{name}={value!r} is out of range: use {expected}.")


class _FromParams:
    """Build a config from UPPER_CASE parameters (a notebook's globals(), run.json's params)."""

    @classmethod
    def from_params(cls, params: Mapping[str, Any]):
        """The config whose fields are the UPPER_CASE names present in `params`."""
        given = {f.name: params[f.name.upper()] for f in fields(cls) if f.name.upper() in params}
        config = cls(**{k: coerce(k.upper(), v, getattr(cls, k)) for k, v in given.items()})
        config.validate()
        return config

    def as_params(self) -> dict[str, Any]:
        """The config as UPPER_CASE notebook parameters."""
        return {f.name.upper(): getattr(self, f.name) for f in fields(self)}

    def _check(self, checks: list[tuple[str, Any, bool, str]]) -> None:
        check_ranges(checks)


@dataclass
class DataConfig(_FromParams):
    """The data settings of 01_explore (and the data doctor); each field is a notebook parameter."""

    task: str = field(default="text-classification", metadata={"help": "what to predict"})
    data_path: str = field(default="data/support_intents.csv", metadata={"help": "file or folder"})
    text_column: str = field(default="text", metadata={"help": "column with the inputs"})
    label_column: str = field(default="label", metadata={"help": "column with the labels"})
    tag_column: int = field(default=-1, metadata={"help": "CoNLL column with the tags"})
    label_separator: str = field(default=";", metadata={"help": "multi-label: between labels"})
    split_column: str = field(default="", metadata={"help": "column with train/validation/test"})
    test_size: float = field(default=0.2, metadata={"help": "share held out for testing"})
    val_size: float = field(default=0.1, metadata={"help": "share used for validation"})
    seed: int = field(default=42, metadata={"help": "seed of the split"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "its tokenizer measures lengths"})
    max_length: int = field(default=128, metadata={"help": "tokens kept per input"})
    feedback: str = field(default="", metadata={"help": "run folders/feedback files to merge"})

    def __post_init__(self) -> None:
        """DATA_PATH left at its default reads the task's own sample (Task.sample_data)."""
        if self.task in TASKS and self.data_path == type(self).data_path:
            self.data_path = get_task(self.task).sample_data or self.data_path

    def validate(self) -> None:
        """Raise a ValueError naming the parameter for any out-of-range value."""

        get_task(self.task)
        self._check([
            ("DATA_PATH", self.data_path, bool(str(self.data_path).strip()),
             "the path of a data file or folder, e.g. data/support_intents.csv"),
            ("TEST_SIZE", self.test_size, 0 < self.test_size < 1, "a fraction, e.g. 0.2"),
            ("VAL_SIZE", self.val_size, 0 < self.val_size < 1, "a fraction, e.g. 0.1"),
            ("MAX_LENGTH", self.max_length, 8 <= self.max_length <= 4096, "e.g. 128"),
            ("LABEL_SEPARATOR", self.label_separator, self.label_separator.strip() != "",
             "the character between a text's labels, e.g. ';' or '|'"),
        ])


@dataclass
class TrainConfig(_FromParams):
    """The training settings of 02_finetune; each field is a notebook parameter of the same name."""

    task: str = field(default="text-classification", metadata={"help": "must match 01"})
    method: str = field(default="", metadata={"help": "how the model is trained; empty: the task's"})
    model: str = field(default=DEFAULT_MODEL, metadata={"help": "hub id or local model folder"})
    epochs: float = field(default=10.0, metadata={"help": "most passes over the training set"})
    learning_rate: float = field(default=1e-4, metadata={"help": "peak AdamW learning rate"})
    batch_size: int = field(default=8, metadata={"help": "examples per training step"})
    max_length: int = field(default=128, metadata={"help": "tokens kept per text"})
    weight_decay: float = field(default=0.01, metadata={"help": "AdamW weight decay"})
    warmup: float = field(default=0.1, metadata={"help": "warm-up share of all steps, in [0, 1)"})
    seed: int = field(default=42, metadata={"help": "seed for head init, shuffling, dropout"})
    time_budget_minutes: float = field(default=1.0, metadata={"help": "minutes of training; 0 = none"})
    patience: int = field(default=2, metadata={"help": "evaluations without gain to stop; 0=off"})
    max_train_examples: int = field(default=0, metadata={"help": "training rows kept; 0 = all"})
    device: str = field(default="auto", metadata={"help": "auto, cpu, cuda or mps"})
    precision: str = field(default="auto", metadata={"help": "auto, fp32, fp16 or bf16"})
    label_descriptions: str = field(default="", metadata={"help": "zero-shot: label,description file"})
    lora_rank: int = field(default=8, metadata={"help": "lora: rank of the adapter"})
    lora_alpha: int = field(default=16, metadata={"help": "lora: scale (alpha / rank)"})
    lora_dropout: float = field(default=0.1, metadata={"help": "lora: adapter dropout"})
    lora_targets: str = field(default="query,value",
                              metadata={"help": "lora: comma-separated module names"})
    average_checkpoints: int = field(default=0,
                                     metadata={"help": "average the best N epochs; 0 = off"})
    average_mode: str = field(default="greedy", metadata={"help": "greedy or uniform"})
    head_init: str = field(default="probe",
                           metadata={"help": "probe (fitted on frozen features) or new"})
    nproc: int = field(default=1, metadata={"help": "processes training one model (torchrun)"})
    freeze_embeddings: bool = field(default=True,
                                    metadata={"help": "keep the word-embedding table as pretrained"})
    lm_shots: int = field(default=0, metadata={"help": "lm-classifier: examples per label in the prompt"})
    baseline_blend: bool = field(default=True, metadata={
        "help": "end with the model, the baseline or their mix, whichever wins on validation"})

    def __post_init__(self) -> None:
        """Give the settings left at their notebook default the task's own (Task.train_defaults;
        METHOD left empty: the task's method, finetune unless it says otherwise)."""
        if self.task not in TASKS:  # validate() names the valid tasks
            return
        own = get_task(self.task).train_defaults
        if not self.method:
            self.method = own.get("method", "finetune")
        for f in fields(self):
            if f.name in own and f.name != "method" and getattr(self, f.name) == f.default:
                # LoRA's settings only where LoRA trains: another method refuses them as unread.
                if not f.name.startswith("lora_") or self.method == "lora":
                    setattr(self, f.name, own[f.name])

    def validate(self) -> None:
        """Raise a ValueError naming the parameter for any out-of-range value, and for any
        parameter set away from its default that METHOD does not read."""
        task = get_task(self.task)
        method = get_method(self.method)
        if method.text_labels and not task.embedding_methods:
            raise ValueError(
                f"METHOD={self.method!r} is for classification (one label per text: it compares "
                f"sentence embeddings); TASK={self.task!r} does not have one label per text. Use "
                "METHOD='finetune' for this task.")
        self._check([
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
            ("LORA_RANK", self.lora_rank, self.lora_rank >= 1, "a positive integer, e.g. 8"),
            ("LORA_ALPHA", self.lora_alpha, self.lora_alpha >= 1, "a positive integer, e.g. 16"),
            ("LORA_DROPOUT", self.lora_dropout, 0 <= self.lora_dropout < 1, "in [0, 1), e.g. 0.1"),
            ("LORA_TARGETS", self.lora_targets, bool(self.lora_targets.strip(" ,")),
             "module names, e.g. 'query,value' (BERT) or 'q_lin,v_lin' (DistilBERT)"),
            ("AVERAGE_CHECKPOINTS", self.average_checkpoints, self.average_checkpoints >= 0,
             "0 (off) or the number of best epochs to average, e.g. 3"),
            ("AVERAGE_MODE", self.average_mode, self.average_mode in ("greedy", "uniform"),
             "'greedy' (keep a checkpoint only if validation improves) or 'uniform'"),
            ("HEAD_INIT", self.head_init, self.head_init in HEAD_INITS,
             "'probe' (the head starts as logistic regression on the frozen model's features) or "
             "'new' (the model's own head, randomly initialised)"),
            ("FREEZE_EMBEDDINGS", self.freeze_embeddings, isinstance(self.freeze_embeddings, bool),
             "True (the word-embedding table stays as pretrained) or False (trained too)"),
            ("LM_SHOTS", self.lm_shots, 0 <= self.lm_shots <= 8,
             "0 (zero-shot) to 8 labelled training texts per label shown in the prompt"),
            ("BASELINE_BLEND", self.baseline_blend, isinstance(self.baseline_blend, bool),
             "True (model/ predicts as the model, the baseline or their mix, whichever wins on "
             "validation) or False (the trained model alone)"),
            ("NPROC", self.nproc, self.nproc >= 1,
             "1 (train in this process) or the number of processes, e.g. the GPUs to use"),
        ])
        self.refuse_unread(method)
        if self.nproc > 1 and self.batch_size % self.nproc:
            lower = self.batch_size - self.batch_size % self.nproc or self.nproc
            raise ValueError(
                f"BATCH_SIZE={self.batch_size} is not a multiple of NPROC={self.nproc}: each "
                f"process takes BATCH_SIZE / NPROC examples of every step. Use BATCH_SIZE={lower} "
                f"or {lower + self.nproc}, or another NPROC.")

    def read_by(self, options: tuple[str, ...]) -> dict[str, Any]:
        """The settings a method with these options reads (COMMON_PARAMETERS too), by field name:
        what its training summary records."""
        reads = set(COMMON_PARAMETERS) | set(options)
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name.upper() in reads}

    def refuse_unread(self, method: Method) -> None:
        """Stop, naming the parameter, when one is set away from its default but the method does
        not read it: a setting that would silently do nothing."""
        reads = set(COMMON_PARAMETERS) | set(method.options)
        for f in fields(self):
            name, value = f.name.upper(), getattr(self, f.name)
            if name in reads or value == f.default:
                continue
            others = [m for m, entry in METHODS.items() if name in entry.options]
            raise ValueError(
                f"{name}={value!r}: METHOD={self.method!r} ({method.about}) does not use it. "
                f"Leave {name} at its default {f.default!r}"
                + (f", or use a METHOD that reads it: {', '.join(others)}." if others else "."))
