"""Never below your own baseline: a text model's probabilities mixed with TF-IDF's when the mix wins
on validation, stored in model/ without pickles (the vocabulary in JSON, the weights in safetensors).

A short budget can end below the TF-IDF baseline (a model that saw a tenth of an epoch). 02 then
keeps what validation prefers: the model alone, the baseline alone, or a weighted average of their
probabilities (one softmax over the classes, or for several labels per text one sigmoid per label);
the one prediction path (Predictor, 03, 04, serve) applies the same mix.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from hackkit.paths import read_json, write_json

BLEND_JSON = "baseline_blend.json"  # the model's share, the TF-IDF settings and vocabulary
BLEND_WEIGHTS = "baseline_blend.safetensors"  # idf, the logistic regression's coef and intercept
# The model's share of the probabilities tried on validation, from the model alone down to the baseline alone.
SHARES = tuple(round(1.0 - i / 10, 1) for i in range(11))


class StoredBaseline:
    """A fitted TF-IDF + logistic regression rebuilt from arrays: class probabilities in `labels`
    order (`independent`: one logistic regression per label, each its own sigmoid)."""

    def __init__(self, settings: dict, vocabulary: dict[str, int], idf: np.ndarray,
                 coef: np.ndarray, intercept: np.ndarray, classes: Sequence[str],
                 labels: Sequence[str], independent: bool = False) -> None:
        from sklearn.feature_extraction.text import TfidfVectorizer

        self.settings, self.classes, self.labels = settings, list(classes), list(labels)
        self.independent = independent
        self.vectorizer = TfidfVectorizer(ngram_range=tuple(settings["ngram_range"]),
                                          sublinear_tf=settings["sublinear_tf"],
                                          lowercase=settings["lowercase"])
        self.vectorizer.vocabulary_ = vocabulary
        self.vectorizer.idf_ = idf
        self.coef, self.intercept = coef.astype(np.float32), intercept.astype(np.float32)

    @staticmethod
    def _vectorizer_arrays(vectorizer) -> tuple[dict, dict[str, int], np.ndarray]:
        """A fitted TfidfVectorizer's settings, vocabulary and idf."""
        settings = {"ngram_range": list(vectorizer.ngram_range), "sublinear_tf": vectorizer.sublinear_tf,
                    "lowercase": vectorizer.lowercase}
        vocabulary = {term: int(i) for term, i in vectorizer.vocabulary_.items()}
        return settings, vocabulary, vectorizer.idf_.astype(np.float32)

    @classmethod
    def from_pipeline(cls, pipeline, labels: Sequence[str]) -> StoredBaseline:
        """From fit_baseline's fitted sklearn pipeline."""
        regression = pipeline[-1]
        return cls(*cls._vectorizer_arrays(pipeline[0]),
                   regression.coef_.astype(np.float32), regression.intercept_.astype(np.float32),
                   [str(c) for c in regression.classes_], labels)

    @classmethod
    def from_one_vs_rest(cls, pipeline, labels: Sequence[str]) -> StoredBaseline:
        """From a TF-IDF + OneVsRestClassifier(LogisticRegression) pipeline fitted on a label
        matrix whose columns are `labels`; a label with one value throughout keeps that value."""
        heads = pipeline[-1].estimators_
        settings, vocabulary, idf = cls._vectorizer_arrays(pipeline[0])
        coef = np.zeros((len(heads), len(idf)), dtype=np.float32)
        intercept = np.zeros(len(heads), dtype=np.float32)
        for i, head in enumerate(heads):
            if hasattr(head, "coef_"):
                coef[i], intercept[i] = head.coef_[0], head.intercept_[0]
            else:  # sklearn's constant predictor: the label was always (or never) on in train
                share = float(np.clip(np.ravel(head.predict_proba(np.zeros((1, 1))))[-1],
                                      1e-4, 1 - 1e-4))
                intercept[i] = np.log(share / (1 - share))
        return cls(settings, vocabulary, idf, coef, intercept, labels, labels, independent=True)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """Class probabilities, one column per label (a label the baseline never saw gets 0)."""
        scores = self.vectorizer.transform(list(texts)) @ self.coef.T + self.intercept
        if self.independent:  # one sigmoid per label, columns already in `labels` order
            return (1.0 / (1.0 + np.exp(-scores))).astype(np.float32)
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
        arrays = {k: np.ascontiguousarray(v, dtype=np.float32) for k, v in
                  {"idf": self.vectorizer.idf_, "coef": self.coef, "intercept": self.intercept}.items()}
        if self.independent:  # labels x word n-grams (Reuters: 89 x 314,820) in half the space;
            arrays["coef"] = arrays["coef"].astype(np.float16)  # its test micro-F1 moved 1e-4
        save_file(arrays, str(folder / BLEND_WEIGHTS))
        write_json(folder / BLEND_JSON, {"model_share": share, "chosen": chosen,
                                         "settings": self.settings, "classes": self.classes,
                                         "independent": self.independent,
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
                              arrays["intercept"], info["classes"], labels,
                              bool(info.get("independent", False)))
    return Blend(float(info["model_share"]), baseline)


def attach_blend(model, model_dir: Path):
    """The loaded classifier with the blend its folder stores (or None) as `hackkit_blend`: when
    02 found the TF-IDF baseline's share helps on validation, predictions mix it in."""
    model.hackkit_blend = load_blend(Path(model_dir), [model.config.id2label[i]
                                                       for i in range(len(model.config.id2label))])
    return model


def blended(model, proba: np.ndarray, texts: Sequence[str]) -> np.ndarray:
    """`proba` of these texts mixed as the model's stored blend says (as is without one)."""
    blend = getattr(model, "hackkit_blend", None)
    return blend.mix(proba, texts) if blend is not None else proba


def choose_share(model_proba: np.ndarray, baseline_proba: np.ndarray,
                 score: Callable[[np.ndarray], float]) -> tuple[float, dict[float, float]]:
    """The model's share whose mix scores best on validation by `score(mixed probabilities)`
    (ties: the larger share), and every share's score."""
    scores = {share: round(float(score(share * model_proba + (1.0 - share) * baseline_proba)), 4)
              for share in SHARES}
    best = max(SHARES, key=lambda s: (scores[s], s))
    return best, scores


def chosen_record(share: float, scores: dict[float, float], metric: str) -> dict:
    """What 02 chose, as train_summary's final_model records it."""
    kind = "model" if share == 1.0 else "baseline" if share == 0.0 else "blend"
    return {"kind": kind, "model_share": share, "metric": metric, "validation": scores[share],
            "model_alone": scores[1.0], "baseline_alone": scores[0.0]}
