"""Look at the data before training: class balance, lengths, duplicates and leakage (any task)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from hackkit.base import Task
from hackkit.device import resolve_device
from hackkit.models.resolve import resolve_for_task
from hackkit.runfolder import Run, load_splits
from hackkit.tables import normalise_text


def class_balance(splits: dict[str, pd.DataFrame], task: Task) -> pd.DataFrame:
    """Examples per label (NER: entities per type) in rows, splits in columns, with a total."""
    table = pd.DataFrame({name: task.label_counts(f) for name, f in splits.items()})
    table = table.fillna(0).astype(int)
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False)


def plot_class_balance(splits: dict[str, pd.DataFrame], task: Task, top: int = 40):
    """Stacked bar chart of examples per label and split (the `top` largest labels)."""
    import matplotlib.pyplot as plt

    table = class_balance(splits, task).drop(columns="total").head(top)
    fig, ax = plt.subplots(figsize=(max(8, 0.25 * len(table)), 3.5))
    if table.empty:  # e.g. tagged data whose tags are all O: say so instead of an empty plot
        ax.text(0.5, 0.5, f"no {task.label_unit}s in the data: nothing to plot",
                ha="center", va="center", transform=ax.transAxes)
        ax.set(title=f"Examples per {task.label_unit} and split", xticks=[], yticks=[])
        return fig
    table.plot.bar(stacked=True, ax=ax)
    shown = f" (largest {top} of {len(class_balance(splits, task))})" if len(table) == top else ""
    ax.set(xlabel=task.label_unit, ylabel="count",
           title=f"Examples per {task.label_unit} and split{shown}")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def plot_lengths(lengths: np.ndarray, max_length: int):
    """Histogram of token lengths with the truncation limit marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.hist(lengths, bins=40, color="tab:blue", alpha=0.8)
    ax.axvline(max_length, color="tab:red", linestyle="--", label=f"MAX_LENGTH = {max_length}")
    ax.set(xlabel="tokens per input", ylabel="inputs", title="Input length")
    ax.legend()
    fig.tight_layout()
    return fig


def leakage(splits: dict[str, pd.DataFrame], task: Task) -> dict[str, int]:
    """How many validation/test inputs also appear (normalised) in the training split."""
    train = set(task.dedupe_key(splits["train"]).map(normalise_text))
    return {
        name: int(task.dedupe_key(frame).map(normalise_text).isin(train).sum())
        for name, frame in splits.items() if name != "train"
    }


def near_duplicates(splits: dict[str, pd.DataFrame], task: Task) -> pd.DataFrame:
    """Inputs that nearly repeat others, as the task compares them (texts: typos, case; images: pixels)."""
    return task.near_duplicates(splits)


def plot_examples(splits: dict[str, pd.DataFrame], task: Task):
    """The task's grid of examples per class, or a sentence saying it has none."""
    fig = task.plot_examples(splits)
    return fig if fig is not None else f"no examples view for {task.name}"


def plot_input_sizes(splits: dict[str, pd.DataFrame], task: Task, lengths, max_length: int):
    """Token lengths against MAX_LENGTH, or the task's own size view (e.g. image sides and aspect)."""
    fig = task.plot_sizes(splits)
    if fig is not None:
        return fig
    if lengths is None:
        return f"no input-size view for {task.name}"
    return plot_lengths(lengths, max_length)


def prepare_features(run_dir, model: str = "", max_length: int = 128, device: str = "auto") -> str:
    """01's last step: compute once what 02's warm start and baselines read (for text, several
    labels and scores: the frozen sentence embeddings of train and validation, cached beside the
    run folders and shared by every run on the same splits), so 02's budget goes to training.
    Returns a line saying what was done."""
    import time

    run = Run(run_dir)
    task = run.task()
    splits, _ = load_splits(run.path)
    started = time.monotonic()
    location = resolve_for_task(task, model).location
    count = task.prepare_features(splits, location, max_length, run.embeddings,
                                  resolve_device(device))
    if not count:
        return f"{task.name}: nothing for 02 to read ahead; 02 starts from the model itself."
    return (f"embedded the {count} training and validation {task.unit} with {model or 'the default model'} "
            f"({max_length} tokens) in {time.monotonic() - started:.0f} s; 02's probe start and "
            f"embeddings baseline read them from {run.embeddings} (02 with another MODEL or "
            "MAX_LENGTH computes its own)")
