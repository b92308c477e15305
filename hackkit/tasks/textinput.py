"""What every task whose input is one text shares (text classification, named entities): token
lengths, the key repeats are found by, and the near-duplicate check on texts. A task lists
TextInput before its base class.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import pandas as pd

from hackkit.base import Dataset, Task
from hackkit.models.resolve import load_tokenizer
from hackkit.tables import normalise_text

NEAR_DUPLICATE = 0.95  # cosine of character n-grams; the sample data's closest honest pair is 0.92


def token_lengths(texts: Sequence[str], tokenizer) -> np.ndarray:
    """Number of tokens per text, special tokens included, with no truncation."""
    return np.array([len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]])


def near_duplicate_texts(splits: dict[str, pd.DataFrame], key: Callable[[pd.DataFrame], pd.Series],
                         threshold: float = NEAR_DUPLICATE) -> pd.DataFrame:
    """Validation/test texts (key(frame)) that nearly repeat a training text: typos, punctuation, case."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    train = key(splits["train"]).reset_index(drop=True)
    # Character n-grams see "pasword rest" and "password reset!" as the same message.
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(train)
    index = NearestNeighbors(n_neighbors=1, metric="cosine").fit(vectorizer.transform(train))
    exact = set(train.map(normalise_text))
    rows = []
    for name, frame in splits.items():
        if name == "train" or frame.empty:
            continue
        texts = key(frame)
        distance, nearest = index.kneighbors(vectorizer.transform(texts))
        for text, d, i in zip(texts, distance[:, 0], nearest[:, 0]):
            if 1 - d >= threshold and normalise_text(text) not in exact:
                rows.append({"split": name, "text": text, "train_text": train[i],
                             "similarity": round(float(1 - d), 3)})
    return pd.DataFrame(rows, columns=["split", "text", "train_text", "similarity"])


def near_duplicate_findings(near: pd.DataFrame, given_test: bool) -> list[tuple[str, str, str]]:
    """The doctor's leakage warnings, one per split, from near_duplicate_texts' table."""
    found = []
    for name, rows in near.groupby("split", sort=False):
        example = rows.iloc[0]
        found.append(("warning", "leakage", f"{len(rows)} {name} texts nearly repeat a training text "
                      f"(similarity >= {NEAR_DUPLICATE}), e.g. {example['text']!r} ~ "
                      f"{example['train_text']!r}. Scores on {name} will look better than they are: "
                      + ("drop the training rows they repeat (the data's own test split is scored "
                         "whole)." if given_test and name == "test"
                         else f"drop these rows from {name} or from train.")))
    return found


class TextInput(Task):
    """Inputs that are one text each: how repeats and near repeats are found, and their length."""

    def dedupe_key(self, frame):
        """The text."""
        return frame["text"]

    def lengths(self, frame, model):
        """Tokens per text, with MODEL's tokenizer."""
        return token_lengths(frame["text"], load_tokenizer(model))

    def near_duplicates(self, splits):
        """Validation/test texts that nearly repeat a training text (character n-gram cosine)."""
        return near_duplicate_texts(splits, self.dedupe_key)

    def extra_checks(self, dataset: Dataset, splits, near):
        """A leakage warning for each split whose texts nearly repeat training texts."""
        frame = dataset.frame
        given_test = "split" in frame and bool((frame["split"] == "test").any())
        return near_duplicate_findings(near, given_test)
