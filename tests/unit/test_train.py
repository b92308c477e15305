"""Fine-tuning: settings checks, the budget plan, progress, and a real (tiny) training run."""

from __future__ import annotations

import json

import numpy as np
import pytest

import hackkit as hk
from hackkit.tasks.labels import compute_metrics

TINY = dict(epochs=1.0, max_length=32, batch_size=16, device="cpu", patience=0)


@pytest.mark.parametrize("field, value, name", [
    ("epochs", 0, "EPOCHS"), ("learning_rate", 0.0, "LEARNING_RATE"), ("batch_size", 0, "BATCH_SIZE"),
    ("warmup", 1.0, "WARMUP"), ("time_budget_minutes", -1, "TIME_BUDGET_MINUTES"),
    ("device", "gpu", "DEVICE"), ("precision", "int8", "PRECISION"), ("max_length", 2, "MAX_LENGTH"),
    ("head_init", "cls", "HEAD_INIT"), ("freeze_embeddings", "yes", "FREEZE_EMBEDDINGS"),
])
def test_out_of_range_settings_name_the_parameter(field, value, name):
    with pytest.raises(ValueError, match=rf"^{name}="):
        hk.TrainConfig(**{field: value}).validate()


def test_compute_metrics_from_logits():
    import numpy as np

    logits = np.array([[2.0, 0.1], [0.2, 1.0], [3.0, 0.0], [0.0, 1.0]])
    scores = compute_metrics((logits, np.array([0, 1, 1, 1])))
    assert scores["accuracy"] == 0.75
    assert scores["macro_f1"] == pytest.approx((2 / 3 + 0.8) / 2)


def test_finetune_saves_a_self_contained_model(run_with_splits, tiny_model):
    summary = hk.finetune(run_with_splits, hk.TrainConfig(**TINY, model=str(tiny_model)))
    model_dir = run_with_splits / "model"
    assert (model_dir / "model.safetensors").is_file()
    assert not list(model_dir.glob("*.bin"))  # no pickled weights
    config = json.loads((model_dir / "config.json").read_text())
    labels = hk.Run(run_with_splits).labels()
    assert [config["id2label"][str(i)] for i in range(len(labels))] == labels
    info = hk.read_model_info(model_dir)  # the folder describes itself
    assert (info.task, info.labels, info.max_length, info.method) == (
        "text-classification", labels, TINY["max_length"], "finetune")
    assert (model_dir / "tokenizer.json").is_file()
    assert not (run_with_splits / "checkpoints").exists()
    assert summary.train_examples == 96 and summary.epochs_completed == 1.0
    assert summary.device == "cpu" and summary.precision == "fp32"
    assert 0 <= summary.best_validation <= 1
    history = hk.read_json(run_with_splits / "training_history.json")
    assert any("eval_macro_f1" in h for h in history)
    fig = hk.plot_learning_curve(run_with_splits)
    assert fig.axes[1].lines  # validation scores were plotted

    with pytest.raises(FileExistsError, match="refusing to overwrite a trained model"):
        hk.finetune(run_with_splits, hk.TrainConfig(**TINY, model=str(tiny_model)))


def test_the_head_starts_as_the_probe_and_is_kept_when_training_only_hurts(run_with_splits):
    from sklearn.metrics import f1_score

    # A learning rate of 0.5 wrecks the pretrained encoder within a step or two.
    config = hk.TrainConfig(**{**TINY, "learning_rate": 0.5, "warmup": 0.0})
    summary = hk.finetune(run_with_splits, config)
    assert summary.details["head_init"] == "linear probe on mean-pooled embeddings"
    history = hk.read_json(run_with_splits / "training_history.json")
    [start] = [h["eval_macro_f1"] for h in history if h.get("step") == 0 and "eval_macro_f1" in h]
    assert start > 0.5  # the probe already works before the first step
    kept = summary.details["kept_warm_start"]
    assert kept["kept"] and kept["best_validation"] < kept["start_validation"] == start
    assert summary.best_validation == start
    config_json = json.loads((run_with_splits / "model" / "config.json").read_text())
    assert config_json["architectures"] == ["HackkitMeanPoolForSequenceClassification"]
    # The saved model is the starting model: it scores what the step-0 evaluation said.
    validation = hk.load_splits(run_with_splits)[0]["validation"]
    predicted = [r["label"] for r in
                 hk.Predictor.from_run(run_with_splits, device="cpu").predict(list(validation["text"]))]
    assert f1_score(validation["label"], predicted, average="macro") == pytest.approx(start, abs=1e-6)


def test_the_budget_plans_the_steps_and_the_schedule_ends_inside_it(run_with_splits, tiny_model,
                                                                   monkeypatch):
    # A "measured" 0.4 examples/s, evaluation 1.6 (far below the real speeds, so real time never
    # nears the budget): of 5 minutes, two evaluations of the 40 validation texts (one half-way,
    # the last; the probe start's scores are known without one) take 50 s; 5 steps of 16 fit.
    monkeypatch.setattr("hackkit.train.plan.measure_throughput",
                        lambda *a, backward=True, **k: 0.4 if backward else 1.6)
    config = hk.TrainConfig(**{**TINY, "epochs": 3.0, "time_budget_minutes": 5.0,
                               "model": str(tiny_model)})
    summary = hk.finetune(run_with_splits, config)
    plan, result = summary.plan, summary.budget
    assert (plan["capped_by"], plan["max_steps"], plan["examples_per_second"]) == ("budget", 5, 0.4)
    assert (plan["eval_examples_per_second"], plan["planned_eval_seconds"]) == (1.6, 50.0)
    assert plan["eval_steps"] == 3  # evaluations: one half-way, one at the end
    # The first real steps run far faster than "measured": before the last planned step the plan
    # is raised to the whole epoch Trainer's loop was set up for (6 steps of 16).
    assert result["recalibrated"]["at_step"] == 4 and result["recalibrated"]["steps"] == 6
    assert result["recalibrated"]["real_examples_per_second"] > 0.4
    assert summary.steps == result["replanned_steps"] == 6 and summary.epochs_completed == 1
    assert result["schedule_completed"] and not summary.stopped_by_time_budget
    assert summary.best_checkpoint in ("checkpoint-3", "checkpoint-6")
    lrs = [h["learning_rate"] for h in hk.read_json(run_with_splits / "training_history.json")
           if "learning_rate" in h]
    assert lrs[-1] < max(lrs)  # the linear decay ran to its end inside the budget
    assert (run_with_splits / "model" / "model.safetensors").is_file()


def test_a_budget_too_short_for_the_data_trains_the_smallest_plan_and_says_so(run_with_splits,
                                                                             tiny_model,
                                                                             monkeypatch, capsys):
    monkeypatch.setattr("hackkit.train.plan.measure_throughput",
                        lambda *a, backward=True, **k: 1.0 if backward else 3.0)
    config = hk.TrainConfig(**{**TINY, "time_budget_minutes": 0.01, "model": str(tiny_model)})
    summary = hk.finetune(run_with_splits, config)  # a team is never left without a model
    assert "TIME_BUDGET_MINUTES=0.01 is too short" in summary.plan["warning"]
    assert "give at least" in capsys.readouterr().out
    assert (run_with_splits / "model" / "model.safetensors").is_file()


def test_progress_records_reach_the_run_folder(run_with_splits, tiny_model):
    hk.finetune(run_with_splits, hk.TrainConfig(**{**TINY, "time_budget_minutes": 0.0,
                                                   "model": str(tiny_model)}))
    records = [json.loads(line) for line in
               hk.Run(run_with_splits).progress.read_text().splitlines()]
    events = [r["event"] for r in records]
    assert events[0] == "start" and events[-1] == "end" and "evaluate" in events
    assert records[-1]["step"] == records[-1]["max_steps"] == 6
    assert all(r["metric"] == "macro_f1" for r in records)


def test_bad_model_stops_before_training(run_with_splits):
    with pytest.raises(ValueError, match="MODEL='no/such-model'"):
        hk.finetune(run_with_splits, hk.TrainConfig(**{**TINY, "model": "no/such-model"}))
    assert not (run_with_splits / "model").exists()


@pytest.mark.gpu
def test_finetune_on_gpu_uses_mixed_precision(run_with_splits):
    summary = hk.finetune(run_with_splits, hk.TrainConfig(**{**TINY, "device": "cuda"}))
    assert summary.device == "cuda" and summary.precision in ("bf16", "fp16")
    predictor = hk.Predictor(run_with_splits / "model", device="cuda")
    proba = predictor.predict_proba(["where is my parcel"])
    assert proba.shape == (1, len(predictor.labels)) and abs(proba.sum() - 1) < 1e-3


def test_02_refuses_a_task_other_than_the_one_01_wrote(run_with_splits):
    config = hk.TrainConfig(**{**TINY, "task": "token-classification"})
    with pytest.raises(ValueError, match=r"TASK='token-classification', but .* holds "
                                         r"text-classification data .* Set TASK = 'text-classification'"):
        hk.finetune(run_with_splits, config)
    assert not (run_with_splits / "model").exists()


def test_unknown_method_names_the_parameter():
    with pytest.raises(ValueError, match=r"^METHOD='qlora' is out of range: use one of "
                                         r"\('finetune', 'lora', 'embeddings', 'contrastive', "
                                         r"'zero-shot', 'lm-classifier', 'auto'\)"):
        hk.TrainConfig(method="qlora").validate()


def test_evaluation_runs_on_length_sorted_texts_with_each_label_kept():
    from datasets import Dataset

    from hackkit.train.session import length_sorted

    ds = Dataset.from_dict({"input_ids": [[1, 2, 3], [1], [1, 2], [4]], "label": [0, 1, 2, 3]})
    ordered = length_sorted(ds)
    assert [len(ids) for ids in ordered["input_ids"]] == [1, 1, 2, 3]
    assert ordered["label"] == [1, 3, 2, 0]  # rows move whole; ties keep their order
    images = [{"pixel_values": 0, "label": 1}]  # no token ids (images): left as it is
    assert length_sorted(images) is images


@pytest.mark.parametrize("freeze", [True, False])
def test_the_word_embedding_table_stays_as_pretrained_unless_asked(run_with_splits, freeze):
    from pathlib import Path

    import torch
    from safetensors.torch import load_file

    config = hk.TrainConfig(**{**TINY, "head_init": "new", "learning_rate": 1e-3,
                               "freeze_embeddings": freeze})
    summary = hk.finetune(run_with_splits, config)
    location = Path(hk.resolve_for_task(hk.get_task(config.task), config.model).location)
    before = load_file(next(location.glob("*.safetensors")))
    after = load_file(run_with_splits / "model" / "model.safetensors")

    def weight(weights, suffix):
        return next(v for k, v in weights.items() if k.endswith(suffix))

    table, query = "embeddings.word_embeddings.weight", "layer.0.attention.self.query.weight"
    assert not torch.equal(weight(before, query), weight(after, query))  # the layers trained
    assert torch.equal(weight(before, table), weight(after, table)) is freeze
    assert summary.details["frozen_word_embeddings"] == (weight(before, table).numel() if freeze else 0)


def test_the_probe_start_scores_are_what_evaluating_the_start_model_gives(run_with_splits,
                                                                          tiny_model):
    from transformers import Trainer, TrainingArguments

    # 02 logs the probe's validation scores as the step-0 evaluation instead of running one: they
    # must be what Trainer measures on the model before its first step.
    task, config = hk.get_task("text-classification"), hk.TrainConfig(**TINY, model=str(tiny_model))
    splits, labels = hk.load_splits(run_with_splits)
    location = hk.resolve_for_task(task, config.model).location
    parts = task.train_parts(splits["train"], splits["validation"], labels, location, 32)
    parts = task.warm_start(parts, splits["train"], splits["validation"], labels, location, 32,
                            hk.Run(run_with_splits).embeddings)
    args = TrainingArguments(output_dir=str(run_with_splits / "eval"), use_cpu=True,
                             report_to="none", per_device_eval_batch_size=32)
    measured = Trainer(model=parts.model, args=args, eval_dataset=parts.val_ds,
                       data_collator=parts.collator, compute_metrics=parts.compute_metrics).evaluate()
    known = parts.start_scores
    assert set(known) == {"eval_loss", "eval_accuracy", "eval_macro_f1"}
    assert known["eval_macro_f1"] == pytest.approx(measured["eval_macro_f1"], abs=1e-6)
    assert known["eval_accuracy"] == pytest.approx(measured["eval_accuracy"], abs=1e-6)
    assert known["eval_loss"] == pytest.approx(measured["eval_loss"], rel=1e-3)

    summary = hk.finetune(run_with_splits, config)  # logged once, at step 0, without evaluating
    history = hk.read_json(run_with_splits / "training_history.json")
    assert [h for h in history if h.get("step") == 0 and "eval_loss" in h] == [
        {**known, "epoch": 0, "step": 0}]
    assert summary.details["kept_warm_start"]["start_validation"] == known["eval_macro_f1"]


def test_choose_share_takes_the_best_mix_on_validation_and_prefers_the_model_on_ties():
    from hackkit.tasks.blend import choose_share

    labels, gold = ["a", "b"], ["a", "a", "b", "b"]
    model = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.45, 0.55]])  # 3 of 4 right
    baseline = np.array([[0.6, 0.4], [0.9, 0.1], [0.6, 0.4], [0.1, 0.9]])  # 3 of 4 right
    from hackkit.tasks.labels import classification_metrics

    def macro_f1(proba):
        return classification_metrics(gold, [labels[i] for i in proba.argmax(axis=1)], labels)[
            "macro_f1"]

    share, scores = choose_share(model, baseline, macro_f1)
    assert scores[1.0] == scores[0.0] == 0.7333 and scores[share] == 1.0 and 0 < share < 1
    assert choose_share(model, model, macro_f1)[0] == 1.0  # a tie keeps the model alone


def test_01_reads_ahead_the_embeddings_that_02_starts_from(run_with_splits, tiny_model, monkeypatch):
    from hackkit.models import embeddings as em

    # As 01 does: its MAX_LENGTH in the data report, then the embeddings read ahead.
    hk.write_json(hk.Run(run_with_splits).data_report, {"params": {"MAX_LENGTH": TINY["max_length"]}})
    line = hk.prepare_features(run_with_splits, str(tiny_model), TINY["max_length"])
    splits, _ = hk.load_splits(run_with_splits)
    assert line.startswith(f"embedded the {len(splits['train']) + len(splits['validation'])} ")
    assert len(list(hk.Run(run_with_splits).embeddings.glob("*.safetensors"))) == 2

    def fail(*args, **kwargs):
        raise AssertionError("02 embedded the texts again although 01 had cached them")

    monkeypatch.setattr(em, "embed", fail)
    hk.extra_baselines(run_with_splits, "validation", str(tiny_model))  # the embeddings baseline
    summary = hk.finetune(run_with_splits, hk.TrainConfig(**TINY, model=str(tiny_model)))
    assert summary.details["head_init"].startswith("linear probe")  # the probe start, from the cache
    # Tasks without a probe start have nothing to read ahead.
    assert hk.get_task("text-generation").prepare_features(splits, "", 32, run_with_splits) == 0


def test_a_model_below_the_baseline_on_validation_ends_as_the_better_mix(run_with_splits, tiny_model):
    # One epoch of a random tiny BERT loses to TF-IDF: model/ must predict as the mix 02 chose.
    summary = hk.finetune(run_with_splits, hk.TrainConfig(**TINY, model=str(tiny_model), head_init="new"))
    final = summary.details["final_model"]
    assert final["kind"] in ("blend", "baseline") and final["model_share"] < 1.0
    assert final["metric"] == "macro_f1" and final["validation"] > final["model_alone"]
    assert final["validation"] >= final["baseline_alone"]
    model_dir = hk.Run(run_with_splits).model_dir
    assert (model_dir / "baseline_blend.json").is_file() and not list(model_dir.glob("*.pkl"))
    validation = hk.load_splits(run_with_splits)[0]["validation"]
    predictor = hk.Predictor(model_dir, device="cpu")  # the one prediction path applies the mix
    predicted = [p["label"] for p in predictor.predict(list(validation["text"]))]
    scores = hk.score_predictions(run_with_splits, validation.assign(predicted=predicted))
    assert scores["macro_f1"] == pytest.approx(final["validation"], abs=1e-4)
    verdict = hk.explain_run(run_with_splits, split="validation")
    assert "model/ predicts with" in verdict["message"] and verdict["final_model"] == final
    card = hk.model_card(run_with_splits)
    assert f"| final model | {final['model_share']:.0%} this model + " in card
    assert "plain transformers and ONNX give the network alone" in card
