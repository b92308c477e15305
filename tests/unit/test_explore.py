"""Class balance, lengths, leakage and the data report."""

from __future__ import annotations

import numpy as np
import pandas as pd

import hackkit as hk


def _splits() -> dict[str, pd.DataFrame]:
    return {
        "train": pd.DataFrame({"text": ["a b", "c d", "e f", "g h"], "label": ["x", "x", "y", "y"]}),
        "validation": pd.DataFrame({"text": ["C  D", "new"], "label": ["x", "y"]}),
        "test": pd.DataFrame({"text": ["other", "z"], "label": ["y", "z"]}),
    }


def test_class_balance_counts_per_split():
    table = hk.class_balance(_splits())
    assert table.loc["y"].to_dict() == {"train": 2, "validation": 1, "test": 1, "total": 4}
    assert table.loc["z", "train"] == 0


def test_leakage_counts_normalised_repeats_of_train_texts():
    assert hk.leakage(_splits()) == {"validation": 1, "test": 0}


def test_token_lengths_use_the_tokenizer():
    tokenizer = hk.load_tokenizer("sentence-transformers/all-MiniLM-L6-v2")
    lengths = hk.token_lengths(["hello", "hello world again"], tokenizer)
    assert list(lengths) == [3, 5]  # [CLS] ... [SEP]


def test_data_report_warns_about_truncation_leakage_and_unseen_labels(tmp_path):
    frame = pd.concat(_splits().values(), ignore_index=True)
    dataset = hk.data.Dataset(frame=frame, path=tmp_path / "d.csv", warnings=["2 rows dropped"],
                              dropped={"empty_text": 2})
    lengths = np.array([3, 4, 5, 200, 6, 7, 8, 9])
    report = hk.data_report(dataset, _splits(), lengths, max_length=128, duplicates=1,
                            label_conflicts=0, params={"SEED": 1})
    joined = " | ".join(report["warnings"])
    assert "1 texts are longer than MAX_LENGTH=128" in joined
    assert "1 validation texts also appear in train" in joined
    assert "labels ['z'] are in test but never in train" in joined
    assert report["rows_loaded"] == 10 and report["rows_used"] == 8
    assert report["truncated_at_max_length"] == 1 and report["tokens_per_text"]["max"] == 200
