"""The verdict of 03 (and of 02 on validation): does the model beat the baselines, and if not, or
when the budget ran out while it was still improving, the likely causes and their fixes."""

from __future__ import annotations

import math
from typing import Any

# Fine-tuning a fresh classification head needs roughly this many optimizer steps per class before
# every class is learned; a few per class fell far short (benchmarks/RESULTS.md, "The probe start").
MIN_STEPS_PER_CLASS = 10


def _losses(history: list[dict]) -> list[float]:
    """Training-loss values from Trainer's log history, in order."""
    return [float(h["loss"]) for h in history if "loss" in h]


def _evals(history: list[dict], metric: str) -> list[float]:
    """Validation values of `metric` (eval_<metric>) from Trainer's log history, in order."""
    key = metric if metric.startswith("eval_") else f"eval_{metric}"
    return [float(h[key]) for h in history if key in h]


def explain_result(
    scores: dict[str, float], baselines: dict[str, dict[str, float]], history: list[dict], *,
    num_classes: int, train_examples: int, steps: int, epochs_completed: float,
    learning_rate: float, stopped_by_budget: bool, metric: str = "accuracy",
    available_train_examples: int | None = None, batch_size: int | None = None,
    seconds_per_epoch: float | None = None, split: str = "test",
    warm_start: dict | None = None, budget_minutes: float | None = None,
) -> dict[str, Any]:
    """A verdict: does the model beat the baselines, which problems explain it, and their fixes.

    `warm_start` (train_summary's kept_warm_start) says the head started as a fitted probe: it
    needs no steps to learn the classes, and its loss starts low.
    """
    if metric not in scores:
        raise ValueError(f"metric={metric!r} is not among the model's scores {sorted(scores)}.")
    score = float(scores[metric])
    rivals = {name: float(s[metric]) for name, s in baselines.items() if metric in s}
    best_name, best = max(rivals.items(), key=lambda kv: kv[1]) if rivals else (None, None)
    beats = best is None or score > best
    problems: list[dict[str, str]] = []
    minutes = f" (≈ {seconds_per_epoch / 60:.1f} min per epoch here)" if seconds_per_epoch else ""

    needed_steps = MIN_STEPS_PER_CLASS * num_classes
    if warm_start and warm_start.get("kept"):
        problems.append({
            "cause": f"fine-tuning never beat its starting point (the frozen embeddings + probe "
                     f"head) on validation: {warm_start['best_validation']:.4f} against "
                     f"{warm_start['start_validation']:.4f}, so the starting model was kept.",
            "fix": f"give it more steps (raise TIME_BUDGET_MINUTES{minutes}) or a lower "
                   f"LEARNING_RATE (e.g. {learning_rate / 2:g}).",
        })
    if steps < needed_steps and not warm_start:
        seen = steps * batch_size if batch_size else None
        problems.append({
            "cause": f"too few training steps for {num_classes} classes: {steps} steps"
                     + (f" ({seen / num_classes:.0f} examples seen per class)" if seen else "")
                     + f"; a new {num_classes}-class head needs about {needed_steps} or more.",
            "fix": f"train for {needed_steps}+ steps: use all data (MAX_TRAIN_EXAMPLES=0), more "
                   f"EPOCHS or a larger TIME_BUDGET_MINUTES{minutes}.",
        })
    if stopped_by_budget and epochs_completed < 1:
        # Two epochs, and at least twice the budget that did not finish one, rounded up to half
        # a minute: rounding 1.2 minutes to the nearest gave "1" to a run whose budget was 1.
        two = max(2 * (seconds_per_epoch or 0) / 60, 2 * (budget_minutes or 0))
        need = f"{math.ceil(2 * two) / 2:g}" if two else "more"
        problems.append({
            "cause": f"the time budget ran out inside the first epoch ({epochs_completed:.2f} "
                     f"epochs): {100 * epochs_completed:.0f}% of the training data was seen once.",
            "fix": f"give TIME_BUDGET_MINUTES={need} or more (two epochs){minutes}, or train on less "
                   "(MAX_TRAIN_EXAMPLES, a shorter MAX_LENGTH) or a smaller MODEL.",
        })
    losses = _losses(history)
    if len(losses) >= 4:
        k = max(1, len(losses) // 5)
        first, last = sum(losses[:k]) / k, sum(losses[-k:]) / k
        chance = math.log(num_classes) if num_classes > 1 else 0.0
        # A warm start begins near its best loss, and small batches make it noisy: only a loss
        # climbing towards chance level is a problem then.
        failing = (last > max(1.5 * first, 0.5 * chance) if warm_start else last > 0.9 * first)
        if not math.isfinite(last) or failing:
            if warm_start:
                hint = (f"LEARNING_RATE={learning_rate:g} is likely too high for a head that starts "
                        f"from the probe: try {learning_rate / 2:g}")
            else:
                hint = (f"LEARNING_RATE={learning_rate:g} is likely too high for full fine-tuning: "
                        f"try {min(learning_rate / 4, 5e-5):g}"
                        if learning_rate > 1e-4 or not math.isfinite(last)
                        else f"LEARNING_RATE={learning_rate:g} may be too low: try {learning_rate * 4:g}")
            problems.append({
                "cause": f"the training loss did not fall: {first:.3f} at the start, {last:.3f} at "
                         f"the end (predicting every class equally gives {chance:.3f}).",
                "fix": f"{hint}; check the labels match the texts.",
            })
    if available_train_examples and train_examples < available_train_examples:
        per_all = (f"; one epoch of all data ≈ "
                   f"{seconds_per_epoch * available_train_examples / train_examples / 60:.1f} min"
                   if seconds_per_epoch else "")
        problems.append({
            "cause": f"trained on {train_examples:,} of {available_train_examples:,} training "
                     f"examples (MAX_TRAIN_EXAMPLES={train_examples}).",
            "fix": f"set MAX_TRAIN_EXAMPLES=0 to use all of them{per_all}.",
        })
    evals = _evals(history, metric)
    if stopped_by_budget and len(evals) >= 2 and evals[-1] >= max(evals[:-1]) and evals[-1] > evals[-2]:
        more = f"about {seconds_per_epoch / 60:.1f} minutes more per epoch" if seconds_per_epoch \
            else "more minutes"
        problems.append({
            "cause": f"validation {metric} was still rising when the budget ran out "
                     f"({evals[-2]:.4f} -> {evals[-1]:.4f} at the last two evaluations).",
            "fix": f"more time would help: {more} (raise TIME_BUDGET_MINUTES).",
        })

    name = best_name if "baseline" in str(best_name).lower() else f"{best_name} baseline"
    against = f"the {name}, {best:.4f}" if best is not None else "no baseline"
    if best is None:
        head = f"The model reached {split} {metric} {score:.4f} (no baseline to compare)."
    elif beats:
        head = f"The model beats {against}: {split} {metric} {score:.4f} (+{score - best:.4f})."
    else:
        head = (f"The model does NOT beat the baseline: {split} {metric} {score:.4f} vs "
                f"{against} ({score - best:+.4f}).")
    if problems:
        listed = " ".join(f"({i}) {p['cause']} Fix: {p['fix']}" for i, p in enumerate(problems, 1))
        body = f" {'Likely causes' if not beats else 'Still worth fixing'}: {listed}"
    elif not beats:
        body = (" Training itself looks healthy (enough steps, loss falling, all data used): the "
                "baseline is strong on this data. Try another MODEL, a longer MAX_LENGTH, or keep "
                "the baseline.")
    else:
        body = " No training problems found."
    return {"beats_baseline": beats, "metric": metric, "score": score, "best_baseline": best_name,
            "baseline_score": best, "problems": problems, "message": head + body}
