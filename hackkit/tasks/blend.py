"""Never below your own baseline: a text model's probabilities mixed with TF-IDF's when the mix wins
on validation, stored in model/ without pickles (the vocabulary in JSON, the weights in safetensors).

A short budget can end below the TF-IDF baseline (a model that saw a tenth of an epoch). 02 then
keeps what validation prefers: the model alone, the baseline alone, or a weighted average of their
class probabilities; the one prediction path (Predictor, 03, 04, serve) applies the same mix.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hackkit.paths import read_json, write_json
from hackkit.tasks.labels import classification_metrics

BLEND_JSON = "baseline_blend.json"  # the model's share, the TF-IDF settings and vocabulary
BLEND_WEIGHTS = "baseline_blend.safetensors"  # idf, the logistic regression's coef and intercept
# The model's share of the probabilities tried on validation, from the model alone down to the baseline alone.
SHARES = tuple(round(1.0 - i / 10, 1) for i in range(11))


class StoredBaseline:
    """A fitted TF-IDF + logistic regression rebuilt from arrays: class probabilities in `labels` order."""

    def __init__(self, settings: dict, vocabulary: dict[str, int], idf: np.ndarray,
                 coef: np.ndarray, intercept: np.ndarray, classes: Sequence[str],
                 labels: Sequence[str]) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.settings, self.classes, self.labels = settings, list(classes), list(labels)
        self.vectorizer = TfidfVectorizer(ngram_range=tuple(settings["ngram_range"]),
                                          sublinear_tf=settings["sublinear_tf"],
                                          lowercase=settings["lowercase"])
        self.vectorizer.vocabulary_ = vocabulary
        self.vectorizer.idf_ = idf
        self.coef, self.intercept = coef, intercept

    @classmethod
    def from_pipeline(cls, pipeline, labels: Sequence[str]) -> StoredBaseline:
        """From fit_baseline's fitted sklearn pipeline."""
        vectorizer, regression = pipeline[0], pipeline[-1]
        settings = {"ngram_range": list(vectorizer.ngram_range), "sublinear_tf": vectorizer.sublinear_tf,
                    "lowercase": vectorizer.lowercase}
        vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        return cls(settings, vocabulary, vectorizer.idf_.astype(np.float32),
                   regression.coef_.astype(np.float32), regression.intercept_.astype(np.float32),
                   [str(c) for c in regression.classes_], labels)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one column per label (a label the baseline never saw gets 0)."""
        scores = self.vectorizer.transform(list(texts)) @ self.coef.T + self.intercept
        if len(self.classes) == 2:  # sklearn's binary model: one logit for the second class
            second = 1.0 / (1.0 + np.exp(-scores[:, 0]))
            proba = np.stack([1.0 - second, second], axis=1)
        else:
            scores = scores - scores.max(axis=1, keepdims=True)
            proba = np.exp(scores)
            proba /= proba.sum(axis=1, keepdims=True)
        out = np.zeros((proba.shape[0], len(self.labels)), dtype=np.float32)
        index = {label: i for i, label in enumerate(self.labels)}
        for j, name in enumerate(self.classes):
            out[:, index[name]] = proba[:, j]
        return out

    def save(self, folder: Path, share: float, chosen: dict) -> None:
        """baseline_blend.json and .safetensors in `folder`, with the model's share."""
        from safetensors.numpy import save_file

        # C order: safetensors writes the raw buffer, and sklearn's coef_ can be Fortran-ordered.
        arrays = {"idf": self.vectorizer.idf_, "coef": self.coef, "intercept": self.intercept}
        save_file({k: np.ascontiguousarray(v, dtype=np.float32) for k, v in arrays.items()},
                  str(folder / BLEND_WEIGHTS))
        write_json(folder / BLEND_JSON, {"model_share": share, "chosen": chosen,
                                         "settings": self.settings, "classes": self.classes,
                                         "vocabulary": self.vectorizer.vocabulary_})


class Blend:
    """model_share x the model's probabilities + the rest x the stored baseline's."""

    def __init__(self, share: float, baseline: StoredBaseline) -> None:
        self.share, self.baseline = share, baseline

    def mix(self, model_proba: np.ndarray, texts: Sequence[str]) -> np.ndarray:
        """The blended probabilities of these texts."""
        if self.share >= 1.0:
            return model_proba
        return (self.share * model_proba
                + (1.0 - self.share) * self.baseline.predict_proba(texts)).astype(np.float32)


def load_blend(folder: Path, labels: Sequence[str]) -> Blend | None:
    """The blend stored in a model folder, or None when the model predicts alone."""
    if not (folder / BLEND_JSON).is_file():
        return None
    from safetensors.numpy import load_file

    info, arrays = read_json(folder / BLEND_JSON), load_file(str(folder / BLEND_WEIGHTS))
    baseline = StoredBaseline(info["settings"], info["vocabulary"], arrays["idf"], arrays["coef"],
                              arrays["intercept"], info["classes"], labels)
    return Blend(float(info["model_share"]), baseline)


def choose_share(model_proba: np.ndarray, baseline_proba: np.ndarray, gold: Sequence[str],
                 labels: Sequence[str], metric: str = "macro_f1") -> tuple[float, dict[float, float]]:
    """The model's share whose mix scores best on validation (ties: the larger share), and every score."""
    scores = {}
    for share in SHARES:
        mixed = share * model_proba + (1.0 - share) * baseline_proba
        predicted = [labels[i] for i in mixed.argmax(axis=1)]
        scores[share] = round(classification_metrics(list(gold), predicted, list(labels))[metric], 4)
    best = max(SHARES, key=lambda s: (scores[s], s))
    return best, scores
