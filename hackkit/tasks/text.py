"""Text classification: one label per text (intents, topics, sentiment, spam, ...)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.base import Dataset, TrainParts
from hackkit.models.embeddings import cached_embeddings, cached_probe
from hackkit.paths import check_safetensors
from hackkit.tables import load_labelled_table
from hackkit.tasks.blend import StoredBaseline, attach_blend, blended, choose_share, chosen_record
from hackkit.tasks.labels import LabelTask, classification_metrics, compute_metrics
from hackkit.tasks.textinput import TextInput, batched_scores, check_texts


def fit_baseline(texts: Sequence[str], labels: Sequence[str], seed: int = 42):
    """Fit word 1-2 gram TF-IDF + logistic regression on the training texts (seconds)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    # solver="sag" (the rows are L2-normalised, as it needs): with many classes and features it
    # fits several times faster than the default lbfgs, which also stopped short of the optimum
    # there; on small sets the two agree (benchmarks/RESULTS.md, "TF-IDF solver").
    model = make_pipeline(
        TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1),
        LogisticRegression(max_iter=2000, C=10.0, solver="sag", random_state=seed),
    )
    return model.fit(list(texts), list(labels))


def tokenized(frame: pd.DataFrame, tokenizer, labels: list[str], max_length: int):
    """A datasets.Dataset of token ids and label ids; padding is left to the collator."""
    from datasets import Dataset as HFDataset

    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted(set(frame["label"]) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the training labels {labels}")
    ds = HFDataset.from_dict({"text": list(frame["text"]),
                              "label": [index[x] for x in frame["label"]]})
    return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                  batched=True, remove_columns=["text"], desc="Tokenizing")


class TextClassification(TextInput, LabelTask):
    """One label per text: TF-IDF baseline, a sequence-classification head, macro-F1."""

    name = "text-classification"
    split_suffix = ".csv"
    unit = "texts"
    baseline_name = "baseline (TF-IDF + logistic regression)"
    data_hint = "a CSV, TSV, JSON Lines or Parquet table with a text and a label column"
    file_suffixes = (".csv", ".tsv", ".jsonl", ".json", ".parquet")
    onnx_export = True
    embedding_methods = True
    accepts_feedback = True
    embeddings_baseline_name = "embeddings + logistic regression"
    distillable = True

    def load(self, data) -> Dataset:
        """A table of texts and labels (TEXT_COLUMN, LABEL_COLUMN, optional SPLIT_COLUMN)."""
        return load_labelled_table(data.data_path, data.text_column, data.label_column,
                                   data.split_column)

    def describe(self, frame):
        """Words per text."""
        words = frame["text"].str.split().str.len()
        return {"words_per_text": {"min": int(words.min()), "median": float(words.median()),
                                   "max": int(words.max())}}

    def load_processor(self, location):
        """The model's tokenizer."""
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(location, trust_remote_code=False)

    def new_model(self, location, labels):
        """The base model with a new sequence-classification head."""
        from transformers import AutoModelForSequenceClassification

        # Deferred on purpose here and below: the model classes import torch, and get_task must not.
        import hackkit.models.meanpool  # noqa: F401  a fine-tuned run's model/ may be this class

        return AutoModelForSequenceClassification.from_pretrained(
            location, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            use_safetensors=True, trust_remote_code=False)

    def train_parts(self, train, validation, labels, location, max_length):
        """Tokenized texts, dynamic padding, macro-F1."""
        from transformers import DataCollatorWithPadding

        tokenizer = self.load_processor(location)
        return TrainParts(
            model=self.new_model(location, labels), processor=tokenizer,
            train_ds=tokenized(train, tokenizer, labels, max_length),
            val_ds=tokenized(validation, tokenizer, labels, max_length),
            collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics)

    def warm_start(self, parts, train, validation, labels, location, max_length, cache_dir,
                   device="cpu", seed=42):
        """Mean pooling + a head that starts as logistic regression on the frozen embeddings.

        A fresh head on the [CLS] token needs hundreds of steps per class before it predicts
        anything (benchmarks/RESULTS.md, "The probe start"); the probe already scores like the
        embeddings baseline, so every step of the budget refines a model that works.
        """
        import dataclasses

        from hackkit.models.meanpool import build

        # The second baseline's probe (C chosen on validation), fitted once per run folder.
        probe, vectors = cached_probe(train["text"], train["label"], validation["text"],
                                      validation["label"], location, max_length, cache_dir,
                                      device, seed)
        if probe.labels != list(labels):
            raise ValueError(f"the training rows have labels {probe.labels}, the run {labels}: "
                             "every label needs training rows (MAX_TRAIN_EXAMPLES=0 keeps all).")
        weight, bias = probe.head_weights()
        model = build(location, labels, weight, bias)
        train_accuracy = float(np.mean(np.asarray(probe.predict(vectors)) == train["label"].to_numpy()))
        # The model before its first step is the probe (same embeddings, same head), so the probe's
        # validation scores are its step-0 evaluation, from the cached embeddings in milliseconds
        # instead of a pass over the validation texts, which a short budget would pay for
        # (benchmarks/RESULTS.md, "The probe start").
        val_vectors = cached_embeddings(list(validation["text"]), location, max_length, cache_dir,
                                        name="validation", device=device)
        probabilities = np.maximum(probe.predict_proba(val_vectors), 1e-30)
        index = {label: i for i, label in enumerate(labels)}
        gold = np.asarray([index[label] for label in validation["label"]])
        start = compute_metrics((np.log(probabilities), gold))
        start["loss"] = float(-np.mean(np.log(probabilities[np.arange(len(gold)), gold])))
        return dataclasses.replace(
            parts, model=model, warm_start=True,
            start_scores={f"eval_{k}": v for k, v in start.items()},
            extra={**parts.extra, "head_init": "linear probe on mean-pooled embeddings",
                   "probe_train_accuracy": round(train_accuracy, 4)})

    def load_trained(self, model_dir: Path):
        """Tokenizer and sequence classifier of a saved folder."""
        from transformers import AutoModelForSequenceClassification

        import hackkit.models.meanpool  # noqa: F401  registers the embeddings / zero-shot model class
        import hackkit.models.lmscorer  # noqa: F401  registers the lm-classifier model class

        check_safetensors(model_dir, str(model_dir))
        model = AutoModelForSequenceClassification.from_pretrained(
            model_dir, use_safetensors=True, trust_remote_code=False)
        return self.load_processor(str(model_dir)), attach_blend(model, model_dir)

    def check_inputs(self, inputs):
        """Texts as a list of strings."""
        return check_texts(inputs)

    def predict_proba(self, predictor, inputs):
        """Class probabilities in length-sorted batches (little padding), original order kept."""
        texts = self.check_inputs(inputs)
        proba = batched_scores(predictor, texts, predictor.probabilities, len(predictor.labels))
        return blended(predictor.model, proba, texts)

    def keep_the_better(self, model_dir, validation_proba, splits, labels, seed=42):
        """The model, the TF-IDF baseline, or a mix of their probabilities: whichever scores best
        on validation (macro-F1; ties keep the larger share of the model). The mix is stored in
        model/ (baseline_blend.*) so every prediction applies it."""
        baseline = fit_baseline(splits["train"]["text"], splits["train"]["label"], seed)
        stored = StoredBaseline.from_pipeline(baseline, labels)
        validation = splits["validation"]

        def score(proba):
            predicted = [labels[i] for i in proba.argmax(axis=1)]
            return classification_metrics(list(validation["label"]), predicted, labels)[
                self.main_metric]

        share, scores = choose_share(validation_proba(), stored.predict_proba(validation["text"]),
                                     score)
        chosen = chosen_record(share, scores, self.main_metric)
        if share < 1.0:
            stored.save(Path(model_dir), share, chosen)
        return {**chosen, "validation_by_share": {str(k): v for k, v in scores.items()}}

    def baseline_scores(self, splits, labels, split, seed=42):
        """TF-IDF + logistic regression fitted on train, scored on `split`."""
        model = fit_baseline(splits["train"]["text"], splits["train"]["label"], seed)
        target = splits[split]
        return classification_metrics(target["label"], model.predict(target["text"]), labels)

    def extra_baselines(self, splits, labels, split, model_location, max_length, cache_dir,
                        seed=42):
        """Frozen mean-pooled embeddings + class-balanced logistic regression (the embeddings method)."""
        probe, _ = cached_probe(splits["train"]["text"], splits["train"]["label"],
                                splits["validation"]["text"], splits["validation"]["label"],
                                model_location, max_length, cache_dir, seed=seed)
        target = cached_embeddings(list(splits[split]["text"]), model_location, max_length,
                                   cache_dir, name=split)
        return {self.embeddings_baseline_name:
                classification_metrics(splits[split]["label"], probe.predict(target), labels)}
