"""Same parameters and seed, same metrics on CPU; every run logs to TensorBoard in its folder."""

from __future__ import annotations

import shutil

import numpy as np

import hackkit as hk
from hackkit.tasks.labels import classification_metrics

TIMING = ("runtime", "per_second", "train_loss")  # wall-clock figures; train_loss is averaged over time


def _train_and_score(run_dir, tiny_model, seed):
    """Fine-tune the tiny model on the run's splits and score it on the test split."""
    config = hk.TrainConfig(model=str(tiny_model), epochs=2.0, batch_size=16, max_length=32,
                            seed=seed, device="cpu", patience=0, time_budget_minutes=0.0)
    hk.finetune(run_dir, config)
    test = hk.load_splits(run_dir)[0]["test"]
    predictor = hk.Predictor(run_dir / "model", device="cpu")
    proba, labels = predictor.predict_proba(list(test["text"])), predictor.labels
    history = [{k: v for k, v in h.items() if not any(t in k for t in TIMING)}
               for h in hk.read_json(run_dir / "training_history.json")]
    return history, proba, classification_metrics(test["label"], [labels[i] for i in proba.argmax(1)], labels)


def test_same_parameters_and_seed_give_the_same_metrics(run_with_splits, tiny_model, tmp_path):
    twin, other = tmp_path / "twin", tmp_path / "other"
    shutil.copytree(run_with_splits / "splits", twin / "splits")
    shutil.copytree(run_with_splits / "splits", other / "splits")
    history_a, proba_a, metrics_a = _train_and_score(run_with_splits, tiny_model, seed=7)
    history_b, proba_b, metrics_b = _train_and_score(twin, tiny_model, seed=7)
    # 2 epochs of 6 steps, evaluated every 2 steps (at least 5 evaluations: the planner's cadence),
    # after the probe start's evaluation at step 0
    assert history_a == history_b and len([h for h in history_a if "eval_loss" in h]) == 7
    np.testing.assert_array_equal(proba_a, proba_b)
    assert metrics_a == metrics_b
    history_c, proba_c, _ = _train_and_score(other, tiny_model, seed=8)
    assert not np.array_equal(proba_a, proba_c)  # the seed is what makes them equal


def test_training_logs_to_tensorboard_inside_the_run_folder(run_with_splits, tiny_model):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    hk.finetune(run_with_splits, hk.TrainConfig(model=str(tiny_model), epochs=1.0, batch_size=16,
                                                max_length=32, device="cpu", patience=0))
    (events,) = (run_with_splits / "tensorboard").glob("events.out.tfevents.*")
    scalars = EventAccumulator(str(events)).Reload().Tags()["scalars"]
    assert {"train/loss", "eval/loss", "eval/macro_f1", "eval/accuracy"} <= set(scalars)
    assert not (run_with_splits / "checkpoints").exists()
