"""The data doctor: every typical data mistake gives one message that names the problem and the fix."""

from __future__ import annotations

import pandas as pd
import pytest

import hackkit as hk
from hackkit.cli import main
from hackkit.data.doctor import Problem

MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def _frame(n: int = 10, labels=("refund", "login", "ship")) -> pd.DataFrame:
    """n clearly different texts per label."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india",
             "juliet", "kilo", "lima", "mike", "november", "oscar"]
    return pd.DataFrame([
        {"text": f"{label} {words[i % 15]} {words[i * 4 % 15].upper()[::-1]} {i * 7919}", "label": label}
        for label in labels for i in range(n)
    ])


def _only(report: hk.Diagnosis, check: str) -> Problem:
    found = [p for p in report.problems if p.check == check]
    assert len(found) == 1, report.text()
    return found[0]


# (file name, content, diagnose() arguments, level, check, fragments the message must hold)
CASES = {
    "missing file": ("absent.csv", None, {}, "error", "load",
                     ["absent.csv' not found", "Put your file in data/"]),
    "not UTF-8": ("latin.csv", "text,label\ncaf\xe9 au lait,a\n".encode("latin-1"), {}, "error",
                  "load", ["not valid UTF-8", "offset 14, line 2", "Re-save the file as UTF-8"]),
    "empty file": ("empty.csv", "", {}, "error", "load", ["is empty (0 bytes)"]),
    "header only": ("header.csv", "text,label\n", {}, "error", "load",
                    ["has column names but no rows", "Add data rows"]),
    "misspelled column": ("cols.csv", "txt,label\nhello,a\n", {}, "error", "load",
                          ["TEXT_COLUMN='text': no such column", "Did you mean 'txt'?"]),
    "unknown split values": ("split.csv", "text,label,part\na b,x\nc d,y,holdout\n",
                             {"split_column": "part"}, "error", "load",
                             ["unknown split values", "'holdout'", "Use train / validation / test"]),
    "all texts empty": ("blank.csv", "text,label\n  ,a\n,b\n", {}, "error", "load",
                        ["every text in blank.csv is empty", "Check that TEXT_COLUMN"]),
}


@pytest.mark.parametrize("case", list(CASES))
def test_blocking_file_problems_name_the_problem_and_the_fix(case, write, tmp_path):
    name, content, kwargs, level, check, fragments = CASES[case]
    path = write(name, content) if content is not None else tmp_path / name
    report = hk.diagnose(path, **kwargs)
    problem = _only(report, check)
    assert problem.level == level and report.errors and report.splits is None
    for fragment in fragments:
        assert fragment in problem.message
    with pytest.raises(ValueError, match="blocking problems"):
        report.raise_for_errors()


def test_semicolon_file_is_read_with_a_warning_naming_the_delimiter(write):
    frame = _frame().assign(text=lambda f: f["text"] + ", please")  # commas inside the texts
    report = hk.diagnose(write("excel.csv", frame.to_csv(sep=";", index=False)))
    assert not report.errors and len(report.dataset.frame) == 30
    message = _only(report, "rows").message
    assert "excel.csv is semicolon-separated, not comma-separated" in message
    assert "Re-save it comma-separated" in message


def test_a_real_one_column_csv_is_not_mistaken_for_another_delimiter(write):
    with pytest.raises(ValueError, match="LABEL_COLUMN='label': no such column"):
        hk.load_data(write("one.csv", "text\nhello; there\n"), text_column="text", label_column="label")


def test_whitespace_texts_and_missing_labels_are_dropped_with_warnings(write):
    frame = _frame()
    frame.loc[0, "text"] = "   "
    frame.loc[1, "label"] = None
    report = hk.diagnose(write("gaps.csv", frame))
    messages = " | ".join(report.warnings)
    assert not report.errors
    assert "1 rows with empty text were dropped" in messages
    assert "1 rows without a label were dropped" in messages


def test_numbers_mixed_with_label_names_are_flagged(write):
    frame = _frame()
    frame.loc[:4, "label"] = ["1", "2", "1", "2", "1"]
    message = _only(hk.diagnose(write("mixed.csv", frame)), "rows").message
    assert "LABEL_COLUMN='label': 5 labels are numbers (['1', '2'])" in message
    assert "Check LABEL_COLUMN is the right column" in message


@pytest.mark.parametrize("labels, fragment", [
    (("only",), "found a single class ['only']"),
    (("refund", "login", "rare"), "classes too small to split into train/validation/test: 'rare' (2)"),
])
def test_class_problems_block_before_training(write, labels, fragment):
    frame = _frame(labels=labels)
    if "rare" in labels:
        frame = frame.drop(frame.index[frame["label"] == "rare"][2:])
    report = hk.diagnose(write("classes.csv", frame))
    assert fragment in _only(report, "split").message and report.splits is None


def test_labels_only_in_test_block_with_the_rows_to_move(write):
    frame = _frame().assign(split="train")
    frame.loc[frame.index[:3], "split"] = "test"
    extra = pd.DataFrame({"text": ["a brand new kind", "another new kind"], "label": ["new", "new"],
                          "split": ["test", "test"]})
    report = hk.diagnose(write("split.csv", pd.concat([frame, extra])), split_column="split")
    message = _only(report, "unseen-labels").message
    assert "labels ['new'] (2 examples) are in test but never in train" in message
    assert "Mark some of their rows 'train'" in message


def test_exact_duplicates_are_dropped_and_near_duplicates_across_splits_flagged(write):
    frame = _frame().assign(split="train")
    repeat = frame.iloc[[0]].assign(text=lambda f: f["text"].str.upper())  # exact after normalising
    near = frame.iloc[[1]].assign(text=lambda f: f["text"] + "!!", split="test")
    tests = _frame(2, labels=("refund", "login", "ship")).assign(
        text=lambda f: "totally different wording " + f["text"].str[::-1], split="test")
    report = hk.diagnose(write("dups.csv", pd.concat([frame, repeat, near, tests])),
                         split_column="split")
    assert "1 repeated texts" in _only(report, "duplicates").message
    leak = _only(report, "leakage").message
    assert "1 test texts nearly repeat a training text" in leak
    assert "drop the training rows they repeat (the data's own test split is scored whole)" in leak
    assert leak.count("!!") == 1
    assert report.near_duplicates["split"].tolist() == ["test"]  # kept for the data report


def test_the_datas_own_test_split_is_scored_whole_duplicates_leave_train(write):
    train = _frame().assign(split="train")
    test = _frame(3).assign(text=lambda f: "other wording " + f["text"], split="test")
    copied = test.iloc[[0, 4]].assign(split="train")  # test texts repeated in train ...
    again = test.iloc[[1]].assign(split="validation")  # ... and in validation
    twice = test.iloc[[2]]  # and a test text given twice
    path = write("own_split.csv", pd.concat([train, copied, test, again, twice]))
    in_file = (pd.read_csv(path)["split"] == "test").sum()

    report = hk.diagnose(path, split_column="split")
    assert len(report.splits["test"]) == in_file == 10  # every test row is scored, as given
    assert report.duplicates == 3  # the 2 train copies and the validation copy
    # the validation copy was the only validation row: validation is carved from the 30 train rows
    assert len(report.splits["train"]) + len(report.splits["validation"]) == len(train)
    assert not set(report.splits["train"]["text"]) & set(report.splits["test"]["text"])
    message = _only(report, "duplicates").message
    assert "taken out of train and validation only" in message and "kept whole" in message
    # without a split of its own, the kit's split still drops repeats before splitting
    plain = hk.diagnose(write("plain.csv", pd.concat([train, train.iloc[[0]]]).drop(columns="split")))
    assert plain.duplicates == 1 and "dropped before splitting" in plain.text()


def test_texts_longer_than_max_length_are_counted(write):
    frame = _frame()
    frame.loc[0, "text"] = " ".join(["word"] * 300)
    report = hk.diagnose(write("long.csv", frame), model=MODEL, max_length=64)
    message = _only(report, "long-texts").message
    assert "1 of 30 texts are longer than MAX_LENGTH=64 tokens (the longest has 302)" in message
    assert "Raise MAX_LENGTH" in message and report.lengths.max() == 302


def test_clean_sample_data_has_no_problems_and_a_complete_report():
    report = hk.diagnose("data/support_intents.csv", model=MODEL)
    assert report.problems == [] and "no problems found" in report.text()
    summary = hk.data_report(report, hk.DataConfig(model=MODEL))
    assert summary["rows_used"] == 1860 and summary["near_duplicates"] == 0
    assert summary["split_sizes"] == {"train": 1302, "validation": 186, "test": 372}


def test_doctor_command_prints_each_fix_and_exits_2_on_blocking_problems(write, capsys):
    path = write("mixed.csv", _frame(20).assign(label=lambda f: f["label"].where(f.index > 2, "7")))
    assert main(["doctor", str(path)]) == 0
    out = capsys.readouterr().out
    assert "WARNING  [rows] LABEL_COLUMN='label': 3 labels are numbers" in out
    assert "no blocking problems; 1 warning(s)" in out
    assert main(["doctor", str(path), "-p", "LABEL_COLUMN", "lable"]) == 2
    out = capsys.readouterr().out
    assert "ERROR    [load] LABEL_COLUMN='lable'" in out and "Did you mean 'label'?" in out


def test_doctor_command_rejects_unknown_parameters(write, capsys):
    assert main(["doctor", str(write("d.csv", _frame())), "-p", "EPOCH", "3"]) == 2
    assert "unknown parameter(s) ['EPOCH']. Valid names:" in capsys.readouterr().err
