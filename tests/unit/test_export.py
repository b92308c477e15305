"""Model card and ONNX export: the run's model folder is self-contained and ONNX matches PyTorch."""

from __future__ import annotations

import pytest

import hackkit as hk
from hackkit.use.export import ONNX_TOLERANCE


@pytest.fixture
def evaluated_run(tiny_run, copy_run):
    """A copy of the tiny run with a data report and the metrics 03_evaluate writes."""
    run = copy_run(tiny_run)
    predictions = hk.predict_split(run, "test", device="cpu")
    hk.write_metrics(run, hk.score_predictions(run, predictions), hk.baseline_scores(run, "test"),
                     predictions)
    splits = hk.load_splits(run)[0]
    hk.write_json(hk.Run(run).data_report, {
        "task": "text-classification", "data_path": "data/support_intents.csv",
        "params": {"TEXT_COLUMN": "text", "LABEL_COLUMN": "label"},
        "rows_used": 176, "rows_loaded": 180, "dropped": {"duplicates": 4},
        "split_sizes": {k: len(v) for k, v in splits.items()}, "warnings": ["a warning to act on"],
    })
    return run


def test_model_card_holds_data_parameters_metrics_and_usage(evaluated_run):
    path = hk.write_model_card(evaluated_run)
    assert path == evaluated_run / "model" / "README.md"
    card = path.read_text()
    metrics = hk.read_json(evaluated_run / "metrics.json")
    labels = hk.load_splits(evaluated_run)[1]
    assert card.startswith("---\nlibrary_name: transformers\npipeline_tag: text-classification\n")
    assert "support_intents.csv" in card and "| train split | 96 |" in card
    assert "- a warning to act on" in card
    assert "| LEARNING_RATE | 0.001 |" in card and "| EPOCHS | 1 |" in card and "LORA_RANK" not in card
    assert f"| this model | {metrics['model']['accuracy']:.4f} |" in card
    assert f"On {metrics['test_examples']} held-out test texts" in card
    assert all(f"| {label} |" in card for label in labels)
    assert f'hk.Predictor.from_run("{evaluated_run}")' in card
    model_files = {p.name for p in (evaluated_run / "model").iterdir()}
    assert {"model.safetensors", "config.json", "tokenizer.json", "hackkit.json", "README.md"} <= model_files


def test_model_card_before_evaluation_says_what_is_missing(tiny_run, tmp_path):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    for name in ("config.json", "hackkit.json"):
        (run / "model" / name).write_bytes((tiny_run / "model" / name).read_bytes())
    card = hk.model_card(run)
    assert "Not evaluated yet: run 03_evaluate" in card and "No train_summary.json in the run folder" in card
    assert hk.model_card(run, front_matter=False).startswith("# run: text-classification\n")


def test_onnx_export_matches_pytorch_within_tolerance(tiny_run, tmp_path):
    out = hk.export_onnx(tiny_run / "model", tmp_path / "model.onnx")
    texts = list(hk.load_splits(tiny_run)[0]["test"]["text"][:20]) + ["x", "a " * 300]
    check = hk.check_onnx(tiny_run / "model", out, texts, batch_size=8)
    assert check["tolerance"] == ONNX_TOLERANCE
    assert check["within_tolerance"] and check["max_abs_logit_difference"] < ONNX_TOLERANCE
    assert check["same_predicted_labels"] and check["texts"] == 22
    assert set(check["texts_per_second"]) == {"pytorch", "onnxruntime"}
    assert hk.read_json(tmp_path / "onnx_check.json") == check
    with pytest.raises(FileExistsError, match="already exists"):
        hk.export_onnx(tiny_run / "model", out)
