"""01 -> 03 under papermill with TASK multi-label-classification on the shipped tickets sample, then
what 04 and `serve` do with the run: the demo, POST /predict, and plain transformers loading the
saved model in a fresh process.

The tiny randomly initialised BERT trains it (the plumbing is under test, not the scores: about 30
seconds on 2 busy cores); the time budget is off so a busy machine trains the same steps.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk
from helpers import headless_run

TAGS = ["account", "billing", "cancellation", "defect", "delivery", "refund", "return", "urgent"]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model) -> Path:
    """One multi-label run of 01 -> 03 on data/support_tags.csv."""
    return headless_run(tmp_path_factory, {
        "TASK": "multi-label-classification", "DATA_PATH": "data/support_tags.csv",
        "MODEL": str(tiny_model), "MAX_LENGTH": 32, "EPOCHS": 1,
        "MAX_TRAIN_EXAMPLES": 120, "BATCH_SIZE": 16, "LEARNING_RATE": 1e-3, "PATIENCE": 0,
        "TIME_BUDGET_MINUTES": 0, "DEVICE": "cpu", "TOP_MISTAKES": 5}, "tags")


def test_explore_keeps_several_labels_per_text_and_every_label_in_train(run_dir):
    splits, labels = hk.load_splits(run_dir)
    assert labels == TAGS and hk.run_status(run_dir)["status"] == "done"
    assert all(isinstance(row, list) for row in splits["train"]["labels"])
    assert max(len(row) for row in splits["train"]["labels"]) >= 2
    assert any(len(row) == 0 for row in splits["train"]["labels"])  # tickets with no tag stay
    report = hk.read_json(run_dir / "data_report.json")
    assert report["label_separator"] == ";" and report["labels"] == TAGS
    assert report["split_sizes"] == {k: len(v) for k, v in splits.items()}
    assert 1.2 < report["labels_per_text"]["mean"] < 2.0
    assert report["co_occurring_labels"]["billing + refund"] > 10
    balance = report["class_balance"]
    # Iterative stratification: each tag's share of the test split is close to its share overall.
    for tag in TAGS:
        assert abs(balance[tag]["test"] / balance[tag]["total"] - 0.2) < 0.05


def test_finetune_saved_a_sigmoid_head_and_thresholds_tuned_on_validation(run_dir):
    model_dir = hk.Run(run_dir).model_dir
    config = json.loads((model_dir / "config.json").read_text())
    assert config["problem_type"] == "multi_label_classification"
    info = hk.read_model_info(model_dir)
    assert info.task == "multi-label-classification" and info.labels == TAGS
    assert set(info.tuned["thresholds"]) <= set(TAGS) and 0.05 <= info.tuned["fallback"] <= 0.95
    summary = hk.read_json(run_dir / "train_summary.json")
    assert summary["main_metric"] == "micro_f1" and summary["best_validation_micro_f1"] > 0
    assert summary["train_examples"] == 120  # a sample stratified over the tags


def test_evaluate_names_its_main_metric_and_scores_every_baseline(run_dir):
    metrics = hk.read_json(run_dir / "metrics.json")
    assert metrics["main_metric"] == "micro_f1"
    for scores in (metrics["model"], metrics["baseline"], *metrics["extra_baselines"].values()):
        assert {"micro_f1", "macro_f1", "samples_f1", "hamming_loss", "accuracy"} <= set(scores)
        assert 0 <= scores["hamming_loss"] <= 1 and set(scores["per_class"]) == set(TAGS)
    assert metrics["baseline"]["micro_f1"] > 0.8  # TF-IDF reads the tag words of the sample
    predictions = pd.read_csv(run_dir / "predictions_test.csv", keep_default_na=False)
    assert {"labels", "predicted", "missed", "invented", "errors"} <= set(predictions.columns)
    assert len(predictions) == metrics["test_examples"]
    board = hk.leaderboard(run_dir.parent)
    assert board.loc[0, "ranked_by"] == "micro_f1" and board.loc[0, "task"] == metrics["task"]


def test_the_demo_and_the_api_give_every_label_above_its_threshold(run_dir, tmp_path):
    from fastapi.testclient import TestClient

    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    text = "I was charged twice for my order, can I get one payment back?"
    [result] = predictor.predict([text])
    thresholds = hk.read_model_info(predictor.model_dir).tuned
    on = [x for x, p in result["probabilities"].items()
          if p >= thresholds["thresholds"].get(x, thresholds["fallback"])]
    assert sorted(result["labels"]) == sorted(on)
    app = hk.DemoApp(predictor, out_dir=tmp_path / "scored", example=text)
    assert "Labels:" in app.result.value and app.ui.titles[0] == "One message"
    with TestClient(hk.create_app(predictor)) as client:
        answer = client.post("/predict", json={"texts": [text]})
        schema = client.get("/openapi.json").json()["components"]["schemas"]
    assert answer.status_code == 200
    assert answer.json()["predictions"][0]["labels"] == result["labels"]
    assert set(schema["MultiLabelPrediction"]["required"]) == {"labels", "probabilities"}


def test_plain_transformers_loads_the_saved_model_in_a_fresh_process(run_dir):
    code = ("import hackkit.models.auto, sys, torch\n"
            "from transformers import AutoModelForSequenceClassification, AutoTokenizer\n"
            "m = AutoModelForSequenceClassification.from_pretrained(sys.argv[1])\n"
            "t = AutoTokenizer.from_pretrained(sys.argv[1])\n"
            "x = t(['refund please'], return_tensors='pt')\n"
            "print(m.config.problem_type, type(m).__name__, tuple(m(**x).logits.shape))")
    done = subprocess.run([sys.executable, "-c", code, str(hk.Run(run_dir).model_dir)],
                          capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.split() == ["multi_label_classification",
                                   "HackkitMeanPoolForSequenceClassification", "(1,", "8)"]


@pytest.mark.slow  # 7 s on 2 loaded cores beyond the run: the ONNX exporter
def test_the_onnx_export_decides_the_same_labels_at_the_tuned_thresholds(run_dir, tmp_path):
    import shutil

    copy = tmp_path / run_dir.name
    shutil.copytree(run_dir, copy)
    check = hk.export_run(copy, onnx=True)["check"]
    assert check["within_tolerance"] and check["same_predicted_labels"]
    assert check["texts"] == len(hk.load_splits(copy)[0]["test"])
