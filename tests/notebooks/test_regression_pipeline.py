"""TASK text-regression through the notebooks on its shipped sample (data/review_scores.csv):
01 -> 03 under papermill, then what 04 offers on the same run: the Predictor, the demo widget,
POST /predict, plain transformers loading model/ in a fresh interpreter after
`import hackkit.models.auto`, and (marked slow) ONNX export with its check.

The tiny random BERT trains one epoch of 64 texts (the plumbing is under test, not the score; the real
figures are benchmarks/RESULTS.md's "Text regression"), so the run takes seconds.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hackkit as hk
from helpers import headless_run

TEXTS = ["The battery lasts for days. Highly recommended!", "It broke within a week. Avoid."]


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_model) -> Path:
    """One regression run of 01 -> 03 from the tiny model."""
    return headless_run(tmp_path_factory, {
        "TASK": "text-regression", "DATA_PATH": "data/review_scores.csv", "MODEL": str(tiny_model),
        "TIME_BUDGET_MINUTES": 0, "EPOCHS": 1, "MAX_TRAIN_EXAMPLES": 64, "BATCH_SIZE": 16, "LEARNING_RATE": 1e-3,
        "DEVICE": "cpu", "TOP_MISTAKES": 3}, "regression")


def test_explore_wrote_score_splits_and_the_score_distribution(run_dir):
    assert hk.run_status(run_dir)["status"] == "done"
    splits, labels = hk.load_splits(run_dir)
    assert labels == ["score"] and {k: len(v) for k, v in splits.items()} == {
        "train": 280, "validation": 40, "test": 80}
    assert splits["train"]["score"].dtype == float
    report = hk.read_json(hk.Run(run_dir).data_report)
    assert report["task"] == "text-regression" and report["target_column"] == "score"
    assert 2.5 < report["score"]["mean"] < 3.5 and report["score"]["distinct"] > 10


def test_finetune_started_from_the_ridge_probe_and_saved_a_self_describing_model(run_dir):
    summary = hk.read_json(hk.Run(run_dir).train_summary)
    assert summary["task"] == "text-regression" and summary["main_metric"] == "r2"
    assert summary["head_init"] == "ridge probe on mean-pooled embeddings"
    config = hk.read_json(hk.Run(run_dir).model_dir / "config.json")
    assert config["architectures"] == ["HackkitMeanPoolForTextRegression"]
    assert config["target_mean"] == pytest.approx(summary["target_mean"], abs=1e-5)
    assert hk.read_model_info(hk.Run(run_dir).model_dir).task == "text-regression"


def test_evaluate_wrote_every_metric_and_both_extra_baselines(run_dir):
    metrics = hk.read_json(hk.Run(run_dir).metrics)
    assert metrics["main_metric"] == "r2" and metrics["test_examples"] == 80
    for scores in (metrics["model"], metrics["baseline"], *metrics["extra_baselines"].values()):
        assert {"r2", "rmse", "mae", "pearson", "spearman"} <= set(scores)
    assert set(metrics["extra_baselines"]) == {"TF-IDF + ridge", "embeddings + ridge"}
    assert metrics["baseline"]["pearson"] == 0.0 and metrics["baseline"]["r2"] <= 0.0
    assert sum(r["support"] for r in metrics["model"]["per_class"].values()) == 80
    predictions = pd.read_csv(hk.Run(run_dir).predictions)
    assert list(predictions.columns) == ["text", "label", "predicted", "error"]
    np.testing.assert_allclose(predictions["predicted"] - predictions["label"],
                               predictions["error"], atol=1e-3)
    assert (run_dir / "03_evaluate.ipynb").is_file() and hk.Run(run_dir).confusion.is_file()
    assert "| label | support | mean_true |" in hk.model_card(run_dir)


def test_the_demo_and_the_api_give_the_predictors_scores(run_dir, tmp_path):
    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    expected = [r["score"] for r in predictor.predict(TEXTS)]
    assert list(predictor.table(TEXTS).columns) == ["text", "predicted"]
    app = hk.DemoApp(predictor, out_dir=tmp_path / "scored", example=TEXTS[0])
    assert f"<b class=\"hackkit-demo-label\">{expected[0]:.3f}</b>" in app.result.value

    from fastapi.testclient import TestClient

    with TestClient(hk.create_app(predictor)) as client:
        answer = client.post("/predict", json={"texts": TEXTS}).json()
        refused = client.post("/predict", json={"texts": []})
    assert [p["score"] for p in answer["predictions"]] == pytest.approx(expected, abs=1e-5)
    assert refused.status_code == 422 and '"texts" is empty' in refused.json()["error"]


@pytest.mark.slow  # about 6 s on an idle 2-core CPU, more under load: outside the default run
def test_onnx_export_gives_the_predictors_scores(run_dir, copy_run):
    run = copy_run(run_dir)
    check = hk.export_run(run, onnx=True)["check"]
    assert check["within_tolerance"] and check["texts"] == 80


OUTSIDE = """
import json, sys
import torch
import hackkit.models.auto  # the one documented line
from transformers import AutoModelForSequenceClassification, AutoTokenizer

folder, texts = sys.argv[1], json.loads(sys.argv[2])
model = AutoModelForSequenceClassification.from_pretrained(folder).eval()
batch = AutoTokenizer.from_pretrained(folder)(texts, padding=True, truncation=True, return_tensors="pt")
with torch.no_grad():
    print(json.dumps({"class": type(model).__name__, "scores": model(**batch).logits[:, 0].tolist()}))
"""


def test_plain_transformers_loads_the_model_in_a_fresh_process(run_dir):
    folder = hk.Run(run_dir).model_dir
    out = subprocess.run([sys.executable, "-c", OUTSIDE, str(folder), json.dumps(TEXTS)],
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    found = json.loads(out.stdout.strip().splitlines()[-1])
    assert found["class"] == "HackkitMeanPoolForTextRegression"
    expected = [r["score"] for r in hk.Predictor(folder, device="cpu").predict(TEXTS)]
    assert found["scores"] == pytest.approx(expected, abs=1e-5)  # in the target's own units
