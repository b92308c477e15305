"""01 -> 03 with TASK image-classification on the generated shapes sample, through papermill.

The sample as `hk.sample_images()` makes it (400 images: 280 train / 40 validation / 80 test), 128 px,
2 epochs with no time budget so a busy machine cannot change what is trained. Asserts the promise of
the README: the fine-tuned network (probe-initialised head) beats the frozen-feature baseline. On a
smaller set (100 images, 54 for training) it did not, reliably: 0.74-0.77 against 0.77, so this runs
the full sample and is `slow` (about 10 minutes on 2 cores shared with other jobs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk
from helpers import ROOT

pytestmark = [pytest.mark.slow, pytest.mark.notebooks]
PER_CLASS = 80


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory) -> Path:
    """One image run of 01 -> 03, each notebook in its own papermill kernel."""
    spec = importlib.util.spec_from_file_location("make_sample_images", ROOT / "data" / "make_sample_images.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    root = tmp_path_factory.mktemp("image-runs")
    data = module.make(root / "shapes", per_class=PER_CLASS, seed=0)  # the same images as data/shapes
    injected = {"TASK": "image-classification", "DATA_PATH": str(data), "MAX_LENGTH": 128,
                "EPOCHS": 2.0, "PATIENCE": 0,
                "TIME_BUDGET_MINUTES": 0, "MAX_TRAIN_EXAMPLES": 0, "TOP_MISTAKES": 6, "DEVICE": "cpu"}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HACKKIT_RUNS_DIR", str(root / "runs"))
        return hk.run_pipeline(injected, name="images", log=lambda _: None)


def test_explore_wrote_path_splits_and_an_image_report(run_dir):
    splits, labels = hk.load_splits(run_dir)
    assert labels == ["circle", "cross", "square", "star", "triangle"]
    assert sum(len(f) for f in splits.values()) == 5 * PER_CLASS
    assert all(Path(p).is_file() for f in splits.values() for p in f["path"])  # paths, not copies
    assert not list((run_dir / "splits").glob("*.jpg"))
    report = hk.read_json(run_dir / "data_report.json")
    assert report["task"] == "image-classification" and report["images"]["problems"] == []
    assert report["images"]["checked"] == 5 * PER_CLASS and report["warnings"] == []


def test_finetuned_network_beats_the_frozen_feature_baseline(run_dir):
    summary = hk.read_json(run_dir / "train_summary.json")
    assert summary["model"] == "efficientnet-lite0" and summary["epochs_completed"] == 2.0
    metrics = hk.read_json(run_dir / "metrics.json")
    assert metrics["main_metric"] == "macro_f1" and set(metrics["model"]["per_class"]) == {
        "circle", "cross", "square", "star", "triangle"}
    assert metrics["beats_baseline"] is True
    assert metrics["model"]["macro_f1"] > metrics["baseline"]["macro_f1"], (metrics["model"]["macro_f1"],
                                                                            metrics["baseline"]["macro_f1"])
    predictions = pd.read_csv(run_dir / "predictions_test.csv")
    assert {"path", "label", "predicted", "confidence", "correct"} <= set(predictions.columns)
    assert (run_dir / "confusion_matrix.png").is_file()
