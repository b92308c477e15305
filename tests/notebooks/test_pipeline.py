"""Each notebook under papermill; asserts on what the run folder holds.

The pipeline trains a fixed amount of work (800 examples, 1 epoch, about 1.5 minutes on 2 cores) so
the test can check the promise that matters: the fine-tuned model beats the baseline on the sample
test split. The time budget is lifted (the committed defaults let it decide, which depends on the
machine's speed), so a slow or busy machine trains the same steps instead of fewer.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat
import pandas as pd
import pytest

import hackkit as hk
from helpers import headless_run

# One epoch: the head starts from the probe, so 100 steps already beat the baseline.
INJECTED = {"TOP_MISTAKES": 5, "DEVICE": "cpu", "TIME_BUDGET_MINUTES": 0, "EPOCHS": 1, "MAX_TRAIN_EXAMPLES": 800}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One run of 01 -> 03."""
    return headless_run(tmp_path_factory, INJECTED, "default")


def test_run_is_marked_done_and_keeps_the_executed_notebooks(run_dir):
    status = hk.run_status(run_dir)
    assert status["status"] == "done"
    assert status["params"]["TOP_MISTAKES"] == 5 and status["params"]["DEVICE"] == "cpu"
    for name in hk.params.NOTEBOOKS:
        executed = nbformat.read(run_dir / name, as_version=4)
        injected = [c for c in executed.cells if "injected-parameters" in c.metadata.get("tags", [])]
        assert len(injected) == 1 and str(run_dir) in injected[0].source
        assert not [o for c in executed.cells for o in c.get("outputs", []) if o.get("output_type") == "error"]


def test_explore_wrote_splits_and_a_data_report(run_dir):
    splits, labels = hk.load_splits(run_dir)
    assert len(labels) == 8
    report = hk.read_json(run_dir / "data_report.json")
    assert report["split_sizes"] == {k: len(v) for k, v in splits.items()}
    assert report["leakage"] == {"validation": 0, "test": 0}
    assert report["params"]["DATA_PATH"] == "data/support_intents.csv"
    assert report["tokens_per_input"]["max"] >= report["tokens_per_input"]["median"] > 3


def test_finetune_wrote_model_history_and_curve(run_dir):
    summary = hk.read_json(run_dir / "train_summary.json")
    assert summary["train_examples"] == 800 and summary["device"] == "cpu"
    assert summary["model_source"] == "packaged" and summary["epochs_completed"] == 1.0
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert sorted(config["id2label"].values()) == hk.load_splits(run_dir)[1]
    assert (run_dir / "model" / "model.safetensors").stat().st_size > 50_000_000
    assert (run_dir / "learning_curve.png").stat().st_size > 10_000


def test_evaluate_wrote_metrics_in_range(run_dir):
    metrics = hk.read_json(run_dir / "metrics.json")
    splits, labels = hk.load_splits(run_dir)
    assert metrics["test_examples"] == len(splits["test"])
    for model in ("model", "baseline"):
        assert 0.75 < metrics[model]["accuracy"] < 1.0  # learnable, not trivially separable
        assert set(metrics[model]["per_class"]) == set(labels)
    assert metrics["beats_baseline"] is True
    assert metrics["model"]["macro_f1"] > metrics["baseline"]["macro_f1"]
    predictions = pd.read_csv(run_dir / "predictions_test.csv")
    assert len(predictions) == len(splits["test"]) and set(predictions["predicted"]) <= set(labels)
    assert (run_dir / "confusion_matrix.png").is_file()
    card = (run_dir / "model" / "README.md").read_text()  # 03 writes the model card
    assert f"| this model | {metrics['model']['accuracy']:.4f} |" in card
