"""Token classification (NER): tagged sentences in, entity spans out; sub-word alignment, a
per-word tag baseline, entity-level metrics (seqeval) and the sentence views."""

from __future__ import annotations

import re
import warnings
from collections import Counter, defaultdict
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from seqeval.metrics import classification_report
from seqeval.metrics.sequence_labeling import get_entities

from hackkit.base import Dataset, TrainParts
from hackkit.paths import check_safetensors, find_input
from hackkit.tasks.batches import in_batches
from hackkit.tasks.conll import entity_types, load_tagged, split_sentences, tag_labels
from hackkit.tasks.textinput import TextInput

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


# Word shapes the model sees beside the (lower-cased) sub-words; 0 is no word (special tokens,
# padding). An uncased encoder cannot see capitals, the strongest single cue for names.
SHAPES = ("none", "lower", "capitalised", "upper", "mixed", "digits", "letters+digits", "tag",
          "punctuation")


def word_shape(word: str) -> int:
    """The index in SHAPES of a word's shape: lower, Capitalised, UPPER, mIxed, 123, a1, #tag, ."""
    if len(word) > 1 and word[0] in "#@" and any(c.isalnum() for c in word[1:]):
        return SHAPES.index("tag")  # hashtags and mentions (user names in posts)
    letters = [c for c in word if c.isalpha()]
    digits = any(c.isdigit() for c in word)
    if not letters:
        return SHAPES.index("digits" if digits else "punctuation")
    if digits:
        return SHAPES.index("letters+digits")
    if all(c.islower() for c in letters):
        return SHAPES.index("lower")
    if all(c.isupper() for c in letters):
        return SHAPES.index("upper" if len(letters) > 1 else "capitalised")
    if letters[0].isupper() and all(c.islower() for c in letters[1:]):
        return SHAPES.index("capitalised")
    return SHAPES.index("mixed")


def shape_ids(word_ids: Sequence[int | None], words: Sequence[str]) -> list[int]:
    """The shape of each sub-token's word (0 for special tokens), from an encoding's word_ids()."""
    shapes = [word_shape(w) for w in words]
    return [0 if word is None else shapes[word] for word in word_ids]


class ShapeCollator:
    """DataCollatorForTokenClassification, plus the shape ids padded with 0 like the tokens."""

    def __init__(self, tokenizer) -> None:
        from transformers import DataCollatorForTokenClassification

        self.tokenizer = tokenizer
        self.inner = DataCollatorForTokenClassification(tokenizer)

    def __call__(self, features: list[dict]) -> dict:
        """Pad a list of encoded sentences into one batch of tensors."""
        import torch

        shapes = [list(f["shape_ids"]) for f in features]
        batch = self.inner([{k: v for k, v in f.items() if k != "shape_ids"} for f in features])
        width = batch["input_ids"].shape[1]
        left = self.tokenizer.padding_side == "left"
        batch["shape_ids"] = torch.tensor([[0] * (width - len(s)) + s if left else
                                           s + [0] * (width - len(s)) for s in shapes])
        return batch


def _check_fast(tokenizer) -> None:
    """Alignment needs word_ids(), which only fast (Rust) tokenizers give."""
    if not getattr(tokenizer, "is_fast", False):
        raise ValueError(
            f"MODEL: the tokenizer {type(tokenizer).__name__} is not a fast tokenizer, so words "
            "cannot be mapped to sub-tokens. Pick a model with a tokenizer.json (most hub models)."
        )


def encode_sentences(tokens: Sequence[Sequence[str]], tags: Sequence[Sequence[str]], tokenizer,
                     labels: Sequence[str], max_length: int, shapes: bool = False):
    """A datasets.Dataset of aligned token and label ids (and word-shape ids when `shapes`), and
    how many sentences were truncated."""
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
    if shapes:
        columns["shape_ids"] = [shape_ids(encoded.word_ids(i), sentence)
                                for i, sentence in enumerate(words)]
    return Dataset.from_dict(columns), truncated


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
        "entity_f1": float(micro["f1-score"]),
        "entity_precision": float(micro["precision"]),
        "entity_recall": float(micro["recall"]),
        "entity_macro_f1": float(report.get("macro avg", empty)["f1-score"]),
        "entity_weighted_f1": float(report.get("weighted avg", empty)["f1-score"]),
        "accuracy": float(np.mean([g == p for g, p in zip(flat_gold, flat_pred)])),
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
        return {k: scores[k] for k in ("entity_f1", "entity_precision", "entity_recall", "accuracy")}
    return compute


def sees_shapes(model) -> bool:
    """Whether a loaded model takes word-shape ids (hackkit.models.tagger's class)."""
    return int(getattr(getattr(model, "config", None), "num_shapes", 0) or 0) > 0


def predict_tags(predictor, tokens: Sequence[Sequence[str]]) -> tuple[list[list[str]], list[list[float]]]:
    """Predicted tag and its probability for every word (from its first sub-token; 'O' past MAX_LENGTH)."""
    labels = predictor.labels

    def run(indices):
        batch = predictor.processor([list(tokens[i]) for i in indices], is_split_into_words=True,
                                    truncation=True, max_length=predictor.max_length,
                                    padding=True, return_tensors="pt")
        if sees_shapes(predictor.model):
            import torch

            batch["shape_ids"] = torch.tensor([shape_ids(batch.word_ids(row), tokens[i])
                                               for row, i in enumerate(indices)])
        proba = predictor.probabilities(batch)
        out = []
        for row, i in enumerate(indices):
            first: dict[int, int] = {}
            for position, word in enumerate(batch.word_ids(row)):
                if word is not None and word not in first:
                    first[word] = position
            best = [int(proba[row, first[w]].argmax()) if w in first else None
                    for w in range(len(tokens[i]))]
            out.append(([labels[b] if b is not None else "O" for b in best],
                        [float(proba[row, first[w], b]) if b is not None else 0.0
                         for w, b in enumerate(best)]))
        return out

    # Sentences of similar length share a batch: less padding.
    results = in_batches(tokens, predictor.batch_size, run, length=len)
    return [tags for tags, _ in results], [scores for _, scores in results]


def spans(tags: Sequence[str]) -> list[tuple[str, int, int]]:
    """Entities of one sentence as (type, first word, last word), by conlleval's rules."""
    return [(kind, start, end) for kind, start, end in get_entities(list(tags))]


def words_of(text: str) -> list[re.Match]:
    """The words of a raw text, with their character offsets."""
    return list(WORD.finditer(text))


def entity_spans(text: str, words: Sequence[re.Match] | None, tags: Sequence[str],
                 scores: Sequence[float]) -> list[dict]:
    """Entities as dicts of start, end (character offsets in text), label, text and score."""
    found = []
    offsets = ([(m.start(), m.end()) for m in words] if words is not None
               else _join_offsets(text))
    for label, first, last in spans(tags):
        start, end = offsets[first][0], offsets[last][1]
        found.append({"start": start, "end": end, "label": label, "text": text[start:end],
                      "score": round(float(np.mean(scores[first:last + 1])), 4)})
    return found


def _join_offsets(text: str) -> list[tuple[int, int]]:
    """Character offsets of the words of a space-joined token list."""
    out, cursor = [], 0
    for word in text.split(" "):
        out.append((cursor, cursor + len(word)))
        cursor += len(word) + 1
    return out


def check_sentences(inputs) -> list:
    """Raw texts and/or pre-tokenised sentences (lists of words) as a list; others rejected."""
    if isinstance(inputs, str):
        return [inputs]
    items = list(inputs)
    for i, item in enumerate(items):
        ok = isinstance(item, str) or (isinstance(item, (list, tuple))
                                       and all(isinstance(w, str) for w in item))
        if not ok:
            raise ValueError(f"texts: item {i} is {type(item).__name__} ({item!r}); give a text "
                             "(a string) or a sentence as a list of word strings.")
    return items


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


PALETTE = ("#fde68a", "#bfdbfe", "#bbf7d0", "#fecaca", "#ddd6fe", "#fbcfe8", "#c7d2fe", "#fed7aa")


def _colour(label: str) -> str:
    """A stable colour per entity label (crc32, because str hashes change per process)."""
    import zlib

    return PALETTE[zlib.crc32(label.encode()) % len(PALETTE)]


def highlight_spans_html(text: str, found: Sequence[dict]) -> str:
    """The text as HTML with each entity span {start, end, label[, score]} highlighted."""
    import html

    ordered = sorted(found, key=lambda s: s["start"])
    parts, cursor = [], 0
    for span in ordered:
        start, end, label = span["start"], span["end"], str(span["label"])
        if not 0 <= start < end <= len(text):
            raise ValueError(f"span {span}: offsets must satisfy 0 <= start < end <= "
                             f"{len(text)} (the text's length).")
        if start < cursor:
            raise ValueError(f"span {span} overlaps the span before it; spans must not overlap.")
        score = f" {span['score']:.0%}" if "score" in span else ""
        parts.append(html.escape(text[cursor:start]))
        parts.append(
            f'<mark class="hackkit-entity" title="{html.escape(label)}{score}" '
            f'style="background:{_colour(label)};padding:0 2px;border-radius:3px">'
            f'{html.escape(text[start:end])}<sup style="font-size:70%;margin-left:2px">'
            f"{html.escape(label)}</sup></mark>"
        )
        cursor = end
    parts.append(html.escape(text[cursor:]))
    return f'<div class="hackkit-spans" style="line-height:2">{"".join(parts)}</div>'


class Entity(BaseModel):
    """One entity found in a text: its character span, type, words and mean tag probability."""

    start: int = Field(description="offset of its first character in the text")
    end: int = Field(description="offset just past its last character")
    label: str = Field(description="the entity type")
    text: str
    score: float = Field(description="the mean probability of its words' tags")


class TaggedText(BaseModel):
    """One text's prediction: its entities, and the tag of every word."""

    text: str
    entities: list[Entity]
    tokens: list[str] = Field(description="the words the text was split into")
    tags: list[str] = Field(description="one IOB2 tag per word")


class TokenClassification(TextInput):
    """Named entities: a tag per word (IOB2), a token-classification head, entity-level F1."""

    name = "token-classification"
    main_metric = "entity_f1"
    metric_names = {"entity_f1": "entity micro-F1", "entity_precision": "entity precision",
                    "entity_recall": "entity recall", "entity_macro_f1": "entity macro-F1",
                    "accuracy": "word accuracy"}
    split_suffix = ".jsonl"  # lists keep their shape in JSON Lines
    unit = "sentences"
    label_unit = "entity type"
    architecture_suffix = "ForTokenClassification"
    baseline_name = "baseline (most frequent tag per word)"
    unseen_labels_block = False  # a tagger only never learns a type it never saw
    data_hint = ("a CoNLL file (a word and its tag per line, a blank line between sentences), "
                 "JSON Lines with token and tag lists, or a folder of such files per split")
    file_suffixes = (".conll", ".txt", ".iob", ".iob2", ".bio", ".tsv", ".jsonl", ".json")
    result_model = TaggedText
    python_example = '["does shipping to Bristol take long for the Nimbus Mesh?"]'
    # New models see each word's shape beside its sub-words (hackkit.models.tagger); False trains
    # the plain transformers head (benchmarks/bench_ner_shapes.py compares the two).
    word_shapes = True

    def load(self, data) -> Dataset:
        """CoNLL (tags in TAG_COLUMN) or JSON Lines (TEXT_COLUMN/LABEL_COLUMN hold the lists)."""
        path = find_input(data.data_path)
        if not path.exists():
            raise FileNotFoundError(
                f"DATA_PATH: data file {str(data.data_path)!r} not found (looked for {path}). Put "
                "your CoNLL or JSON Lines file (or a folder with train/dev/test files) in data/ "
                "and set DATA_PATH.")
        frame, warnings_found, info = load_tagged(path, data.text_column, data.label_column,
                                                  data.split_column, data.tag_column)
        return Dataset(frame=frame, path=path, warnings=warnings_found, info=info)

    def split(self, frame, test_size, val_size, seed):
        """The file's split field, or a seeded shuffle of the sentences."""
        return split_sentences(frame, test_size, val_size, seed)

    def labels(self, splits):
        """O, then B- and I- of every entity type in any split."""
        return tag_labels([t for f in splits.values() for t in f["tags"]])

    def label_counts(self, frame):
        """Entities per type."""
        return entity_counts(frame)

    def label_key(self, frame):
        """The tag sequence."""
        return frame["tags"].map(" ".join)

    def write_split(self, frame, path):
        """JSON Lines, one sentence per line."""
        frame.to_json(path, orient="records", lines=True, force_ascii=False)

    def read_split(self, path):
        """JSON Lines written by write_split."""
        return pd.read_json(path, orient="records", lines=True, dtype={"text": str})

    def load_processor(self, location):
        """The model's (fast) tokenizer: alignment needs word_ids()."""
        from transformers import AutoTokenizer

        tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=False)
        _check_fast(tokenizer)
        return tokenizer

    def new_model(self, location, labels):
        """The base model with a new token-classification head (and zero word-shape vectors)."""
        from transformers import AutoModelForTokenClassification

        if self.word_shapes:
            from hackkit.models.tagger import build

            return build(location, list(labels), len(SHAPES))
        return AutoModelForTokenClassification.from_pretrained(
            location, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={label: i for i, label in enumerate(labels)},
            use_safetensors=True, trust_remote_code=False)

    def train_parts(self, train, validation, labels, location, max_length):
        """Aligned tag ids, the token collator, entity F1; truncated sentences are counted."""
        from transformers import DataCollatorForTokenClassification

        tokenizer = self.load_processor(location)
        train_ds, truncated = encode_sentences(train["tokens"], train["tags"], tokenizer,
                                               labels, max_length, self.word_shapes)
        val_ds, val_truncated = encode_sentences(validation["tokens"], validation["tags"],
                                                 tokenizer, labels, max_length, self.word_shapes)
        return TrainParts(
            model=self.new_model(location, labels), processor=tokenizer,
            train_ds=train_ds, val_ds=val_ds,
            collator=(ShapeCollator(tokenizer) if self.word_shapes
                      else DataCollatorForTokenClassification(tokenizer)),
            compute_metrics=compute_metrics_for(labels),
            extra={"truncated_sentences": {"train": truncated, "validation": val_truncated}})

    def load_trained(self, model_dir: Path):
        """Fast tokenizer and token classifier of a saved folder."""
        from transformers import AutoModelForTokenClassification

        import hackkit.models.tagger  # noqa: F401  registers the word-shape tagger's class

        check_safetensors(model_dir, str(model_dir))
        model = AutoModelForTokenClassification.from_pretrained(
            model_dir, use_safetensors=True, trust_remote_code=False)
        return self.load_processor(str(model_dir)), model

    def check_inputs(self, inputs):
        """Raw texts and/or sentences given as word lists."""
        return check_sentences(inputs)

    def inputs_of(self, frame):
        """The sentences' word lists."""
        return [list(t) for t in frame["tokens"]]

    def predict(self, predictor, inputs):
        """Per input: the text, its entity spans (character offsets) and the tag of every word."""
        items = self.check_inputs(inputs)
        words = [words_of(item) if isinstance(item, str) else None for item in items]
        tokens = [[m.group() for m in w] if w is not None else list(item)
                  for w, item in zip(words, items)]
        tags, scores = predict_tags(predictor, tokens)
        out = []
        for item, w, sentence, t, sc in zip(items, words, tokens, tags, scores):
            text = item if isinstance(item, str) else " ".join(sentence)
            out.append({"text": text, "entities": entity_spans(text, w, t, sc),
                        "tokens": sentence, "tags": t})
        return out

    def predictions_table(self, frame, results):
        """Gold against predicted entities per sentence."""
        return predictions_table(frame, [r["tags"] for r in results])

    def result_columns(self, results, labels):
        """The entity spans found in each text."""
        return {"entities": [r["entities"] for r in results]}

    def result_html(self, result, item):
        """The text with its entities highlighted."""
        return highlight_spans_html(result["text"], result["entities"])

    def baseline_scores(self, splits, labels, split, seed=42):
        """The most frequent training tag of each word, scored on `split`."""
        train, target = splits["train"], splits[split]
        predicted = TagBaseline(train["tokens"], train["tags"]).predict(target["tokens"])
        return entity_metrics(target["tags"], predicted, labels)

    def score(self, predictions, labels):
        """Entity precision/recall/F1 overall and per type (seqeval), and word accuracy."""
        return entity_metrics(predictions["tags"], predictions["predicted_tags"], labels)

    def confusion_figure(self, predictions, labels):
        """Gold entity type against the predicted type of the same or an overlapping span."""
        return plot_entity_confusion(entity_confusion(predictions["tags"],
                                                      predictions["predicted_tags"]))

    def worst_errors(self, predictions, k=10):
        """The sentences with the most wrong or missed spans."""
        return worst_sentences(predictions, k)
