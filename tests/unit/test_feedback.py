"""Corrections from the demo: the widget appends them to the run folder, 01 (FEEDBACK) merges them
into the next run's training split, the doctor reports conflicts and keeps test texts out."""

from __future__ import annotations

import pandas as pd
import pytest

import hackkit as hk
from hackkit.data.feedback import append_feedback, merge_feedback, read_feedback
from helpers import SAMPLE, TEXT


def _splits() -> dict[str, pd.DataFrame]:
    return {"train": pd.DataFrame({"text": ["refund please", "cannot log in"],
                                   "label": ["refund", "login"]}),
            "validation": pd.DataFrame({"text": ["money back"], "label": ["refund"]}),
            "test": pd.DataFrame({"text": ["Password  Lost"], "label": ["login"]})}


def test_a_correction_in_the_demo_reaches_the_next_runs_training_split(tiny_run, copy_run, tiny_model,
                                                                        runs_dir):
    run_dir = copy_run(tiny_run)
    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    app = hk.DemoApp(predictor, out_dir=run_dir / "scored_here", delay=0.05)
    text = "my parcel came with a cracked screen and I want it replaced"
    app.input.text.value = text
    app.button.click()
    shown = app.last[1]["label"]
    right = next(label for label in predictor.labels if label != shown)
    app.right_label.value = right
    app.correct_button.click()
    app.correct_button.click()  # the same correction twice: appended, never overwritten
    assert "Saved a correction" in app.feedback_note.value
    rows = pd.read_csv(hk.Run(run_dir).feedback)
    assert len(rows) == 2 and list(rows.columns) == ["time", "text", "predicted", "label", "model"]
    assert rows.loc[0, "text"] == text and rows.loc[0, "predicted"] == shown and rows.loc[0, "label"] == right

    data = hk.DataConfig(data_path=str(SAMPLE), model=str(tiny_model), feedback=str(run_dir))
    diagnosis = hk.diagnose(data)
    assert not diagnosis.errors
    train = diagnosis.splits["train"]
    assert ((train["text"] == text) & (train["label"] == right)).sum() == 1
    assert text not in set(diagnosis.splits["test"]["text"])
    new_run = hk.start_run("")
    hk.save_splits(diagnosis.splits, new_run, diagnosis.task)
    saved = hk.load_splits(new_run)[0]["train"]
    assert saved[saved["text"] == text]["label"].tolist() == [right]
    report = hk.data_report(diagnosis, data)
    assert report["feedback"]["added"] == 1 and report["feedback"]["rows"] == 2
    assert report["params"]["FEEDBACK"] == str(run_dir)


def test_conflicts_are_relabelled_and_reported_and_test_texts_never_trained_on(tmp_path):
    path = tmp_path / "feedback.csv"
    append_feedback(path, "cannot log in", "login", "account")  # conflicts with the data's label
    append_feedback(path, "password lost", "refund", "login")  # in test (case and spacing differ)
    append_feedback(path, "new text", "login", "refund")
    append_feedback(path, "new text", "refund", "login")  # a later correction of the same text wins
    rows, broken = read_feedback(str(path))
    splits, summary = merge_feedback(_splits(), rows)
    train = splits["train"].set_index("text")["label"]
    assert train["cannot log in"] == "account" and train["new text"] == "login"
    assert "password lost" not in train.index and "Password  Lost" not in train.index
    assert summary["conflicts"] == [{"text": "cannot log in", "data_label": "login", "correction": "account"}]
    assert summary["skipped_in_test"] == 1 and summary["added"] == 1 and broken == 0
    assert summary["new_labels"] == ["account"]


def test_the_doctor_reports_feedback_conflicts_and_test_leakage(tmp_path, sample_splits, tiny_model):
    test_text = sample_splits["test"]["text"].iloc[0]
    train_row = sample_splits["train"].iloc[0]
    other = next(x for x in sorted(sample_splits["train"]["label"].unique()) if x != train_row["label"])
    path = tmp_path / "fb.csv"
    append_feedback(path, test_text, "x", train_row["label"])
    append_feedback(path, train_row["text"], train_row["label"], other)
    diagnosis = hk.diagnose(hk.DataConfig(data_path=str(SAMPLE), model=str(tiny_model), feedback=str(path)))
    checks = {p.check: p.message for p in diagnosis.problems}
    assert "1 corrected texts are in the test (1)" in checks["feedback-leakage"]
    assert f"{train_row['label']!r} in the data, {other!r} in the feedback" in checks["feedback-conflicts"]
    assert test_text not in set(diagnosis.splits["train"]["text"])


def test_a_row_cut_short_by_a_crash_is_skipped_and_the_rest_kept(tmp_path):
    path = tmp_path / "feedback.csv"
    append_feedback(path, "first", "a", "b")
    with open(path, "a", encoding="utf-8") as f:
        f.write('2026-01-01T00:00:00+00:00,"half a row')  # the process died mid-write
    rows, broken = read_feedback(str(path))
    assert rows["text"].tolist() == ["first"] and broken == 1


@pytest.mark.parametrize("feedback, message", [
    ("nowhere/feedback.csv", r"FEEDBACK='nowhere/feedback.csv': .*not found"),
])
def test_missing_feedback_is_a_doctor_error_naming_the_parameter(feedback, message, tiny_model):
    diagnosis = hk.diagnose(hk.DataConfig(data_path=str(SAMPLE), model=str(tiny_model), feedback=feedback),
                            lengths=False)
    assert any(p.check == "feedback" for p in diagnosis.problems)
    with pytest.raises(ValueError, match=message):
        diagnosis.raise_for_errors()


def test_tasks_without_feedback_refuse_it(tmp_path):
    from helpers import NER_SAMPLE

    path = append_feedback(tmp_path / "fb.csv", "Acme hires", "O", "ORG")
    diagnosis = hk.diagnose(hk.DataConfig(task="token-classification", data_path=str(NER_SAMPLE),
                                          feedback=str(path)), lengths=False)
    assert any("take no demo corrections" in e for e in diagnosis.errors)
    assert TEXT.accepts_feedback
