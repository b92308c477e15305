"""METHOD embeddings / zero-shot / auto through the run folder and the one prediction path, the
embeddings baseline, and NER's refusal. Real packaged MiniLM on ~150 texts, or the tiny model."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hackkit as hk
from hackkit.models import embeddings as em
from helpers import MODEL, TEXT

INTENTS = {"refund_request": "I want my money back for order {i}, please refund it",
           "password_reset": "I forgot my password and cannot sign in to account {i}",
           "late_delivery": "parcel {i} has still not arrived, where is my delivery"}


@pytest.fixture(scope="module")
def minilm() -> str:
    """Folder of the packaged all-MiniLM-L6-v2."""
    return hk.resolve_model(MODEL).location


@pytest.fixture(scope="module")
def few_per_class(sample_splits) -> dict[str, pd.DataFrame]:
    """8 training texts per class of the sample (64), 40 validation and 40 test texts."""
    return {"train": sample_splits["train"].groupby("label", group_keys=False)
            .sample(n=8, random_state=0).reset_index(drop=True),
            "validation": TEXT.subsample(sample_splits["validation"], 40, seed=0),
            "test": TEXT.subsample(sample_splits["test"], 40, seed=0)}


def _run(tmp_path: Path, splits: dict[str, pd.DataFrame], name: str = "run") -> Path:
    run_dir = tmp_path / name
    hk.save_splits(splits, run_dir, TEXT)
    return run_dir


def _intents(per_class: int, start: int = 0) -> pd.DataFrame:
    return pd.DataFrame([{"text": text.format(i=i * 7 + start), "label": label}
                         for label, text in INTENTS.items() for i in range(per_class)])


def _sized(tmp_path: Path, per_class: int) -> Path:
    """A run with `per_class` training texts per intent (and 2 per intent for validation and test)."""
    return _run(tmp_path, {"train": _intents(per_class), "validation": _intents(2, 1000),
                           "test": _intents(2, 2000)}, f"run{per_class}")


def test_embeddings_method_saves_a_model_the_one_prediction_path_loads(tmp_path, few_per_class, minilm):
    run_dir = _run(tmp_path, few_per_class)
    summary = hk.train_model(run_dir, hk.TrainConfig(method="embeddings", device="cpu"))
    run = hk.Run(run_dir)
    names = sorted(p.name for p in run.model_dir.iterdir())
    assert {"model.safetensors", "config.json", "hackkit.json", "tokenizer.json"} <= set(names)
    assert not [n for n in names if n.endswith((".bin", ".pkl", ".pt"))]  # no pickle anywhere
    info = hk.read_model_info(run.model_dir)
    assert info.method == "embeddings" and info.labels == hk.load_splits(run_dir)[1]
    saved = hk.read_json(run.train_summary)
    assert saved["method"] == "embeddings" and saved["train_examples"] == 64
    assert saved["main_metric"] == "macro_f1" and 0 < saved["best_validation_macro_f1"] <= 1
    assert {"task", "model", "device", "train_seconds", "config"} <= set(saved) and summary.to_dict() == saved
    assert list(run.embeddings.glob("train-*.safetensors"))  # cached beside the run folders

    # The saved model class gives exactly the probe's probabilities on the probe's embeddings.
    texts = list(few_per_class["test"]["text"][:6])
    cached = {name: em.cached_embeddings(list(few_per_class[name]["text"]), minilm, 128,
                                         run.embeddings, name=name) for name in ("train", "validation")}
    probe = em.EmbeddingClassifier().fit(cached["train"], few_per_class["train"]["label"],
                                         cached["validation"], few_per_class["validation"]["label"])
    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    np.testing.assert_allclose(predictor.predict_proba(texts),
                               probe.predict_proba(em.embed(texts, minilm, progress=False,
                                                         precision="fp32")),  # as the Predictor: fp32
                               atol=1e-4)

    predictions = hk.predict_split(run_dir, "test", device="cpu")
    scores = hk.score_predictions(run_dir, predictions)
    tfidf = hk.baseline_scores(run_dir, "test")
    assert scores["macro_f1"] > tfidf["macro_f1"]  # 8 per class: embeddings beat TF-IDF
    extra = hk.extra_baselines(run_dir, "test")
    assert extra["embeddings + logistic regression"]["macro_f1"] == pytest.approx(scores["macro_f1"])
    hk.write_metrics(run_dir, scores, tfidf, predictions, extra=extra)
    metrics = hk.read_json(run.metrics)
    assert metrics["gain_over_extra_baselines"]["embeddings + logistic regression"] == pytest.approx(0, abs=1e-4)
    card = hk.write_model_card(run_dir).read_text()
    assert "no epochs (embeddings)" in card and "| embeddings + logistic regression |" in card
    hk.write_json(run.data_report, {"task": TEXT.name, "params": {"DATA_PATH": "sample"}})
    row = hk.leaderboard(root=tmp_path).iloc[0]
    assert row["METHOD"] == "embeddings" and row["macro_f1"] == pytest.approx(scores["macro_f1"])


def test_zero_shot_predicts_from_label_names_and_descriptions(tmp_path, few_per_class, minilm):
    run_dir = _run(tmp_path, few_per_class)
    summary = hk.train_model(run_dir, hk.TrainConfig(method="zero-shot", device="cpu"))
    assert summary.train_examples == 0 and summary.method == "zero-shot"
    labels = hk.load_splits(run_dir)[1]
    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    texts = ["I was charged twice for my order", "my login does not work"]
    expected = em.zero_shot_proba(em.embed(texts, minilm, progress=False, precision="fp32"),
                                  labels, minilm)  # as the Predictor computes, in fp32
    np.testing.assert_allclose(predictor.predict_proba(texts), expected, atol=1e-4)

    described = tmp_path / "labels.csv"
    described.write_text("label,description\naccount_access,cannot log in or sign in\n")
    other = _run(tmp_path, few_per_class, "described")
    config = hk.TrainConfig(method="zero-shot", device="cpu", label_descriptions=str(described))
    texts_used = hk.train_model(other, config).details["zero_shot"]["label_texts"]
    assert texts_used["account_access"] == "account access: cannot log in or sign in"
    assert texts_used["billing_issue"] == "billing issue"
    described.write_text("label,description\naccount_acess,typo\n")
    with pytest.raises(ValueError, match=r"LABEL_DESCRIPTIONS=.*\['account_acess'\].*not among"):
        hk.train_model(_run(tmp_path, few_per_class, "typo"), config)


@pytest.mark.parametrize("per_class, chosen", [(1, "zero-shot"), (4, "embeddings"), (32, "finetune")])
def test_auto_picks_the_method_the_data_is_sized_for(tmp_path, tiny_model, per_class, chosen, capsys):
    run_dir = _sized(tmp_path, per_class)
    config = hk.TrainConfig(method="auto", model=str(tiny_model), epochs=1, batch_size=16,
                            patience=0, device="cpu", time_budget_minutes=0)
    summary = hk.train_model(run_dir, config)
    choice = summary.details["method_choice"]
    assert choice["chosen"] == chosen == summary.method
    assert choice["examples_per_class"] == {label: per_class for label in sorted(INTENTS)}
    assert str(per_class) in choice["reason"] and f"METHOD='auto' chose {chosen!r}" in capsys.readouterr().out
    saved = hk.read_json(hk.Run(run_dir).train_summary)
    assert saved["method_choice"] == choice and saved["config"]["method"] == "auto"
    assert hk.read_model_info(hk.Run(run_dir).model_dir).method == chosen
    assert hk.Predictor.from_run(run_dir, device="cpu").predict("refund me")[0]["label"] in INTENTS


def test_auto_takes_embeddings_when_finetuning_would_not_fit_the_budget(tmp_path, tiny_model):
    run_dir = _sized(tmp_path, 32)
    config = hk.TrainConfig(method="auto", model=str(tiny_model), time_budget_minutes=0.05)
    choice = hk.method_choice(run_dir, config)
    assert choice["chosen"] == "embeddings" and "over the 0.05 min budget" in choice["reason"]


@pytest.mark.slow  # ~15 s: the ONNX exporter; test_export covers the path for fine-tuned models
def test_embeddings_model_exports_to_onnx(tmp_path, tiny_model):
    run_dir = _sized(tmp_path, 4)
    hk.train_model(run_dir, hk.TrainConfig(method="embeddings", model=str(tiny_model), device="cpu"))
    result = hk.export_run(run_dir, onnx=True, check_texts=6)
    assert result["check"]["within_tolerance"] and result["check"]["same_predicted_labels"]


@pytest.mark.parametrize("method", ["embeddings", "zero-shot", "auto"])
def test_ner_refuses_the_classification_methods_before_any_work(method):
    with pytest.raises(ValueError, match=rf"METHOD='{method}' is for classification .* "
                                         r"TASK='token-classification'.*METHOD='finetune'"):
        hk.TrainConfig(task="token-classification", method=method).validate()


def test_ner_has_no_embeddings_baseline(tmp_path):
    ner = hk.get_task("token-classification")
    assert not ner.embedding_methods and not ner.accepts_feedback
    assert ner.extra_baselines({}, [], "test", "unused", 128, tmp_path) == {}


def test_embeddings_baseline_is_cached_and_shared_by_runs_on_the_same_data(run_with_splits,
                                                                          tiny_model, monkeypatch):
    from hackkit.models import embeddings as em

    first = hk.extra_baselines(run_with_splits, "validation", str(tiny_model))
    cache = hk.Run(run_with_splits).embeddings
    assert cache.parent == run_with_splits.parent  # beside the run folders, not inside one
    names = sorted(p.name for p in cache.iterdir())
    assert [n.split("-")[0] for n in names] == ["probe", "train", "validation"]  # one probe fit

    def fail(*args, **kwargs):
        raise AssertionError("the cache should have answered")

    monkeypatch.setattr(em, "embed", fail)
    monkeypatch.setattr(em.EmbeddingClassifier, "fit", fail)
    again = hk.extra_baselines(run_with_splits, "validation", str(tiny_model))
    second = run_with_splits.parent / "second-run"  # another run on the same splits (a sweep trial)
    shutil.copytree(hk.Run(run_with_splits).splits_dir, hk.Run(second).splits_dir)
    assert hk.extra_baselines(second, "validation", str(tiny_model)) == again == first
    assert sorted(p.name for p in cache.iterdir()) == names
    assert set(first["embeddings + logistic regression"]) >= {"accuracy", "macro_f1", "per_class"}


def test_saved_config_names_its_own_model_type(tmp_path, tiny_model):
    run_dir = _sized(tmp_path, 2)
    hk.train_model(run_dir, hk.TrainConfig(method="zero-shot", model=str(tiny_model), device="cpu"))
    config = json.loads((hk.Run(run_dir).model_dir / "config.json").read_text())
    assert config["model_type"] == "hackkit-meanpool"
    assert config["architectures"] == ["HackkitMeanPoolForSequenceClassification"]
    assert config["encoder"]["model_type"] == "bert"


def test_contrastive_tunes_the_encoder_and_saves_a_model_the_one_prediction_path_loads(
        tmp_path, tiny_model):
    run_dir = _sized(tmp_path, 4)
    summary = hk.train_model(run_dir, hk.TrainConfig(method="contrastive", model=str(tiny_model),
                                                     device="cpu", time_budget_minutes=0))
    record = summary.details["contrastive"]
    # 12 texts x 6 passes / 64 pairs a step; 3 labels: 21 groups of 3 distinct-label pairs a step
    assert record["steps"] == record["max_steps"] == 2 and not record["stopped_by_time_budget"]
    assert record["kept"] in ("tuned", "frozen") and set(record["validation_by_encoder"]) == {
        "tuned", "frozen"}
    assert summary.method == "contrastive" and summary.steps == 2 and summary.train_examples == 12
    assert summary.precision == record["precision"] in ("bf16", "fp32")  # bf16 where the CPU has it
    info = hk.read_model_info(hk.Run(run_dir).model_dir)
    assert info.method == "contrastive" and info.labels == sorted(INTENTS)
    # The saved encoder is the tuned one: its weights differ from the base model's.
    from safetensors.torch import load_file
    saved = load_file(hk.Run(run_dir).model_dir / "model.safetensors")
    base = load_file(tiny_model / "model.safetensors")
    key = next(k for k in base if k.endswith("encoder.layer.0.attention.self.query.weight"))
    tuned = saved[next(k for k in saved if k.endswith(key.split("encoder.", 1)[-1])
                       and "layer.0.attention.self.query" in k)]
    assert (tuned - base[key]).abs().max() > 0 if record["kept"] == "tuned" else True
    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    assert predictor.predict("refund me")[0]["label"] in INTENTS


def test_contrastive_tuning_runs_under_bf16_autocast_with_fp32_weights(tiny_model):
    import torch

    from hackkit.train.fewlabels import tune_encoder

    texts, labels = list(_intents(4)["text"]), list(_intents(4)["label"])
    runs = {precision: tune_encoder(texts, labels, str(tiny_model), 32, 0, 0, "cpu",
                                    precision=precision)  # 2 steps, as above
            for precision in ("bf16", "fp32")}
    for precision, (encoder, _, record) in runs.items():
        assert record["precision"] == precision and record["steps"] == 2
        assert np.isfinite([record["loss_first"], record["loss_last"]]).all()
        assert {p.dtype for p in encoder.parameters()} == {torch.float32}  # autocast, not a cast
    # The same seed, pairs and first step: only the arithmetic differs, so the losses are close.
    assert runs["bf16"][2]["loss_first"] == pytest.approx(runs["fp32"][2]["loss_first"], abs=0.05)
    with pytest.raises(ValueError, match=r"precision='fp16': use 'auto', 'fp32' or 'bf16'"):
        tune_encoder(texts, labels, str(tiny_model), 32, 0, 0, "cpu", precision="fp16")


def test_contrastive_refuses_fp16_before_any_work(tmp_path, tiny_model):
    run_dir = _sized(tmp_path, 4)
    config = hk.TrainConfig(method="contrastive", model=str(tiny_model), device="cpu",
                            precision="fp16")
    with pytest.raises(ValueError, match=r"PRECISION='fp16': METHOD='contrastive' tunes in bf16 .*"
                                         r"Leave PRECISION='auto'"):
        hk.train_model(run_dir, config)
    assert sorted(p.name for p in run_dir.iterdir()) == ["splits"]


def test_contrastive_pairs_never_put_a_label_against_itself():
    from hackkit.train.fewlabels import pair_groups

    labels = ["a"] * 5 + ["b"] * 3 + ["c"]  # c has no pair: never an anchor
    groups = pair_groups(labels, np.random.default_rng(0), pairs=32)
    assert len(groups) == 16 and all(len(g) == 2 for g in groups)
    for group in groups:
        assert len({labels[a] for a, _ in group}) == len(group)  # distinct labels inside a group
        assert all(labels[a] == labels[b] != "c" and a != b for a, b in group)
    with pytest.raises(ValueError, match=r"METHOD='contrastive': 1 label\(s\) have two or more "
                                         r"training texts.*METHOD='embeddings'"):
        pair_groups(["a", "a", "b", "c"], np.random.default_rng(0))
