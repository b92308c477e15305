"""Corrections from the demo: appended to the run folder's feedback file as they are given, and
merged by 01 (FEEDBACK) into the next run's training split, never into validation or test."""

from __future__ import annotations

import csv
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from hackkit.paths import append_csv_row, find_input
from hackkit.runfolder import Run
from hackkit.tables import normalise_text

COLUMNS = ("time", "text", "predicted", "label", "model")


def append_feedback(path: str | Path, text: str, predicted: str, label: str, model: str = "") -> Path:
    """Append one correction (text, what the model said, the right label, UTC time) and sync to disk."""
    if not isinstance(text, str) or not text.strip():
        raise ValueError("feedback: the text is empty; type the message the model got wrong first.")
    if not isinstance(label, str) or not label.strip():
        raise ValueError("feedback: no right label given; pick the label the text should have.")
    row = [datetime.now(timezone.utc).isoformat(timespec="seconds"), text, predicted, label.strip(),
           model]
    return append_csv_row(Path(path), COLUMNS, row)


def feedback_files(sources: str) -> list[Path]:
    """FEEDBACK: comma-separated run folders (their feedback file) or feedback files."""
    found = []
    for item in (s.strip() for s in str(sources).split(",")):
        if not item:
            continue
        path = find_input(item)
        file = Run(path).feedback if path.is_dir() else path
        if not file.is_file():
            raise FileNotFoundError(
                f"FEEDBACK={sources!r}: {file} not found. Give run folders whose demo received "
                f"corrections (they hold {Run(path).feedback.name}) or the feedback files themselves, "
                "comma-separated; leave FEEDBACK empty to use none.")
        found.append(file)
    return found


def read_feedback(sources: str) -> tuple[pd.DataFrame, int]:
    """All corrections (time, text, predicted, label, model, source) and the count of unreadable rows.

    A row cut short by a crash is skipped and counted, never guessed.
    """
    rows, broken = [], 0
    for file in feedback_files(sources):
        with open(file, newline="", encoding="utf-8") as f:
            reader = csv.reader(f)
            header = next(reader, None)
            if header is None:
                continue
            if tuple(header) != COLUMNS:
                raise ValueError(f"FEEDBACK: {file} does not start with the header {','.join(COLUMNS)}; "
                                 "it is not a feedback file written by the demo.")
            for values in reader:
                if len(values) != len(COLUMNS) or not values[1].strip() or not values[3].strip():
                    broken += 1
                    continue
                rows.append({**dict(zip(COLUMNS, values)), "source": str(file)})
    return pd.DataFrame(rows, columns=[*COLUMNS, "source"]), broken


def merge_feedback(splits: dict[str, pd.DataFrame], feedback: pd.DataFrame) -> tuple[dict, dict]:
    """Add corrections to train: the latest per text wins; texts in validation/test are skipped.

    Returns the new splits and a summary (added, relabelled with the conflicts, skipped ones).
    """
    latest = feedback.assign(key=feedback["text"].map(normalise_text)).drop_duplicates("key", keep="last")
    held_out = {name: set(splits[name]["text"].map(normalise_text)) for name in ("validation", "test")}
    train = splits["train"].copy()
    train_keys = train["text"].map(normalise_text)
    added, conflicts, skipped, same = [], [], {"validation": [], "test": []}, 0
    for row in latest.itertuples():
        where = [name for name, keys in held_out.items() if row.key in keys]
        if where:  # training on it would leak into the scores
            skipped[where[0]].append(row.text)
            continue
        hit = train_keys == row.key
        if hit.any():
            old = str(train.loc[hit, "label"].iloc[0])
            if old == row.label:
                same += 1
            else:
                conflicts.append({"text": row.text, "data_label": old, "correction": row.label})
                train.loc[hit, "label"] = row.label
            continue
        added.append({"text": row.text, "label": row.label})
    if added:
        train = pd.concat([train, pd.DataFrame(added)], ignore_index=True)
    summary = {"rows": len(feedback), "unique_texts": len(latest), "added": len(added),
               "relabelled": len(conflicts), "already_labelled": same, "conflicts": conflicts,
               "skipped_in_validation": len(skipped["validation"]),
               "skipped_in_test": len(skipped["test"]),
               "skipped_examples": (skipped["test"] + skipped["validation"])[:5],
               "new_labels": sorted(set(latest["label"]) - set(splits["train"]["label"]))}
    return {**splits, "train": train}, summary
