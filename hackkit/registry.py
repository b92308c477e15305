"""The registries: TASK and METHOD names -> the code that implements them, named as strings.

A task is one module (or folder) under hackkit/tasks with a `Task` subclass, plus one line in TASKS;
a method is a training function under hackkit/train, plus one line in METHODS that also says which
of 02's parameters it reads. The implementations are imported on first use, so `import hackkit`
stays light and this module, part of the shared vocabulary, imports nothing above it.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from pathlib import Path

from hackkit.base import Task
from hackkit.paths import find_input

# TASK value -> "module:class"; imported on first use so `import hackkit` stays light.
TASKS: dict[str, str] = {
    "text-classification": "hackkit.tasks.text:TextClassification",
    "token-classification": "hackkit.tasks.ner:TokenClassification",
    "image-classification": "hackkit.tasks.images:ImageClassification",
    "text-regression": "hackkit.tasks.regression:TextRegression",
    "multi-label-classification": "hackkit.tasks.multilabel:MultiLabelClassification",
    "text-generation": "hackkit.tasks.generation:TextGeneration",
}
_LOADED: dict[str, Task] = {}


def task_names() -> tuple[str, ...]:
    """The valid TASK values."""
    return tuple(TASKS)


def register_task(task: Task) -> Task:
    """Add (or replace) a task by its instance; returns it."""
    if not task.name or not task.main_metric:
        raise ValueError(f"{type(task).__name__}: a task needs a name and a main_metric.")
    TASKS[task.name] = f"{type(task).__module__}:{type(task).__qualname__}"
    _LOADED[task.name] = task
    return task


def unregister_task(name: str) -> None:
    """Remove a task added with register_task (tests use this)."""
    TASKS.pop(name, None)
    _LOADED.pop(name, None)


def get_task(name: str) -> Task:
    """The task named by TASK; an unknown name lists the valid ones."""
    if name not in TASKS:
        raise ValueError(f"TASK={name!r}: unknown task. Supported tasks: {', '.join(TASKS)}.")
    if name not in _LOADED:
        module, cls = TASKS[name].split(":")
        _LOADED[name] = getattr(importlib.import_module(module), cls)()
    return _LOADED[name]


def task_for_architectures(architectures: list[str], source: str | Path = "config.json") -> Task:
    """The task whose model head a saved config's `architectures` names."""
    for name in TASKS:
        task = get_task(name)
        if task.architecture_suffix and any(a.endswith(task.architecture_suffix)
                                            for a in architectures):
            return task
    known = [get_task(n).architecture_suffix for n in TASKS]
    raise ValueError(f"{source}: architectures {architectures} names none of the heads hackkit "
                     f"trains ({', '.join('...' + k for k in known if k)}), so it is not a "
                     "fine-tuned model of a known task. Use the model/ folder that 02_finetune wrote.")


def other_task_hint(path, task_name: str) -> str:
    """'It looks like data for TASK=...; set it' when another task reads this file type, else ''."""
    suffix = find_input(path).suffix.lower()
    others = [name for name in TASKS if name != task_name and suffix in get_task(name).file_suffixes]
    if not others:
        return ""
    return (f"It looks like data for TASK={others[0]!r} ({get_task(others[0]).data_hint}). Set "
            f"TASK = {others[0]!r} in 01_explore and 02_finetune (or -p TASK {others[0]}).")


def check_file_type(task: Task, path) -> None:
    """Stop with the TASK to set when DATA_PATH is a file type another task reads, not this one."""
    file = find_input(path)
    suffix = file.suffix.lower()
    if not task.file_suffixes or not file.is_file() or suffix in task.file_suffixes:
        return
    hint = other_task_hint(file, task.name)
    if hint:
        raise ValueError(f"DATA_PATH: {file.name} is a {suffix} file, which TASK={task.name!r} does "
                         f"not read; {hint[0].lower()}{hint[1:]}")


# 02's parameters every method reads (or honours by finishing inside TIME_BUDGET_MINUTES).
COMMON_PARAMETERS = ("TASK", "METHOD", "MODEL", "MAX_LENGTH", "SEED", "DEVICE",
                     "TIME_BUDGET_MINUTES")
# What every method that trains with transformers' Trainer (the one training session) reads.
TRAINER_PARAMETERS = ("EPOCHS", "LEARNING_RATE", "BATCH_SIZE", "WEIGHT_DECAY", "WARMUP", "PATIENCE",
                      "PRECISION", "MAX_TRAIN_EXAMPLES")


@dataclass(frozen=True)
class Method:
    """A METHOD value: its training function, what it does, and the parameters it reads."""

    target: str  # "module:function(run_dir, config) -> TrainSummary"
    about: str  # what it does, in a few words (error messages and `hk.method_names`)
    options: tuple[str, ...] = ()  # 02's parameters it reads beyond COMMON_PARAMETERS
    text_labels: bool = False  # needs rows of a text and one label (Task.embedding_methods)
    plan: str = ""  # "module:function(splits, labels, config) -> plan": `hackkit run --dry-run`


METHODS: dict[str, Method] = {
    "finetune": Method(
        "hackkit.train.finetune:finetune", "every layer trained with Trainer",
        TRAINER_PARAMETERS + ("HEAD_INIT", "FREEZE_EMBEDDINGS", "AVERAGE_CHECKPOINTS",
                              "AVERAGE_MODE", "BASELINE_BLEND", "NPROC"),
        plan="hackkit.train.plan:estimate_plan"),
    "lora": Method(
        "hackkit.train.lora:finetune_lora", "low-rank adapters on a frozen model, merged on save",
        TRAINER_PARAMETERS + ("LORA_RANK", "LORA_ALPHA", "LORA_DROPOUT", "LORA_TARGETS",
                              "HEAD_INIT", "BASELINE_BLEND", "NPROC")),
    "embeddings": Method(
        "hackkit.train.fewlabels:train_embeddings",
        "a logistic regression on the frozen model's sentence embeddings",
        ("MAX_TRAIN_EXAMPLES",), text_labels=True),
    "contrastive": Method(
        "hackkit.train.fewlabels:train_contrastive",
        "the sentence encoder tuned on same-label pairs inside the budget (SetFit), then the "
        "logistic regression on its embeddings", ("MAX_TRAIN_EXAMPLES", "PRECISION"),
        text_labels=True),
    "zero-shot": Method(
        "hackkit.train.fewlabels:train_zero_shot",
        "label names (or descriptions) compared with the texts, no training",
        ("LABEL_DESCRIPTIONS",), text_labels=True),
    "lm-classifier": Method(
        "hackkit.train.lmclassifier:train_lm_classifier",
        "a small chat language model scores each label's words by likelihood, no training",
        ("LABEL_DESCRIPTIONS", "LM_SHOTS"), text_labels=True),
}
# `auto` picks one of the four above from the examples per class, so it reads what they read.
METHODS["auto"] = Method(
    "hackkit.train.methods:train_auto",
    "zero-shot, embeddings, contrastive or finetune, picked from the data",
    tuple(dict.fromkeys(METHODS["finetune"].options + METHODS["embeddings"].options
                        + METHODS["contrastive"].options + METHODS["zero-shot"].options)),
    text_labels=True)


def method_names() -> tuple[str, ...]:
    """The valid METHOD values."""
    return tuple(METHODS)


def get_method(name: str) -> Method:
    """The METHOD entry; an unknown name lists the valid ones."""
    if name not in METHODS:
        raise ValueError(f"METHOD={name!r} is out of range: use one of {method_names()}.")
    return METHODS[name]


def load_target(target: str):
    """The function or class a "module:name" string names."""
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)
