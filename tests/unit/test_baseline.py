"""The TF-IDF + logistic regression baseline."""

from __future__ import annotations

from hackkit.tasks.labels import classification_metrics
from hackkit.tasks.text import fit_baseline


def test_baseline_learns_the_sample_data_but_not_perfectly(sample_splits):
    train, test = sample_splits["train"], sample_splits["test"]
    model = fit_baseline(train["text"], train["label"])
    labels = sorted(train["label"].unique())
    scores = classification_metrics(test["label"], model.predict(test["text"]), labels)
    assert 0.5 < scores["accuracy"] < 0.99  # learnable (chance is 1/8), not trivially separable

