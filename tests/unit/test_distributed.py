"""NPROC: one model trained by several processes through torchrun (gloo on CPU, nccl on GPUs)."""

from __future__ import annotations

import dataclasses
import time

import pytest

import hackkit as hk
from hackkit.cli import main
from hackkit.train.distributed import check_launch, check_processes
from hackkit.train.plan import plan_training

# Enough steps for the tiny model to learn a little (60 steps of 16 on 96 texts), no time budget
# so a busy machine trains the same steps, CPU so that the processes talk through gloo.
SETTINGS = dict(epochs=10.0, batch_size=16, learning_rate=5e-3, max_length=32, patience=0,
                device="cpu", time_budget_minutes=0)


@pytest.mark.parametrize("changes, message", [
    (dict(nproc=0), r"^NPROC=0 is out of range: use 1 \(train in this process\)"),
    (dict(nproc=2, method="embeddings"),
     r"^NPROC=2: METHOD='embeddings' \(.*\) does not use it. Leave NPROC at its default 1, or "
     r"use a METHOD that reads it: finetune, lora, auto."),
    (dict(nproc=3, batch_size=8),
     r"^BATCH_SIZE=8 is not a multiple of NPROC=3: .* Use BATCH_SIZE=6 or 9, or another NPROC"),
])
def test_nproc_is_checked_and_the_message_names_the_fix(changes, message):
    with pytest.raises(ValueError, match=message):
        hk.TrainConfig(**changes).validate()


def test_run_nproc_sets_the_parameter_and_is_checked_like_one(runs_dir, capsys):
    assert main(["run", "--nproc", "0"]) == 2
    assert "NPROC=0 is out of range" in capsys.readouterr().err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())  # refused before any run folder
    assert main(["run", "--resume", "runs/x", "--nproc", "2"]) == 2
    assert "drop -p, -f, --nproc and --name" in capsys.readouterr().err


def test_more_processes_than_gpus_is_refused_before_launching(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(ValueError, match=r"^NPROC=2 needs 2 CUDA GPUs \(one process per GPU, "
                                         r"nccl\); 1 visible\. Set NPROC to at most 1, or "
                                         r"DEVICE='cpu'"):
        check_launch(hk.TrainConfig(nproc=2, device="cuda"))


def test_a_worker_of_another_world_size_says_how_to_start_the_processes(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "3")
    with pytest.raises(ValueError, match=r"^NPROC=2, but this process is one of 3\. Train through "
                                         r"hk\.train_model"):
        check_processes(hk.TrainConfig(nproc=2))


def test_each_process_takes_its_share_of_the_batch():
    plan = plan_training(96, 16, examples_per_second=100.0, budget_minutes=0, max_epochs=1)
    shared = dataclasses.replace(plan, processes=2)
    assert plan.training_arguments()["per_device_train_batch_size"] == 16
    assert shared.training_arguments()["per_device_train_batch_size"] == 8
    assert shared.max_steps == plan.max_steps == 6  # the same optimizer steps of 16 examples
    assert "steps of 16 (8 in each of 2 processes)" in shared.describe()


@pytest.fixture
def tiny_model_without_dropout(tiny_model, tmp_path):
    """tiny_model with dropout off: one process and two then compute the very same steps."""
    from transformers import AutoTokenizer, BertModel

    folder = tmp_path / "tiny-no-dropout"
    BertModel.from_pretrained(tiny_model, hidden_dropout_prob=0.0,
                              attention_probs_dropout_prob=0.0).save_pretrained(folder)
    AutoTokenizer.from_pretrained(tiny_model).save_pretrained(folder)
    return folder


def _test_macro_f1(run_dir) -> tuple[float, list[str]]:
    predictions = hk.predict_split(run_dir, "test", device="cpu")
    return hk.score_predictions(run_dir, predictions)["macro_f1"], list(predictions["predicted"])


@pytest.mark.slow
def test_two_gloo_processes_train_the_model_one_process_would(run_with_splits, copy_run,
                                                              tiny_model_without_dropout):
    """A real torchrun launch of 2 CPU processes (gloo) against one process on the same splits.

    slow: 38 to 58 s on the shared 2-core machine (the one-process run about half of it; starting
    torchrun and loading the model in each process most of the rest). The default run launches
    torchrun too, in the failing-process test below (about 10 s).

    Each process takes 8 of every 16 examples, so with dropout off both runs take the same 60
    optimizer steps on the same data: the training losses and the test predictions must agree.
    """
    single_dir, double_dir = run_with_splits, copy_run(run_with_splits, "two-processes")
    config = hk.TrainConfig(model=str(tiny_model_without_dropout), **SETTINGS)
    single = hk.train_model(single_dir, config)
    started = time.monotonic()
    double = hk.train_model(double_dir, dataclasses.replace(config, nproc=2))
    launched = time.monotonic() - started

    assert single["processes"] == 1 and single["distributed"] is None
    shared = double["distributed"]
    assert double["processes"] == 2 and shared["backend"] == "gloo"
    assert [r["rank"] for r in shared["ranks"]] == [0, 1]
    assert len({r["pid"] for r in shared["ranks"]}) == 2  # two processes really trained
    assert 0 < shared["launch_seconds"] <= launched + 0.01  # rounded to 0.01 s
    assert double["plan"]["processes"] == 2 and double["steps"] == single["steps"] == 60
    assert hk.Run(double_dir).distributed_log.is_file()
    assert hk.read_model_info(hk.Run(double_dir).model_dir).labels == \
        hk.read_model_info(hk.Run(single_dir).model_dir).labels
    assert not hk.Run(double_dir).checkpoints.exists()

    losses = [[h["loss"] for h in hk.read_json(hk.Run(d).history) if "loss" in h]
              for d in (single_dir, double_dir)]
    assert len(losses[0]) == len(losses[1]) and losses[0] == pytest.approx(losses[1], abs=1e-3)
    (f1_single, predicted_single), (f1_double, predicted_double) = map(
        _test_macro_f1, (single_dir, double_dir))
    agree = sum(a == b for a, b in zip(predicted_single, predicted_double)) / len(predicted_single)
    assert agree >= 0.95 and f1_double == pytest.approx(f1_single, abs=0.05)
    one_class = 2 * (1 / 8) / (1 + 1 / 8) / 8  # macro-F1 of predicting one of 8 balanced classes
    assert min(f1_single, f1_double) > one_class + 0.05, (f1_single, f1_double)


def test_a_failing_process_fails_the_launch_with_the_end_of_its_log(run_with_splits, tiny_model):
    config = hk.TrainConfig(model=str(tiny_model), method="lora", lora_targets="no_such_layer",
                            nproc=2, **{**SETTINGS, "epochs": 1.0})
    with pytest.raises(RuntimeError, match=r"^NPROC=2: the training processes failed \(torchrun "
                                           r"exit code 1\): ValueError: LORA_TARGETS='no_such_layer'"
                                           r".* NPROC=1 trains in this process instead\. Last lines:"):
        hk.train_model(run_with_splits, config)
    assert "LORA_TARGETS='no_such_layer'" in hk.Run(run_with_splits).distributed_log.read_text()
    assert not hk.Run(run_with_splits).model_dir.exists()


@pytest.mark.gpu
def test_two_gpus_train_one_model_with_nccl(run_with_splits, tiny_model):
    import torch

    if torch.cuda.device_count() < 2:
        pytest.skip(f"needs 2 CUDA GPUs for 2 nccl processes; {torch.cuda.device_count()} visible")
    config = hk.TrainConfig(model=str(tiny_model), nproc=2, **{**SETTINGS, "device": "cuda"})
    summary = hk.train_model(run_with_splits, config)
    shared = summary.distributed
    assert shared["backend"] == "nccl" and summary.device == "cuda"
    assert sorted(r["device"] for r in shared["ranks"]) == ["cuda:0", "cuda:1"]
    assert (hk.Run(run_with_splits).model_dir / "model.safetensors").is_file()
