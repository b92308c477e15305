"""A fast TF-IDF + logistic regression baseline: the number a transformer has to beat."""

from __future__ import annotations

from collections.abc import Sequence

from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline


def fit_baseline(texts: Sequence[str], labels: Sequence[str], seed: int = 42) -> Pipeline:
    """Fit word 1-2 gram TF-IDF + logistic regression on the training texts (seconds)."""
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=2000, C=10.0, random_state=seed),
    )
    return model.fit(list(texts), list(labels))

