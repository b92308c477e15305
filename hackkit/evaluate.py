"""Score predictions: metrics, per-class report, confusion matrix and the worst mistakes."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.metrics import (ConfusionMatrixDisplay, accuracy_score, classification_report,
                             confusion_matrix, f1_score)

from hackkit.paths import atomic_file, read_json, write_json


def predict_proba(
    model_dir: str | Path, texts: Sequence[str], batch_size: int = 64, device: str = "auto",
    max_length: int = 128,
) -> tuple[np.ndarray, list[str]]:
    """Class probabilities for texts from a saved model folder, and its label names."""
    from hackkit.predict import Predictor

    predictor = Predictor(model_dir, device=device, max_length=max_length, batch_size=batch_size)
    return predictor.predict_proba(list(texts)), predictor.labels


def classification_metrics(
    y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]
) -> dict:
    """Accuracy, macro-F1, weighted-F1 and the per-class precision/recall/F1/support."""
    report = classification_report(
        y_true, y_pred, labels=list(labels), output_dict=True, zero_division=0
    )
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=list(labels), average="macro",
                                   zero_division=0)),
        "weighted_f1": float(f1_score(y_true, y_pred, labels=list(labels), average="weighted",
                                      zero_division=0)),
        "per_class": {k: report[k] for k in labels},
    }


def per_class_table(metrics: dict) -> pd.DataFrame:
    """The per-class report as a table, one row per label."""
    return pd.DataFrame(metrics["per_class"]).T.round(3).astype({"support": int})


def plot_confusion_matrix(y_true: Sequence[str], y_pred: Sequence[str], labels: Sequence[str]):
    """Confusion matrix (rows: true label, columns: prediction) as a matplotlib figure."""
    import matplotlib.pyplot as plt

    matrix = confusion_matrix(y_true, y_pred, labels=list(labels))
    fig, ax = plt.subplots(figsize=(1.0 + 0.8 * len(labels), 0.8 + 0.7 * len(labels)))
    ConfusionMatrixDisplay(matrix, display_labels=list(labels)).plot(
        ax=ax, cmap="Blues", xticks_rotation=45, colorbar=False
    )
    ax.set_title("Confusion matrix (test split)")
    fig.tight_layout()
    return fig


def predictions_table(texts: Sequence[str], y_true: Sequence[str], proba: np.ndarray,
                      labels: Sequence[str]) -> pd.DataFrame:
    """One row per text: gold label, predicted label, its probability and correctness."""
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


def compare(results: dict[str, dict]) -> pd.DataFrame:
    """Side-by-side headline metrics, one row per model (NER adds entity precision/recall/F1)."""
    keys = ("accuracy", "precision", "recall", "f1", "macro_f1", "weighted_f1")
    rows = {name: {k: m[k] for k in keys if k in m} for name, m in results.items()}
    return pd.DataFrame(rows).T.round(4)


def write_metrics(run_dir: str | Path, finetuned: dict, baseline: dict,
                  predictions: pd.DataFrame) -> Path:
    """Write metrics.json and the test predictions into the run folder."""
    run_dir = Path(run_dir)
    with atomic_file(run_dir / "predictions_test.csv") as tmp:
        predictions.to_csv(tmp, index=False)
    return write_json(run_dir / "metrics.json", {
        "test_examples": len(predictions),
        "finetuned": finetuned,
        "baseline": baseline,
        "beats_baseline": finetuned[_main(finetuned)] > baseline[_main(baseline)],
    })


def _main(metrics: dict) -> str:
    """The score a run is judged by: entity micro-F1 for NER, macro-F1 for text classification."""
    return "f1" if "f1" in metrics else "macro_f1"


def headline(run_dir: str | Path) -> dict:
    """The headline numbers of a finished run from its metrics.json."""
    metrics = read_json(Path(run_dir) / "metrics.json")
    if "f1" in metrics["finetuned"]:
        return {
            "accuracy": metrics["finetuned"]["accuracy"],
            "entity_f1": metrics["finetuned"]["f1"],
            "baseline_entity_f1": metrics["baseline"]["f1"],
        }
    return {
        "accuracy": metrics["finetuned"]["accuracy"],
        "macro_f1": metrics["finetuned"]["macro_f1"],
        "baseline_macro_f1": metrics["baseline"]["macro_f1"],
    }
