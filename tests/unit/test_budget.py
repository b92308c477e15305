"""Budget-first training: plan math, a real tiny Trainer run on the plan, the safety net, verdicts."""

from __future__ import annotations

import dataclasses
import math
import re

import pytest

import hackkit as hk
from hackkit.train.callbacks import BudgetCallback
from hackkit.train.plan import measure_throughput, plan_training, sample_batches
from hackkit.use.verdict import explain_result
from helpers import TEXT


def test_budget_caps_the_steps_and_the_schedule_fits_inside_it():
    plan = plan_training(10_000, 32, examples_per_second=40.0, budget_minutes=10, max_epochs=4,
                         eval_overhead_fraction=0.1, safety_fraction=0.05, warmup_ratio=0.1)
    assert plan.steps_per_epoch == 313
    assert plan.capped_by == "budget"
    assert plan.max_steps == math.floor(600 * 0.85 * 40 / 32) == 637
    assert plan.expected_epochs == pytest.approx(637 / 313, abs=1e-3)
    assert plan.warmup_steps == 64  # ceil(10% of 637)
    assert plan.planned_train_seconds <= 600 * 0.85
    assert plan.seconds_per_epoch == 250.0
    args = plan.training_arguments()
    assert args["max_steps"] == 637 and args["lr_scheduler_type"] == "linear"
    assert args["warmup_steps"] == 64 and isinstance(args["warmup_steps"], int)
    assert args["save_steps"] % args["eval_steps"] == 0  # load_best_model_at_end needs this
    text = plan.describe()
    assert "about 40 examples/s" in text and "one epoch ≈ 4.2 min" in text
    assert "the budget allows ≈ 2.04 epochs" in text


def test_epochs_cap_when_the_budget_allows_more():
    plan = plan_training(10_000, 32, examples_per_second=400.0, budget_minutes=10, max_epochs=4)
    assert plan.capped_by == "epochs"
    assert plan.max_steps == 4 * 313
    assert plan.expected_epochs == 4.0
    assert "EPOCHS=4 decides" in plan.describe()


def test_zero_budget_plans_from_epochs_only():
    plan = plan_training(1_000, 8, examples_per_second=0.0, budget_minutes=0, max_epochs=2.5)
    assert plan.capped_by == "none"
    assert plan.max_steps == math.ceil(2.5 * 125)
    assert plan.planned_train_seconds == 0.0
    assert "no time budget" in plan.describe()


@pytest.mark.parametrize("examples,epochs,speed,minutes", [
    (100, 20, 0.0, 0),  # many short epochs: at least one evaluation per epoch
    (10_000, 4, 40.0, 10),  # budget-capped: at least min_evals evaluations
    (64, 1, 0.0, 0),  # fewer steps than min_evals: every step
])
def test_eval_cadence_is_at_least_every_epoch_and_at_least_min_evals(examples, epochs, speed, minutes):
    plan = plan_training(examples, 10, speed, minutes, epochs, min_evals=5)
    assert plan.eval_steps <= plan.steps_per_epoch
    evaluations = math.ceil(plan.max_steps / plan.eval_steps)
    assert evaluations >= min(5, plan.max_steps)
    assert evaluations >= math.floor(plan.expected_epochs)
    assert evaluations <= max(5, math.ceil(plan.expected_epochs)) + 1 or plan.eval_steps == 1


def test_expensive_evaluations_do_not_collapse_the_plan():
    # Measured under load: 7.5 examples/s, 416 validation texts ≈ 18 s per evaluation, 3 minutes.
    plan = plan_training(3_900, 32, 7.5, 3, 4, validation_examples=416)
    assert plan.max_steps >= 15  # 5 evaluations (~92 s) still take half of it: honest, not 1 step
    assert plan.planned_train_seconds + plan.planned_eval_seconds <= 180 * 0.95


def test_slow_evaluation_takes_its_time_from_training():
    light = plan_training(10_000, 32, 40.0, 10, 4, validation_examples=0)
    # 5 evaluations of 5k texts at 3 x 40/s ≈ 208 s: more than the 60 s reserved for them
    heavy = plan_training(10_000, 32, 40.0, 10, 4, validation_examples=5_000)
    # one evaluation of 20k texts ≈ 167 s; two (≈ 333 s) are more than half the usable time,
    # so the plan keeps one, at the end, and trains for the rest
    crowded = plan_training(10_000, 32, 40.0, 10, 4, validation_examples=20_000)
    assert not crowded.warning and crowded.eval_steps == crowded.max_steps
    assert crowded.planned_train_seconds == pytest.approx(570 - 20_000 / 120, abs=1)
    # one of 40k texts ≈ 333 s is more than half of it: the budget is too short for the data
    swamped = plan_training(10_000, 32, 40.0, 10, 4, validation_examples=40_000)
    assert re.search("give at least 11.7 minutes.*evaluation of the 40000 valid", swamped.warning)
    assert heavy.max_steps < light.max_steps
    assert heavy.planned_train_seconds + heavy.planned_eval_seconds <= 600 * 0.95 + 1


def test_a_measured_evaluation_speed_replaces_the_assumed_ratio():
    # clinc150 on 2 cores: 68 training examples/s, evaluation measured at 385/s (5.7x, not 3x).
    # At the assumed 3x, two evaluations of 3,000 texts (29 s) would take over half of the usable
    # minute, so only the final one is planned; at the measured speed two take 16 s.
    assumed = plan_training(15_000, 8, 68.0, 1, 10, validation_examples=3_000)
    measured = plan_training(15_000, 8, 68.0, 1, 10, validation_examples=3_000,
                             eval_examples_per_second=385.0)
    assert assumed.warning == "" and assumed.eval_steps == assumed.max_steps
    assert measured.warning == "" and measured.eval_examples_per_second == 385.0
    assert measured.planned_eval_seconds == pytest.approx(2 * 3_000 / 385, abs=0.1)
    assert measured.max_steps == math.floor((57 - 2 * 3_000 / 385) * 68 / 8)
    with pytest.raises(ValueError, match="eval_examples_per_second=-1"):
        plan_training(100, 8, 10.0, 1, 1, eval_examples_per_second=-1)


def test_plan_errors_name_the_parameter_and_the_fix():
    with pytest.raises(ValueError, match="TIME_BUDGET_MINUTES=5 needs the measured speed.*measure_throughput"):
        plan_training(1000, 8, 0.0, 5, 3)
    short = plan_training(1000, 64, 1.0, 0.01, 3)  # never stuck: the smallest plan, with a warning
    assert re.search(r"TIME_BUDGET_MINUTES=0.01 is too short.*give at least 6.3 minutes", short.warning)
    assert short.max_steps == 5 and short.eval_steps == 5 and "WARNING" in short.describe()
    with pytest.raises(ValueError, match=r"warmup_ratio=1 is out of range: use a ratio in \[0, 1\)"):
        plan_training(1000, 8, 10.0, 5, 3, warmup_ratio=1)
    with pytest.raises(ValueError, match="batch_size=0 is out of range"):
        plan_training(1000, 0, 10.0, 5, 3)


# --- a real tiny Trainer on the plan -------------------------------------------------------------

@pytest.fixture
def tiny_parts(tiny_model, small_frame):
    """Model, tokenized 30-text dataset (3 classes) and collator from the tiny BERT: the text
    task's own parts."""
    from transformers import set_seed

    set_seed(0)
    parts = TEXT.train_parts(small_frame, small_frame, sorted(small_frame["label"].unique()),
                             str(tiny_model), max_length=32)
    return parts.model, parts.train_ds, parts.collator


def _trainer(tiny_parts, tmp_path, plan, **overrides):
    from transformers import Trainer, TrainingArguments

    model, ds, collator = tiny_parts
    args = TrainingArguments(
        output_dir=str(tmp_path / "checkpoints"), learning_rate=1e-3, use_cpu=True,
        report_to="none", disable_tqdm=True, save_total_limit=1, per_device_eval_batch_size=32,
        **{**plan.training_arguments(), "logging_steps": 1, **overrides},
    )
    return Trainer(model=model, args=args, train_dataset=ds, eval_dataset=ds, data_collator=collator)


def test_trainer_on_the_plan_ends_its_lr_schedule_at_the_last_step(tiny_parts, tmp_path):
    # 30 texts in batches of 4: 8 steps per epoch; the "measured" speed allows 12 of 24 steps.
    plan = plan_training(30, 4, examples_per_second=0.95, budget_minutes=1, max_epochs=3)
    assert (plan.max_steps, plan.capped_by, plan.warmup_steps) == (12, "budget", 2)
    trainer = _trainer(tiny_parts, tmp_path, plan)
    step_seconds = plan.planned_train_seconds / plan.max_steps  # real time runs as measured
    budget = BudgetCallback(plan, clock=lambda: trainer.state.global_step * step_seconds)
    trainer.add_callback(budget)
    trainer.train()

    assert trainer.state.max_steps == plan.max_steps == trainer.state.global_step
    assert trainer.lr_scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)
    lrs = [h["learning_rate"] for h in trainer.state.log_history if "learning_rate" in h]
    assert len(lrs) == plan.max_steps
    assert max(lrs) == pytest.approx(1e-3) and lrs.index(max(lrs)) == plan.warmup_steps
    decay = lrs[plan.warmup_steps:]
    assert all(a > b for a, b in zip(decay, decay[1:]))
    # The last step used the smallest non-zero rate of a linear decay that reaches 0 right after it.
    assert lrs[-1] == pytest.approx(1e-3 / (plan.max_steps - plan.warmup_steps))
    eval_steps = [h["step"] for h in trainer.state.log_history if "eval_loss" in h]
    assert eval_steps[-1] == plan.max_steps
    assert len(eval_steps) >= 5
    result = budget.result()
    assert result["schedule_completed"] and not result["stopped_by_budget"]
    assert result["steps"] == result["planned_steps"] == 12
    assert not result["recalibrated"]["applied"]  # real steps ran as measured: the plan stands


@pytest.mark.parametrize("slower, expected_steps", [(2.0, 6), (0.5, 16)])
def test_the_plan_follows_the_real_speed_of_the_first_steps(tiny_parts, tmp_path, slower,
                                                            expected_steps):
    from transformers import TrainerCallback

    # Planned: 12 steps of 4.2 s. Real steps take twice as long (or half): after 5 steps the plan is
    # corrected so the schedule still ends with the budget; raising stops at the 2 epochs (16 steps)
    # Trainer's loop was set up for.
    plan = plan_training(30, 4, examples_per_second=0.95, budget_minutes=1, max_epochs=3)
    trainer = _trainer(tiny_parts, tmp_path, plan)
    step_seconds = slower * plan.planned_train_seconds / plan.max_steps
    replanned = []
    budget = BudgetCallback(plan, clock=lambda: trainer.state.global_step * step_seconds,
                            on_replan=replanned.append)
    trainer.add_callback(budget)
    used = []  # the rate each step really runs with

    class Rates(TrainerCallback):
        def on_step_begin(self, args, state, control, optimizer=None, **kwargs):
            used.append(optimizer.param_groups[0]["lr"])

    trainer.add_callback(Rates())
    trainer.train()

    assert trainer.state.global_step == expected_steps == replanned[0]
    assert trainer.lr_scheduler.get_last_lr()[0] == pytest.approx(0.0, abs=1e-12)
    # After the correction at step 5 the decay follows the new length down to its last step.
    new_decay = [1e-3 * (expected_steps - s) / (expected_steps - plan.warmup_steps)
                 for s in range(5, expected_steps)]
    assert used[5:] == pytest.approx(new_decay)
    result = budget.result()
    assert result["schedule_completed"] and not result["stopped_by_budget"]
    assert result["recalibrated"]["at_step"] == 5 and result["recalibrated"]["applied"]
    assert result["recalibrated"]["real_examples_per_second"] == pytest.approx(0.95 / slower, rel=0.02)


def test_a_replanned_schedule_leaves_time_for_its_evaluations_the_last_one_included(
        tiny_parts, tmp_path):
    from transformers import TrainerCallback

    # 30 validation texts measured at 3/s: 10 s per evaluation, one of them before the first step
    # (a warm start): 3 evaluations and 42 steps of 2 s fill the 114 usable seconds. The real steps
    # take 3x the measured time, so the plan is corrected at step 5; the corrected plan must leave
    # room for the evaluations still to come, the final one included (spread over the steps, it
    # counted for less than one and training ended 2 s past the usable time).
    plan = plan_training(30, 4, examples_per_second=2.0, budget_minutes=2, max_epochs=10,
                         validation_examples=30, eval_examples_per_second=3.0,
                         start_evaluation=True)
    assert (plan.max_steps, plan.eval_steps, plan.planned_eval_seconds) == (42, 21, 30.0)
    step_seconds, eval_seconds = 3 * 4 / 2.0, 10.0
    now = [0.0]

    class Clock(TrainerCallback):  # registered before the budget: it sees the advanced clock
        def on_step_end(self, args, state, control, **kwargs):
            now[0] += step_seconds

        def on_evaluate(self, args, state, control, **kwargs):
            now[0] += eval_seconds

    trainer = _trainer(tiny_parts, tmp_path, plan, eval_on_start=True, save_strategy="no",
                       load_best_model_at_end=False)
    trainer.add_callback(Clock())
    budget = BudgetCallback(plan, clock=lambda: now[0])
    trainer.add_callback(budget)
    trainer.train()

    result = budget.result()
    assert result["recalibrated"]["applied"] and result["steps"] == 15
    assert result["schedule_completed"] and not result["stopped_by_budget"]
    assert now[0] <= 120 * 0.95  # every step and evaluation, the start's and the last's, fit


def test_the_safety_net_stops_cleanly_when_real_time_overruns(tiny_parts, tmp_path):
    plan = plan_training(30, 4, examples_per_second=0.95, budget_minutes=1, max_epochs=3)
    trainer = _trainer(tiny_parts, tmp_path, plan)
    # Real time jumps past the 60 s budget once step 3 is done.
    budget = BudgetCallback(plan, clock=lambda: 1000.0 if trainer.state.global_step >= 3 else 0.0)
    trainer.add_callback(budget)
    trainer.train()

    result = budget.result()
    assert result["stopped_by_budget"] and not result["schedule_completed"]
    assert result["steps"] == trainer.state.global_step == 3
    assert [h["step"] for h in trainer.state.log_history if "eval_loss" in h][-1] == 3
    assert (tmp_path / "checkpoints" / "checkpoint-3" / "trainer_state.json").is_file()


def test_a_trainer_not_set_from_the_plan_is_refused(tiny_parts, tmp_path):
    plan = plan_training(30, 4, examples_per_second=0.95, budget_minutes=1, max_epochs=3)
    trainer = _trainer(tiny_parts, tmp_path, plan, max_steps=20)
    trainer.add_callback(BudgetCallback(plan))
    with pytest.raises(ValueError, match=r"max_steps=20.*plan.training_arguments\(\)"):
        trainer.train()


def test_measure_throughput_restores_weights_grads_mode_and_rng(tiny_parts):
    import torch

    model, ds, collator = tiny_parts
    batches = sample_batches(ds, collator, batch_size=4, count=3, seed=1)
    assert [len(b["labels"]) for b in batches] == [4, 4, 4]
    before = {k: v.clone() for k, v in model.state_dict().items()}
    model.eval()
    rng = torch.get_rng_state()
    speed = measure_throughput(model, batches)
    assert speed > 0
    assert all(torch.equal(before[k], v) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert not model.training
    assert torch.equal(torch.get_rng_state(), rng)
    grouped = sample_batches(ds, collator, batch_size=4, count=2, seed=1, grouped=True)
    assert len(grouped) == 2 and all(len(b["labels"]) == 4 for b in grouped)
    with pytest.raises(ValueError, match="give at least 2"):
        measure_throughput(model, batches[:1])


def test_measure_throughput_for_evaluation_runs_forward_only_in_eval_mode(tiny_parts):
    import torch

    model, ds, collator = tiny_parts
    batches = sample_batches(ds, collator, batch_size=4, count=3, seed=1)
    modes = []
    hook = model.register_forward_hook(lambda m, i, o: modes.append((m.training,
                                                                     torch.is_grad_enabled())))
    model.train()
    try:
        assert measure_throughput(model, batches, backward=False) > 0
    finally:
        hook.remove()
    assert modes == [(False, False)] * 3  # every batch in eval mode, without gradients
    assert model.training and all(p.grad is None for p in model.parameters())


# --- explain_result ------------------------------------------------------------------------------

def _history(losses, evals=(), metric="accuracy"):
    return [{"loss": x, "step": i} for i, x in enumerate(losses)] + [
        {f"eval_{metric}": v, "step": 100 + i} for i, v in enumerate(evals)]


FALLING = [4.3, 3.5, 2.6, 1.8, 1.1, 0.7, 0.5, 0.4, 0.35, 0.3]
BASE = {"TF-IDF": {"accuracy": 0.89, "macro_f1": 0.88}}


def _explain(score=0.93, history=None, **kw):
    facts = dict(num_classes=77, train_examples=10_000, available_train_examples=10_000,
                 steps=4_000, epochs_completed=3.2, learning_rate=5e-5, stopped_by_budget=False,
                 batch_size=8, seconds_per_epoch=240.0)
    facts.update(kw)
    return explain_result({"accuracy": score}, BASE, history or _history(FALLING), **facts)


def test_a_healthy_run_that_beats_the_baseline_has_no_problems():
    verdict = _explain()
    assert verdict["beats_baseline"] and verdict["problems"] == []
    assert verdict["best_baseline"] == "TF-IDF" and verdict["baseline_score"] == 0.89
    assert "beats the TF-IDF baseline, 0.8900" in verdict["message"]


def test_too_few_steps_for_the_classes_and_not_all_data():
    verdict = _explain(score=0.42, steps=200, train_examples=800, epochs_completed=2.0)
    assert not verdict["beats_baseline"]
    causes = " ".join(p["cause"] for p in verdict["problems"])
    assert "too few training steps for 77 classes: 200 steps" in causes
    assert "800 of 10,000" in causes
    assert "does NOT beat the baseline" in verdict["message"]
    assert "770+ steps" in verdict["message"] and "MAX_TRAIN_EXAMPLES=0" in verdict["message"]


def test_budget_ran_out_inside_the_first_epoch():
    verdict = _explain(score=0.5, stopped_by_budget=True, epochs_completed=0.4)
    fixes = [p["fix"] for p in verdict["problems"] if "first epoch" in p["cause"]]
    assert fixes and "TIME_BUDGET_MINUTES=8 or more" in fixes[0]  # two epochs of 4 min


def test_the_budget_advice_is_never_the_budget_that_ran_out():
    # 0.6 min per epoch under a 1-minute budget said "give TIME_BUDGET_MINUTES=1 or more" (rounded 1.2).
    verdict = _explain(score=0.5, stopped_by_budget=True, epochs_completed=0.13,
                       seconds_per_epoch=36.0, budget_minutes=1.0)
    [fix] = [p["fix"] for p in verdict["problems"] if "first epoch" in p["cause"]]
    assert fix.startswith("give TIME_BUDGET_MINUTES=2 or more (two epochs)")
    verdict = _explain(score=0.5, stopped_by_budget=True, epochs_completed=0.4, seconds_per_epoch=40.0)
    [fix] = [p["fix"] for p in verdict["problems"] if "first epoch" in p["cause"]]
    assert fix.startswith("give TIME_BUDGET_MINUTES=1.5 or more")  # 1.33 rounded up to half a minute


def test_loss_not_falling_points_at_the_learning_rate():
    flat = [4.34, 4.33, 4.35, 4.34, 4.33, 4.34, 4.35, 4.33]
    verdict = _explain(score=0.05, history=_history(flat), learning_rate=2e-4)
    [problem] = [p for p in verdict["problems"] if "did not fall" in p["cause"]]
    assert "LEARNING_RATE=0.0002 is likely too high" in problem["fix"] and "5e-05" in problem["fix"]
    assert "4.344" in problem["cause"]  # ln(77): what uniform guessing scores
    low = _explain(score=0.05, history=_history(flat), learning_rate=1e-5)
    assert any("may be too low: try 4e-05" in p["fix"] for p in low["problems"])


def test_validation_still_rising_when_the_budget_ran_out():
    verdict = _explain(history=_history(FALLING, evals=[0.80, 0.88, 0.91, 0.92]),
                       stopped_by_budget=True)
    [problem] = verdict["problems"]
    assert "still rising" in problem["cause"] and "0.9100 -> 0.9200" in problem["cause"]
    assert "more time would help: about 4.0 minutes more per epoch" in problem["fix"]
    assert verdict["beats_baseline"] and "Still worth fixing" in verdict["message"]
    plateau = _explain(history=_history(FALLING, evals=[0.80, 0.92, 0.91]), stopped_by_budget=True)
    assert plateau["problems"] == []


def test_a_warm_start_needs_no_steps_per_class_and_says_when_training_never_beat_it():
    flat = [0.51, 0.50, 0.52, 0.49, 0.50, 0.51]  # a probe head starts near its best loss
    kept = {"kept": True, "start_validation": 0.86, "best_validation": 0.84}
    verdict = _explain(score=0.85, steps=50, history=_history(flat), learning_rate=2e-4,
                       warm_start=kept)
    [problem] = verdict["problems"]
    assert "never beat its starting point" in problem["cause"] and "0.8400 against 0.8600" in problem["cause"]
    assert "TIME_BUDGET_MINUTES" in problem["fix"] and "LEARNING_RATE (e.g. 0.0001)" in problem["fix"]
    improved = {"kept": False, "start_validation": 0.84, "best_validation": 0.90}
    assert _explain(steps=50, history=_history(flat), warm_start=improved)["problems"] == []
    rising = [0.5, 0.6, 0.9, 1.4, 2.0, 2.2]
    [problem] = _explain(history=_history(rising), warm_start=improved)["problems"]
    assert "did not fall" in problem["cause"] and "try 2.5e-05" in problem["fix"]  # lower, not higher
    noisy = [0.046, 0.03, 0.08, 0.05, 0.12, 0.104]  # sms_spam from the probe: low and noisy, not failing
    assert _explain(history=_history(noisy), warm_start=improved)["problems"] == []


def test_unknown_metric_is_named():
    with pytest.raises(ValueError, match="metric='f1' is not among"):
        explain_result({"accuracy": 0.9}, BASE, [], metric="f1", num_classes=2, train_examples=10,
                       steps=10, epochs_completed=1, learning_rate=1e-4, stopped_by_budget=False)


def test_expensive_evaluations_are_made_rarer_not_paid_for_with_training_steps():
    # 2,000 validation texts at 3 x 20/s ≈ 33 s each: 5 evaluations (167 s) would be 29% of the
    # usable 570 s; evaluations are capped at 25% (4 of them), training keeps the rest.
    plan = plan_training(10_000, 32, 20.0, 10, 4, validation_examples=2_000, min_evals=5)
    usable = 600 * 0.95
    evaluations = math.ceil(plan.max_steps / plan.eval_steps)
    assert evaluations == 4 and plan.planned_eval_seconds <= 0.25 * usable
    assert plan.planned_train_seconds == pytest.approx(usable - plan.planned_eval_seconds, abs=2)
    # Very expensive ones (≈ 100 s each): one in the middle of the run and the final one.
    rare = plan_training(10_000, 32, 20.0, 10, 4, validation_examples=6_000, min_evals=5)
    assert math.ceil(rare.max_steps / rare.eval_steps) == 2
    assert rare.eval_steps == math.ceil(rare.max_steps / 2)  # the first one half-way
    assert rare.planned_train_seconds == pytest.approx(usable - rare.planned_eval_seconds, abs=2)
    assert rare.planned_train_seconds >= 0.6 * usable


def test_a_slow_model_is_warmed_up_and_timed_on_fewer_batches():
    import time

    import torch

    class Slow(torch.nn.Module):
        """A model whose every pass takes 30 ms, and that counts its passes."""

        def __init__(self):
            super().__init__()
            self.weight = torch.nn.Parameter(torch.ones(1))
            self.calls = 0

        def forward(self, x, labels):
            self.calls += 1
            time.sleep(0.03)
            return type("Out", (), {"loss": (self.weight * x).sum()})()

    batches = [{"x": torch.ones(4), "labels": torch.zeros(4)} for _ in range(6)]
    fast = Slow()
    speed = measure_throughput(fast, batches, warmup_batches=2)  # no cap: every batch
    assert fast.calls == 6 and 4 / 0.03 * 0.5 < speed < 4 / 0.03 * 1.05
    slow = Slow()
    capped = measure_throughput(slow, batches, warmup_batches=2, max_seconds=0.02)
    assert slow.calls == 2  # one warm-up pass (it alone took longer than the cap), one timed
    assert 4 / 0.03 * 0.5 < capped < 4 / 0.03 * 1.05
    assert slow.weight.grad is None  # measuring leaves no gradient behind


def test_evaluations_too_dear_for_two_leave_one_at_the_end_not_the_smallest_plan():
    # Reuters on a 1-minute budget: 731 validation texts at 49/s (15 s each), 12.8 examples/s.
    plan = plan_training(6937, 8, examples_per_second=12.8, budget_minutes=1, max_epochs=10,
                         validation_examples=731, eval_examples_per_second=49.0)
    assert not plan.warning and plan.max_steps > 40  # 42 s of training, one final evaluation
    assert plan.eval_steps == plan.max_steps
    # 10% faster evaluations keep the mid-run evaluation: no cliff between the two.
    faster = plan_training(6937, 8, examples_per_second=12.8, budget_minutes=1, max_epochs=10,
                           validation_examples=731, eval_examples_per_second=60.0)
    assert not faster.warning and faster.eval_steps < faster.max_steps
    assert abs(faster.max_steps - plan.max_steps) < 0.25 * plan.max_steps
    # An evaluation longer than half the budget still gets the smallest plan and the warning.
    slow = plan_training(6937, 8, examples_per_second=12.8, budget_minutes=1, max_epochs=10,
                         validation_examples=731, eval_examples_per_second=20.0)
    assert "too short" in slow.warning


def test_near_length_batches_pad_less_than_shuffled_ones_and_mix_lengths_from_the_start():
    import random

    import torch

    from hackkit.train.session import NearLengthSampler

    torch.manual_seed(0)
    draw = random.Random(0)
    lengths = [draw.randint(10, 140) for _ in range(640)]
    order = list(NearLengthSampler(16, lengths, window=4))
    assert sorted(order) == list(range(640))  # every example once per epoch

    def padded_tokens(indices):
        return sum(max(lengths[i] for i in indices[b:b + 16]) * len(indices[b:b + 16])
                   for b in range(0, len(indices), 16))

    assert padded_tokens(order) < 0.85 * padded_tokens(torch.randperm(640).tolist())
    # A budget that ends after a few batches still saw short and long examples (transformers'
    # own mega-batches of 50 batches start with the longest of 800).
    assert min(lengths[i] for i in order[:64]) < 60 < max(lengths[i] for i in order[:64])


def test_the_plan_times_batches_drawn_like_the_near_length_sampler():
    import torch
    from datasets import Dataset

    # 32 rows of 1 to 32 tokens; a window of 8 batches of 4 covers them all, so each batch the plan
    # times is 4 neighbours in the length order, as NearLengthSampler's batches are.
    ds = Dataset.from_list([{"input_ids": [1] * n, "labels": 0} for n in range(1, 33)])

    def collate(rows):
        width = max(len(r["input_ids"]) for r in rows)
        return {"input_ids": torch.tensor([r["input_ids"] + [0] * (width - len(r["input_ids"]))
                                           for r in rows]),
                "labels": torch.tensor([r["labels"] for r in rows])}

    for window, neighbours in ((8, True), (0, False)):
        batches = sample_batches(ds, collate, batch_size=4, count=3, seed=1, window=window)
        assert [len(b["labels"]) for b in batches] == [4, 4, 4]
        spans = [int(b["input_ids"].sum(1).max() - b["input_ids"].sum(1).min()) for b in batches]
        assert (spans == [3, 3, 3]) is neighbours, (window, spans)


def test_a_task_that_asks_for_fewer_evaluations_gets_their_time_for_training():
    from hackkit.base import TrainParts
    from hackkit.train.plan import plan_for

    # E2E on 2 cores: 2.3 pairs/s, 96 validation pairs at 4.3/s (22 s each), 10 minutes.
    parts = TrainParts(model=None, processor=None, train_ds=[0] * 40000, val_ds=[0] * 96,
                       collator=None, compute_metrics=None)
    config = hk.TrainConfig(task="text-generation", time_budget_minutes=10, batch_size=16)
    usual = plan_for(parts, config, (2.3, 4.3))
    fewer = plan_for(dataclasses.replace(parts, evaluations=2), config, (2.3, 4.3))
    assert math.ceil(usual.max_steps / usual.eval_steps) == 5
    # one mid-way, then the last step's (and, as the interval is rounded, one close before it)
    assert math.ceil(fewer.max_steps / fewer.eval_steps) <= 3
    assert fewer.max_steps > usual.max_steps
    assert fewer.planned_eval_seconds < usual.planned_eval_seconds
