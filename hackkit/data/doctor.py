"""Check a dataset before any training: one report, with a fix for every problem found."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.base import Dataset, Task
from hackkit.data.explore import class_balance, leakage
from hackkit.data.feedback import merge_feedback, read_feedback
from hackkit.params import DataConfig
from hackkit.registry import check_file_type, get_task
from hackkit.tables import deduplicate, make_splits


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
    task: Task | None = None
    problems: list[Problem] = field(default_factory=list)
    dataset: Dataset | None = None
    splits: dict[str, pd.DataFrame] | None = None
    duplicates: int = 0
    label_conflicts: int = 0
    lengths: np.ndarray | None = None
    near_duplicates: pd.DataFrame | None = None  # the task's table of inputs that nearly repeat others
    feedback: dict | None = None  # what FEEDBACK added to train, relabelled and skipped

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

    def summary(self):
        """The problems table, or a sentence saying that none were found."""
        return self.table() if self.problems else f"data doctor: no problems found in {self.data_path}."

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


def as_data_config(data: DataConfig | str | Path, **fields) -> DataConfig:
    """A DataConfig, from one or from a data path plus field overrides (text_column=...)."""
    if isinstance(data, DataConfig):
        return replace(data, **fields) if fields else data
    return DataConfig(data_path=str(data), **fields)


def load_data(data: DataConfig | str | Path, **fields) -> Dataset:
    """Load and check DATA_PATH the way its task reads it, e.g. load_data("data/x.csv", text_column="body")."""
    data = as_data_config(data, **fields)
    data.validate()
    task = get_task(data.task)
    check_file_type(task, data.data_path)
    return task.load(data)


def diagnose(data: DataConfig | str | Path, lengths: bool = True, **fields) -> Diagnosis:
    """Run every data check of the task; `lengths` adds the inputs cut at MAX_LENGTH."""
    data = as_data_config(data, **fields)
    data.validate()
    task = get_task(data.task)
    report = Diagnosis(str(data.data_path), task=task)

    def add(level: str, check: str, message: str) -> None:
        report.problems.append(Problem(level, check, message))

    try:
        check_file_type(task, data.data_path)
        report.dataset = task.load(data)
    except (FileNotFoundError, ValueError) as e:
        add("error", "load", str(e))
        return report
    report.data_path = str(report.dataset.path)
    for message in report.dataset.warnings:
        add("warning", "rows", message)

    clean, report.duplicates, report.label_conflicts = deduplicate(report.dataset.frame, task)
    given_test = "split" in report.dataset.frame and (report.dataset.frame["split"] == "test").any()
    if report.duplicates:
        kept = ("taken out of train and validation only (the data's own test split is kept whole, "
                "so its scores compare with published ones)" if given_test else
                "dropped before splitting, keeping the first of each")
        add("warning", "duplicates", f"{report.duplicates} repeated {task.unit} (ignoring case "
            f"and spacing) are {kept}; nothing to do unless the repeats were meant to weigh more.")
    if report.label_conflicts:
        add("warning", "label-conflicts", f"{report.label_conflicts} {task.unit} appear with "
            "different labels; the first label is kept. Look them up in the file and fix the labels.")

    try:
        report.splits = make_splits(clean, data.test_size, data.val_size, data.seed, task)
    except ValueError as e:
        add("error", "split", str(e))
        return report
    if task.label_counts(report.splits["train"]).empty:
        # An error, not a warning: training would run for minutes and then fail in evaluation.
        add("error", "no-labels", f"the training {task.unit} hold no {task.label_unit}s at all "
            "(tagged data: every tag is O), so the model has nothing to learn. Check that "
            "TAG_COLUMN (or LABEL_COLUMN) names the column with the tags, or tag the data.")
    if data.feedback:
        _merge_feedback(report, data.feedback, add)
    _check_labels(report.splits, data.split_column, task, add)
    report.near_duplicates = task.near_duplicates(report.splits)
    for level, check, message in task.extra_checks(report.dataset, report.splits,
                                                   report.near_duplicates):
        add(level, check, message)  # e.g. texts: near repeats; images: unreadable files, duplicates
    if lengths:
        _check_lengths(report, clean, data.model, data.max_length, add)
    return report


def _merge_feedback(report: Diagnosis, sources: str, add) -> None:
    """Add demo corrections (FEEDBACK) to train; report conflicts and texts held out for testing."""
    task = report.task
    if not task.accepts_feedback:
        add("error", "feedback", f"FEEDBACK={sources!r}: {task.name} runs take no demo corrections "
            "(they are one label per text); leave FEEDBACK empty.")
        return
    try:
        rows, broken = read_feedback(sources)
    except (FileNotFoundError, ValueError) as e:
        add("error", "feedback", str(e))
        return
    report.splits, found = merge_feedback(report.splits, rows)
    report.feedback = {**found, "sources": sources, "unreadable_rows": broken}
    if broken:
        add("warning", "feedback", f"FEEDBACK: {broken} rows cut short or empty (e.g. a crash while "
            "writing) were skipped; the others were used.")
    if found["conflicts"]:
        c = found["conflicts"][0]
        add("warning", "feedback-conflicts", f"FEEDBACK: {len(found['conflicts'])} corrected texts "
            f"are in the data with another label, e.g. {c['text']!r}: {c['data_label']!r} in the data, "
            f"{c['correction']!r} in the feedback. The correction is used for training; fix "
            "DATA_PATH too if it is right.")
    held = found["skipped_in_test"] + found["skipped_in_validation"]
    if held:
        add("warning", "feedback-leakage", f"FEEDBACK: {held} corrected texts are in the test "
            f"({found['skipped_in_test']}) or validation ({found['skipped_in_validation']}) split, "
            f"e.g. {found['skipped_examples'][0]!r}; they were left out of training so the scores "
            "stay honest.")
    if found["new_labels"]:
        add("warning", "feedback-labels", f"FEEDBACK: labels {found['new_labels']} come only from "
            "corrections: the model learns them from those few texts and the test split cannot "
            "score them. Add labelled examples of them to DATA_PATH.")


def _check_labels(splits: dict[str, pd.DataFrame], split_column: str, task: Task, add) -> None:
    """Labels the model never trains on."""
    train_labels = set(task.label_counts(splits["train"]).index)
    for name in ("validation", "test"):
        counts = task.label_counts(splits[name])
        unseen = sorted(set(counts.index) - train_labels)
        if unseen:  # a classifier has no output for them; a tagger only never learns them
            level = "error" if task.unseen_labels_block else "warning"
            add(level, "unseen-labels", f"SPLIT_COLUMN={split_column!r}: labels {unseen} "
                f"({int(counts[unseen].sum())} examples) are in {name} but never in train, so the "
                f"model cannot learn them. Mark some of their rows 'train', or remove them from {name}.")


def _check_lengths(report: Diagnosis, clean: pd.DataFrame, model: str, max_length: int, add) -> None:
    """Count the inputs longer than MAX_LENGTH tokens, which training cuts off."""
    try:
        report.lengths = report.task.lengths(clean, model)
    except (OSError, ValueError) as e:  # MODEL's tokenizer did not load
        add("error", "model", str(e))
        return
    if report.lengths is None:  # e.g. images: no tokens
        return
    cut = int((report.lengths > max_length).sum())
    if cut:
        add("warning", "long-texts", f"{cut} of {len(clean)} {report.task.unit} are longer than "
            f"MAX_LENGTH={max_length} tokens (the longest has {int(report.lengths.max())}) and "
            "will be truncated. Raise MAX_LENGTH if their endings matter (training gets slower).")


def data_report(diagnosis: Diagnosis, data: DataConfig) -> dict:
    """What 01_explore found, as a JSON-ready dict, with the doctor's warnings to act on."""
    dataset, splits, lengths = diagnosis.dataset, diagnosis.splits, diagnosis.lengths
    if dataset is None or splits is None or diagnosis.task is None:
        raise ValueError("data_report needs a diagnosis that loaded and split the data; fix "
                         "its errors first.")
    task, max_length = diagnosis.task, data.max_length
    report = {
        "task": task.name,
        "data_path": str(dataset.path),
        "params": data.as_params(),
        "rows_loaded": int(len(dataset.frame) + sum(dataset.dropped.values())),
        "rows_used": int(sum(len(f) for f in splits.values())),
        "dropped": {**dataset.dropped, "duplicates": diagnosis.duplicates},
        "label_conflicts": diagnosis.label_conflicts,
        "labels": sorted(task.label_counts(splits["train"]).index),
        "split_sizes": {name: len(f) for name, f in splits.items()},
        "class_balance": class_balance(splits, task).to_dict(orient="index"),
        "leakage": leakage(splits, task),
        "near_duplicates": len(diagnosis.near_duplicates)
        if diagnosis.near_duplicates is not None else 0,
        "warnings": diagnosis.warnings,
        **task.describe(dataset.frame),
        **dataset.info,  # NER: tag scheme found, conversions and repairs
    }
    if diagnosis.feedback is not None:
        report["feedback"] = diagnosis.feedback
    if lengths is not None:
        report["tokens_per_input"] = {"min": int(lengths.min()), "median": float(np.median(lengths)),
                                      "p95": float(np.percentile(lengths, 95)),
                                      "max": int(lengths.max())}
        report["truncated_at_max_length"] = int((lengths > max_length).sum())
    return report
