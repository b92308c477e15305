"""The labelling loop: labels given through the panel's buttons are appended at once, a new session
(a kernel restart) continues without losing or overwriting any, proposals switch to the probe."""

from __future__ import annotations

import pandas as pd
import pytest

import hackkit as hk
from hackkit.data.label import HOLDOUT_EVERY, LabelPanel, LabelSession, read_labels_file

LABELS = ["refund", "login", "delivery"]
WORDS = {"refund": "I want my money back for order", "login": "I cannot sign in to my account",
         "delivery": "my parcel has not arrived yet, tracking"}


@pytest.fixture
def texts(tmp_path):
    """Twenty-four unlabelled texts (eight per intent, the intent known to the test only)."""
    rows = [{"message": f"{text} {i}", "truth": label} for label, text in WORDS.items() for i in range(8)]
    path = tmp_path / "unlabelled.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    return path


def _session(texts, tmp_path, model, **kw) -> LabelSession:
    return LabelSession(texts, LABELS, tmp_path / "data" / "labels.csv", str(model),
                        text_column="message", round_size=4, cache_dir=tmp_path / "cache", **kw)


def _truth(text: str) -> str:
    return next(label for label, words in WORDS.items() if text.startswith(words))


def test_labels_given_through_the_buttons_are_appended_at_once(texts, tmp_path, tiny_model):
    panel = LabelPanel(_session(texts, tmp_path, tiny_model))
    out = panel.session.out_path
    first = panel.session.current
    assert first["proposer"] == "zero-shot" and first["proposed"] in LABELS
    assert first["text"] in panel.text.value
    panel.accept_button.click()
    assert read_labels_file(out)[["text", "label"]].values.tolist() == [[first["text"], first["proposed"]]]
    second = panel.session.current
    other = next(label for label in LABELS if label != second["proposed"])
    panel.other.value = other
    panel.other_button.click()
    third = panel.session.current
    panel.skip_button.click()
    given = read_labels_file(out)
    assert given["label"].tolist() == [first["proposed"], other] and len(given) == 2
    assert third["text"] not in set(given["text"]) and panel.session.current["text"] != third["text"]
    assert "2 labelled" in panel.status.value


def test_a_new_session_continues_without_losing_labels_and_switches_to_the_probe(texts, tmp_path,
                                                                               tiny_model):
    session = _session(texts, tmp_path, tiny_model)
    for _ in range(5):
        session.give(_truth(session.current["text"]))
    before = read_labels_file(session.out_path)
    del session  # the kernel dies: only the file is left

    again = _session(texts, tmp_path, tiny_model)
    assert again.given[["text", "label"]].values.tolist() == before[["text", "label"]].values.tolist()
    assert again.current["text"] not in set(before["text"])  # never asks for a labelled text again
    while again.current is not None and again.proposer == "zero-shot":
        again.give(_truth(again.current["text"]))
    after = read_labels_file(again.out_path)
    assert after.iloc[:5][["text", "label"]].values.tolist() == before[["text", "label"]].values.tolist()
    assert after["text"].is_unique
    assert again.proposer == "embeddings"  # every label has enough examples: the probe proposes
    progress = again.progress()
    assert progress["labels"].is_monotonic_increasing
    measured = progress.dropna(subset=["holdout_accuracy"])
    assert len(after) >= HOLDOUT_EVERY and not measured.empty
    assert measured["holdout_accuracy"].between(0, 1).all()


def test_a_labels_file_with_unknown_labels_is_refused_not_overwritten(texts, tmp_path, tiny_model):
    out = tmp_path / "data" / "labels.csv"
    out.parent.mkdir()
    out.write_text("text,label\nhello,spam\n")
    with pytest.raises(ValueError, match=r"labels \['spam'\] that are not in LABELS"):
        _session(texts, tmp_path, tiny_model)
    assert out.read_text() == "text,label\nhello,spam\n"


def test_the_labels_file_is_what_01_reads(texts, tmp_path, tiny_model):
    session = _session(texts, tmp_path, tiny_model)
    for _ in range(9):
        session.give(_truth(session.current["text"]))
    dataset = hk.load_data(str(session.out_path))
    assert len(dataset.frame) == 9 and set(dataset.frame["label"]) <= set(LABELS)
