"""A training killed mid-way resumes from its last checkpoint and ends where an unbroken one does,
for every method that trains in the one training session (finetune, lora)."""

from __future__ import annotations

import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import hackkit as hk
from hackkit.train.session import last_checkpoint

# Kill the training process with SIGKILL right after its first checkpoint is on disk: no clean-up
# code runs, as when a laptop's battery dies.
KILLER = textwrap.dedent("""
    import os, signal, sys
    import hackkit as hk
    from hackkit.train.callbacks import BudgetCallback

    def die(self, args, state, control, **kwargs):
        os.kill(os.getpid(), signal.SIGKILL)

    BudgetCallback.on_save = die
    hk.train_model(sys.argv[1], hk.TrainConfig(**eval(sys.argv[2])))
""")


def _config(model: Path, **overrides) -> dict:
    settings = dict(model=str(model), epochs=3.0, batch_size=16, learning_rate=2e-3, patience=0,
                    device="cpu", time_budget_minutes=0.0, seed=7)
    return {**settings, **overrides}


def _copy(run: Path, name: str) -> Path:
    return Path(shutil.copytree(run, run.parent / name))


def _evals(run: Path) -> list[float]:
    """Validation loss, accuracy and macro-F1 of every evaluation."""
    return [h[k] for h in hk.read_json(run / "training_history.json") if "eval_loss" in h
            for k in ("eval_loss", "eval_accuracy", "eval_macro_f1")]


@pytest.mark.parametrize("method, learning_rate", [("finetune", 2e-3), ("finetune", 0.5),
                                                    ("lora", 2e-3)])
def test_killed_training_resumes_and_matches_an_uninterrupted_run(run_with_splits, tiny_model,
                                                                  method, learning_rate):
    # At 0.5 no checkpoint beats the probe start, so both runs must fall back to it.
    broken = _copy(run_with_splits, "broken")
    config = _config(tiny_model, learning_rate=learning_rate, method=method)
    unbroken_summary = hk.train_model(run_with_splits, hk.TrainConfig(**config))

    killed = subprocess.run([sys.executable, "-c", KILLER, str(broken), repr(config)],
                            capture_output=True, text=True, timeout=300)
    assert killed.returncode == -9, killed.stderr[-2000:]
    # 3 epochs of 6 steps, evaluated and saved every 4 steps (at least 5 evaluations) and at the end
    plan = hk.read_json(hk.Run(broken).checkpoint_plan)
    assert (plan["max_steps"], plan["eval_steps"]) == (18, 4)
    assert not (broken / "model").exists() and last_checkpoint(broken).name == "checkpoint-4"

    summary = hk.train_model(broken, hk.TrainConfig(**config))
    assert summary.method == method and summary.resumed_from == "checkpoint-4"
    assert summary.epochs_completed == 3.0
    assert summary.details["kept_warm_start"] == unbroken_summary.details["kept_warm_start"]
    if learning_rate == 0.5:
        assert summary.details["kept_warm_start"]["kept"]
    assert summary.plan == plan  # the resumed attempt keeps the schedule it was made on
    # 3 values x (the probe start at step 0, then 4 during training and 1 at the end)
    assert len(_evals(broken)) == 18 and _evals(broken) == pytest.approx(_evals(run_with_splits), rel=1e-6)
    test = hk.load_splits(broken)[0]["test"]["text"].tolist()
    resumed = hk.Predictor(broken / "model", device="cpu").predict_proba(test)
    unbroken = hk.Predictor(run_with_splits / "model", device="cpu").predict_proba(test)
    assert resumed == pytest.approx(unbroken, abs=1e-5)
    assert not (broken / "checkpoints").exists()
    assert (broken / "lora_adapter").is_dir() == (method == "lora")


def test_resuming_with_other_settings_is_refused_naming_them(run_with_splits, tiny_model):
    subprocess.run([sys.executable, "-c", KILLER, str(run_with_splits),
                    repr(_config(tiny_model, epochs=1.0))], capture_output=True, timeout=300)
    assert last_checkpoint(run_with_splits) is not None
    with pytest.raises(ValueError, match=r"other settings: LEARNING_RATE 0.002 -> 0.001.*"
                                         r"Use the same settings to resume"):
        hk.finetune(run_with_splits, hk.TrainConfig(**_config(tiny_model, epochs=1.0, learning_rate=1e-3)))
    # A different time budget is fine: it only bounds this attempt.
    hk.finetune(run_with_splits, hk.TrainConfig(**_config(tiny_model, epochs=1.0, time_budget_minutes=5.0)))
    assert (run_with_splits / "model" / "model.safetensors").is_file()


def test_half_written_checkpoints_are_ignored(run_with_splits):
    folder = run_with_splits / "checkpoints"
    (folder / "checkpoint-3").mkdir(parents=True)
    hk.write_json(folder / "checkpoint-3" / "trainer_state.json", {"epoch": 1.0})
    (folder / "checkpoint-6").mkdir()
    (folder / "checkpoint-6" / "trainer_state.json").write_text('{"epoch": 2.')  # cut mid-write
    (folder / "checkpoint-9").mkdir()  # killed before its state was written
    assert last_checkpoint(run_with_splits).name == "checkpoint-3"


def test_a_crash_while_saving_the_model_leaves_no_model_folder(run_with_splits, tiny_model, monkeypatch):
    from transformers import Trainer

    save = Trainer.save_model

    def crash(self, output_dir=None, _internal_call=False):
        if _internal_call:  # checkpoints during training save normally
            return save(self, output_dir, _internal_call=True)
        Path(output_dir, "model.safetensors").write_bytes(b"half")
        raise KeyboardInterrupt("killed while saving")

    monkeypatch.setattr("transformers.Trainer.save_model", crash)
    with pytest.raises(KeyboardInterrupt):
        hk.finetune(run_with_splits, hk.TrainConfig(**_config(tiny_model, epochs=1.0)))
    assert not (run_with_splits / "model").exists()
    assert not [p for p in run_with_splits.iterdir() if p.name.startswith(".model")]
