"""The task registry: TASK name -> the module and class that own everything task-specific.

Adding a task is one module with a `Task` subclass and one line in TASKS.
"""

from __future__ import annotations

import importlib
from pathlib import Path

from hackkit.base import Task

# TASK value -> "module:class"; imported on first use so `import hackkit` stays light.
TASKS: dict[str, str] = {
    "text-classification": "hackkit.tasks.text:TextClassification",
    "token-classification": "hackkit.tasks.ner:TokenClassification",
    "image-classification": "hackkit.tasks.images:ImageClassification",
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


def check_file_type(task: Task, path) -> None:
    """Stop with the TASK to set when DATA_PATH is a file type another task reads, not this one."""
    from hackkit.paths import find_input

    file = find_input(path)
    suffix = file.suffix.lower()
    if not task.file_suffixes or not file.is_file() or suffix in task.file_suffixes:
        return
    others = [name for name in TASKS if name != task.name and suffix in get_task(name).file_suffixes]
    if others:
        raise ValueError(
            f"DATA_PATH: {file.name} is a {suffix} file, which TASK={task.name!r} does not read; "
            f"it looks like data for TASK={others[0]!r} ({get_task(others[0]).data_hint}). Set "
            f"TASK = {others[0]!r} in 01_explore and 02_finetune (or -p TASK {others[0]})."
        )
