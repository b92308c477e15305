"""Class balance, lengths, leakage and near-duplicates."""

from __future__ import annotations

import pandas as pd

import hackkit as hk
from hackkit.models.resolve import load_tokenizer
from hackkit.tasks.textinput import token_lengths
from helpers import TEXT


def _splits() -> dict[str, pd.DataFrame]:
    return {
        "train": pd.DataFrame({"text": ["a b", "c d", "e f", "g h"], "label": ["x", "x", "y", "y"]}),
        "validation": pd.DataFrame({"text": ["C  D", "new"], "label": ["x", "y"]}),
        "test": pd.DataFrame({"text": ["other", "z"], "label": ["y", "z"]}),
    }


def test_class_balance_counts_per_split():
    table = hk.class_balance(_splits(), TEXT)
    assert table.loc["y"].to_dict() == {"train": 2, "validation": 1, "test": 1, "total": 4}
    assert table.loc["z", "train"] == 0


def test_leakage_counts_normalised_repeats_of_train_texts():
    assert hk.leakage(_splits(), TEXT) == {"validation": 1, "test": 0}


def test_token_lengths_use_the_tokenizer():
    tokenizer = load_tokenizer("sentence-transformers/all-MiniLM-L6-v2")
    lengths = token_lengths(["hello", "hello world again"], tokenizer)
    assert list(lengths) == [3, 5]  # [CLS] ... [SEP]


def test_near_duplicates_pair_typo_variants_but_not_exact_repeats_or_related_texts():
    train = ["my password reset link never arrives", "where is my parcel from last week",
             "please refund the second charge"]
    splits = {
        "train": pd.DataFrame({"text": train, "label": ["a", "b", "c"]}),
        "test": pd.DataFrame({"text": ["My password reset link never arrives!!",  # near
                                       "WHERE IS MY PARCEL FROM LAST WEEK",  # exact: leakage()
                                       "please refund the first charge"],  # related, not near
                              "label": ["a", "b", "c"]}),
    }
    near = hk.near_duplicates(splits, TEXT)
    assert list(near["text"]) == ["My password reset link never arrives!!"]
    assert near["train_text"][0] == train[0] and 0.95 <= near["similarity"][0] < 1
    assert hk.leakage(splits, TEXT) == {"test": 1}
