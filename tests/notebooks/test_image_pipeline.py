"""TASK image-classification through the notebooks with papermill, MODEL left at its default.

Two runs. The fast one (default run): 01 -> 04 on 30 generated images at 64 px, one epoch, so every
notebook, the default model (EfficientNet-Lite0 picked for the image task), 03's baselines and the
model card of an image run are executed on every `make test` (03 once crashed on an image run,
resolving efficientnet-lite0 as a text model, and nothing in the default run executed it).

The thorough one (`slow`): the sample as `hk.sample_images()` makes it (400 images: 280 train / 40
validation / 80 test), 128 px, 2 epochs with no time budget so a busy machine cannot change what is
trained. Asserts the promise of the README: the fine-tuned network (probe-initialised head) beats the
frozen-feature baseline. On a smaller set (100 images, 54 for training) it did not, reliably:
0.74-0.77 against 0.77, so it runs the full sample (about 10 minutes on 2 cores shared with other jobs).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk
from helpers import IMAGE_LABELS, ROOT, THROUGH_DEMO, headless_run, make_image_folder, notebook_errors

PER_CLASS = 80
QUICK = {"TASK": "image-classification", "MAX_LENGTH": 64, "EPOCHS": 1.0, "PATIENCE": 0,
         "TIME_BUDGET_MINUTES": 0, "TOP_MISTAKES": 4, "DEVICE": "cpu"}


@pytest.fixture(scope="module")
def quick_run(tmp_path_factory) -> Path:
    """01 -> 04 on 10 images per class (21 train / 3 validation / 6 test), MODEL not set."""
    data = make_image_folder(tmp_path_factory.mktemp("image-data") / "shapes", per_class=10)
    return headless_run(tmp_path_factory, {**QUICK, "DATA_PATH": str(data)}, "images", THROUGH_DEMO)


def test_every_notebook_runs_on_an_image_folder_with_the_default_model(quick_run):
    assert hk.run_status(quick_run)["status"] == "done"
    for notebook in THROUGH_DEMO:
        assert notebook_errors(quick_run / notebook) == [], notebook
    summary = hk.read_json(quick_run / "train_summary.json")
    assert summary["model"] == "efficientnet-lite0" and summary["task"] == "image-classification"
    metrics = hk.read_json(quick_run / "metrics.json")
    assert metrics["test_examples"] == 6 and set(metrics["model"]["per_class"]) == set(IMAGE_LABELS)
    assert metrics["baseline"]["macro_f1"] >= 0 and metrics["extra_baselines"] == {}


def test_the_image_run_model_card_describes_what_was_trained_and_how_to_call_it(quick_run):
    card = (quick_run / "model" / "README.md").read_text()
    assert "pipeline_tag: image-classification" in card and "base_model: efficientnet-lite0" in card
    assert "`efficientnet-lite0` trained by hackkit (finetune, MAX_LENGTH 64)" in card
    assert "| MODEL | efficientnet-lite0 |" in card and "MiniLM" not in card
    assert "| input / label column | images in one sub-folder per class (the folder name is the label) |" in card
    assert 'predictor.predict(["photo.jpg"])' in card and "curl -s -F images=@photo.jpg" in card
    assert "the image side and normalisation (in config.json)" in card and "tokenizer" not in card
    assert "AutoModelForImageClassification.from_pretrained(folder)" in card
    assert "LORA_RANK" not in card and "| this model | " in card


def test_the_demo_notebook_predicted_a_test_image(quick_run):
    import nbformat

    cells = nbformat.read(quick_run / "04_demo.ipynb", as_version=4).cells
    [table] = [c for c in cells if "predictor.table(examples)" in c.source]
    shown = "".join(o.get("data", {}).get("text/plain", "") for o in table.outputs)
    assert "image" in shown and any(label in shown for label in IMAGE_LABELS)


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


@pytest.mark.slow
def test_explore_wrote_path_splits_and_an_image_report(run_dir):
    splits, labels = hk.load_splits(run_dir)
    assert labels == ["circle", "cross", "square", "star", "triangle"]
    assert sum(len(f) for f in splits.values()) == 5 * PER_CLASS
    assert all(Path(p).is_file() for f in splits.values() for p in f["path"])  # paths, not copies
    assert not list((run_dir / "splits").glob("*.jpg"))
    report = hk.read_json(run_dir / "data_report.json")
    assert report["task"] == "image-classification" and report["images"]["problems"] == []
    assert report["images"]["checked"] == 5 * PER_CLASS and report["warnings"] == []


@pytest.mark.slow
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
