"""01 -> 04 with TASK token-classification on the shipped NER sample, through papermill.

Trains a fixed amount of work (MiniLM, at most 800 sentences, 2 epochs, about 1.5 minutes on 2
free cores) so the test checks the promise of the README: the fine-tuned model beats the per-word
baseline on entity F1. The time budget is switched off so a busy machine cannot change what is trained.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk
from helpers import THROUGH_DEMO, headless_run, notebook_errors

INJECTED = {"TASK": "token-classification", "DATA_PATH": "data/support_entities.conll",
            "TIME_BUDGET_MINUTES": 0, "EPOCHS": 2, "MAX_TRAIN_EXAMPLES": 800, "TOP_MISTAKES": 5, "DEVICE": "cpu"}
TYPES = {"DATE", "LOCATION", "ORDER_ID", "PERSON", "PRODUCT"}


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One NER run of 01 -> 04."""
    return headless_run(tmp_path_factory, INJECTED, "ner", THROUGH_DEMO)


def test_run_is_done_with_the_ner_task(run_dir):
    status = hk.run_status(run_dir)
    assert status["status"] == "done" and status["params"]["TASK"] == "token-classification"
    assert hk.Run(run_dir).task_name() == "token-classification"
    for notebook in THROUGH_DEMO:
        assert notebook_errors(run_dir / notebook) == [], notebook


def test_explore_wrote_tagged_splits_and_entity_counts(run_dir):
    splits, labels = hk.load_splits(run_dir)
    assert labels == ["O"] + [f"{p}-{t}" for t in sorted(TYPES) for p in "BI"]
    report = hk.read_json(run_dir / "data_report.json")
    assert report["tag_scheme"] == "IOB2" and report["scheme_problems"] == []
    assert report["split_sizes"] == {k: len(v) for k, v in splits.items()}
    assert sum(report["split_sizes"].values()) == 600 and report["dropped"] == {"duplicates": 0}
    assert set(report["class_balance"]) == TYPES == set(report["labels"])
    assert report["class_balance"]["PRODUCT"]["total"] > report["class_balance"]["PERSON"]["total"] > 100
    assert report["truncated_at_max_length"] == 0 and report["leakage"] == {"validation": 0, "test": 0}


def test_finetune_trained_a_token_classifier(run_dir):
    summary = hk.read_json(run_dir / "train_summary.json")
    assert summary["task"] == "token-classification" and summary["epochs_completed"] == 2.0
    assert summary["truncated_sentences"] == {"train": 0, "validation": 0}
    assert summary["best_validation_entity_f1"] > 0.8
    config = json.loads((run_dir / "model" / "config.json").read_text())
    assert config["architectures"] == ["HackkitShapeTaggerForTokenClassification"]
    assert hk.read_model_info(hk.Run(run_dir).model_dir).task == "token-classification"
    assert (run_dir / "learning_curve.png").stat().st_size > 10_000


def test_evaluate_reports_entity_f1_per_type_and_beats_the_baseline(run_dir):
    metrics = hk.read_json(run_dir / "metrics.json")
    for model in ("model", "baseline"):
        assert set(metrics[model]["per_class"]) == TYPES
        assert all(0 <= s["f1-score"] <= 1 for s in metrics[model]["per_class"].values())
    assert 0.5 < metrics["baseline"]["entity_f1"] < 0.9  # words alone do not solve the sample
    assert metrics["beats_baseline"] is True
    assert metrics["model"]["entity_f1"] > metrics["baseline"]["entity_f1"] + 0.1
    predictions = pd.read_csv(run_dir / "predictions_test.csv")
    assert len(predictions) == metrics["test_examples"] == len(hk.load_splits(run_dir)[0]["test"])
    assert {"text", "gold", "predicted", "errors"} <= set(predictions.columns)
    assert (run_dir / "confusion_matrix.png").is_file()


def test_the_trained_model_finds_entities_in_raw_text(run_dir):
    text = "Hi, order VC-48213 never arrived in Dublin."
    predictor = hk.Predictor.from_run(run_dir, device="cpu")  # what 03, the demo and the API use
    assert predictor.max_length == hk.read_json(hk.Run(run_dir).train_summary)["config"]["max_length"]
    found = predictor.predict([text])[0]["entities"]
    assert {"label": "ORDER_ID", "text": "VC-48213", "start": 10, "end": 18} in [
        {k: e[k] for k in ("label", "text", "start", "end")} for e in found]
    assert all(text[e["start"]:e["end"]] == e["text"] and 0 < e["score"] <= 1 for e in found)
    assert predictor.predict(text)[0]["entities"] == found


def test_the_model_card_reports_entity_scores(run_dir):
    card = (run_dir / "model" / "README.md").read_text()
    assert "pipeline_tag: token-classification" in card and "| this model | " in card
    assert "entity micro-F1" in card and "baseline (most frequent tag per word)" in card
    assert "AutoModelForTokenClassification" in card and "| PRODUCT |" in card


def test_the_demo_notebook_tagged_its_example(run_dir):
    import nbformat

    cells = {c.id: c for c in nbformat.read(run_dir / "04_demo.ipynb", as_version=4).cells}
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in cells["04-06"].outputs)
    assert "entities" in shown and "I was charged twice" in shown, shown  # 04's EXAMPLE, tagged
    card = "".join(o.get("data", {}).get("text/markdown", "") for o in cells["04-11"].outputs)
    assert card.startswith(f"# {run_dir.name}: token-classification")
