"""What every one-label-per-example task shares (text and images): the label list, stratified
splits, classification metrics, the predictions table, probability bars, the confusion matrix and
the most confident mistakes."""

from __future__ import annotations

import html
from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from hackkit.base import Task
from hackkit.tables import stratified_splits, stratified_subsample


class LabelPrediction(BaseModel):
    """One input's prediction: the most probable label, its probability and every label's."""

    label: str = Field(description="the most probable label")
    score: float = Field(description="its probability")
    probabilities: dict[str, float] = Field(description="every label's probability (they sum to 1)")


def classification_metrics(y_true: Sequence[str], y_pred: Sequence[str],
                           labels: Sequence[str]) -> dict:
    """Accuracy, macro-F1, weighted-F1 and the per-class precision/recall/F1/support."""
    from sklearn.metrics import accuracy_score, classification_report, f1_score

    report = classification_report(y_true, y_pred, labels=list(labels), output_dict=True,
                                   zero_division=0)
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(labels), average="macro",
                                   zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=list(labels), average="weighted",
                                      zero_division=0)),
        "per_class": {k: report[k] for k in labels},
    }


def compute_metrics(eval_pred) -> dict[str, float]:
    """Accuracy and macro-F1 from logits, for Trainer's evaluation."""
    from sklearn.metrics import accuracy_score, f1_score

    logits, labels = eval_pred
    preds = np.argmax(logits, axis=-1)
    return {"accuracy": float(accuracy_score(labels, preds)),
            "macro_f1": float(f1_score(labels, preds, average="macro"))}


def probability_bars_html(probabilities: dict[str, float], top: int = 10) -> str:
    """A horizontal bar chart of class probabilities, highest first, as HTML."""
    rows = sorted(probabilities.items(), key=lambda kv: -kv[1])[:top]
    bars = "".join(
        f'<div style="display:flex;align-items:center;gap:8px;margin:2px 0">'
        f'<span style="width:14em;text-align:right">{html.escape(label)}</span>'
        f'<span style="display:inline-block;height:14px;width:{p * 300:.0f}px;'
        f'background:#3b82f6"></span><span>{p:.1%}</span></div>'
        for label, p in rows
    )
    return f'<div class="hackkit-bars">{bars}</div>'


def label_result_html(result: dict) -> str:
    """A predicted label with its probability bars, as HTML."""
    return (f'<div style="font-size:130%;margin:6px 0">Predicted: '
            f'<b class="hackkit-demo-label">{html.escape(result["label"])}</b> '
            f'({result["score"]:.1%})</div>' + probability_bars_html(result["probabilities"]))


def label_results(proba: np.ndarray, labels: Sequence[str]) -> list[dict]:
    """Per row of probabilities: label, score and all probabilities."""
    return [{"label": labels[int(row.argmax())], "score": float(row.max()),
             "probabilities": {label: float(p) for label, p in zip(labels, row)}}
            for row in proba]


def predictions_table(texts: Sequence, y_true: Sequence[str], proba: np.ndarray,
                      labels: Sequence[str]) -> pd.DataFrame:
    """One row per input: gold label, predicted label, its probability and correctness."""
    best = proba.argmax(axis=1)
    return pd.DataFrame({
        "text": list(texts),
        "label": list(y_true),
        "predicted": [labels[i] for i in best],
        "confidence": proba[np.arange(len(best)), best].round(4),
        "correct": [labels[i] == t for i, t in zip(best, y_true)],
    })


def confident_mistakes(predictions: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The k wrong predictions the model was most sure of: label noise or real blind spots."""
    wrong = predictions[~predictions["correct"]]
    return wrong.sort_values("confidence", ascending=False).head(k).reset_index(drop=True)


def plot_confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]):
    """Confusion matrix (rows: true label, columns: prediction) as a matplotlib figure."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

    matrix = confusion_matrix(y_true, y_pred, labels=list(labels))
    size = min(len(labels), 40)  # many classes: keep the figure readable, not huge
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * size, 0.8 + 0.7 * size))
    ConfusionMatrixDisplay(matrix, display_labels=list(labels)).plot(
        ax=ax, cmap="Blues", xticks_rotation=45, colorbar=False, include_values=len(labels) <= 30)
    ax.set_title("Confusion matrix (test split)")
    fig.tight_layout()
    return fig


class LabelTask(Task):
    """What every one-label-per-example task shares: labels, metrics, views and scored columns."""

    main_metric = "macro_f1"
    metric_names = {"accuracy": "accuracy", "macro_f1": "macro-F1", "weighted_f1": "weighted-F1"}
    architecture_suffix = "ForSequenceClassification"
    result_model = LabelPrediction

    def split(self, frame, test_size, val_size, seed):
        """Stratified by label, or the file's own split column."""
        return stratified_splits(frame, test_size, val_size, seed)

    def labels(self, splits):
        """The training labels, sorted."""
        return sorted(splits["train"]["label"].unique())

    def subsample(self, frame, n, seed):
        """A stratified sample of n training rows."""
        return stratified_subsample(frame, n, seed)

    def predict(self, predictor, inputs):
        """Label, score and every probability per input."""
        return label_results(self.predict_proba(predictor, inputs), predictor.labels)

    def predictions_table(self, frame, results):
        """Gold against predicted label per example, with confidence."""
        labels = list(results[0]["probabilities"]) if results else []
        proba = np.array([[r["probabilities"][label] for label in labels] for r in results])
        return predictions_table(self.inputs_of(frame), frame["label"],
                                 proba.reshape(len(results), -1), labels)

    def result_columns(self, results, labels):
        """predicted, confidence and one p_<label> column per label."""
        columns = {"predicted": [r["label"] for r in results],
                   "confidence": [round(r["score"], 4) for r in results]}
        for label in labels:
            columns[f"p_{label}"] = [round(r["probabilities"][label], 4) for r in results]
        return columns

    def result_html(self, result, item):
        """The label and probability bars."""
        return label_result_html(result)

    def score(self, predictions, labels):
        """Accuracy, macro-F1, weighted-F1 and per-class scores."""
        return classification_metrics(predictions["label"], predictions["predicted"], labels)

    def confusion_figure(self, predictions, labels):
        """True against predicted label."""
        return plot_confusion_matrix(predictions["label"], predictions["predicted"], labels)

    def worst_errors(self, predictions, k=10):
        """The most confident wrong predictions."""
        return confident_mistakes(predictions, k)
