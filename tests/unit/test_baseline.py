"""The TF-IDF + logistic regression baseline."""

from __future__ import annotations

import numpy as np
import pytest

import hackkit as hk


def test_baseline_learns_the_sample_data_but_not_perfectly(sample_splits):
    train, test = sample_splits["train"], sample_splits["test"]
    model = hk.fit_baseline(train["text"], train["label"])
    labels = sorted(train["label"].unique())
    scores = hk.classification_metrics(test["label"], model.predict(test["text"]), labels)
    assert 1 / len(labels) * 3 < scores["accuracy"] < 0.99  # learnable, not trivially separable


def test_baseline_proba_follows_the_given_label_order():
    model = hk.fit_baseline(["refund me", "money back", "login fails", "password"],
                            ["refund", "refund", "login", "login"])
    proba = hk.baseline_proba(model, ["refund please"], ["refund", "other", "login"])
    assert proba.shape == (1, 3) and proba[0, 1] == 0
    assert np.argmax(proba[0]) == 0 and proba.sum() == pytest.approx(1)
