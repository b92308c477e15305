"""Generic data handling: read any table with clear errors, de-duplicate, split and save splits.

What a row means (a labelled text, a tagged sentence, an image) is the task's business; the task
modules call these helpers, and `make_splits` asks the task.
"""

from __future__ import annotations

import difflib
import io
import math
from pathlib import Path

import pandas as pd

from hackkit.base import SPLIT_ALIASES, SPLITS, Dataset, Task
from hackkit.paths import find_input, repo_root

SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
MIN_PER_CLASS = 3  # one example each for train, validation and test
DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "pipe"}


def read_table(path: str | Path) -> pd.DataFrame:
    """Read a CSV, TSV, JSON Lines, JSON or Parquet file into a DataFrame, with clear errors."""
    return _read_table(path)[0]


def _read_table(path: str | Path) -> tuple[pd.DataFrame, list[str]]:
    """read_table, also returning warnings about how the file was read (e.g. its delimiter)."""
    p = find_input(path)
    if not p.is_file():
        shipped = sorted(f.name for f in (repo_root() / "data").glob("*") if f.suffix in SUFFIXES)
        raise FileNotFoundError(
            f"DATA_PATH: data file {str(path)!r} not found (looked for {p}). Files in data/: "
            f"{', '.join(shipped) or 'none'}. Put your file in data/ and set DATA_PATH to its path."
        )
    suffix = p.suffix.lower()
    if suffix not in SUFFIXES:
        raise ValueError(
            f"DATA_PATH: {p.name} has an unsupported type {suffix!r}. Use one of "
            f"{', '.join(SUFFIXES)} (save your spreadsheet as CSV, for example)."
        )
    if p.stat().st_size == 0:
        raise ValueError(f"DATA_PATH: {p} is empty (0 bytes). Point DATA_PATH at a file with data.")
    warnings: list[str] = []
    if suffix == ".parquet":
        frame = _parse(lambda: pd.read_parquet(p), p)
    else:
        raw = p.read_bytes()
        try:
            text = raw.decode("utf-8-sig")  # -sig: Excel's UTF-8 files start with a BOM
        except UnicodeDecodeError as e:
            line = raw.count(b"\n", 0, e.start) + 1
            raise ValueError(
                f"DATA_PATH: {p} is not valid UTF-8 (first bad byte at offset {e.start}, line "
                f"{line}). Re-save the file as UTF-8 (in your editor, or with pandas: "
                "pd.read_csv(path, encoding='latin-1').to_csv(path, index=False))."
            ) from e
        if suffix in (".csv", ".tsv"):
            frame, warnings = _parse(lambda: _read_delimited(text, suffix, p), p)
        else:
            frame = _parse(lambda: _parse_text(text, suffix), p)
    if frame.empty:
        raise ValueError(
            f"DATA_PATH: {p} has column names but no rows. Add data rows below the header."
        )
    return frame, warnings


def _read_delimited(text: str, suffix: str, path: Path) -> tuple[pd.DataFrame, list[str]]:
    """Read CSV/TSV; if that fails or gives one column, try the delimiter the header uses."""
    expected = "\t" if suffix == ".tsv" else ","
    try:
        frame, error = pd.read_csv(io.StringIO(text), sep=expected), None
    except pd.errors.ParserError as e:  # e.g. ';'-separated texts that contain commas
        frame, error = None, e
    if frame is None or frame.shape[1] == 1:
        header = text.split("\n", 1)[0]
        found = max((d for d in DELIMITERS if d != expected), key=header.count)
        if header.count(found):
            try:
                retried = pd.read_csv(io.StringIO(text), sep=found)
            except pd.errors.ParserError:
                retried = None
            if retried is not None and retried.shape[1] > 1:
                return retried, [
                    f"DATA_PATH: {path.name} is {DELIMITERS[found]}-separated, not "
                    f"{DELIMITERS[expected]}-separated as its {suffix} suffix says; read it with "
                    f"{found!r}. Re-save it {DELIMITERS[expected]}-separated to silence this warning."
                ]
    if error is not None:
        raise error
    return frame, []


def _parse_text(text: str, suffix: str) -> pd.DataFrame:
    """Parse decoded JSON contents; .json may be one array or JSON Lines."""
    if suffix == ".json" and text.lstrip().startswith("["):
        return pd.read_json(io.StringIO(text))
    return pd.read_json(io.StringIO(text), lines=True)


def _parse(reader, path: Path):
    """Run a reader, turning parser errors into a message that names the file."""
    try:
        return reader()
    except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError, OSError) as e:
        raise ValueError(
            f"DATA_PATH: could not parse {path} as {path.suffix}: {e}. Check the file type, "
            "the delimiter and the quoting."
        ) from e


def check_column(frame: pd.DataFrame, column: str, parameter: str, path: Path) -> None:
    """Raise if `column` is not in the table, suggesting the closest names."""
    if column in frame.columns:
        return
    names = [str(c) for c in frame.columns]
    close = difflib.get_close_matches(column, names, n=3, cutoff=0.4)
    hint = f" Did you mean {' or '.join(repr(c) for c in close)}?" if close else ""
    raise ValueError(
        f"{parameter}={column!r}: no such column in {path.name}. Its columns are "
        f"{names}.{hint} Set {parameter} to the column that holds it."
    )


def clean_labels(labels: pd.Series) -> pd.Series:
    """Turn labels into stripped strings, keeping whole-number floats as integers (1.0 -> '1')."""
    def one(value: object) -> str | None:
        if value is None or (isinstance(value, float) and math.isnan(value)):
            return None
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        text = str(value).strip()
        return text or None

    return labels.map(one)


FOLDER_SPLIT = "_split_file"  # the split column of a table read from a folder of split files


def read_split_folder(folder: Path) -> tuple[pd.DataFrame, list[str]]:
    """A folder holding train.csv and test.csv (optionally validation.csv; any supported type)
    as one table whose FOLDER_SPLIT column says which file each row came from."""
    found: dict[str, Path] = {}
    for file in sorted(folder.iterdir()):
        split = SPLIT_ALIASES.get(file.stem.lower())
        if file.is_file() and file.suffix.lower() in SUFFIXES and split:
            if split in found:
                raise ValueError(f"DATA_PATH: {folder} has two {split} files, {found[split].name} "
                                 f"and {file.name}; keep one.")
            found[split] = file
    missing = [s for s in ("train", "test") if s not in found]
    if missing:
        names = sorted(f.name for f in folder.iterdir())
        raise ValueError(
            f"DATA_PATH: the folder {folder} has no {' and no '.join(missing)} file (it holds "
            f"{names or 'nothing'}). A folder of split files needs train.csv and test.csv, "
            f"optionally validation.csv (or dev/valid; any of {', '.join(SUFFIXES)}); or point "
            "DATA_PATH at one file."
        )
    parts, warnings = [], []
    for split, file in found.items():
        frame, read_warnings = _read_table(file)
        parts.append(frame.assign(**{FOLDER_SPLIT: split}))
        warnings += read_warnings
    return pd.concat(parts, ignore_index=True), warnings


def read_input(path: str | Path, split_column: str = ""
               ) -> tuple[pd.DataFrame, list[str], Path, str]:
    """DATA_PATH as one table: (table, warnings on how it was read, the path found, the split
    column to use, which for a folder of split files is FOLDER_SPLIT)."""
    p = find_input(path)
    if not p.is_dir():
        return (*_read_table(path), p, split_column)
    if split_column:
        raise ValueError(f"SPLIT_COLUMN={split_column!r}: DATA_PATH {p} is a folder whose "
                         "files are the splits; set SPLIT_COLUMN='' (or point DATA_PATH at "
                         "one file that has the split column).")
    return (*read_split_folder(p), p, FOLDER_SPLIT)


def split_values(raw: pd.DataFrame, split_column: str, path: Path) -> pd.Series:
    """The split column's values as train / validation / test; unknown values name the fix."""
    values = raw[split_column].map(lambda v: str(v).strip().lower())
    unknown = sorted(set(values) - set(SPLIT_ALIASES))
    if unknown:
        raise ValueError(
            f"SPLIT_COLUMN={split_column!r}: unknown split values {unknown} in {path.name}. "
            f"Use train / validation / test (or aliases {sorted(SPLIT_ALIASES)}), "
            "or set SPLIT_COLUMN='' to let hackkit make a stratified split."
        )
    return values.map(SPLIT_ALIASES)


def load_labelled_table(path: str | Path, text_column: str, label_column: str,
                        split_column: str = "") -> Dataset:
    """Load a table of inputs and labels and check it: columns, empty inputs, missing labels, splits.

    `path` may be a folder of split files (train.csv, test.csv, optional validation.csv).
    """
    raw, read_warnings, p, split_column = read_input(path, split_column)
    check_column(raw, text_column, "TEXT_COLUMN", p)
    check_column(raw, label_column, "LABEL_COLUMN", p)
    if split_column:
        check_column(raw, split_column, "SPLIT_COLUMN", p)

    frame = pd.DataFrame({
        "text": raw[text_column].map(lambda v: "" if pd.isna(v) else str(v).strip()),
        "label": clean_labels(raw[label_column]),
    })
    warnings: list[str] = list(read_warnings)
    dropped: dict[str, int] = {}
    empty = frame["text"] == ""
    if empty.all():
        raise ValueError(
            f"TEXT_COLUMN={text_column!r}: every text in {p.name} is empty or missing. "
            "Check that TEXT_COLUMN names the column with the texts."
        )
    missing = frame["label"].isna()
    if missing.all():
        raise ValueError(
            f"LABEL_COLUMN={label_column!r}: every label in {p.name} is missing. "
            "Label your data, or check that LABEL_COLUMN names the column with the labels."
        )
    if split_column:
        frame["split"] = split_values(raw, split_column, p)
    if empty.any():
        dropped["empty_text"] = int(empty.sum())
        warnings.append(f"{int(empty.sum())} rows with empty text were dropped.")
    if (missing & ~empty).any():
        dropped["missing_label"] = int((missing & ~empty).sum())
        warnings.append(f"{dropped['missing_label']} rows without a label were dropped.")
    frame = frame[~empty & ~missing].reset_index(drop=True)
    mixed = _mixed_labels(frame["label"], label_column)
    if mixed:
        warnings.append(mixed)
    return Dataset(frame=frame, path=p, warnings=warnings, dropped=dropped)


def _mixed_labels(labels: pd.Series, label_column: str) -> str:
    """Warn when some labels are numbers and others names: often a shifted or wrong column."""
    numeric = labels.str.fullmatch(r"[-+]?\d+(\.\d+)?")
    if not numeric.any() or numeric.all():
        return ""
    numbers = sorted(labels[numeric].unique())[:5]
    names = sorted(labels[~numeric].unique())[:5]
    return (
        f"LABEL_COLUMN={label_column!r}: {int(numeric.sum())} labels are numbers ({numbers}) "
        f"while {int((~numeric).sum())} are names ({names}). Check LABEL_COLUMN is the right "
        "column and that no rows are shifted; map the numbers to names if they mean the same classes."
    )


def normalise_text(text: str) -> str:
    """Key used to spot duplicates: lower case, single spaces."""
    return " ".join(text.lower().split())


def deduplicate(frame: pd.DataFrame, task: Task) -> tuple[pd.DataFrame, int, int]:
    """Drop repeated inputs (after normalising); return the frame, rows dropped, label conflicts.

    When the data comes with its own split, its test rows are all kept (they are scored whole, so
    scores compare with published ones): a repeat is dropped from train or validation instead.
    """
    key = task.dedupe_key(frame).map(normalise_text)
    labels = task.label_key(frame)
    conflicts = int((pd.DataFrame({"key": key, "label": labels}).groupby("key")["label"].nunique() > 1).sum())
    if "split" in frame:
        # The first copy wins, so look at test rows first, then validation, then train.
        rank = frame["split"].map({"test": 0, "validation": 1}).fillna(2)
        order = rank.sort_values(kind="stable").index
        keep = (~key.loc[order].duplicated()).reindex(frame.index) | (frame["split"] == "test")
    else:
        keep = ~key.duplicated()
    return frame[keep].reset_index(drop=True), int((~keep).sum()), conflicts


def check_classes(labels: pd.Series, min_per_class: int = MIN_PER_CLASS) -> None:
    """Raise if there is only one class or a class too small to appear in every split."""
    counts = labels.value_counts()
    if len(counts) < 2:
        raise ValueError(
            f"LABEL_COLUMN: found a single class {list(counts.index)}; a classifier needs at "
            "least two. Check LABEL_COLUMN, or add examples of the other classes."
        )
    small = counts[counts < min_per_class]
    if len(small):
        listed = ", ".join(f"{k!r} ({v})" for k, v in small.items())
        raise ValueError(
            f"LABEL_COLUMN: classes too small to split into train/validation/test: {listed}. "
            f"Each class needs at least {min_per_class} examples: add examples, merge these "
            "into a related class, or drop their rows."
        )


def _split_off(frame: pd.DataFrame, fraction: float, seed: int, name: str, value: float):
    """Stratified split of `fraction` of the frame; errors name the parameter to change."""
    n_classes = frame["label"].nunique()
    n_out = math.ceil(fraction * len(frame))
    if n_out < n_classes or len(frame) - n_out < n_classes:
        raise ValueError(
            f"{name}={value}: a stratified split of {len(frame)} rows into {n_out} and {len(frame) - n_out} needs at "
            f"least one row per class ({n_classes} classes) on each side. Adjust {name} "
            "or add data."
        )
    from sklearn.model_selection import train_test_split

    return train_test_split(frame, test_size=fraction, stratify=frame["label"], random_state=seed)


def make_splits(frame: pd.DataFrame, test_size: float, val_size: float, seed: int,
                task: Task) -> dict[str, pd.DataFrame]:
    """Train/validation/test frames as the task splits them, after checking the sizes."""
    for name, value in (("TEST_SIZE", test_size), ("VAL_SIZE", val_size)):
        if not 0 < value < 1:
            raise ValueError(f"{name}={value}: must be a fraction between 0 and 1, e.g. 0.2.")
    if test_size + val_size >= 0.9:
        raise ValueError(
            f"TEST_SIZE + VAL_SIZE = {test_size + val_size:.2f} leaves under 10% for training; "
            "lower them."
        )
    return task.split(frame, test_size, val_size, seed)


def stratified_splits(frame: pd.DataFrame, test_size: float, val_size: float,
                      seed: int) -> dict[str, pd.DataFrame]:
    """Single-label splits: the split column's when present, else stratified by label."""
    given = frame["split"] if "split" in frame else pd.Series("train", index=frame.index)
    rest = frame[given == "train"].drop(columns="split", errors="ignore")
    parts = {s: frame[given == s].drop(columns="split") for s in SPLITS[1:] if (given == s).any()}
    carved_test = "test" not in parts
    if carved_test:
        check_classes(rest["label"])
        rest, parts["test"] = _split_off(rest, test_size, seed, "TEST_SIZE", test_size)
    if "validation" not in parts:
        check_classes(rest["label"], min_per_class=2)
        # VAL_SIZE is a fraction of all rows, so rescale once the test rows are gone.
        fraction = val_size / (1 - test_size) if carved_test else val_size
        rest, parts["validation"] = _split_off(rest, fraction, seed, "VAL_SIZE", val_size)
    if rest.empty:
        raise ValueError("SPLIT_COLUMN: no rows are marked 'train'. Mark training rows 'train'.")
    check_classes(rest["label"], min_per_class=1)
    splits = {"train": rest, "validation": parts["validation"], "test": parts["test"]}
    return {k: v.reset_index(drop=True) for k, v in splits.items()}


def stratified_subsample(frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
    """Keep a stratified sample of n rows (all rows when n is 0 or not smaller)."""
    if n <= 0 or n >= len(frame):
        return frame
    n_classes = frame["label"].nunique()
    if n < n_classes:
        raise ValueError(
            f"MAX_TRAIN_EXAMPLES={n}: fewer than the {n_classes} classes; use 0 (all) or more."
        )
    from sklearn.model_selection import train_test_split

    kept, _ = train_test_split(frame, train_size=n, stratify=frame["label"], random_state=seed)
    return kept.reset_index(drop=True)
