"""Check a dataset before any training: one report, with a fix for every problem found."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.data import Dataset, deduplicate, load_dataset, make_splits
from hackkit.explore import (NEAR_DUPLICATE, class_balance, label_counts, leakage, near_duplicates,
                             token_lengths)


@dataclass(frozen=True)
class Problem:
    """One finding: an `error` stops the run before training, a `warning` is shown and recorded."""

    level: str
    check: str
    message: str


@dataclass
class Diagnosis:
    """Everything the checks found, plus the loaded data and splits when loading got that far."""

    data_path: str
    problems: list[Problem] = field(default_factory=list)
    dataset: Dataset | None = None
    splits: dict[str, pd.DataFrame] | None = None
    duplicates: int = 0
    label_conflicts: int = 0
    lengths: np.ndarray | None = None

    @property
    def errors(self) -> list[str]:
        """Messages of the problems that block training."""
        return [p.message for p in self.problems if p.level == "error"]

    @property
    def warnings(self) -> list[str]:
        """Messages of the problems that are worth reading but do not block training."""
        return [p.message for p in self.problems if p.level == "warning"]

    def table(self) -> pd.DataFrame:
        """The problems as a table (level, check, message), errors first."""
        rows = sorted(self.problems, key=lambda p: p.level != "error")
        return pd.DataFrame([vars(p) for p in rows], columns=["level", "check", "message"])

    def text(self) -> str:
        """A plain-text report for the terminal."""
        head = f"data doctor: {self.data_path}"
        if not self.problems:
            return f"{head}\n  no problems found"
        lines = [head] + [f"  {p.level.upper():<8} [{p.check}] {p.message}" for p in
                          sorted(self.problems, key=lambda p: p.level != "error")]
        verdict = (f"{len(self.errors)} blocking problem(s): fix them before training"
                   if self.errors else "no blocking problems")
        return "\n".join(lines + [f"  {verdict}; {len(self.warnings)} warning(s)."])

    def raise_for_errors(self) -> None:
        """Stop with every blocking problem in one message."""
        if self.errors:
            raise ValueError("the data doctor found blocking problems:\n- " + "\n- ".join(self.errors))


def diagnose(
    data_path: str | Path, text_column: str = "text", label_column: str = "label",
    split_column: str = "", test_size: float = 0.2, val_size: float = 0.1, seed: int = 42,
    model: str = "", max_length: int = 128, task: str = "text-classification", tag_column: int = -1,
) -> Diagnosis:
    """Run every data check; `model` (optional) adds the count of texts cut at max_length.

    For token classification the file is CoNLL or JSON Lines (see hackkit.conll); its tag-scheme
    problems are reported as warnings with sentence, line and position.
    """
    report = Diagnosis(str(data_path))

    def add(level: str, check: str, message: str) -> None:
        report.problems.append(Problem(level, check, message))

    try:
        report.dataset = load_dataset(data_path, text_column, label_column, split_column,
                                      task=task, tag_column=tag_column)
    except (FileNotFoundError, ValueError) as e:
        add("error", "load", str(e))
        return report
    report.data_path = str(report.dataset.path)
    for message in report.dataset.warnings:
        add("warning", "rows", message)

    clean, report.duplicates, report.label_conflicts = deduplicate(report.dataset.frame)
    if report.duplicates:
        add("warning", "duplicates", f"{report.duplicates} repeated texts (ignoring case and "
            "spacing) are dropped before splitting, keeping the first of each; nothing to do "
            "unless the repeats were meant to weigh more.")
    if report.label_conflicts:
        add("warning", "label-conflicts", f"{report.label_conflicts} texts appear with different "
            "labels; the first label is kept. Look them up in the file and fix the labels.")

    try:
        report.splits = make_splits(clean, test_size, val_size, seed)
    except ValueError as e:
        add("error", "split", str(e))
        return report
    _check_splits(report.splits, split_column, task, add)
    if model:
        _check_lengths(report, clean, model, max_length, add)
    return report


def _check_splits(splits: dict[str, pd.DataFrame], split_column: str, task: str, add) -> None:
    """Labels the model never trains on, and test texts that nearly repeat training texts."""
    train_labels = set(label_counts(splits["train"]).index)
    for name in ("validation", "test"):
        counts = label_counts(splits[name])
        unseen = sorted(set(counts.index) - train_labels)
        if unseen:  # a text classifier has no output for them; a tagger only never learns them
            level = "error" if task == "text-classification" else "warning"
            add(level, "unseen-labels", f"SPLIT_COLUMN={split_column!r}: labels {unseen} "
                f"({int(counts[unseen].sum())} examples) are in {name} but never in train, so the "
                f"model cannot learn them. Mark some of their rows 'train', or remove them from {name}.")
    near = near_duplicates(splits)
    for name, rows in near.groupby("split", sort=False):
        example = rows.iloc[0]
        add("warning", "leakage", f"{len(rows)} {name} texts nearly repeat a training text "
            f"(similarity >= {NEAR_DUPLICATE}), e.g. {example['text']!r} ~ "
            f"{example['train_text']!r}. Scores on {name} will look better than they are: "
            f"drop these rows from {name} or from train.")


def _check_lengths(report: Diagnosis, clean: pd.DataFrame, model: str, max_length: int, add) -> None:
    """Count the texts longer than MAX_LENGTH tokens, which training cuts off."""
    from hackkit.models import load_tokenizer

    try:
        tokenizer = load_tokenizer(model)
    except (OSError, ValueError) as e:
        add("error", "model", str(e))
        return
    report.lengths = token_lengths(clean["text"], tokenizer)
    cut = int((report.lengths > max_length).sum())
    if cut:
        add("warning", "long-texts", f"{cut} of {len(clean)} texts are longer than "
            f"MAX_LENGTH={max_length} tokens (the longest has {int(report.lengths.max())}) and "
            "will be truncated. Raise MAX_LENGTH if their endings matter (training gets slower).")


def data_report(diagnosis: Diagnosis, max_length: int, params: dict) -> dict:
    """What 01_explore found, as a JSON-ready dict, with the doctor's warnings to act on."""
    dataset, splits, lengths = diagnosis.dataset, diagnosis.splits, diagnosis.lengths
    if dataset is None or splits is None or lengths is None:
        raise ValueError("data_report needs a diagnosis that loaded and split the data with a "
                         "model (diagnose(..., model=MODEL)); fix its errors first.")
    words = dataset.frame["text"].str.split().str.len()
    return {
        "data_path": str(dataset.path),
        "params": params,
        "rows_loaded": int(len(dataset.frame) + sum(dataset.dropped.values())),
        "rows_used": int(sum(len(f) for f in splits.values())),
        "dropped": {**dataset.dropped, "duplicates": diagnosis.duplicates},
        "label_conflicts": diagnosis.label_conflicts,
        "labels": sorted(label_counts(splits["train"]).index),
        "split_sizes": {name: len(f) for name, f in splits.items()},
        "class_balance": class_balance(splits).to_dict(orient="index"),
        "words_per_text": {"min": int(words.min()), "median": float(words.median()),
                           "max": int(words.max())},
        "tokens_per_text": {"min": int(lengths.min()), "median": float(np.median(lengths)),
                            "p95": float(np.percentile(lengths, 95)), "max": int(lengths.max())},
        "truncated_at_max_length": int((lengths > max_length).sum()),
        "leakage": leakage(splits),
        "near_duplicates": {name: int(n) for name, n in
                            near_duplicates(splits)["split"].value_counts().items()},
        "warnings": diagnosis.warnings,
        **dataset.info,  # NER: tag scheme found, conversions and repairs
    }
