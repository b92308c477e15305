"""Every method reads its own options and refuses, before any work, a setting it would ignore;
the one training session serves finetune and lora alike; the summary has one schema."""

from __future__ import annotations

import dataclasses

import pytest

import hackkit as hk
from hackkit.registry import COMMON_PARAMETERS, METHODS
from hackkit.summary import TrainSummary
from hackkit.train.lora import LoraOptions

# For each METHOD, settings it does not read: each is refused, naming the parameter.
IGNORED = {
    "finetune": [("lora_rank", 16, "LORA_RANK"), ("label_descriptions", "labels.csv",
                                                   "LABEL_DESCRIPTIONS")],
    "lora": [("average_checkpoints", 3, "AVERAGE_CHECKPOINTS"),
             ("freeze_embeddings", False, "FREEZE_EMBEDDINGS")],
    "embeddings": [("learning_rate", 5e-5, "LEARNING_RATE"), ("nproc", 2, "NPROC"),
                   ("head_init", "new", "HEAD_INIT")],
    "contrastive": [("learning_rate", 5e-5, "LEARNING_RATE"), ("epochs", 3.0, "EPOCHS")],
    "zero-shot": [("max_train_examples", 100, "MAX_TRAIN_EXAMPLES"), ("epochs", 3.0, "EPOCHS")],
    "lm-classifier": [("learning_rate", 5e-5, "LEARNING_RATE"), ("epochs", 3.0, "EPOCHS")],
    "auto": [("lora_rank", 4, "LORA_RANK")],
}


def test_every_method_is_covered_here():
    assert set(IGNORED) == set(METHODS)


@pytest.mark.parametrize("method, field, value, name",
                         [(m, *case) for m, cases in IGNORED.items() for case in cases])
def test_a_setting_the_method_would_ignore_is_refused_before_any_work(run_with_splits, method,
                                                                      field, value, name):
    config = dataclasses.replace(hk.TrainConfig(method=method, device="cpu"), **{field: value})
    readers = [m for m, entry in METHODS.items() if name in entry.options]
    with pytest.raises(ValueError, match=rf"^{name}={value!r}: METHOD='{method}' \(.*\) does not "
                                         rf"use it\. Leave {name} at its default .*, or use a "
                                         rf"METHOD that reads it: {', '.join(readers)}\."):
        hk.train_model(run_with_splits, config)
    assert sorted(p.name for p in run_with_splits.iterdir()) == ["splits"]  # nothing was started


def test_the_defaults_are_accepted_by_every_method():
    for method in METHODS:
        hk.TrainConfig(method=method).validate()


def test_auto_passes_the_chosen_method_only_what_it_reads():
    from hackkit.train.methods import for_method

    config = hk.TrainConfig(method="auto", learning_rate=5e-5, head_init="new",
                            label_descriptions="x.csv")
    chosen = for_method(config, "embeddings")
    assert (chosen.method, chosen.learning_rate, chosen.head_init, chosen.label_descriptions) == (
        "embeddings", hk.TrainConfig.learning_rate, "probe", "")
    chosen.validate()
    assert for_method(config, "finetune").learning_rate == 5e-5


def test_lora_has_its_own_small_options():
    options = LoraOptions.from_config(hk.TrainConfig(method="lora", lora_rank=4,
                                                     lora_targets="query, value ,key"))
    assert options == LoraOptions(rank=4, alpha=16, dropout=0.1, targets=("query", "value", "key"))


def test_the_summary_records_only_what_the_method_read(run_with_splits):
    summary = hk.train_model(run_with_splits, hk.TrainConfig(method="embeddings", device="cpu"))
    read = set(COMMON_PARAMETERS) | set(METHODS["embeddings"].options)
    assert {k.upper() for k in summary.config} == read
    again = TrainSummary.read(hk.Run(run_with_splits).train_summary)
    assert again == summary and again.best_validation == summary.best_validation > 0


def test_a_summary_round_trips_through_its_json_with_details_at_the_top_level(tmp_path):
    summary = TrainSummary(task="text-classification", main_metric="macro_f1", method="lora",
                           best_validation=0.5, steps=3, details={"lora": {"rank": 8}})
    data = hk.read_json(summary.write(tmp_path / "s.json"))
    assert data["best_validation_macro_f1"] == 0.5 and data["lora"] == {"rank": 8}
    assert "details" not in data and "best_validation" not in data
    assert TrainSummary.from_dict(data) == summary
    with pytest.raises(ValueError, match=r"needs \['task'\]"):
        TrainSummary.from_dict({"main_metric": "macro_f1"})
    with pytest.raises(FileNotFoundError, match="run 02_finetune"):
        TrainSummary.read(tmp_path / "missing.json")
