"""Multi-label text classification: each text carries any number of labels (tags), none included.

Input: a label column whose values join a text's labels with LABEL_SEPARATOR (`billing;refund`;
JSON Lines or Parquet may hold a list), an empty value meaning none of them. The model is a sigmoid
per label on the mean-pooled encoder, started from a one-vs-rest probe on the frozen embeddings;
each label's decision threshold is tuned on validation and saved with the model (model/hackkit.json,
"tuned"), with one shared fallback for labels validation barely sees. The main metric is micro-F1:
every label decision counts the same, so a tag with three test texts cannot swing it (macro-F1,
the mean over labels, is reported beside it).
"""

from __future__ import annotations

import html
import os
from collections import Counter
from collections.abc import Sequence
from itertools import combinations
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field

from hackkit.base import SPLITS, Dataset, TrainParts
from hackkit.models.embeddings import cache_key, cached_embeddings
from hackkit.paths import check_safetensors
from hackkit.runfolder import read_model_info, write_model_info
from hackkit.tables import check_column, read_input, split_values
from hackkit.tasks.blend import StoredBaseline, attach_blend, blended, choose_share, chosen_record
from hackkit.tasks.labels import probability_bars_html
from hackkit.tasks.textinput import TextInput, batched_scores, check_texts

JOIN = ";"  # how the predictions table and label keys join a text's labels
MIN_TRAIN_TEXTS = 5  # fewer training texts than this: a label is reported as too rare to learn
# Fewer validation texts with a label than this: its own tuned threshold would fit noise, so it
# takes the shared fallback (the one threshold that is best for all labels together).
MIN_VALIDATION_POSITIVES = 3
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.05), 2)  # the grid thresholds are tuned on
PROBE_C = 10.0  # the embeddings probe's C, as for one label per text (hackkit.models.embeddings)
OTHER_SEPARATORS = (",", "|", "/", "+")  # what a label column may use instead of LABEL_SEPARATOR


class MultiLabelPrediction(BaseModel):
    """One text's prediction: every label at or above its threshold, and every label's probability."""

    labels: list[str] = Field(description="the labels whose probability reaches their threshold, "
                                          "most probable first (empty: none of them)")
    probabilities: dict[str, float] = Field(description="every label's own probability (a sigmoid "
                                                        "each: they need not sum to 1)")


# --- reading the label column -------------------------------------------------------------
def parse_labels(value, separator: str) -> list[str] | None:
    """A label cell as a list of labels ([] for an empty one), or None when it cannot be read."""
    if isinstance(value, (list, tuple, np.ndarray)):
        items = list(value)
        if not all(isinstance(v, (str, int, np.integer)) and not isinstance(v, bool) for v in items):
            return None
    elif value is None or (isinstance(value, float) and np.isnan(value)):
        items = []
    elif isinstance(value, str):
        items = value.split(separator)
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        items = [value]
    elif isinstance(value, float) and value.is_integer():
        items = [int(value)]
    else:
        return None
    return list(dict.fromkeys(str(v).strip() for v in items if str(v).strip()))


def label_matrix(rows: Sequence[Sequence[str]], labels: Sequence[str]) -> np.ndarray:
    """0/1 matrix (texts x labels); labels outside `labels` are left out."""
    index = {label: i for i, label in enumerate(labels)}
    out = np.zeros((len(rows), len(labels)), dtype=np.float32)
    for r, row in enumerate(rows):
        for label in row:
            if label in index:
                out[r, index[label]] = 1.0
    return out


def split_joined(values: pd.Series) -> list[list[str]]:
    """The predictions table's joined labels as lists."""
    return [[x for x in str(v).split(JOIN) if x] if isinstance(v, str) else [] for v in values]


# --- metrics and thresholds ------------------------------------------------------------------
def _sigmoid(logits: np.ndarray) -> np.ndarray:
    """Element-wise logistic function, stable for large logits."""
    return 0.5 * (1.0 + np.tanh(0.5 * np.asarray(logits, dtype=np.float64)))


def multilabel_metrics(gold: np.ndarray, predicted: np.ndarray, labels: Sequence[str]) -> dict:
    """Micro-, macro- and samples-F1, Hamming loss, exact-set accuracy and per-label scores.

    Macro-F1 averages the labels that occur in the gold rows or the predictions: a label neither
    present nor predicted has no F1 to speak of.
    """
    from sklearn.metrics import (
        accuracy_score,
        f1_score,
        hamming_loss,
        precision_recall_fscore_support,
    )

    gold, predicted = np.asarray(gold, dtype=int), np.asarray(predicted, dtype=int)
    present = [i for i in range(len(labels)) if gold[:, i].any() or predicted[:, i].any()]
    p, r, f, support = precision_recall_fscore_support(gold, predicted, average=None,
                                                       zero_division=0)
    micro = precision_recall_fscore_support(gold, predicted, average="micro", zero_division=0)
    return {
        "micro_f1": float(micro[2]),
        "macro_f1": float(f1_score(gold, predicted, labels=present, average="macro",
                                   zero_division=0)) if present else 0.0,
        "samples_f1": float(f1_score(gold, predicted, average="samples", zero_division=1)),
        "accuracy": float(accuracy_score(gold, predicted)),  # the exact set of labels
        "hamming_loss": float(hamming_loss(gold, predicted)),
        "micro_precision": float(micro[0]), "micro_recall": float(micro[1]),
        "per_class": {label: {"precision": float(p[i]), "recall": float(r[i]),
                              "f1-score": float(f[i]), "support": int(support[i]),
                              "missed": int(((gold[:, i] == 1) & (predicted[:, i] == 0)).sum()),
                              "invented": int(((gold[:, i] == 0) & (predicted[:, i] == 1)).sum())}
                      for i, label in enumerate(labels)},
    }


def _f1_per_threshold(proba: np.ndarray, gold: np.ndarray) -> tuple[np.ndarray, np.ndarray,
                                                                     np.ndarray]:
    """True positives, predicted and actual positives per (threshold of THRESHOLDS, label)."""
    decided = proba[None, :, :] >= THRESHOLDS[:, None, None]
    tp = (decided & (gold[None] == 1)).sum(axis=1)
    return tp, decided.sum(axis=1), np.repeat(gold.sum(axis=0)[None], len(THRESHOLDS), 0)


def tune_thresholds(proba: np.ndarray, gold: np.ndarray, labels: Sequence[str],
                    min_positives: int = MIN_VALIDATION_POSITIVES) -> dict:
    """Per-label decision thresholds that maximise each label's F1 on these (validation) rows.

    A label with fewer than `min_positives` rows here takes the shared fallback: the one threshold
    that maximises micro-F1 over every label. Ties go to the threshold nearest 0.5.
    """
    proba, gold = np.asarray(proba, dtype=np.float64), np.asarray(gold, dtype=int)
    tp, predicted, actual = _f1_per_threshold(proba, gold)
    order = np.argsort(np.abs(THRESHOLDS - 0.5), kind="stable")  # ties: nearest 0.5 first
    micro = 2 * tp.sum(1) / np.maximum(predicted.sum(1) + actual.sum(1), 1)
    fallback = float(THRESHOLDS[order[np.argmax(micro[order])]])
    per_label = 2 * tp / np.maximum(predicted + actual, 1)
    thresholds = {}
    for i, label in enumerate(labels):
        if gold[:, i].sum() >= min_positives:
            thresholds[label] = float(THRESHOLDS[order[np.argmax(per_label[order, i])]])
    return {"thresholds": thresholds, "fallback": fallback, "min_validation_positives": min_positives,
            "grid": [float(THRESHOLDS[0]), float(THRESHOLDS[-1]), 0.05]}


def threshold_vector(tuned: dict, labels: Sequence[str]) -> np.ndarray:
    """Each label's decision threshold (its own, else the fallback, else 0.5)."""
    own, fallback = (tuned or {}).get("thresholds", {}), (tuned or {}).get("fallback", 0.5)
    return np.array([own.get(label, fallback) for label in labels], dtype=np.float64)


def tuned_scores(proba: np.ndarray, gold: np.ndarray, labels: Sequence[str],
                 tuned: dict | None = None) -> dict:
    """multilabel_metrics at thresholds tuned on these rows (or at `tuned`'s)."""
    tuned = tuned if tuned is not None else tune_thresholds(proba, gold, labels)
    return multilabel_metrics(gold, np.asarray(proba) >= threshold_vector(tuned, labels), labels)


def make_compute_metrics(labels: Sequence[str]):
    """Trainer's compute_metrics: micro- and macro-F1 at thresholds tuned on the validation rows,
    which is how the saved model will decide, so checkpoints are compared as they will be used."""
    def compute(eval_pred) -> dict[str, float]:
        logits, gold = eval_pred
        scores = tuned_scores(_sigmoid(logits), np.asarray(gold), labels)
        return {"micro_f1": scores["micro_f1"], "macro_f1": scores["macro_f1"]}

    return compute


# --- baselines and the probe -----------------------------------------------------------------
def _fit_one_label(vectors: np.ndarray, column: np.ndarray, seed: int) -> tuple[np.ndarray, float]:
    """One label's logistic regression on frozen embeddings: (weights, bias)."""
    from sklearn.linear_model import LogisticRegression

    if column.min() == column.max():  # every text or none: nothing to separate
        share = np.clip(column.mean(), 1e-4, 1 - 1e-4)
        return np.zeros(vectors.shape[1], dtype=np.float32), float(np.log(share / (1 - share)))
    model = LogisticRegression(C=PROBE_C, max_iter=1000, random_state=seed).fit(vectors, column)
    return model.coef_[0], float(model.intercept_[0])


def fit_probe(vectors: np.ndarray, gold: np.ndarray, seed: int = 42,
              n_jobs: int = -1) -> tuple[np.ndarray, np.ndarray]:
    """One logistic regression per label on frozen embeddings: (W, b), logits = e @ W.T + b.

    The labels are fitted in worker processes, one per core (n_jobs): on Reuters' 89 labels
    (6,937 texts) 2 s instead of 12 s on a 2-core CPU (benchmarks/RESULTS.md, "Embedding in
    bf16")."""
    from joblib import Parallel, delayed

    fits = Parallel(n_jobs=n_jobs if gold.shape[1] > 8 else 1)(
        delayed(_fit_one_label)(vectors, gold[:, i], seed) for i in range(gold.shape[1]))
    weight = np.stack([w for w, _ in fits]).astype(np.float32).reshape(gold.shape[1], vectors.shape[1])
    bias = np.array([b for _, b in fits], dtype=np.float32)
    return weight, bias


def cached_probe(train: pd.DataFrame, labels: list[str], location: str, max_length: int,
                 cache_dir: Path, device: str = "cpu", seed: int = 42
                 ) -> tuple[np.ndarray, np.ndarray]:
    """fit_probe on the cached training embeddings, stored beside them: the second baseline (02
    and 03) and the warm start fit it once per run folder."""
    from safetensors.numpy import load_file, save_file

    vectors = cached_embeddings(list(train["text"]), location, max_length, cache_dir,
                                name="train", device=device)
    key = cache_key([*train["text"], "\x1f", *map(JOIN.join, train["labels"]), "\x1f", *labels,
                     f"seed={seed}"], location, max_length)
    path = Path(cache_dir) / f"multilabel-probe-{key[:24]}.safetensors"
    if path.is_file():
        try:
            found = load_file(path)
            return found["weight"], found["bias"]
        except (OSError, KeyError):  # evicted by another process meanwhile: fit it again
            pass
    weight, bias = fit_probe(vectors, label_matrix(train["labels"], labels), seed)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file({"weight": weight, "bias": bias}, str(tmp))
    tmp.replace(path)  # atomic: a crash never leaves a half-written probe
    return weight, bias


_LAST_TFIDF: dict[str, Any] = {}  # this process's last fit: 02's baselines cell and the blend share it


def fit_tfidf(texts: Sequence[str], gold: np.ndarray, seed: int = 42):
    """Word 1-2 gram TF-IDF + one logistic regression per label (liblinear: fast on sparse rows),
    the labels fitted one per core; the same texts, labels and seed again in this process (02's
    baselines cell, then its blend) give the same fitted pipeline without fitting (10 s on
    Reuters)."""
    import hashlib

    texts = [str(t) for t in texts]
    digest = hashlib.sha256(f"seed={seed};{gold.shape}".encode())
    for text in texts:
        digest.update(len(text).to_bytes(8, "little") + text.encode("utf-8"))
    digest.update(np.ascontiguousarray(gold, dtype=np.int8).tobytes())
    key = digest.hexdigest()
    if key in _LAST_TFIDF:
        return _LAST_TFIDF[key]
    model = _fit_tfidf(texts, gold, seed)
    _LAST_TFIDF.clear()
    _LAST_TFIDF[key] = model
    return model


def _fit_tfidf(texts: list[str], gold: np.ndarray, seed: int):
    """fit_tfidf's fit."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.multiclass import OneVsRestClassifier
    from sklearn.pipeline import make_pipeline

    vectorizer = TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1)
    features = vectorizer.fit_transform(texts)
    features.sort_indices()  # the worker processes get it read-only: it must not need sorting there
    # dual: the same optimum, about 10 times faster when features outnumber texts (word bigrams
    # of long texts), which is what makes 90 labels take seconds per label, not minutes.
    heads = OneVsRestClassifier(LogisticRegression(C=10.0, solver="liblinear", dual=True,
                                                   max_iter=1000, random_state=seed),
                                n_jobs=-1 if gold.shape[1] > 8 else None)
    return make_pipeline(vectorizer, heads.fit(features, gold.astype(int)))


# --- the split ---------------------------------------------------------------------------------
def _take(frame: pd.DataFrame, size: float | int, labels: list[str], seed: int
          ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(rest, taken): `size` rows (a fraction, or a count), stratified over every label
    (iterative stratification)."""
    from iterstrat.ml_stratifiers import MultilabelStratifiedShuffleSplit

    gold = label_matrix(frame["labels"], labels)
    # Texts without labels are a "label" of their own, so they spread over the splits too.
    gold = np.hstack([gold, (gold.sum(axis=1) == 0)[:, None].astype(np.float32)])
    splitter = MultilabelStratifiedShuffleSplit(n_splits=1, test_size=size, random_state=seed)
    rest, taken = next(splitter.split(np.zeros(len(frame)), gold))
    return frame.iloc[np.sort(rest)], frame.iloc[np.sort(taken)]


def _keep_in_train(parts: dict[str, pd.DataFrame], movable: tuple[str, ...]) -> dict:
    """Move one row of each label that training lacks from a carved split into train."""
    for name in movable:
        have = {x for row in parts["train"]["labels"] for x in row}
        frame = parts[name]
        rows = [i for i, row in zip(frame.index, frame["labels"]) if set(row) - have]
        chosen, covered = [], set()
        for i in rows:
            new = set(frame.loc[i, "labels"]) - have - covered
            if new:
                chosen.append(i)
                covered |= new
        if chosen:
            parts["train"] = pd.concat([parts["train"], frame.loc[chosen]])
            parts[name] = frame.drop(index=chosen)
    return parts


class MultiLabelClassification(TextInput):
    """Any number of labels per text: a sigmoid per label, tuned thresholds, micro-F1."""

    name = "multi-label-classification"
    main_metric = "micro_f1"
    metric_names = {"micro_f1": "micro-F1", "macro_f1": "macro-F1", "samples_f1": "samples-F1",
                    "accuracy": "exact-set accuracy", "hamming_loss": "Hamming loss (lower is better)"}
    split_suffix = ".jsonl"
    unit = "texts"
    architecture_suffix = "ForSequenceClassification"
    baseline_name = "baseline (TF-IDF + one logistic regression per label)"
    embeddings_baseline_name = "embeddings + one logistic regression per label"
    unseen_labels_block = False  # a label only in test cannot be predicted; it is scored as missed
    data_hint = ("a CSV, TSV, JSON Lines or Parquet table with a text column and a label column "
                 "holding several labels joined by LABEL_SEPARATOR")
    file_suffixes = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
    onnx_export = True
    tunes_on_validation = True
    result_model = MultiLabelPrediction

    # --- data (01, doctor) -------------------------------------------------------------
    def load(self, data) -> Dataset:
        """A table of texts and their labels (TEXT_COLUMN, LABEL_COLUMN split on LABEL_SEPARATOR)."""
        raw, warnings, path, split_column = read_input(data.data_path, data.split_column)
        check_column(raw, data.text_column, "TEXT_COLUMN", path)
        label_column = data.label_column
        if label_column == "label" and "label" not in raw and "labels" in raw:
            label_column = "labels"  # LABEL_COLUMN at its default: the plural name a list takes
        check_column(raw, label_column, "LABEL_COLUMN", path)
        if split_column:
            check_column(raw, split_column, "SPLIT_COLUMN", path)
        separator = data.label_separator
        labels = raw[label_column].map(lambda v: parse_labels(v, separator))
        bad = labels[labels.isna()]
        if len(bad):
            first = raw.loc[bad.index[0], label_column]
            raise ValueError(
                f"LABEL_COLUMN={label_column!r}: {len(bad)} values in {path.name} are not "
                f"labels, e.g. row {int(bad.index[0])} holds {first!r} "
                f"({type(first).__name__}). Give each text's labels as text joined by "
                f"LABEL_SEPARATOR ({separator!r}), e.g. 'billing{separator}refund', or in JSON "
                "Lines as a list of strings; leave the value empty for a text with none.")
        frame = pd.DataFrame({
            "text": raw[data.text_column].map(lambda v: "" if pd.isna(v) else str(v).strip()),
            "labels": labels})
        if (frame["text"] == "").all():
            raise ValueError(f"TEXT_COLUMN={data.text_column!r}: every text in {path.name} is "
                             "empty or missing. Check that TEXT_COLUMN names the column with the texts.")
        found = Counter(x for row in frame["labels"] for x in row)
        if not found:
            raise ValueError(f"LABEL_COLUMN={label_column!r}: every label value in "
                             f"{path.name} is empty, so there is nothing to learn. Check that "
                             "LABEL_COLUMN names the column with the labels.")
        if len(found) < 2:
            raise ValueError(f"LABEL_COLUMN={label_column!r}: {path.name} has a single label "
                             f"{list(found)}; multi-label classification needs at least two. "
                             f"Check LABEL_SEPARATOR ({separator!r}) and LABEL_COLUMN.")
        if split_column:
            frame["split"] = split_values(raw, split_column, path)
        dropped = {}
        empty = frame["text"] == ""
        if empty.any():
            dropped["empty_text"] = int(empty.sum())
            warnings = [*warnings, f"{int(empty.sum())} rows with empty text were dropped."]
        frame = frame[~empty].reset_index(drop=True)
        return Dataset(frame=frame, path=path, warnings=list(warnings), dropped=dropped,
                       info={"label_separator": separator})

    def split(self, frame, test_size, val_size, seed):
        """The split column's, else iterative stratification over every label; each label a
        training row wherever the data allows."""
        labels = sorted({x for row in frame["labels"] for x in row})
        given = frame["split"] if "split" in frame else pd.Series("train", index=frame.index)
        rest = frame[given == "train"].drop(columns="split", errors="ignore")
        parts = {s: frame[given == s].drop(columns="split") for s in SPLITS[1:] if (given == s).any()}
        carved = tuple(s for s in ("test", "validation") if s not in parts)
        for name, value, fraction in (("TEST_SIZE", test_size, test_size),
                                      ("VAL_SIZE", val_size,
                                       val_size / (1 - test_size) if "test" in carved else val_size)):
            split = "test" if name == "TEST_SIZE" else "validation"
            if split not in carved:
                continue
            n_out = int(np.ceil(fraction * len(rest)))
            if n_out < 1 or len(rest) - n_out < 2:
                raise ValueError(f"{name}={value}: {len(rest)} training rows cannot be split into "
                                 f"{n_out} {split} rows and the rest. Adjust {name} or add data.")
            rest, parts[split] = _take(rest, fraction, labels, seed)
        if rest.empty:
            raise ValueError("SPLIT_COLUMN: no rows are marked 'train'. Mark training rows 'train'.")
        parts["train"] = rest
        parts = _keep_in_train(parts, carved)
        return {s: parts[s].reset_index(drop=True) for s in SPLITS}

    def labels(self, splits):
        """The labels of the training texts, sorted."""
        return sorted({x for row in splits["train"]["labels"] for x in row})

    def label_counts(self, frame):
        """Texts per label."""
        counts = Counter(x for row in frame["labels"] for x in row)
        return pd.Series(counts, dtype=int).sort_values(ascending=False, kind="stable")

    def label_key(self, frame):
        """The sorted labels joined, so duplicates that disagree are label conflicts."""
        return frame["labels"].map(lambda row: JOIN.join(sorted(row)))

    def subsample(self, frame, n, seed):
        """n training rows, stratified over every label."""
        if n <= 0 or n >= len(frame):
            return frame
        labels = sorted({x for row in frame["labels"] for x in row})
        taken = _take(frame, int(n), labels, seed)[1]
        # Iterative stratification may take a few rows more than asked: drop those at random.
        return taken.sample(n=min(n, len(taken)), random_state=seed).sort_index().reset_index(drop=True)

    def write_split(self, frame, path):
        """JSON Lines: text and its list of labels."""
        frame.to_json(path, orient="records", lines=True, force_ascii=False)

    def read_split(self, path):
        """A split written by write_split."""
        if Path(path).stat().st_size == 0:
            return pd.DataFrame({"text": pd.Series(dtype=str), "labels": pd.Series(dtype=object)})
        frame = pd.read_json(path, orient="records", lines=True, dtype=False)
        frame["labels"] = frame["labels"].map(list)
        frame["text"] = frame["text"].astype(str)
        return frame

    def describe(self, frame):
        """Labels per text, texts without a label, and the label pairs that occur together most."""
        per_text = frame["labels"].map(len)
        pairs = Counter(p for row in frame["labels"] for p in combinations(sorted(row), 2))
        return {"labels_per_text": {"min": int(per_text.min()), "mean": round(float(per_text.mean()), 3),
                                    "max": int(per_text.max())},
                "texts_without_labels": int((per_text == 0).sum()),
                "co_occurring_labels": {f"{a} + {b}": n for (a, b), n in pairs.most_common(10)}}

    def extra_checks(self, dataset, splits, near):
        """Near repeats, a separator that looks wrong, labels too rare to learn or missing from
        validation or test, and labels that always come together."""
        found = super().extra_checks(dataset, splits, near)
        frame, separator = dataset.frame, dataset.info.get("label_separator", ";")
        single = frame["labels"].map(len) == 1
        for other in OTHER_SEPARATORS:
            holding = frame["labels"].map(lambda row, o=other: len(row) == 1 and o in row[0])
            if frame["labels"].map(len).max() <= 1 and holding.sum() >= 0.5 * max(single.sum(), 1):
                example = frame.loc[holding.idxmax(), "labels"][0]
                found.append(("warning", "separator", f"LABEL_SEPARATOR={separator!r}: no text has "
                              f"two labels, and {int(holding.sum())} label values contain {other!r} "
                              f"(e.g. {example!r}), read as one label each. If {other!r} separates "
                              f"labels, set LABEL_SEPARATOR={other!r}."))
                break
        train = self.label_counts(splits["train"])
        rare = train[train < MIN_TRAIN_TEXTS]
        if len(rare):
            listed = ", ".join(f"{k!r} ({v})" for k, v in rare.head(8).items())
            found.append(("warning", "rare-labels", f"{len(rare)} of {len(train)} labels have fewer "
                          f"than {MIN_TRAIN_TEXTS} training texts ({listed}{', ...' if len(rare) > 8 else ''}): "
                          "too few to learn well. Label more texts with them, or merge them into a "
                          "related label."))
        validation = self.label_counts(splits["validation"])
        thin = [label for label in train.index if validation.get(label, 0) < MIN_VALIDATION_POSITIVES]
        if thin:
            found.append(("warning", "thin-validation", f"{len(thin)} of {len(train)} labels have "
                          f"fewer than {MIN_VALIDATION_POSITIVES} validation texts (e.g. "
                          f"{', '.join(map(repr, thin[:5]))}): their decision thresholds fall back "
                          "to the one shared threshold, and validation scores say little about them."))
        missing_test = [label for label in train.index if label not in self.label_counts(splits["test"])]
        if missing_test:
            found.append(("warning", "untested-labels", f"{len(missing_test)} labels have no test "
                          f"text (e.g. {', '.join(map(repr, missing_test[:5]))}), so the test scores "
                          "say nothing about them."))
        pairs = Counter(p for row in frame["labels"] for p in combinations(sorted(row), 2))
        counts = Counter(x for row in frame["labels"] for x in row)
        always = [(a, b) for (a, b), n in pairs.items() if n == counts[a] == counts[b] and n >= 3]
        if always:
            found.append(("warning", "co-occurring-labels", f"{len(always)} label pairs always come "
                          f"together (e.g. {always[0][0]!r} and {always[0][1]!r}, {pairs[always[0]]} "
                          "texts): the model cannot tell them apart. Merge them, or label texts "
                          "that have one without the other."))
        return found

    def plot_examples(self, splits):
        """How often the most frequent labels occur together (training texts)."""
        import matplotlib.pyplot as plt

        counts = self.label_counts(splits["train"])
        top = list(counts.index[:20])
        gold = label_matrix(splits["train"]["labels"], top)
        together = gold.T @ gold
        fig, ax = plt.subplots(figsize=(2 + 0.4 * len(top), 1.5 + 0.4 * len(top)))
        ax.imshow(together, cmap="Blues")
        ax.set_xticks(range(len(top)), top, rotation=60, ha="right")
        ax.set_yticks(range(len(top)), top)
        if len(top) <= 12:
            for (i, j), n in np.ndenumerate(together):
                ax.text(j, i, int(n), ha="center", va="center", fontsize=8)
        ax.set_title("Training texts per pair of labels (diagonal: per label)")
        fig.tight_layout()
        return fig

    # --- training (02) -----------------------------------------------------------------
    def load_processor(self, location):
        """The model's tokenizer."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(location, trust_remote_code=False)

    def new_model(self, location, labels):
        """The base model with a new head of one sigmoid per label (HEAD_INIT new)."""
        from transformers import AutoModelForSequenceClassification

        import hackkit.models.meanpool  # noqa: F401  a fine-tuned run's model/ may be this class

        return AutoModelForSequenceClassification.from_pretrained(
            location, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            problem_type="multi_label_classification", use_safetensors=True,
            trust_remote_code=False)

    def encode(self, frame: pd.DataFrame, tokenizer, labels: list[str], max_length: int):
        """A datasets.Dataset of token ids and 0/1 label rows; padding is left to the collator."""
        from datasets import Dataset as HFDataset

        ds = HFDataset.from_dict({"text": list(frame["text"]),
                                  "labels": label_matrix(frame["labels"], labels).tolist()})
        return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                      batched=True, remove_columns=["text"], desc="Tokenizing")

    def train_parts(self, train, validation, labels, location, max_length):
        """Tokenized texts, 0/1 label rows, dynamic padding, micro-F1 at tuned thresholds."""
        from transformers import DataCollatorWithPadding

        tokenizer = self.load_processor(location)
        return TrainParts(
            model=self.new_model(location, labels), processor=tokenizer,
            train_ds=self.encode(train, tokenizer, labels, max_length),
            val_ds=self.encode(validation, tokenizer, labels, max_length),
            collator=DataCollatorWithPadding(tokenizer),
            compute_metrics=make_compute_metrics(labels))

    def warm_start(self, parts, train, validation, labels, location, max_length, cache_dir,
                   device="cpu", seed=42):
        """Mean pooling + a head that starts as one logistic regression per label on the frozen
        embeddings (the second baseline), as single-label text starts from its probe."""
        import dataclasses

        from hackkit.models.meanpool import build

        weight, bias = cached_probe(train, labels, location, max_length, cache_dir, device, seed)
        model = build(location, labels, weight, bias, problem_type="multi_label_classification")
        val_vectors = cached_embeddings(list(validation["text"]), location, max_length, cache_dir,
                                        name="validation", device=device)
        proba = _sigmoid(val_vectors @ weight.T + bias)
        gold = label_matrix(validation["labels"], labels)
        scores = tuned_scores(proba, gold, labels)
        clipped = np.clip(proba, 1e-7, 1 - 1e-7)
        loss = float(-np.mean(gold * np.log(clipped) + (1 - gold) * np.log(1 - clipped)))
        return dataclasses.replace(
            parts, model=model, warm_start=True,
            start_scores={"eval_loss": loss, "eval_micro_f1": scores["micro_f1"],
                          "eval_macro_f1": scores["macro_f1"]},
            extra={**parts.extra, "head_init": "one logistic regression per label on mean-pooled "
                                               "embeddings"})

    def tune(self, logits, gold, labels):
        """Per-label decision thresholds on validation (MIN_VALIDATION_POSITIVES or the fallback)."""
        return tune_thresholds(_sigmoid(logits), np.asarray(gold), labels)

    def probabilities(self, outputs):
        """Each label's own probability: a sigmoid of its logit."""
        return _sigmoid(np.asarray(outputs[0] if isinstance(outputs, tuple) else outputs))

    def keep_the_better(self, model_dir, validation_proba, splits, labels, seed=42):
        """The model, the TF-IDF baseline, or a mix of their label probabilities: whichever scores
        best on validation (micro-F1, each mix at thresholds tuned for it; ties keep the larger
        share of the model). A mix is stored in model/ (baseline_blend.*) with its thresholds in
        hackkit.json, so every prediction applies it. On Reuters the probe and TF-IDF mixed half
        and half scored above both on test (benchmarks/RESULTS.md, "Multi-label")."""
        import dataclasses

        validation = splits["validation"]
        gold = label_matrix(validation["labels"], labels)
        stored = StoredBaseline.from_one_vs_rest(
            fit_tfidf(splits["train"]["text"], label_matrix(splits["train"]["labels"], labels),
                      seed), labels)

        def score(proba):
            return tuned_scores(proba, gold, labels)[self.main_metric]

        model_proba = validation_proba()
        baseline_proba = stored.predict_proba(validation["text"])
        share, scores = choose_share(model_proba, baseline_proba, score)
        chosen = chosen_record(share, scores, self.main_metric)
        if share < 1.0:
            mixed = share * model_proba + (1.0 - share) * baseline_proba
            info = read_model_info(model_dir)
            write_model_info(Path(model_dir), dataclasses.replace(
                info, tuned=tune_thresholds(mixed, gold, labels)))  # the mix's own thresholds
            stored.save(Path(model_dir), share, chosen)
        return {**chosen, "validation_by_share": {str(k): v for k, v in scores.items()}}

    # --- prediction (03, 04, serve, export) --------------------------------------------
    def load_trained(self, model_dir: Path):
        """Tokenizer and sequence classifier (one sigmoid per label) of a saved folder."""
        from transformers import AutoModelForSequenceClassification

        import hackkit.models.meanpool  # noqa: F401  registers the probe-started model class

        check_safetensors(model_dir, str(model_dir))
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, use_safetensors=True, trust_remote_code=False)
        return self.load_processor(str(model_dir)), attach_blend(model, model_dir)

    def check_inputs(self, inputs):
        """Texts as a list of strings."""
        return check_texts(inputs)

    def predict_proba(self, predictor, inputs):
        """Each label's own probability (a sigmoid of its logit; mixed with the TF-IDF baseline's
        where 02 chose a mix) per text, in batches."""
        texts = self.check_inputs(inputs)
        proba = batched_scores(predictor, texts, lambda batch: _sigmoid(predictor.outputs(batch)),
                               len(predictor.labels))
        return blended(predictor.model, proba, texts)

    def decisions(self, logits, info):
        """Which labels are on: each label's probability against its tuned threshold."""
        return _sigmoid(logits) >= threshold_vector(info.tuned, info.labels)

    def predict(self, predictor, inputs):
        """The labels at or above their thresholds, and every label's probability."""
        proba = self.predict_proba(predictor, inputs)
        thresholds = threshold_vector(predictor.info.tuned, predictor.labels)
        results = []
        for row in proba:
            on = [i for i in np.argsort(-row, kind="stable") if row[i] >= thresholds[i]]
            results.append({"labels": [predictor.labels[i] for i in on],
                            "probabilities": {label: float(p) for label, p in
                                              zip(predictor.labels, row)}})
        return results

    def predictions_table(self, frame, results):
        """Per text: gold and predicted labels, those missed and invented, and how wrong."""
        rows = []
        for text, gold, result in zip(frame["text"], frame["labels"], results):
            predicted, proba = result["labels"], result["probabilities"]
            missed = [x for x in gold if x not in predicted]
            invented = [x for x in predicted if x not in gold]
            rows.append({"text": text, "labels": JOIN.join(gold), "predicted": JOIN.join(predicted),
                         "missed": JOIN.join(missed), "invented": JOIN.join(invented),
                         "errors": len(missed) + len(invented),
                         # how sure it was of its wrong decisions: missed labels' 1 - p, invented p
                         "wrongness": round(sum(1 - proba.get(x, 0.0) for x in missed)
                                            + sum(proba[x] for x in invented), 4),
                         "correct": not missed and not invented})
        return pd.DataFrame(rows, columns=["text", "labels", "predicted", "missed", "invented",
                                           "errors", "wrongness", "correct"])

    def result_columns(self, results, labels):
        """predicted (labels joined by ';') and one p_<label> column per label."""
        columns = {"predicted": [JOIN.join(r["labels"]) for r in results]}
        for label in labels:
            columns[f"p_{label}"] = [round(r["probabilities"][label], 4) for r in results]
        return columns

    def result_html(self, result, item):
        """The labels on, and every label's probability as a bar."""
        chosen = ", ".join(f'<b class="hackkit-demo-label">{html.escape(x)}</b>'
                           for x in result["labels"]) or "none of the labels reaches its threshold"
        return (f'<div style="font-size:130%;margin:6px 0">Labels: {chosen}</div>'
                + probability_bars_html(result["probabilities"]))

    # --- evaluation (02, 03) -------------------------------------------------------------
    def _scored_labels(self, labels: list[str], rows) -> list[str]:
        """The model's labels, then any gold label it never trained on (always missed)."""
        extra = sorted({x for row in rows for x in row} - set(labels))
        return list(labels) + extra

    def baseline_scores(self, splits, labels, split, seed=42):
        """TF-IDF + one logistic regression per label, thresholds tuned on validation."""
        model = fit_tfidf(splits["train"]["text"], label_matrix(splits["train"]["labels"], labels),
                          seed)
        return self._thresholded(lambda name: model.predict_proba(list(splits[name]["text"])),
                                 splits, labels, split)

    def _thresholded(self, proba_of, splits, labels, split) -> dict:
        """Scores on `split` of label probabilities (proba_of(split name)) decided at thresholds
        tuned on validation."""
        val = splits["validation"]
        tuned = tune_thresholds(proba_of("validation"), label_matrix(val["labels"], labels), labels)
        target = splits[split]
        decided = proba_of(split) >= threshold_vector(tuned, labels)
        scored = self._scored_labels(labels, target["labels"])
        decided = np.hstack([decided, np.zeros((len(target), len(scored) - len(labels)), bool)])
        return multilabel_metrics(label_matrix(target["labels"], scored), decided, scored)

    def extra_baselines(self, splits, labels, split, model_location, max_length, cache_dir,
                        seed=42):
        """Frozen mean-pooled embeddings + one logistic regression per label, tuned thresholds."""
        weight, bias = cached_probe(splits["train"], labels, model_location, max_length,
                                    cache_dir, seed=seed)

        def proba_of(name):
            vectors = cached_embeddings(list(splits[name]["text"]), model_location, max_length,
                                        cache_dir, name=name)
            return _sigmoid(vectors @ weight.T + bias)

        return {self.embeddings_baseline_name: self._thresholded(proba_of, splits, labels, split)}

    def score(self, predictions, labels):
        """Micro-, macro- and samples-F1, Hamming loss, exact-set accuracy, per-label scores."""
        gold, predicted = split_joined(predictions["labels"]), split_joined(predictions["predicted"])
        scored = self._scored_labels(labels, gold)
        return multilabel_metrics(label_matrix(gold, scored), label_matrix(predicted, scored), scored)

    def confusion_figure(self, predictions, labels):
        """The labels most often missed and most often invented on the test split."""
        import matplotlib.pyplot as plt

        missed = Counter(x for row in split_joined(predictions["missed"]) for x in row)
        invented = Counter(x for row in split_joined(predictions["invented"]) for x in row)
        worst = sorted(set(missed) | set(invented), key=lambda x: -(missed[x] + invented[x]))[:25]
        fig, ax = plt.subplots(figsize=(7, 1.2 + 0.3 * max(len(worst), 1)))
        if not worst:
            ax.text(0.5, 0.5, "no label missed or invented on the test split", ha="center")
            ax.set(xticks=[], yticks=[])
        else:
            y = np.arange(len(worst))
            ax.barh(y - 0.2, [missed[x] for x in worst], 0.4, label="missed (gold, not predicted)")
            ax.barh(y + 0.2, [invented[x] for x in worst], 0.4, label="invented (predicted, not gold)")
            ax.set_yticks(y, worst)
            ax.invert_yaxis()
            ax.legend()
            ax.set_xlabel("test texts")
        ax.set_title("Labels most often missed or invented (test split)")
        fig.tight_layout()
        return fig

    def worst_errors(self, predictions, k=10):
        """The texts whose labels it got most wrong, and most surely."""
        wrong = predictions[~predictions["correct"].astype(bool)]
        return wrong.sort_values(["wrongness", "errors"], ascending=False).head(k).reset_index(drop=True)
