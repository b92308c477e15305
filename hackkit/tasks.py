"""The task-aware steps of 02 and 03: each picks the text- or token-classification version."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from hackkit.baseline import fit_baseline
from hackkit.evaluate import (classification_metrics, confident_mistakes, plot_confusion_matrix,
                              predict_proba, predictions_table)
from hackkit.paths import read_json


def _tagged(frame: pd.DataFrame) -> bool:
    """True for tagged sentences (token classification), False for labelled texts."""
    return "tags" in frame


def run_task(run_dir: str | Path) -> str:
    """The task of a run folder, told from its saved splits."""
    return "token-classification" if (Path(run_dir) / "splits" / "train.jsonl").is_file() \
        else "text-classification"


def baseline_scores(splits: dict[str, pd.DataFrame], labels: list[str], split: str,
                    seed: int = 42) -> dict:
    """Fit the task's baseline on train and score it on `split`.

    Text: TF-IDF + logistic regression. NER: the most frequent training tag of each word.
    """
    train, target = splits["train"], splits[split]
    if _tagged(train):
        from hackkit.ner import TagBaseline, entity_metrics
        predicted = TagBaseline(train["tokens"], train["tags"]).predict(target["tokens"])
        return entity_metrics(target["tags"], predicted, labels)
    model = fit_baseline(train["text"], train["label"], seed)
    return classification_metrics(target["label"], model.predict(target["text"]), labels)


def predict_split(run_dir: str | Path, split: str = "test", device: str = "auto") -> pd.DataFrame:
    """The run's model's predictions on one of its splits, one row per text or sentence."""
    from hackkit.data import load_splits

    run_dir = Path(run_dir)
    frame = load_splits(run_dir)[0][split]
    max_length = read_json(run_dir / "train_summary.json")["config"]["max_length"]
    if _tagged(frame):
        from hackkit.ner import predict_tags, predictions_table as tag_table
        tags, _ = predict_tags(run_dir / "model", list(frame["tokens"]), device=device,
                               max_length=max_length)
        return tag_table(frame, tags)
    proba, labels = predict_proba(run_dir / "model", list(frame["text"]), device=device,
                                  max_length=max_length)
    return predictions_table(frame["text"], frame["label"], proba, labels)


def score_predictions(predictions: pd.DataFrame, labels: list[str]) -> dict:
    """Metrics of a predictions table: accuracy/macro-F1, or entity precision/recall/F1 per type."""
    if _tagged(predictions):
        from hackkit.ner import entity_metrics
        return entity_metrics(predictions["tags"], predictions["predicted_tags"], labels)
    return classification_metrics(predictions["label"], predictions["predicted"], labels)


def plot_confusion(predictions: pd.DataFrame, labels: list[str]):
    """Confusion matrix of labels, or of entity types (gold span against predicted span) for NER."""
    if _tagged(predictions):
        from hackkit.ner import entity_confusion, plot_entity_confusion
        return plot_entity_confusion(entity_confusion(predictions["tags"], predictions["predicted_tags"]))
    return plot_confusion_matrix(predictions["label"], predictions["predicted"], labels)


def worst_errors(predictions: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The most confident wrong labels, or the sentences with the most wrong entity spans."""
    if _tagged(predictions):
        from hackkit.ner import worst_sentences
        return worst_sentences(predictions, k)
    return confident_mistakes(predictions, k)
