"""What every task whose input is one text shares (text classification, named entities): the
demo's text box, POST /predict's `{"texts": [...]}` and its test page, the export's example texts,
token lengths and the near-duplicate check on texts. A task lists TextInput before its base class.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Sequence
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, Field, WithJsonSchema, field_validator

from hackkit.base import Dataset, DemoInput, PredictRoute, RequestRejected, Task
from hackkit.models.resolve import load_tokenizer
from hackkit.tables import normalise_text
from hackkit.tasks.batches import in_batches

NEAR_DUPLICATE = 0.95  # cosine of character n-grams; the sample data's closest honest pair is 0.92
MAX_TEXTS = 64  # texts per request
MAX_CHARS = 5000  # characters per text; the model reads at most max_length tokens anyway
# The longest JSON spelling of one character: an emoji sent as a "\ud83d\ude00" surrogate pair,
# as Python's json.dumps writes it by default. The body limit allows every request the limits do.
JSON_BYTES_PER_CHAR = 12

PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body style="font-family:sans-serif;max-width:40em;margin:2em auto">
<h2>{title}</h2><p>Labels: {labels}</p>
<textarea id="t" rows="4" style="width:100%" placeholder="Type a message"></textarea>
<p><button id="b">Predict</button></p><pre id="r"></pre>
<script>
document.getElementById("b").onclick = async () => {{
  const r = await fetch("predict", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{texts: document.getElementById("t").value}})}});
  document.getElementById("r").textContent = JSON.stringify(await r.json(), null, 2);
}};
</script></body></html>"""


def batched_scores(predictor, texts: list[str], score: Callable, width: int) -> np.ndarray:
    """`score` (e.g. predictor.probabilities) of the encoded texts, `width` values per text, in
    length-sorted batches (little padding) with the original order kept."""

    def run(indices):
        return score(predictor.processor([texts[i] for i in indices], truncation=True,
                                         max_length=predictor.max_length, padding=True,
                                         return_tensors="pt"))

    rows = in_batches(texts, predictor.batch_size, run, length=len)
    return np.array(rows, dtype=np.float32).reshape(len(texts), width)


def check_texts(texts) -> list[str]:
    """One text or a list of texts as a list, rejecting anything that is not a string."""
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(f"texts: item {bad[0]} is {type(texts[bad[0]]).__name__} "
                         f"({texts[bad[0]]!r}); every text must be a string.")
    return texts


def token_lengths(texts: Sequence[str], tokenizer) -> np.ndarray:
    """Number of tokens per text, special tokens included, with no truncation."""
    return np.array([len(ids) for ids in tokenizer(list(texts), truncation=False)["input_ids"]])


def near_duplicate_texts(splits: dict[str, pd.DataFrame], key: Callable[[pd.DataFrame], pd.Series],
                         threshold: float = NEAR_DUPLICATE) -> pd.DataFrame:
    """Validation/test texts (key(frame)) that nearly repeat a training text: typos, punctuation, case."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.neighbors import NearestNeighbors

    train = key(splits["train"]).reset_index(drop=True)
    # Character n-grams see "pasword rest" and "password reset!" as the same message.
    vectorizer = TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 5)).fit(train)
    index = NearestNeighbors(n_neighbors=1, metric="cosine").fit(vectorizer.transform(train))
    exact = set(train.map(normalise_text))
    rows = []
    for name, frame in splits.items():
        if name == "train" or frame.empty:
            continue
        texts = key(frame)
        distance, nearest = index.kneighbors(vectorizer.transform(texts))
        for text, d, i in zip(texts, distance[:, 0], nearest[:, 0]):
            if 1 - d >= threshold and normalise_text(text) not in exact:
                rows.append({"split": name, "text": text, "train_text": train[i],
                             "similarity": round(float(1 - d), 3)})
    return pd.DataFrame(rows, columns=["split", "text", "train_text", "similarity"])


def near_duplicate_findings(near: pd.DataFrame, given_test: bool) -> list[tuple[str, str, str]]:
    """The doctor's leakage warnings, one per split, from near_duplicate_texts' table."""
    found = []
    for name, rows in near.groupby("split", sort=False):
        example = rows.iloc[0]
        found.append(("warning", "leakage", f"{len(rows)} {name} texts nearly repeat a training text "
                      f"(similarity >= {NEAR_DUPLICATE}), e.g. {example['text']!r} ~ "
                      f"{example['train_text']!r}. Scores on {name} will look better than they are: "
                      + ("drop the training rows they repeat (the data's own test split is scored "
                         "whole)." if given_test and name == "test"
                         else f"drop these rows from {name} or from train.")))
    return found


def _request_texts(value: Any) -> Any:
    """POST /predict's "texts" as sent, if it is a non-blank text or a non-empty list of them."""
    if not isinstance(value, (str, list)):
        raise ValueError(f'"texts" must be a string or a list of strings, not {type(value).__name__}.')
    try:
        texts = check_texts(value)
    except ValueError as e:
        raise ValueError(f'"texts": {e}') from None
    if not texts:
        raise ValueError('"texts" is empty: send at least one text.')
    # \S as the schema's pattern says: a text must hold a character that is not white space.
    blank = [i for i, t in enumerate(texts) if not re.search(r"\S", t)]
    if blank:
        raise ValueError(f"text {blank[0]} is empty or blank; send some words.")
    return value


def texts_request(max_texts: int, max_chars: int) -> type[BaseModel]:
    """The request model of POST /predict for one-text inputs, this app's limits in its schema.

    Going over a limit is answered with 413 (by the endpoint), anything else invalid with 422.
    """
    text = {"type": "string", "pattern": r"\S", "maxLength": max_chars}
    texts_type = Annotated[list[str] | str, WithJsonSchema(
        {"anyOf": [{"type": "array", "items": text, "minItems": 1, "maxItems": max_texts}, text]})]

    class TextsRequest(BaseModel):
        """One text, or a list of texts, to predict."""

        texts: texts_type = Field(
            description=f"a text or a list of up to {max_texts} texts of at most {max_chars} "
                        "characters, none blank",
            examples=[["where is my order?", "I was charged twice"]])

        @field_validator("texts", mode="before")
        @classmethod
        def _checked(cls, value: Any) -> Any:
            return _request_texts(value)

    return TextsRequest


class TextBox(DemoInput):
    """The demo's text box: it predicts as the user types (after a pause) or on the button."""

    title = "One message"
    prompt = "Type a message to see the prediction."
    live = True

    def __init__(self, example: str = "") -> None:
        import ipywidgets as w

        self.text = w.Textarea(value=str(example or ""), placeholder="Type a message ...",
                               layout=w.Layout(width="40em", height="5em"))
        self.text.add_class("hackkit-demo-input")  # a stable hook for the browser test
        self.widget = self.text

    def read(self) -> str | None:
        """The text in the box, None when it is blank."""
        return self.text.value if self.text.value.strip() else None

    def observe(self, callback: Callable[[], None]) -> None:
        """Call back on every edit of the box."""
        self.text.observe(lambda _: callback(), names="value")


class TextInput(Task):
    """Inputs that are one text each: how they are read, checked, shown, typed and sent."""

    input_column = "text"
    python_example = '["a new message"]'
    onnx_dynamic_axes = {0: "batch", 1: "sequence"}
    # 02 starts from, and compares with, a probe on the frozen sentence embeddings of train and
    # validation (text, several labels, scores); False where nothing reads them (generation).
    probe_features = True

    def prepare_features(self, splits, model_location, max_length, cache_dir, device="cpu"):
        """The frozen sentence embeddings of train and validation, cached under the names and
        keys 02's probe start and embeddings baseline look up: on Reuters' 7,668 articles about
        80 s of a 2-core CPU that 02 would otherwise spend before training."""
        from hackkit.models.embeddings import cached_embeddings

        if not self.probe_features:
            return 0
        for name in ("train", "validation"):
            cached_embeddings(list(splits[name]["text"]), model_location, max_length, cache_dir,
                              name=name, device=device)
        return len(splits["train"]) + len(splits["validation"])

    # --- data (01, doctor) -------------------------------------------------------------
    def dedupe_key(self, frame):
        """The text."""
        return frame["text"]

    def lengths(self, frame, model):
        """Tokens per text, with MODEL's tokenizer."""
        return token_lengths(frame["text"], load_tokenizer(model))

    def near_duplicates(self, splits):
        """Validation/test texts that nearly repeat a training text (character n-gram cosine)."""
        return near_duplicate_texts(splits, self.dedupe_key)

    def extra_checks(self, dataset: Dataset, splits, near):
        """A leakage warning for each split whose texts nearly repeat training texts."""
        frame = dataset.frame
        given_test = "split" in frame and bool((frame["split"] == "test").any())
        return near_duplicate_findings(near, given_test)

    # --- prediction ------------------------------------------------------------------------
    def inputs_of(self, frame):
        """The texts of a split."""
        return list(frame["text"])

    def show_input(self, item):
        """A text as itself (a list of words joined by spaces)."""
        return item if isinstance(item, str) else " ".join(item)

    def onnx_examples(self, max_length):
        """Two texts of different lengths, so the sequence axis is traced as dynamic."""
        return ["an example", "a slightly longer example text"]

    def onnx_inputs(self, processor, items, max_length, kind):
        """The tokenizer's inputs, padded to the longest text of the batch."""
        enc = processor(list(items), truncation=True, max_length=max_length, padding=True,
                        return_tensors=kind)
        return {name: enc[name] for name in processor.model_input_names}

    # --- demo and API (04, serve) -----------------------------------------------------------
    def demo_input(self, example=None):
        """A text box, holding `example`."""
        return TextBox(example or "")

    def demo_examples(self, example, test, n=3):
        """EXAMPLE itself."""
        return [example]

    def predict_route(self, predictor, run, max_texts: int = MAX_TEXTS,
                      max_chars: int = MAX_CHARS) -> PredictRoute:
        """JSON {"texts": [...]} (or one text), at most max_texts texts of max_chars characters."""
        request_model = texts_request(max_texts, max_chars)

        def predict(request):  # sync: FastAPI runs it in a worker thread, off the event loop
            texts = check_texts(request.texts)
            if len(texts) > max_texts:
                raise RequestRejected(413, f"{len(texts)} texts in one request; the limit is "
                                           f"{max_texts}. Split them over several requests.")
            too_long = [i for i, t in enumerate(texts) if len(t) > max_chars]
            if too_long:
                raise RequestRejected(413, f"text {too_long[0]} has {len(texts[too_long[0]])} "
                                           f"characters; the limit is {max_chars}. Shorten it.")
            return {"run": run, "predictions": predictor.predict(texts)}

        # Set here, not as an annotation: FastAPI cannot resolve a class made inside a function
        # from a postponed (string) annotation.
        predict.__annotations__ = {"request": request_model}
        return PredictRoute(
            endpoint=predict, result_model=self.result_model, input="text",
            limits={"max_texts": max_texts, "max_chars": max_chars},
            body_limit=max_texts * max_chars * JSON_BYTES_PER_CHAR + 65536, page=PAGE,
            hint='Send JSON like {"texts": ["first message", "second"]} or {"texts": "one message"}.')

    def api_example(self, url):
        """curl posting one text as JSON."""
        body = json.dumps({"texts": ["where is my order?"]})
        return f"curl -s {url}/predict -H \"Content-Type: application/json\" -d '{body}'"
