"""The text-regression task on its own: reading scores (and refusing what is not one), the doctor's
checks, the split, the metrics and why R² is the main metric, the baselines, and LoRA through the
one training session. The whole path 01 -> 04 is tests/notebooks/test_regression_pipeline.py."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hackkit as hk
from hackkit.tasks.regression import TARGET, per_range, regression_metrics
from helpers import ROOT

REGRESSION = hk.get_task("text-regression")
REVIEWS = ROOT / "data" / "review_scores.csv"


def _table(tmp_path: Path, scores: list, name: str = "scores.csv", **columns) -> Path:
    """A CSV of distinct short texts and the given scores (and any other columns)."""
    words = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"]
    texts = [f"{words[i % 8]} {words[(i // 8) % 8]} review number {i}" for i in range(len(scores))]
    path = tmp_path / name
    pd.DataFrame({"text": texts, "score": scores, **columns}).to_csv(path, index=False)
    return path


def _diagnose(path: Path, **fields) -> hk.Diagnosis:
    return hk.diagnose(hk.DataConfig(task="text-regression", data_path=str(path), **fields),
                       lengths=False)


def test_the_sample_reads_as_scores_with_no_problems_and_a_stratified_split():
    diagnosis = _diagnose(REVIEWS)
    assert diagnosis.errors == [] and diagnosis.warnings[0].startswith("LABEL_COLUMN='label' is not")
    splits = diagnosis.splits
    assert {k: len(v) for k, v in splits.items()} == {"train": 280, "validation": 40, "test": 80}
    # Stratified by score quantiles: every split's mean is close to the whole sample's.
    whole = pd.concat(splits.values())[TARGET].mean()
    assert all(abs(f[TARGET].mean() - whole) < 0.15 for f in splits.values())
    assert REGRESSION.labels(splits) == ["score"]
    report = hk.data_report(diagnosis, hk.DataConfig(task="text-regression", data_path=str(REVIEWS)))
    assert report["score"]["min"] == 1.0 and report["score"]["max"] == 5.0
    assert report["target_column"] == "score" and report["outliers"]["count"] == 0


def test_values_that_are_not_numbers_stop_the_run_naming_their_lines(tmp_path):
    path = _table(tmp_path, ["3.5", "4", "good", "2", "3,5", "1", "", "5"])
    diagnosis = _diagnose(path)
    [error] = diagnosis.errors
    assert error == ("LABEL_COLUMN='score': 2 values in scores.csv are not numbers (lines 4, 6: "
                     "'good', '3,5'). TASK='text-regression' needs one number per text: write "
                     "decimals with a point (3.5, not 3,5), leave a cell empty to drop its row, or "
                     "use TASK='text-classification' if the values are classes.")
    with pytest.raises(ValueError, match="are not numbers"):  # before any work: loading refuses
        hk.load_data(str(path), task="text-regression")


def test_a_constant_target_stops_the_run(tmp_path):
    [error] = _diagnose(_table(tmp_path, [3.0] * 12)).errors
    assert error.startswith("LABEL_COLUMN='score': every score in scores.csv is 3.0; a regression")
    assert "at least two different values" in error


def test_a_missing_score_column_names_the_columns_when_no_numeric_one_stands_in(tmp_path):
    path = _table(tmp_path, [1, 2, 3, 4, 5, 6], other=[9, 8, 7, 6, 5, 4])
    [error] = _diagnose(path, label_column="rating").errors
    assert error.startswith("LABEL_COLUMN='rating': no such column in scores.csv. Its columns are "
                            "['text', 'score', 'other'].")


def test_outliers_and_a_nearly_constant_target_are_warned_about(tmp_path):
    scores = list(np.linspace(2.0, 4.0, 40)) + [400.0]
    diagnosis = _diagnose(_table(tmp_path, scores, "outliers.csv"))
    outlier = [p.message for p in diagnosis.problems if p.check == "outliers"]
    assert diagnosis.errors == [] and outlier == [
        "LABEL_COLUMN='score': 1 score lies over 5 median absolute deviations from the median "
        "(line 42: [400.0]); with a squared loss they pull the model towards them. Check them "
        "for typos or another unit, and fix or drop their rows."]
    flat = _diagnose(_table(tmp_path, [3.0] * 46 + [1.0, 2.0, 4.0, 5.0], "flat.csv"))
    [nearly] = [p.message for p in flat.problems if p.check == "nearly-constant"]
    assert nearly.startswith("LABEL_COLUMN='score': 92% of the scores are 3, so there is little")


def test_the_split_column_is_kept(tmp_path):
    split = ["train"] * 10 + ["validation"] * 3 + ["test"] * 3
    diagnosis = _diagnose(_table(tmp_path, list(range(16)), split=split), split_column="split")
    assert {k: len(v) for k, v in diagnosis.splits.items()} == {"train": 10, "validation": 3, "test": 3}
    assert list(diagnosis.splits["test"][TARGET]) == [13.0, 14.0, 15.0]


def test_metrics_are_in_the_targets_units_and_correlations_of_a_constant_are_zero():
    scores = regression_metrics([1.0, 2.0, 3.0, 4.0], [1.5, 2.0, 3.0, 3.5])
    assert scores["rmse"] == pytest.approx(np.sqrt(0.125)) and scores["mae"] == pytest.approx(0.25)
    assert scores["r2"] == pytest.approx(1 - 0.5 / 5) and scores["spearman"] == pytest.approx(1.0)
    constant = regression_metrics([1.0, 2.0, 3.0], [2.0, 2.0, 2.0])
    assert constant["pearson"] == constant["spearman"] == 0.0 and constant["r2"] == 0.0
    table = per_range([1.0, 1.2, 5.0], [2.0, 2.0, 4.0], ranges=2)
    assert table == {"[1, 3)": {"support": 2, "mean_true": 1.1, "mean_predicted": 2.0,
                                "mean_error": pytest.approx(0.9), "mae": pytest.approx(0.9)},
                     "[3, 5]": {"support": 1, "mean_true": 5.0, "mean_predicted": 4.0,
                                "mean_error": -1.0, "mae": 1.0}}


def test_the_main_metric_grows_and_ranks_models_as_rmse_does(tmp_path):
    # R² = 1 - MSE / var(y) on one split: every place that keeps the highest main metric (best
    # checkpoint, search, averaging, keep-the-start, verdict, leaderboard) keeps the lowest RMSE.
    rng = np.random.default_rng(0)
    truth = rng.normal(3, 1, 50)
    models = [truth + rng.normal(0, s, 50) for s in (0.2, 1.5, 0.7, 3.0)]
    scores = [regression_metrics(truth, m) for m in models]
    assert REGRESSION.main_metric == "r2"
    by_r2 = sorted(range(4), key=lambda i: -scores[i]["r2"])
    assert by_r2 == sorted(range(4), key=lambda i: scores[i]["rmse"]) == [0, 2, 1, 3]
    # The leaderboard ranks two regression runs by r2: the one with the lower RMSE first.
    for name, i in (("worse", 1), ("better", 0)):
        run = hk.Run(tmp_path / name)
        run.path.mkdir()
        hk.write_json(run.data_report, {"task": REGRESSION.name, "params": {
            "TASK": REGRESSION.name, "DATA_PATH": "data/review_scores.csv"}})
        hk.write_json(run.metrics, {"task": REGRESSION.name, "main_metric": "r2",
                                    "model": scores[i], "baseline": scores[3]})
    board = hk.leaderboard(root=tmp_path)
    assert list(board["run"]) == ["better", "worse"] and set(board["ranked_by"]) == {"r2"}
    assert board.loc[0, "rmse"] < board.loc[1, "rmse"]


def test_the_mean_and_tfidf_baselines(tmp_path):
    splits = _diagnose(REVIEWS).splits
    mean = REGRESSION.baseline_scores(splits, ["score"], "test")
    assert mean["pearson"] == 0.0 and -0.05 < mean["r2"] <= 0.0
    assert mean["rmse"] == pytest.approx(np.sqrt(np.mean(
        (splits["test"][TARGET] - splits["train"][TARGET].mean()) ** 2)))


@pytest.mark.parametrize("method", ["embeddings", "zero-shot", "auto"])
def test_one_label_methods_are_refused_for_scores(method):
    with pytest.raises(ValueError, match=f"METHOD={method!r}"):
        hk.TrainConfig(task="text-regression", method=method).validate()


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_model) -> Path:
    """A regression run trained with METHOD lora from the tiny model on 48 reviews (seconds)."""
    splits = _diagnose(REVIEWS).splits
    small = {k: v.head(n) for (k, v), n in zip(splits.items(), (48, 16, 16))}
    run_dir = tmp_path_factory.mktemp("regression-lora") / "lora"
    hk.save_splits(small, run_dir, REGRESSION)
    hk.train_model(run_dir, hk.TrainConfig(
        task="text-regression", method="lora", model=str(tiny_model), epochs=1, batch_size=16,
        learning_rate=1e-3, patience=0, device="cpu", time_budget_minutes=0))
    return run_dir


def test_lora_trains_a_regression_head_through_the_session(lora_run):
    summary = hk.Run(lora_run).summary()
    assert summary.main_metric == "r2" and summary.details["head_init"].startswith("ridge probe")
    assert summary.method == "lora" and hk.Run(lora_run).adapter_dir.is_dir()
    predictor = hk.Predictor.from_run(lora_run, device="cpu")
    [result] = predictor.predict("the battery lasts for days")
    # The head's scale came along: scores are in the training target's units, not standardised.
    assert set(result) == {"score"} and 0.0 < result["score"] < 6.0
    assert type(predictor.model).__name__ == "HackkitMeanPoolForTextRegression"


@pytest.mark.gpu
def test_a_regression_model_on_a_gpu_agrees_with_the_cpu(lora_run):
    texts = list(hk.load_splits(lora_run)[0]["test"]["text"])
    cpu = [r["score"] for r in hk.Predictor.from_run(lora_run, device="cpu").predict(texts)]
    gpu = hk.Predictor.from_run(lora_run, device="cuda")
    assert gpu.device == "cuda" and gpu.precision in ("bf16", "fp16")
    assert [r["score"] for r in gpu.predict(texts)] == pytest.approx(cpu, abs=5e-2)
