"""Read tagged sentences (CoNLL columns or JSON Lines), check their tag scheme, convert to IOB2."""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from hackkit.base import SPLIT_ALIASES

SCHEMES = ("IOB1", "IOB2", "BIOES")
TAG_PATTERN = re.compile(r"^(?:O|[BIES]-\S+)$")
JSON_SUFFIXES = (".jsonl", ".json")
MAX_LISTED = 10  # problems spelled out in a message; the rest are counted


@dataclass
class SchemeProblem:
    """One invalid tag transition: sentence number (1-based), file line, token position, why."""

    sentence: int
    line: int
    position: int
    tag: str
    reason: str
    file: str = ""

    def __str__(self) -> str:
        where = f"sentence {self.sentence}" + (f" (line {self.line})" if self.line else "")
        if self.file:
            where += f" of {self.file}"
        return f"{where}, token {self.position}: {self.tag} {self.reason}"


def _split(tag: str) -> tuple[str, str]:
    """('B', 'PER') for 'B-PER', ('O', '') for 'O'."""
    return ("O", "") if tag == "O" else (tag[0], tag[2:])


def read_conll(path: Path, tag_column: int = -1) -> pd.DataFrame:
    """Sentences of a CoNLL-style file: whitespace-separated columns, blank line between sentences."""
    text = _decode(path)
    sentences: list[dict] = []
    tokens: list[str] = []
    tags: list[str] = []
    start = 0
    widths: Counter = Counter()
    for number, raw in enumerate(text.splitlines(), start=1):
        cells = raw.split()
        if not cells or cells[0] == "-DOCSTART-":
            if tokens:
                sentences.append({"tokens": tokens, "tags": tags, "line": start})
            tokens, tags = [], []
            continue
        if len(cells) < 2:
            raise ValueError(
                f"DATA_PATH: {path.name} line {number} has one column ({raw.strip()!r}); a CoNLL "
                "file needs a token and a tag per line, separated by whitespace, and a blank line "
                "between sentences."
            )
        if not -len(cells) <= tag_column < len(cells) or tag_column == 0:
            raise ValueError(
                f"TAG_COLUMN={tag_column}: line {number} of {path.name} has {len(cells)} columns "
                f"({raw.strip()!r}). Use -1 for the last column, or 1 to {len(cells) - 1} "
                "(0 is the token)."
            )
        widths[len(cells)] += 1
        if not tokens:
            start = number
        tokens.append(cells[0])
        tags.append(cells[tag_column])
    if tokens:
        sentences.append({"tokens": tokens, "tags": tags, "line": start})
    if not sentences:
        raise ValueError(f"DATA_PATH: {path} holds no sentences (only blank or -DOCSTART- lines).")
    frame = pd.DataFrame(sentences)
    _check_tags(frame, path, f"TAG_COLUMN={tag_column}", _column_hint(text, widths, tag_column))
    return frame


def read_token_jsonl(path: Path, tokens_field: str, tags_field: str,
                     split_field: str = "") -> pd.DataFrame:
    """Sentences of a JSON Lines file whose records hold a token list and a tag list."""
    text = _decode(path)
    rows = []
    for number, raw in enumerate(text.splitlines(), start=1):
        if not raw.strip():
            continue
        try:
            record = json.loads(raw)
        except json.JSONDecodeError as e:
            raise ValueError(f"DATA_PATH: {path.name} line {number} is not valid JSON: {e}.") from e
        for name, field in (("TEXT_COLUMN", tokens_field), ("LABEL_COLUMN", tags_field),
                            ("SPLIT_COLUMN", split_field)):
            if field and field not in record:
                raise ValueError(
                    f"{name}={field!r}: line {number} of {path.name} has no such field; its "
                    f"fields are {sorted(record)}. For token classification TEXT_COLUMN names "
                    "the token list and LABEL_COLUMN the tag list."
                )
        tokens, tags = record[tokens_field], record[tags_field]
        if not (isinstance(tokens, list) and isinstance(tags, list)) or len(tokens) != len(tags):
            raise ValueError(
                f"DATA_PATH: {path.name} line {number}: {tokens_field!r} and {tags_field!r} must "
                f"be lists of equal length (found {type(tokens).__name__} of "
                f"{len(tokens) if isinstance(tokens, list) else '?'} and {type(tags).__name__} of "
                f"{len(tags) if isinstance(tags, list) else '?'})."
            )
        if not tokens:
            continue
        row = {"tokens": [str(t) for t in tokens], "tags": [str(t) for t in tags], "line": number}
        if split_field:
            value = str(record[split_field]).strip().lower()
            if value not in SPLIT_ALIASES:
                raise ValueError(
                    f"SPLIT_COLUMN={split_field!r}: line {number} of {path.name} has split "
                    f"{value!r}; use train / validation / test (or {sorted(SPLIT_ALIASES)})."
                )
            row["split"] = SPLIT_ALIASES[value]
        rows.append(row)
    if not rows:
        raise ValueError(f"DATA_PATH: {path} holds no sentences with tokens.")
    frame = pd.DataFrame(rows)
    _check_tags(frame, path, f"LABEL_COLUMN={tags_field!r}", "")
    return frame


def _decode(path: Path) -> str:
    """The file's text, with a clear error for a file that is not UTF-8."""
    try:
        return path.read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise ValueError(
            f"DATA_PATH: {path} is not valid UTF-8 (first bad byte at offset {e.start}). "
            "Re-save it as UTF-8."
        ) from e


def _column_hint(text: str, widths: Counter, tag_column: int) -> str:
    """Name the columns that do hold tags, to help when TAG_COLUMN picked the wrong one."""
    lines = [ln.split() for ln in text.splitlines()[:2000] if ln.strip()]
    lines = [c for c in lines if c[0] != "-DOCSTART-"]
    width = widths.most_common(1)[0][0]
    good = [i for i in range(1, width)
            if all(len(c) == width and TAG_PATTERN.match(c[i]) for c in lines if len(c) == width)]
    if not good:
        return " No column of this file looks like tags."
    return f" Column(s) {good} (0 is the token) look like tags: try TAG_COLUMN={good[-1]}."


def _check_tags(frame: pd.DataFrame, path: Path, parameter: str, hint: str) -> None:
    """Raise if any tag is not O or a B-/I-/E-/S- prefix with a type."""
    bad = [(i, j, t) for i, tags in enumerate(frame["tags"]) for j, t in enumerate(tags)
           if not TAG_PATTERN.match(t)]
    if bad:
        found = Counter(t for _, _, t in bad).most_common(5)
        i, j, tag = bad[0]
        raise ValueError(
            f"{parameter}: {len(bad)} tags in {path.name} are not O or B-/I-/E-/S- followed by a "
            f"type, e.g. {tag!r} in sentence {i + 1} (line {frame['line'][i]}), token {j + 1}; "
            f"most common: {found}.{hint}"
        )


def scheme_problems(tags_per_sentence: Sequence[Sequence[str]], scheme: str,
                    lines: Sequence[int] = ()) -> list[SchemeProblem]:
    """Every transition that `scheme` does not allow, with sentence number and token position."""
    if scheme not in SCHEMES:
        raise ValueError(f"scheme={scheme!r}: use one of {SCHEMES}.")
    problems = []
    for s, tags in enumerate(tags_per_sentence):
        line = lines[s] if lines else 0
        prev_prefix, prev_type = "O", ""
        for position, tag in enumerate(list(tags) + ["O"], start=1):
            prefix, kind = _split(tag)
            continues = prev_type == kind and prev_prefix in ("B", "I")
            after = "the sentence start" if position == 1 else _name(prev_prefix, prev_type)
            reason = ""
            if scheme == "IOB2" and prefix == "I" and not continues:
                reason = f"starts an entity after {after} (IOB2 needs B- first)"
            elif scheme == "IOB1" and prefix == "B" and prev_type != kind:
                reason = f"follows {after} (IOB1 uses B- only between two {kind} entities)"
            elif scheme != "BIOES" and prefix in "ES":
                reason = f"is a BIOES tag in an {scheme} file"
            elif scheme == "BIOES" and prefix in "IE" and not continues:
                reason = f"follows {after} (BIOES needs B- first)"
            elif scheme == "BIOES" and prev_prefix in ("B", "I") and not (
                    prefix in "IE" and kind == prev_type):
                reason = f"follows {prev_prefix}-{prev_type}, which is never closed by E-{prev_type}"
            if reason and position <= len(tags):
                problems.append(SchemeProblem(s + 1, line, position, tag, reason))
            elif reason:  # the sentence ended inside an entity
                problems.append(SchemeProblem(s + 1, line, position - 1, tags[-1],
                                              f"ends the sentence without E-{prev_type}"))
            prev_prefix, prev_type = prefix, kind
    return problems


def _name(prefix: str, kind: str) -> str:
    """How a previous tag is named in a problem message."""
    return "O" if prefix == "O" else f"{prefix}-{kind}"


def detect_scheme(tags_per_sentence: Sequence[Sequence[str]]) -> str:
    """BIOES if any E-/S- tag; else IOB1 or IOB2, whichever the tags break less often (ties: IOB2)."""
    prefixes = {t[0] for tags in tags_per_sentence for t in tags}
    if prefixes & {"E", "S"}:
        return "BIOES"
    iob2 = len(scheme_problems(tags_per_sentence, "IOB2"))
    return "IOB2" if iob2 <= len(scheme_problems(tags_per_sentence, "IOB1")) else "IOB1"


def to_iob2(tags: Sequence[str]) -> list[str]:
    """Convert one sentence from IOB1, IOB2 or BIOES to IOB2; an I- or E- that opens an entity becomes B-."""
    out = []
    prev_prefix, prev_type = "O", ""
    for tag in tags:
        prefix, kind = _split(tag)
        if prefix == "O":
            out.append("O")
        elif prefix in "BS" or not (prev_type == kind and prev_prefix in ("B", "I")):
            out.append(f"B-{kind}")
        else:
            out.append(f"I-{kind}")
        prev_prefix, prev_type = prefix, kind
    return out


def entity_types(tags: Sequence[str]) -> list[str]:
    """The type of each entity in one IOB2 sentence, in order."""
    return [t[2:] for t in tags if t.startswith("B-")]


def tag_labels(tags_per_sentence: Sequence[Sequence[str]]) -> list[str]:
    """The label list for a model: O, then B- and I- of every entity type found, sorted by type."""
    kinds = sorted({_split(t)[1] for tags in tags_per_sentence for t in tags} - {""})
    return ["O"] + [f"{p}-{k}" for k in kinds for p in "BI"]


# CoNLL-2003 names its splits eng.train, eng.testa (validation) and eng.testb (test).
FILE_SPLITS = {**SPLIT_ALIASES, "testa": "validation", "testb": "test"}


def read_split_folder(folder: Path, tokens_field: str, tags_field: str,
                      tag_column: int) -> pd.DataFrame:
    """Sentences of a folder with one file per split (train, dev/valid/testa, test/testb), with a split column."""
    found: dict[str, Path] = {}
    for file in sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")):
        names = {FILE_SPLITS[w] for w in re.split(r"[._\-\s]+", file.name.lower()) if w in FILE_SPLITS}
        if len(names) == 1:
            split = names.pop()
            if split in found:
                raise ValueError(f"DATA_PATH: {folder} has two {split} files, {found[split].name} "
                                 f"and {file.name}; keep one.")
            found[split] = file
    missing = [s for s in ("train", "validation", "test") if s not in found]
    if missing:
        raise ValueError(
            f"DATA_PATH: folder {folder} has no file for {missing} (found "
            f"{sorted(p.name for p in folder.iterdir())}). Name the files by split, e.g. "
            "train.txt, dev.txt, test.txt or CoNLL-2003's eng.train, eng.testa, eng.testb; "
            "or point DATA_PATH at a single file."
        )
    parts = []
    for split, file in found.items():
        part = (read_token_jsonl(file, tokens_field, tags_field) if file.suffix.lower() in JSON_SUFFIXES
                else read_conll(file, tag_column))
        parts.append(part.assign(split=split, file=file.name))
    return pd.concat(parts, ignore_index=True)


def _check_has_entities(frame: pd.DataFrame, path: Path) -> None:
    """Refuse data whose every tag is O: there is nothing to learn, and training would fail late."""
    if any(t != "O" for tags in frame["tags"] for t in tags):
        return
    words = sum(len(t) for t in frame["tags"])
    raise ValueError(
        f"DATA_PATH: every tag in {path} is 'O' ({len(frame)} sentences, {words} words): it marks "
        "no entity, so a model has nothing to learn. Tag the entities (B-TYPE on an entity's "
        "first word, I-TYPE on the rest); if the tags are elsewhere, point TAG_COLUMN (CoNLL "
        "columns) or LABEL_COLUMN (JSON Lines) at them."
    )


def load_tagged(path: Path, tokens_field: str = "tokens", tags_field: str = "tags",
                split_field: str = "", tag_column: int = -1) -> tuple[pd.DataFrame, list[str], dict]:
    """Read, check and convert a tagged file or split folder: (frame of text/tokens/tags[/split], warnings, info)."""
    if path.is_dir():
        frame = read_split_folder(path, tokens_field, tags_field, tag_column)
    elif path.suffix.lower() in JSON_SUFFIXES:
        frame = read_token_jsonl(path, tokens_field, tags_field, split_field)
    else:
        frame = read_conll(path, tag_column)
        if split_field:
            raise ValueError(
                f"SPLIT_COLUMN={split_field!r}: CoNLL files have no split column. Set "
                "SPLIT_COLUMN='' (hackkit splits the sentences), or use JSON Lines with a split field."
            )
    _check_has_entities(frame, path)
    scheme = detect_scheme(frame["tags"])
    problems = scheme_problems(frame["tags"], scheme, list(frame["line"]))
    if "file" in frame:  # sentence numbers count across the folder's files; name the file too
        for p in problems:
            p.file = frame["file"][p.sentence - 1]
    warnings = [f"tags follow the {scheme} scheme; converted to IOB2."] if scheme != "IOB2" else []
    if problems:
        listed = "; ".join(str(p) for p in problems[:MAX_LISTED])
        more = f" (and {len(problems) - MAX_LISTED} more)" if len(problems) > MAX_LISTED else ""
        warnings.append(f"{len(problems)} invalid {scheme} tag sequences, repaired by starting "
                        f"an entity there: {listed}{more}.")
    frame["tags"] = frame["tags"].map(to_iob2)
    frame.insert(0, "text", frame["tokens"].map(" ".join))
    frame = frame.drop(columns="file", errors="ignore")
    info = {"tag_scheme": scheme, "scheme_problems": [str(p) for p in problems]}
    return frame, warnings, info


def split_sentences(frame: pd.DataFrame, test_size: float, val_size: float,
                    seed: int) -> dict[str, pd.DataFrame]:
    """Train/validation/test sentences: the file's split field if any, else a seeded shuffle."""
    if "split" in frame:
        parts = {s: frame[frame["split"] == s].drop(columns="split") for s in ("train", "validation", "test")}
        missing = [s for s, f in parts.items() if f.empty]
        if missing:
            raise ValueError(
                f"SPLIT_COLUMN: no sentences are marked {missing}. Mark them, or set "
                "SPLIT_COLUMN='' to let hackkit split the sentences."
            )
        return {k: v.reset_index(drop=True) for k, v in parts.items()}
    n = len(frame)
    n_test, n_val = round(test_size * n), round(val_size * n)
    if min(n_test, n_val, n - n_test - n_val) < 1:
        raise ValueError(
            f"TEST_SIZE={test_size}, VAL_SIZE={val_size}: {n} sentences cannot give at least one "
            "to each of train, validation and test. Add sentences or adjust the sizes."
        )
    shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
    return {"train": shuffled[n_test + n_val:].reset_index(drop=True),
            "validation": shuffled[n_test:n_test + n_val].reset_index(drop=True),
            "test": shuffled[:n_test].reset_index(drop=True)}
