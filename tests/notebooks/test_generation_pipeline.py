"""The notebooks 01 -> 04 with TASK text-generation on part of the shipped product-description sample.

A tiny randomly initialised Llama (conftest's tiny_generator) stands in for SmolLM2, so this checks
the plumbing in seconds rather than the quality: 01 checks and splits the pairs, 02 trains LoRA
adapters in the one session and merges them, 03 generates and scores against both baselines, 04
opens the streaming demo and says how to serve it. The quality on the sample with the real model
is measured in benchmarks/RESULTS.md ("Text generation").
"""

from __future__ import annotations

from pathlib import Path

import nbformat
import pandas as pd
import papermill
import pytest

import hackkit as hk
from helpers import GENERATION_SAMPLE, headless_run

TASK = hk.get_task("text-generation")


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, tiny_generator) -> Path:
    """One run of 01 -> 03 on the sample's first 60 pairs (the baselines embed and generate for
    every validation and test prompt: the whole sample costs a minute more)."""
    data = tmp_path_factory.mktemp("generation-data") / "pairs.csv"
    pd.read_csv(GENERATION_SAMPLE).head(60).to_csv(data, index=False)
    injected = {"TASK": "text-generation", "DATA_PATH": str(data), "MODEL": str(tiny_generator),
                "TIME_BUDGET_MINUTES": 0,
                "EPOCHS": 1, "MAX_TRAIN_EXAMPLES": 16, "MAX_LENGTH": 64, "DEVICE": "cpu",
                "TOP_MISTAKES": 3}
    return headless_run(tmp_path_factory, injected, "generation")


def test_the_sample_runs_through_01_to_03_with_lora_and_both_baselines(run_dir):
    assert hk.run_status(run_dir)["status"] == "done"
    splits, labels = hk.load_splits(run_dir)
    assert labels == [] and {k: len(v) for k, v in splits.items()} == \
        {"train": 42, "validation": 6, "test": 12}
    report = hk.read_json(run_dir / "data_report.json")
    assert report["words_per_response"]["median"] > 15
    summary = hk.read_json(run_dir / "train_summary.json")
    assert summary["method"] == "lora" and summary["train_examples"] == 16
    assert summary["config"]["lora_targets"].endswith("down_proj")
    assert (hk.Run(run_dir).adapter_dir / "adapter_config.json").is_file()
    metrics = hk.read_json(run_dir / "metrics.json")
    assert metrics["main_metric"] == "bleu" and metrics["test_examples"] == 12
    assert list(metrics["extra_baselines"]) == [TASK.prompted_baseline_name]
    # The untrained tiny model writes noise: the verdict says it loses, and names a fix.
    message = metrics["verdict"]["message"]
    assert metrics["beats_baseline"] is False and "does NOT beat the baseline" in message
    assert "Fix:" in message or "Try another MODEL" in message
    predictions = pd.read_csv(run_dir / "predictions_test.csv", keep_default_na=False)
    assert len(predictions) == 12 and {"predicted", "references", "chrf"} <= set(predictions.columns)


def test_the_demo_notebook_streams_from_the_generation_run(run_dir, tmp_path):
    out = tmp_path / "04_demo.ipynb"
    papermill.execute_notebook(
        str(hk.params.notebooks_dir() / "04_demo.ipynb"), str(out),
        parameters={"RUN_DIR": str(run_dir), "DEVICE": "cpu"}, kernel_name="python3",
        progress_bar=False)
    executed = nbformat.read(out, as_version=4)
    outputs = {c.id: c.outputs for c in executed.cells if c.cell_type == "code"}
    first_prompt = hk.load_splits(run_dir)[0]["test"]["text"].iloc[0]
    assert first_prompt[:40] in outputs["04-06"][0]["data"]["text/plain"]  # test prompts, generated
    assert "application/vnd.jupyter.widget-view+json" in outputs["04-08"][0]["data"]
    usage = "".join(o.get("text", "") for o in outputs["04-13"] if o["output_type"] == "stream")
    assert usage.splitlines()[1] == TASK.api_example("localhost:8000")
