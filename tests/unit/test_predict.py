"""Predictor: loading from a run, batched predictions, task detection and file scoring."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

import hackkit as hk


@pytest.fixture(scope="module")
def predictor(tiny_run) -> hk.Predictor:
    """The tiny run's model, loaded once, with a small batch so batching is exercised."""
    return hk.Predictor.from_run(tiny_run, device="cpu", batch_size=4)


def test_predictor_loads_the_runs_model_and_labels(predictor, tiny_run):
    assert predictor.task.name == "text-classification"
    assert predictor.model_dir == (tiny_run / "model").resolve()
    assert predictor.labels == hk.load_splits(tiny_run)[1]
    assert predictor.max_length == 128  # from the model folder's hackkit.json


def test_a_model_trained_with_another_max_length_is_predicted_with_it(run_with_splits, tiny_model,
                                                                      monkeypatch):
    hk.finetune(run_with_splits, hk.TrainConfig(model=str(tiny_model), epochs=1, max_length=16,
                                                batch_size=16, patience=0, device="cpu"))
    predictor = hk.Predictor(run_with_splits / "model", device="cpu")  # the model folder alone
    assert predictor.max_length == 16
    seen = []
    original = predictor.processor.__class__.__call__

    def spy(self, *args, **kwargs):
        seen.append(kwargs.get("max_length"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(predictor.processor.__class__, "__call__", spy)
    predictor.predict(["word " * 100])
    assert seen == [16]


def test_batched_probabilities_match_one_by_one_and_sum_to_one(predictor, tiny_run):
    texts = list(hk.load_splits(tiny_run)[0]["test"]["text"][:11])  # 11: a partial last batch
    proba = predictor.predict_proba(texts)
    assert proba.shape == (11, len(predictor.labels))
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=1e-5)
    single = np.concatenate([predictor.predict_proba([t]) for t in texts])
    np.testing.assert_allclose(proba, single, atol=1e-5)  # padding and sorting change nothing


def test_predict_returns_label_score_and_probabilities(predictor):
    results = predictor.predict(["I was charged twice", "where is my parcel"])
    assert len(results) == 2
    for r in results:
        assert r["label"] in predictor.labels
        assert r["score"] == max(r["probabilities"].values())
        assert list(r["probabilities"]) == predictor.labels
    assert predictor.predict("one text")[0]["label"] in predictor.labels  # a bare string works


def test_predict_split_uses_the_same_predictor(predictor, tiny_run):
    predictions = hk.predict_split(tiny_run, "test", device="cpu")
    texts = list(predictions["text"][:5])
    expected = [predictor.labels[i] for i in predictor.predict_proba(texts).argmax(axis=1)]
    assert list(predictions["predicted"][:5]) == expected


def test_non_string_texts_are_rejected_with_the_position(predictor):
    with pytest.raises(ValueError, match=r"texts: item 1 is int \(3\); every text must be a string"):
        predictor.predict(["fine", 3])


def test_latest_run_is_the_default(tiny_run, monkeypatch):
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(tiny_run.parent))
    assert hk.Predictor.from_run("", device="cpu").model_dir == (tiny_run / "model").resolve()


def test_a_folder_without_a_model_is_a_clear_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="has no model yet. Run 02_finetune"):
        hk.Predictor.from_run(tmp_path, device="cpu")
    with pytest.raises(FileNotFoundError, match="holds no saved model"):
        hk.Predictor(tmp_path, device="cpu")


def test_task_is_read_from_the_architectures(tmp_path, tiny_model):
    with pytest.raises(ValueError, match=r"\['BertModel'\] names none of the heads"):
        hk.read_model_info(tiny_model)  # a bare encoder has no classification head
    config = {"architectures": ["BertForTokenClassification"], "id2label": {"0": "O"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert hk.read_model_info(tmp_path).task == "token-classification"


@pytest.fixture
def ner_folder(tmp_path, tiny_model):
    """A token-classification model folder (random weights) with three entity tags."""
    from transformers import BertConfig, BertForTokenClassification

    config = BertConfig.from_pretrained(tiny_model, num_labels=3,
                                        id2label={0: "O", 1: "B-ORG", 2: "I-ORG"})
    BertForTokenClassification(config).save_pretrained(tmp_path, safe_serialization=True)
    return tmp_path


def test_a_token_classification_model_returns_character_spans(ner_folder):
    predictor = hk.Predictor(ner_folder, device="cpu")
    assert predictor.task.name == "token-classification"
    assert predictor.labels == ["O", "B-ORG", "I-ORG"]
    texts = ["Acme hires, Globex fires.", "nothing here"]
    results = predictor.predict(texts)
    assert [r["text"] for r in results] == texts
    one_by_one = [predictor.predict([t])[0]["entities"] for t in texts]
    assert [r["entities"] for r in results] == one_by_one  # batching changes nothing
    scored = hk.score_table(predictor, pd.DataFrame({"id": [1, 2], "text": texts}))
    assert scored["entities"].tolist() == one_by_one and scored["id"].tolist() == [1, 2]
    with pytest.raises(ValueError, match="use predict"):
        predictor.predict_proba(texts)
    for text, r in zip(texts, results):
        for span in r["entities"]:
            assert text[span["start"]:span["end"]] == span["text"] and span["label"] == "ORG"


def test_score_file_appends_predictions_and_never_overwrites(predictor, write, tmp_path):
    path = write("new.csv", pd.DataFrame({"id": [1, 2, 3], "body": ["refund", "", "login help"]}))
    out = hk.score_file(predictor, path, text_column="body", out_dir=tmp_path / "scored")
    scored = pd.read_csv(out, keep_default_na=False)
    assert out.name == "new_scored.csv" and list(scored["id"]) == [1, 2, 3]
    assert set(scored["predicted"]) <= set(predictor.labels)
    probs = scored[[f"p_{x}" for x in predictor.labels]].to_numpy()
    np.testing.assert_allclose(probs.sum(axis=1), 1.0, atol=1e-3)
    again = hk.score_file(predictor, path, text_column="body", out_dir=tmp_path / "scored")
    assert again.name == "new_scored-1.csv" and out.is_file()


def test_score_file_names_a_wrong_column(predictor, write):
    path = write("new.csv", pd.DataFrame({"message": ["a"], "id": [1]}))
    with pytest.raises(ValueError, match=r"TEXT_COLUMN='text': no such column in new.csv.*'message'"):
        hk.score_file(predictor, path)


@pytest.mark.gpu
def test_predictor_on_a_gpu_uses_mixed_precision_and_agrees_with_the_cpu(tiny_run):
    texts = list(hk.load_splits(tiny_run)[0]["test"]["text"][:16])
    cpu = hk.Predictor.from_run(tiny_run, device="cpu").predict_proba(texts)
    gpu = hk.Predictor.from_run(tiny_run, device="cuda")
    assert gpu.device == "cuda" and gpu.precision in ("bf16", "fp16")
    np.testing.assert_allclose(gpu.predict_proba(texts), cpu, atol=2e-2)


@pytest.mark.gpu
def test_a_token_model_on_a_gpu_takes_the_same_mixed_precision_path(ner_folder):
    texts = ["Acme hires, Globex fires.", "Initech and Umbrella merge"]
    cpu = hk.Predictor(ner_folder, device="cpu").predict(texts)
    gpu = hk.Predictor(ner_folder, device="cuda")
    assert gpu.device == "cuda" and gpu.precision in ("bf16", "fp16")
    assert [r["tokens"] for r in gpu.predict(texts)] == [r["tokens"] for r in cpu]


def test_the_prediction_loop_runs_the_shortest_first_and_answers_in_input_order():
    from hackkit.tasks.batches import in_batches

    items, seen = ["ccc", "a", "bb", "dddd", "e"], []

    def run(indices):
        seen.append(indices)
        return [items[i].upper() for i in indices]

    assert in_batches(items, 2, run, length=len) == ["CCC", "A", "BB", "DDDD", "E"]
    assert seen == [[1, 4], [2, 0], [3]]  # a stable sort: equal lengths keep their order
    assert in_batches(items, 4, lambda indices: indices) == [0, 1, 2, 3, 4]
    with pytest.raises(RuntimeError, match="Predicting: 1 results for a batch of 2 inputs"):
        in_batches(items, 2, lambda indices: indices[:1])
    with pytest.raises(ValueError, match="batch_size=0: use a positive integer"):
        in_batches(items, 0, run)
