"""Score a run's model on a split against the task's baseline, and record the result (03)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hackkit.models.resolve import resolve_for_task
from hackkit.params import DEFAULT_MODEL
from hackkit.paths import atomic_file, read_json, write_json
from hackkit.runfolder import Run, load_splits, read_model_info
from hackkit.summary import TrainSummary
from hackkit.use.predict import Predictor
from hackkit.use.verdict import explain_result


def predict_split(run_dir: str | Path, split: str = "test", device: str = "auto") -> pd.DataFrame:
    """The run's model's predictions on one of its splits, one row per example, gold beside."""
    run = Run(run_dir)
    frame = load_splits(run.path)[0][split]
    predictor = Predictor(run.model_dir, device=device)
    task = predictor.task
    return task.predictions_table(frame, predictor.predict(task.inputs_of(frame)))


def baseline_scores(run_dir: str | Path, split: str, seed: int = 42) -> dict:
    """Fit the run's task baseline on its training split and score it on `split`."""
    run = Run(run_dir)
    splits, labels = load_splits(run.path)
    return run.task().baseline_scores(splits, labels, split, seed)


def extra_baselines(run_dir: str | Path, split: str, model: str = "", seed: int = 42) -> dict[str, dict]:
    """The task's other reference scores on `split` (text: embeddings + logistic regression), by name.

    `model` is the encoder (default: the run's base model, else the local folder it was trained
    from, else DataConfig's); embeddings are cached in the run folder, so 03 reuses what 02
    computed. {} for tasks without one (e.g. NER).
    """
    run = Run(run_dir)
    task = run.task()
    if not model:
        model = read_model_info(run.model_dir).base_model if run.has("model") else ""
        summary = run.summary()
        if not model and summary and summary.model_source == "local":
            # model/ names no folder outside the project; the run's own summary has its path.
            model = summary.model
        model = model or DEFAULT_MODEL
    splits, labels = load_splits(run.path)
    # The task's own way: an image run's base model is EfficientNet, which no text loader resolves.
    found = task.extra_baselines(splits, labels, split, resolve_for_task(task, model).location,
                                 run.max_length(), run.embeddings, seed)
    if not found:  # say so in words rather than show a table without the row
        print(f"no second baseline for {task.name}: the {task.baseline_name} is the reference.")
    return found


def score_predictions(run_dir: str | Path, predictions: pd.DataFrame) -> dict:
    """The run's task metrics of a predictions table (main metric, others, per class)."""
    run = Run(run_dir)
    return run.task().score(predictions, run.labels())


def compare_scores(results: dict[str, dict], task=None) -> pd.DataFrame:
    """Side-by-side headline metrics, one row per model, in the task's order when given."""
    keys = list(task.metric_names) if task is not None else sorted(
        {k for m in results.values() for k, v in m.items() if isinstance(v, float)})
    rows = {name: {k: m[k] for k in keys if k in m} for name, m in results.items()}
    return pd.DataFrame(rows).T.round(4)


def per_class_table(metrics: dict) -> pd.DataFrame:
    """The per-class (NER: per entity type) report as a table, one row per label."""
    return pd.DataFrame(metrics["per_class"]).T.round(3).astype({"support": int})


def plot_confusion(run_dir: str | Path, predictions: pd.DataFrame):
    """The task's confusion view of a predictions table."""
    run = Run(run_dir)
    return run.task().confusion_figure(predictions, run.labels())


def worst_errors(run_dir: str | Path, predictions: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The k mistakes most worth reading, as the task defines them."""
    return Run(run_dir).task().worst_errors(predictions, k)


def plot_worst_errors(run_dir: str | Path, predictions: pd.DataFrame, k: int = 10):
    """The task's picture of its worst mistakes (images: thumbnails), or a sentence if it has none."""
    task = Run(run_dir).task()
    fig = task.errors_figure(predictions, k)
    return fig if fig is not None else f"no picture of the mistakes for {task.name}"


def explain_run(run_dir: str | Path, scores: dict | None = None, baseline: dict | None = None,
                split: str = "test", seed: int = 42) -> dict:
    """Does the model beat the baseline on `split`; if not, or if the budget cut it short, why and
    the fix, from what happened in training (train_summary.json, the history).

    Without `scores`, the best validation score of training is judged (split must be validation);
    without `baseline`, the task's baseline is fitted on train and scored on `split`.
    """
    run = Run(run_dir)
    task = run.task()
    metric = task.main_metric
    summary = TrainSummary.read(run.train_summary)
    if scores is None:
        if split != "validation":
            raise ValueError(f"explain_run: pass the model's {split} scores, or split='validation'.")
        # What validation measured in training: the main metric, or the task's training_metric
        # (text generation: token accuracy, which no baseline has, so none is compared).
        metric = summary.main_metric or metric
        final = summary.details.get("final_model") or {}
        # What model/ predicts with: the mix with the baseline when 02 chose one.
        scores = {metric: final.get("validation", summary.best_validation)
                  if final.get("kind") in ("blend", "baseline") else summary.best_validation}
    if baseline is None:
        baseline = baseline_scores(run_dir, split, seed)
    plan, config = summary.plan or {}, summary.config
    verdict = explain_result(
        scores, {task.baseline_name: baseline}, read_json(run.history) if run.history.is_file() else [],
        num_classes=len(run.labels()), train_examples=summary.train_examples,
        steps=summary.steps, epochs_completed=summary.epochs_completed,
        learning_rate=config.get("learning_rate", 0.0),
        # The budget decided when the safety net stopped training, or when a plan cut by the
        # budget ran to its end (not when early stopping ended it first).
        stopped_by_budget=bool(summary.stopped_by_time_budget
                               or (plan.get("capped_by") == "budget"
                                   and (summary.budget or {}).get("schedule_completed", True))),
        metric=metric, available_train_examples=summary.available_train_examples,
        batch_size=config.get("batch_size"), seconds_per_epoch=plan.get("seconds_per_epoch"),
        split=split, warm_start=summary.details.get("kept_warm_start"),
        budget_minutes=config.get("time_budget_minutes"),
    )
    final = summary.details.get("final_model") or {}
    if final.get("kind") in ("blend", "baseline"):
        chose = ("the baseline alone" if final["kind"] == "baseline" else
                 f"{final['model_share']:.0%} the trained model + {1 - final['model_share']:.0%} "
                 "the baseline's probabilities")
        verdict["final_model"] = final
        verdict["message"] += (f" model/ predicts with {chose}: on validation that scored "
                               f"{final['validation']:.4f}, the model alone "
                               f"{final['model_alone']:.4f}, the baseline alone "
                               f"{final['baseline_alone']:.4f}.")
    elif final.get("said"):  # e.g. text generation answering with examples in its prompt
        verdict["final_model"] = final
        verdict["message"] += f" model/ predicts with {final['said']}."
    return verdict


def write_metrics(run_dir: str | Path, model: dict, baseline: dict,
                  predictions: pd.DataFrame, verdict: dict | None = None,
                  extra: dict[str, dict] | None = None) -> Path:
    """Write metrics.json (scores, the verdict of explain_run) and the test predictions.

    `extra` holds the other baselines by name (extra_baselines); the model's gain over each is recorded.
    """
    run = Run(run_dir)
    task = run.task()
    if verdict is None and run.train_summary.is_file():
        verdict = explain_run(run_dir, model, baseline, "test")
    with atomic_file(run.predictions) as tmp:
        predictions.to_csv(tmp, index=False)
    return write_json(run.metrics, {
        "task": task.name,
        "main_metric": task.main_metric,
        "test_examples": len(predictions),
        "model": model,
        "baseline": baseline,
        "beats_baseline": model[task.main_metric] > baseline[task.main_metric],
        "verdict": verdict,  # explain_run: message, problems with their causes and fixes
        "extra_baselines": extra or {},
        # What model/ predicts with (02's choice on validation: model, baseline or a mix).
        "final_model": ((run.summary().details.get("final_model") or {})
                        if run.train_summary.is_file() else {}),
        "gain_over_extra_baselines": {name: round(model[task.main_metric] - m[task.main_metric], 4)
                                      for name, m in (extra or {}).items()},
    })


def headline_scores(run_dir: str | Path) -> dict:
    """The main test score of a finished run next to its baseline's, from metrics.json."""
    metrics = read_json(Run(run_dir).metrics)
    main = metrics["main_metric"]
    return {main: metrics["model"][main], f"baseline_{main}": metrics["baseline"][main],
            **({"accuracy": metrics["model"]["accuracy"]}
               if main != "accuracy" and "accuracy" in metrics["model"] else {})}
