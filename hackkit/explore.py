"""Look at the data before training: class balance, lengths, duplicates and leakage."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from hackkit.data import Dataset, normalise_text


def _label_counts(frame: pd.DataFrame) -> pd.Series:
    """Examples per label, or entities per type for tagged sentences."""
    if "tags" in frame:
        from hackkit.ner import entity_counts
        return entity_counts(frame)
    return frame["label"].value_counts()


def class_balance(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Examples per label (NER: entities per type) in rows, splits in columns, with a total."""
    table = pd.DataFrame({name: _label_counts(f) for name, f in splits.items()})
    table = table.fillna(0).astype(int)
    table["total"] = table.sum(axis=1)
    return table.sort_values("total", ascending=False)


def plot_class_balance(splits: dict[str, pd.DataFrame]):
    """Stacked bar chart of examples per label and split."""
    import matplotlib.pyplot as plt

    table = class_balance(splits).drop(columns="total")
    fig, ax = plt.subplots(figsize=(8, 3.5))
    table.plot.bar(stacked=True, ax=ax)
    tagged = "tags" in splits["train"]
    ax.set(xlabel="entity type" if tagged else "label", ylabel="entities" if tagged else "examples",
           title="Entities per type and split" if tagged else "Class balance per split")
    ax.tick_params(axis="x", rotation=30)
    fig.tight_layout()
    return fig


def token_lengths(texts: Sequence[str], tokenizer) -> np.ndarray:
    """Number of tokens per text, special tokens included, with no truncation."""
    return np.array([len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]])


def plot_lengths(lengths: np.ndarray, max_length: int):
    """Histogram of token lengths with the truncation limit marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 3))
    ax.hist(lengths, bins=40, color="tab:blue", alpha=0.8)
    ax.axvline(max_length, color="tab:red", linestyle="--", label=f"MAX_LENGTH = {max_length}")
    ax.set(xlabel="tokens per text", ylabel="texts", title="Text length")
    ax.legend()
    fig.tight_layout()
    return fig


def leakage(splits: dict[str, pd.DataFrame]) -> dict[str, int]:
    """How many validation/test texts also appear (normalised) in the training split."""
    train = set(splits["train"]["text"].map(normalise_text))
    return {
        name: int(frame["text"].map(normalise_text).isin(train).sum())
        for name, frame in splits.items() if name != "train"
    }


def data_report(
    dataset: Dataset, splits: dict[str, pd.DataFrame], lengths: np.ndarray, max_length: int,
    duplicates: int, label_conflicts: int, params: dict,
) -> dict:
    """Everything 01_explore found, as a JSON-ready dict with the warnings to act on."""
    warnings = list(dataset.warnings)
    truncated = int((lengths > max_length).sum())
    leaks = leakage(splits)
    if duplicates:
        warnings.append(f"{duplicates} duplicate texts were dropped (kept the first of each).")
    if label_conflicts:
        warnings.append(f"{label_conflicts} texts appear with different labels; kept the first.")
    if truncated:
        warnings.append(f"{truncated} texts are longer than MAX_LENGTH={max_length} tokens and "
                        "will be truncated; raise MAX_LENGTH if their endings matter.")
    for name, count in leaks.items():
        if count:
            warnings.append(f"{count} {name} texts also appear in train (leakage): scores on "
                            f"{name} will look better than they are.")
    train_labels = set(_label_counts(splits["train"]).index)
    for name in ("validation", "test"):
        unseen = sorted(set(_label_counts(splits[name]).index) - train_labels)
        if unseen:
            warnings.append(f"labels {unseen} are in {name} but never in train.")
    words = dataset.frame["text"].str.split().str.len()
    return {
        "data_path": str(dataset.path),
        "params": params,
        "rows_loaded": int(len(dataset.frame) + sum(dataset.dropped.values())),
        "rows_used": int(sum(len(f) for f in splits.values())),
        "dropped": {**dataset.dropped, "duplicates": duplicates},
        "label_conflicts": label_conflicts,
        "labels": sorted(train_labels),
        "split_sizes": {name: len(f) for name, f in splits.items()},
        "class_balance": class_balance(splits).to_dict(orient="index"),
        "words_per_text": {"min": int(words.min()), "median": float(words.median()),
                           "max": int(words.max())},
        "tokens_per_text": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                            "p95": float(np.percentile(lengths, 95)), "max": int(lengths.max())},
        "truncated_at_max_length": truncated,
        "leakage": leaks,
        "warnings": warnings,
        **dataset.info,
    }
