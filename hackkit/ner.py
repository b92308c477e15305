"""Token classification (NER): sub-word alignment, tag baseline, entity metrics and predictions."""

from __future__ import annotations

import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities
from tqdm.auto import tqdm

from hackkit.conll import entity_types
from hackkit.device import resolve_device

IGNORE = -100  # label id the loss skips (transformers' convention)
# Words for raw text: runs of word characters joined by - . / : @ ' (order ids, dates, e-mails
# stay whole), a leading # kept on; any other punctuation is a word of its own.
WORD = re.compile(r"#?\w+(?:[-./:@']\w+)*|[^\w\s]")


def align_labels(word_ids: Sequence[int | None], word_labels: Sequence[int]) -> list[int]:
    """Label ids per sub-token: the word's label on its first sub-token, IGNORE elsewhere."""
    out, previous = [], None
    for word in word_ids:
        out.append(IGNORE if word is None or word == previous else word_labels[word])
        previous = word
    return out


def _check_fast(tokenizer) -> None:
    """Alignment needs word_ids(), which only fast (Rust) tokenizers give."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"MODEL: the tokenizer {type(tokenizer).__name__} is not a fast tokenizer, so words "
            "cannot be mapped to sub-tokens. Pick a model with a tokenizer.json (most hub models)."
        )


def encode_sentences(tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], tokenizer,
                     labels: Sequence[str], max_length: int):
    """A datasets.Dataset of aligned token and label ids, and how many sentences were truncated."""
    from datasets import Dataset

    _check_fast(tokenizer)
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted({t for sentence in tags for t in sentence} - set(index))
    if unknown:
        raise ValueError(f"tags {unknown} are not in the label list {list(labels)}")
    words = [list(s) for s in tokens]
    full = tokenizer(words, is_split_into_words=True, truncation=False)["input_ids"]
    truncated = sum(len(ids) > max_length for ids in full)
    if truncated:
        warnings.warn(
            f"{truncated} of {len(words)} sentences are longer than MAX_LENGTH={max_length} "
            "sub-word tokens and were truncated: their last words are neither trained on nor "
            "predicted. Raise MAX_LENGTH to keep them.", stacklevel=2,
        )
    encoded = tokenizer(words, is_split_into_words=True, truncation=True, max_length=max_length)
    columns = {k: encoded[k] for k in encoded.keys()}
    columns["labels"] = [align_labels(encoded.word_ids(i), [index[t] for t in sentence])
                         for i, sentence in enumerate(tags)]
    return Dataset.from_dict(columns), truncated


def token_parts(train_frame: pd.DataFrame, val_frame: pd.DataFrame, tokenizer, labels: list[str],
                location: str, max_length: int):
    """Trainer pieces for NER: token-classification head, aligned data, its collator, entity F1."""
    from transformers import DataCollatorForTokenClassification

    from hackkit.models import load_for_classification
    from hackkit.train import TaskParts

    train_ds, truncated = encode_sentences(train_frame["tokens"], train_frame["tags"], tokenizer,
                                           labels, max_length)
    val_ds, val_truncated = encode_sentences(val_frame["tokens"], val_frame["tags"], tokenizer,
                                             labels, max_length)
    return TaskParts(
        model=load_for_classification(location, labels, task="token-classification"),
        train_ds=train_ds, val_ds=val_ds,
        collator=DataCollatorForTokenClassification(tokenizer),
        compute_metrics=compute_metrics_for(labels), metric="entity_f1",
        extra={"truncated_sentences": {"train": truncated, "validation": val_truncated}},
    )


class TagBaseline:
    """Most frequent training tag per lower-cased word; unseen words get 'O'."""

    def __init__(self, tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]]) -> None:
        counts: dict[str, Counter] = defaultdict(Counter)
        for words, word_tags in zip(tokens, tags):
            for word, tag in zip(words, word_tags):
                counts[word.lower()][tag] += 1
        self.table = {word: c.most_common(1)[0][0] for word, c in counts.items()}

    def predict(self, tokens: Sequence[Sequence[str]]) -> list[list[str]]:
        """Tags for each sentence."""
        return [[self.table.get(w.lower(), "O") for w in words] for words in tokens]


def entity_metrics(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]],
                   labels: Sequence[str]) -> dict:
    """Entity-level precision/recall/F1 (seqeval, conlleval rules) overall and per type, plus token accuracy."""
    gold, predicted = [list(s) for s in gold], [list(s) for s in predicted]
    report = classification_report(gold, predicted, output_dict=True, zero_division=0)
    types = sorted({t[2:] for t in labels if t != "O"} | (set(report) - {"micro avg", "macro avg", "weighted avg"}))
    empty = {"precision": 0.0, "recall": 0.0, "f1-score": 0.0, "support": 0}
    per_type = {t: {k: (int(v) if k == "support" else float(v)) for k, v in report.get(t, empty).items()}
                for t in types}
    flat_gold = [t for s in gold for t in s]
    flat_pred = [t for s in predicted for t in s]
    micro = report.get("micro avg", empty)
    return {
        "accuracy": float(np.mean([g == p for g, p in zip(flat_gold, flat_pred)])),
        "precision": float(micro["precision"]),
        "recall": float(micro["recall"]),
        "f1": float(micro["f1-score"]),
        "macro_f1": float(report.get("macro avg", empty)["f1-score"]),
        "weighted_f1": float(report.get("weighted avg", empty)["f1-score"]),
        "entities": int(micro["support"]),
        "per_class": per_type,
    }


def compute_metrics_for(labels: Sequence[str]):
    """A Trainer compute_metrics that scores entity F1 from logits, skipping IGNORE positions."""
    def compute(eval_pred) -> dict[str, float]:
        logits, label_ids = eval_pred
        best = np.argmax(logits, axis=-1)
        gold, pred = [], []
        for row_pred, row_gold in zip(best, label_ids):
            keep = row_gold != IGNORE
            gold.append([labels[i] for i in row_gold[keep]])
            pred.append([labels[i] for i in row_pred[keep]])
        scores = entity_metrics(gold, pred, labels)
        return {"entity_f1": scores["f1"], "entity_precision": scores["precision"],
                "entity_recall": scores["recall"], "accuracy": scores["accuracy"]}
    return compute


def load_token_model(model_dir: str | Path, device: str = "auto"):
    """Tokenizer, token-classification model (on `device`, eval mode) and label names of a saved folder."""
    from hackkit.models import load_saved

    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise FileNotFoundError(f"{model_dir} holds no saved model; run 02_finetune first.")
    tokenizer, model = load_saved(model_dir, "token-classification")
    _check_fast(tokenizer)
    model.to(resolve_device(device)).eval()
    return tokenizer, model, [model.config.id2label[i] for i in range(model.config.num_labels)]


def predict_tags(model_dir: str | Path, tokens: Sequence[Sequence[str]], batch_size: int = 32,
                 device: str = "auto", max_length: int = 128,
                 loaded=None) -> tuple[list[list[str]], list[list[float]]]:
    """Predicted tag and its probability for every word (from its first sub-token; 'O' past MAX_LENGTH)."""
    import torch

    tokenizer, model, labels = loaded or load_token_model(model_dir, device)
    tags: list[list[str]] = [[] for _ in tokens]
    scores: list[list[float]] = [[] for _ in tokens]
    order = np.argsort([len(s) for s in tokens])  # similar lengths per batch: less padding
    starts = range(0, len(tokens), batch_size)
    for start in tqdm(starts, desc="Predicting", disable=len(starts) < 4):  # quiet in the demo
        idx = order[start:start + batch_size]
        batch = tokenizer([list(tokens[i]) for i in idx], is_split_into_words=True, truncation=True,
                          max_length=max_length, padding=True, return_tensors="pt")
        with torch.no_grad():
            proba = torch.softmax(model(**batch.to(model.device)).logits.float(), dim=-1).cpu().numpy()
        for row, i in enumerate(idx):
            first: dict[int, int] = {}
            for position, word in enumerate(batch.word_ids(row)):
                if word is not None and word not in first:
                    first[word] = position
            best = [int(proba[row, first[w]].argmax()) if w in first else None
                    for w in range(len(tokens[i]))]
            tags[i] = [labels[b] if b is not None else "O" for b in best]
            scores[i] = [float(proba[row, first[w], b]) if b is not None else 0.0
                         for w, b in enumerate(best)]
    return tags, scores


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities of one sentence as (type, first word, last word), by conlleval's rules."""
    return [(kind, start, end) for kind, start, end in get_entities(list(tags))]


def predict_entities(model_dir: str | Path, texts: Sequence[str], device: str = "auto",
                     max_length: int = 256, loaded=None) -> list[list[dict]]:
    """Entity spans in raw texts: dicts of start, end (character offsets), label, text and score.

    `loaded` is load_token_model's result, so a caller that predicts often loads the model once.
    """
    matches = [list(WORD.finditer(text)) for text in texts]
    tokens = [[m.group() for m in found] for found in matches]
    tags, scores = predict_tags(model_dir, tokens, device=device, max_length=max_length,
                                loaded=loaded)
    out = []
    for text, found, sentence_tags, sentence_scores in zip(texts, matches, tags, scores):
        entities = []
        for label, first, last in spans(sentence_tags):
            start, end = found[first].start(), found[last].end()
            entities.append({"start": start, "end": end, "label": label, "text": text[start:end],
                             "score": round(float(np.mean(sentence_scores[first:last + 1])), 4)})
        out.append(entities)
    return out


def _describe(tokens: Sequence[str], tags: Sequence[str]) -> str:
    """Entities of a sentence as 'TYPE: words | ...' for reading."""
    return " | ".join(f"{k}: {' '.join(tokens[s:e + 1])}" for k, s, e in spans(tags))


def predictions_table(frame: pd.DataFrame, predicted: Sequence[Sequence[str]]) -> pd.DataFrame:
    """One row per sentence: text, gold and predicted tags and entities, and the number of span errors."""
    gold_spans = [set(spans(t)) for t in frame["tags"]]
    pred_spans = [set(spans(t)) for t in predicted]
    errors = [len(g ^ p) for g, p in zip(gold_spans, pred_spans)]
    return pd.DataFrame({
        "text": list(frame["text"]),
        "gold": [_describe(w, t) for w, t in zip(frame["tokens"], frame["tags"])],
        "predicted": [_describe(w, t) for w, t in zip(frame["tokens"], predicted)],
        "errors": errors,
        "correct": [e == 0 for e in errors],
        "tokens": [list(w) for w in frame["tokens"]],
        "tags": [list(t) for t in frame["tags"]],
        "predicted_tags": [list(t) for t in predicted],
    })


def entity_confusion(gold: Sequence[Sequence[str]], predicted: Sequence[Sequence[str]]) -> pd.DataFrame:
    """Counts of gold entity type (rows) against the predicted type of the same or an overlapping span.

    Row 'O' counts predicted entities that overlap no gold entity; column 'O' counts missed ones.
    """
    pairs: Counter = Counter()
    for g_tags, p_tags in zip(gold, predicted):
        g_spans, p_spans = spans(g_tags), spans(p_tags)
        used = set()
        for kind, s, e in g_spans:
            exact = [p for p in p_spans if p[1:] == (s, e)]
            overlap = exact or [p for p in p_spans if p[1] <= e and s <= p[2]]
            pairs[(kind, overlap[0][0] if overlap else "O")] += 1
            used.update(overlap[:1])
        for p in p_spans:
            if p not in used and not any(p[1] <= e and s <= p[2] for _, s, e in g_spans):
                pairs[("O", p[0])] += 1
    kinds = sorted({k for pair in pairs for k in pair} - {"O"}) + ["O"]
    table = pd.DataFrame(0, index=pd.Index(kinds, name="gold"), columns=pd.Index(kinds, name="predicted"))
    for (g, p), n in pairs.items():
        table.loc[g, p] = n
    return table


def plot_entity_confusion(table: pd.DataFrame):
    """The entity-type confusion table as a matplotlib figure."""
    import matplotlib.pyplot as plt
    from sklearn.metrics import ConfusionMatrixDisplay

    n = len(table)
    fig, ax = plt.subplots(figsize=(1.0 + 0.9 * n, 0.8 + 0.75 * n))
    ConfusionMatrixDisplay(table.to_numpy(), display_labels=list(table.index)).plot(
        ax=ax, cmap="Blues", xticks_rotation=45, colorbar=False)
    ax.set(title="Entity types (test split); O = no entity", xlabel="predicted", ylabel="gold")
    fig.tight_layout()
    return fig


def worst_sentences(predictions: pd.DataFrame, k: int = 10) -> pd.DataFrame:
    """The k sentences with the most span errors, gold next to predicted entities."""
    wrong = predictions[predictions["errors"] > 0]
    wrong = wrong.assign(length=wrong["tokens"].map(len)).sort_values(
        ["errors", "length"], ascending=[False, True])
    return wrong[["text", "gold", "predicted", "errors"]].head(k).reset_index(drop=True)


def entity_counts(frame: pd.DataFrame) -> pd.Series:
    """Entities per type in a frame of IOB2 tag lists."""
    return pd.Series(Counter(k for tags in frame["tags"] for k in entity_types(tags)), dtype=int)
