"""Budget-first training on a CSV: measure speed, plan steps to end with the budget, train, compare.

Prints, from one run: the planned vs realised steps and epochs, the measured vs real examples/s,
whether the LR schedule completed, and test accuracy / macro-F1 next to the TF-IDF baseline.

    python benchmarks/bench_budget.py DATA.csv --split-column split --minutes 3 [--out DIR]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import hackkit as hk
from hackkit.runs.watch import ProgressWatcher
from hackkit.train.callbacks import BudgetCallback, ProgressCallback
from hackkit.train.plan import measure_throughput, plan_training, sample_batches
from hackkit.use.verdict import explain_result


def main(argv: list[str] | None = None) -> dict:
    """Run the benchmark; print and return its figures."""
    import torch
    from transformers import Trainer, TrainingArguments, set_seed

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("data")
    p.add_argument("--text-column", default="text")
    p.add_argument("--label-column", default="label")
    p.add_argument("--split-column", default="")
    p.add_argument("--minutes", type=float, default=3.0, help="time budget for trainer.train()")
    p.add_argument("--model", default="sentence-transformers/all-MiniLM-L6-v2")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--max-epochs", type=float, default=4.0)
    p.add_argument("--learning-rate", type=float, default=5e-5)
    p.add_argument("--max-length", type=int, default=128)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--out", default="", help="folder for result.json and progress.jsonl")
    a = p.parse_args(argv)
    out = Path(a.out or tempfile.mkdtemp(prefix="bench-budget-"))
    out.mkdir(parents=True, exist_ok=True)

    from hackkit.tasks.labels import classification_metrics
    from hackkit.tasks.text import tokenized

    task = hk.get_task("text-classification")
    dataset = hk.load_data(a.data, text_column=a.text_column, label_column=a.label_column,
                           split_column=a.split_column)
    splits = hk.make_splits(hk.deduplicate(dataset.frame, task)[0], 0.2, 0.1, a.seed, task)
    labels = task.labels(splits)
    set_seed(a.seed)
    parts = task.train_parts(splits["train"], splits["validation"], labels,
                             hk.resolve_model(a.model).location, a.max_length)
    model, collator, train_ds, val_ds = parts.model, parts.collator, parts.train_ds, parts.val_ds
    test_ds = tokenized(splits["test"], parts.processor, labels, a.max_length)
    cuda = torch.cuda.is_available()
    if cuda:
        model.to("cuda")

    started = time.monotonic()
    batches = sample_batches(train_ds, collator, a.batch_size, count=6, seed=a.seed, grouped=True)
    measured = measure_throughput(model, batches)
    measure_seconds = time.monotonic() - started
    plan = plan_training(len(train_ds), a.batch_size, measured, a.minutes, a.max_epochs,
                         validation_examples=len(val_ds))
    print(f"measured in {measure_seconds:.1f}s: {plan.describe()}", flush=True)

    args = TrainingArguments(
        output_dir=str(out / "checkpoints"), learning_rate=a.learning_rate, weight_decay=0.01,
        per_device_eval_batch_size=64, load_best_model_at_end=True, metric_for_best_model="accuracy",
        greater_is_better=True, save_total_limit=1, train_sampling_strategy="group_by_length",
        seed=a.seed, use_cpu=not cuda, report_to="none", disable_tqdm=True,
        **plan.training_arguments(),
    )
    budget = BudgetCallback(plan)
    progress_file = out / "progress.jsonl"
    progress_file.unlink(missing_ok=True)

    trainer = Trainer(model=model, args=args, train_dataset=train_ds, eval_dataset=val_ds,
                      data_collator=collator, compute_metrics=parts.compute_metrics, callbacks=[
                          budget, ProgressCallback(progress_file, notebook="bench",
                                                   budget_seconds=a.minutes * 60, bar=False)])
    with ProgressWatcher(progress_file, sys.stderr, interval=5):
        trainer.train()
    realised = budget.result()

    logits = trainer.predict(test_ds).predictions
    model_scores = classification_metrics(list(splits["test"]["label"]),
                                          [labels[i] for i in logits.argmax(-1)], labels)
    t0 = time.monotonic()
    base_scores = task.baseline_scores(splits, labels, "test", a.seed)
    baseline_seconds = time.monotonic() - t0
    verdict = explain_result(
        model_scores, {"TF-IDF": base_scores}, trainer.state.log_history, num_classes=len(labels),
        train_examples=len(train_ds), available_train_examples=len(train_ds),
        steps=realised["steps"], epochs_completed=realised["epochs"],
        learning_rate=a.learning_rate, stopped_by_budget=realised["stopped_by_budget"],
        batch_size=a.batch_size, seconds_per_epoch=plan.seconds_per_epoch,
    )
    ratio = (realised["train_examples_per_second"] or 0) / measured
    result = {
        "data": str(a.data), "device": "cuda" if cuda else "cpu", "torch_threads": torch.get_num_threads(),
        "train/val/test": [len(train_ds), len(val_ds), len(test_ds)], "classes": len(labels),
        "measure_seconds": round(measure_seconds, 1), "plan": plan.to_dict(), "realised": realised,
        "real_over_measured_examples_per_second": round(ratio, 3),
        "test": {k: round(model_scores[k], 4) for k in ("accuracy", "macro_f1")},
        "baseline_test": {k: round(base_scores[k], 4) for k in ("accuracy", "macro_f1")},
        "baseline_seconds": round(baseline_seconds, 1), "verdict": verdict,
    }
    (out / "result.json").write_text(json.dumps(result, indent=2))
    print(f"\n{'':<28}{'planned':>12}{'realised':>12}")
    print(f"{'steps':<28}{plan.max_steps:>12}{realised['steps']:>12}")
    print(f"{'epochs':<28}{plan.expected_epochs:>12.2f}{realised['epochs']:>12.2f}")
    print(f"{'train examples/s':<28}{measured:>12.1f}{realised['train_examples_per_second']:>12.1f}"
          f"   (real/measured {ratio:.2f})")
    print(f"{'train seconds (no eval)':<28}{plan.planned_train_seconds:>12.0f}"
          f"{realised['seconds'] - realised['eval_and_save_seconds']:>12.0f}")
    print(f"{'eval+save seconds':<28}{plan.planned_eval_seconds:>12.0f}"
          f"{realised['eval_and_save_seconds']:>12.0f}")
    print(f"{'total seconds (budget)':<28}{a.minutes * 60:>12.0f}{realised['seconds']:>12.0f}")
    print(f"schedule completed: {realised['schedule_completed']}; stopped by the budget: "
          f"{realised['stopped_by_budget']}")
    print(f"test accuracy {model_scores['accuracy']:.4f}, macro-F1 {model_scores['macro_f1']:.4f}; "
          f"TF-IDF baseline {base_scores['accuracy']:.4f} / {base_scores['macro_f1']:.4f} "
          f"(fit in {baseline_seconds:.1f}s)")
    print(verdict["message"])
    print(f"figures: {out / 'result.json'}")
    return result


if __name__ == "__main__":
    main()
