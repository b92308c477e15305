"""Metrics, prediction tables, mistakes and the metrics file."""

from __future__ import annotations

import numpy as np
import pytest

import hackkit as hk
from hackkit.tasks.labels import (
    classification_metrics,
    confident_mistakes,
    plot_confusion_matrix,
    predictions_table,
)
from helpers import TEXT

LABELS = ["a", "b", "c"]


def test_classification_metrics_match_hand_computed_values():
    m = classification_metrics(["a", "a", "b", "c"], ["a", "b", "b", "c"], LABELS)
    assert m["accuracy"] == 0.75
    # F1 per class: a = 2/3, b = 2/3, c = 1
    assert m["macro_f1"] == pytest.approx((2 / 3 + 2 / 3 + 1) / 3)
    assert m["per_class"]["b"]["precision"] == 0.5 and m["per_class"]["a"]["recall"] == 0.5
    table = hk.per_class_table(m)
    assert list(table.index) == LABELS and table.loc["a", "support"] == 2


def test_predictions_table_and_confident_mistakes():
    proba = np.array([[0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.1, 0.8], [0.6, 0.3, 0.1]])
    table = predictions_table(["t1", "t2", "t3", "t4"], ["a", "a", "c", "b"], proba, LABELS)
    assert list(table["predicted"]) == ["a", "b", "c", "a"]
    assert list(table["correct"]) == [True, False, True, False]
    worst = confident_mistakes(table, k=5)
    assert list(worst["text"]) == ["t2", "t4"]  # most confident mistake first
    assert list(worst["confidence"]) == [0.7, 0.6]


def test_confusion_matrix_plot_has_every_label():
    fig = plot_confusion_matrix(["a", "b", "c"], ["a", "c", "c"], LABELS)
    ticks = [t.get_text() for t in fig.axes[0].get_xticklabels()]
    assert ticks == LABELS


def test_compare_and_metrics_file_round_trip(tmp_path):
    good = classification_metrics(["a", "b"], ["a", "b"], ["a", "b"])
    poor = classification_metrics(["a", "b"], ["a", "a"], ["a", "b"])
    table = hk.compare_scores({"baseline": poor, "fine-tuned": good}, TEXT)
    assert list(table.columns) == ["accuracy", "macro_f1", "weighted_f1"]  # the task's order
    assert table.loc["fine-tuned", "accuracy"] == 1.0 and table.loc["baseline", "accuracy"] == 0.5
    predictions = predictions_table(["x", "y"], ["a", "b"], np.eye(2), ["a", "b"])
    hk.write_json(hk.Run(tmp_path).data_report, {"task": "text-classification"})
    hk.write_metrics(tmp_path, good, poor, predictions)
    assert hk.headline_scores(tmp_path) == {"macro_f1": 1.0, "baseline_macro_f1": poor["macro_f1"],
                                            "accuracy": 1.0}
    metrics = hk.read_json(hk.Run(tmp_path).metrics)
    assert metrics["beats_baseline"] is True and metrics["main_metric"] == "macro_f1"
    assert metrics["model"]["accuracy"] == 1.0
    assert hk.Run(tmp_path).predictions.read_text().startswith("text,label,predicted")


def test_predicting_needs_a_saved_model(tmp_path):
    with pytest.raises(FileNotFoundError, match="run 02_finetune first"):
        hk.Predictor(tmp_path).predict(["hello"])


def test_a_run_that_loses_to_the_baseline_says_so_with_the_cause_and_fix(run_with_splits, tiny_model):
    # A random 2-layer model barely moved (6 steps at 1e-6) cannot beat TF-IDF on 96 texts
    # (BASELINE_BLEND off: the model alone is judged, not the mix 02 would end with).
    config = hk.TrainConfig(model=str(tiny_model), epochs=1.0, batch_size=16, learning_rate=1e-6,
                            patience=0, device="cpu", time_budget_minutes=0.0, head_init="new",
                            baseline_blend=False)
    hk.finetune(run_with_splits, config)
    predictions = hk.predict_split(run_with_splits, "test", device="cpu")
    scores = hk.score_predictions(run_with_splits, predictions)
    baseline = hk.baseline_scores(run_with_splits, "test")
    hk.write_metrics(run_with_splits, scores, baseline, predictions)

    verdict = hk.read_json(hk.Run(run_with_splits).metrics)["verdict"]
    labels = len(hk.Run(run_with_splits).labels())
    assert verdict["beats_baseline"] is False and verdict["metric"] == "macro_f1"
    assert verdict["baseline_score"] == pytest.approx(baseline["macro_f1"])
    assert "does NOT beat the baseline: test macro_f1" in verdict["message"]
    causes = " ".join(p["cause"] for p in verdict["problems"])
    fixes = " ".join(p["fix"] for p in verdict["problems"])
    assert f"too few training steps for {labels} classes: 6 steps" in causes
    assert "LEARNING_RATE=1e-06 may be too low: try 4e-06" in fixes
    # 02 judges the best validation score the same way
    on_validation = hk.explain_run(run_with_splits, split="validation")
    assert not on_validation["beats_baseline"] and "validation macro_f1" in on_validation["message"]


def test_a_budget_plan_ended_by_early_stopping_is_not_called_cut_by_the_budget(run_with_splits, tiny_model):
    # sms_spam at 10 minutes: early stopping ended a budget-sized plan at 1,568 of 2,009 steps
    # and the verdict said "still rising when the budget ran out"; it had 2.7 minutes left.
    config = hk.TrainConfig(model=str(tiny_model), epochs=1.0, batch_size=16, learning_rate=1e-4,
                            patience=0, device="cpu", time_budget_minutes=0.0)
    hk.finetune(run_with_splits, config)
    run = hk.Run(run_with_splits)
    summary = hk.read_json(run.train_summary)
    history = [{"step": s, "eval_macro_f1": v} for s, v in ((0, 0.95), (392, 0.96), (784, 0.98),
                                                            (1176, 0.97), (1568, 0.98))]
    hk.write_json(run.history, history)

    def rising(completed: bool) -> bool:
        hk.write_json(run.train_summary, {
            **summary, "stopped_by_time_budget": False,
            "plan": {**summary["plan"], "capped_by": "budget"},
            "budget": {**(summary.get("budget") or {}), "schedule_completed": completed}})
        verdict = hk.explain_run(run_with_splits, split="validation")
        return any("still rising" in p["cause"] for p in verdict["problems"])

    assert not rising(completed=False)  # early stopping ended it: time was left
    assert rising(completed=True)  # the plan ran out with the budget, the score still climbing
