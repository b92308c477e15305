"""Load a trained model once from a run folder and predict on new texts, or a whole file."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm.auto import tqdm

from hackkit.data import _check_column, read_table
from hackkit.device import resolve_device, resolve_precision
from hackkit.paths import find_input, read_json, run_dir_for

# The end of config.json's architectures name tells the task the model was fine-tuned for.
ARCHITECTURE_TASKS = {
    "ForSequenceClassification": "text-classification",
    "ForTokenClassification": "token-classification",
}


def model_task(model_dir: str | Path) -> str:
    """The task of a saved model folder, read from config.json's `architectures`."""
    config_path = Path(model_dir) / "config.json"
    if not config_path.is_file():
        raise FileNotFoundError(
            f"{config_path} not found: {model_dir} holds no saved model; run 02_finetune first, "
            "or point at a run folder (or its model/ folder) that has one."
        )
    architectures = read_json(config_path).get("architectures") or []
    for name in architectures:
        for suffix, task in ARCHITECTURE_TASKS.items():
            if name.endswith(suffix):
                return task
    raise ValueError(
        f"{config_path}: architectures {architectures} is neither ...ForSequenceClassification "
        "nor ...ForTokenClassification, so it is not a fine-tuned classifier. Use the model/ "
        "folder that 02_finetune wrote."
    )


def _check_texts(texts: str | Sequence[str]) -> list[str]:
    """One text or a list of texts as a list, rejecting anything that is not a string."""
    if isinstance(texts, str):
        return [texts]
    texts = list(texts)
    bad = [i for i, t in enumerate(texts) if not isinstance(t, str)]
    if bad:
        raise ValueError(
            f"texts: item {bad[0]} is {type(texts[bad[0]]).__name__} ({texts[bad[0]]!r}); "
            "every text must be a string."
        )
    return texts


class Predictor:
    """A fine-tuned model loaded once; `predict(texts)` returns labels and probabilities."""

    def __init__(self, model_dir: str | Path, device: str = "auto", max_length: int = 128,
                 batch_size: int = 32) -> None:
        self.model_dir = Path(model_dir).resolve()
        self.task = model_task(self.model_dir)
        self.max_length = max_length
        self.batch_size = batch_size
        self.device = resolve_device(device)
        config = read_json(self.model_dir / "config.json")
        self.labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
        if self.task == "token-classification":
            from hackkit.ner import load_token_model

            self._loaded = load_token_model(self.model_dir, self.device)
            return
        from hackkit.models import load_saved

        self.tokenizer, model = load_saved(self.model_dir)
        self.model = model.to(self.device).eval()
        self.precision = resolve_precision(self.device, "auto")

    @classmethod
    def from_run(cls, run_dir: str | Path = "", device: str = "auto",
                 batch_size: int = 32) -> Predictor:
        """Load from a run folder (empty: the latest with a model) or a model folder itself."""
        path = find_input(run_dir) if run_dir else None
        if path is not None and (path / "config.json").is_file():
            return cls(path, device=device, batch_size=batch_size)
        run = run_dir_for(str(run_dir), needs="model")
        summary = run / "train_summary.json"
        max_length = read_json(summary)["config"]["max_length"] if summary.is_file() else 128
        return cls(run / "model", device=device, max_length=max_length, batch_size=batch_size)

    def __repr__(self) -> str:
        return (f"Predictor({self.model_dir}, task={self.task}, device={self.device}, "
                f"labels={self.labels})")

    def predict_proba(self, texts: str | Sequence[str]) -> np.ndarray:
        """Class probabilities, one row per text, in batches of `batch_size`."""
        import torch

        texts = _check_texts(texts)
        if self.task != "text-classification":
            raise ValueError(f"predict_proba is for text classification; {self.model_dir} is "
                             f"a {self.task} model: use predict().")
        # Sorting by length keeps padding per batch small; the order is restored at the end.
        order = np.argsort([len(t) for t in texts], kind="stable")
        out = np.zeros((len(texts), len(self.labels)), dtype=np.float32)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        starts = range(0, len(texts), self.batch_size)
        for start in tqdm(starts, desc="Predicting", disable=len(starts) < 4):
            idx = order[start:start + self.batch_size]
            batch = self.tokenizer([texts[i] for i in idx], truncation=True,
                                   max_length=self.max_length, padding=True,
                                   return_tensors="pt").to(self.device)
            with torch.inference_mode(), torch.autocast(self.device, dtype=dtype,
                                                        enabled=dtype is not None):
                logits = self.model(**batch).logits.float()
            out[idx] = torch.softmax(logits, dim=-1).cpu().numpy()
        return out

    def predict(self, texts: str | Sequence[str]) -> list[dict]:
        """Per text: label, score and all probabilities (or, for NER, character-offset spans)."""
        texts = _check_texts(texts)
        if self.task == "token-classification":
            from hackkit.ner import predict_entities

            found = predict_entities(self.model_dir, texts, device=self.device,
                                     max_length=self.max_length, loaded=self._loaded)
            return [{"text": t, "entities": spans} for t, spans in zip(texts, found)]
        proba = self.predict_proba(texts)
        return [
            {"label": self.labels[int(row.argmax())], "score": float(row.max()),
             "probabilities": {label: float(p) for label, p in zip(self.labels, row)}}
            for row in proba
        ]

    def table(self, texts: str | Sequence[str]) -> pd.DataFrame:
        """Predictions as a table: text, predicted label and its probability."""
        texts = _check_texts(texts)
        results = self.predict(texts)
        if self.task == "token-classification":
            return pd.DataFrame({"text": texts, "entities": [r["entities"] for r in results]})
        return pd.DataFrame({"text": texts, "predicted": [r["label"] for r in results],
                             "confidence": [round(r["score"], 4) for r in results]})


def score_table(predictor: Predictor, frame: pd.DataFrame, text_column: str = "text",
                source: str | Path = "the table") -> pd.DataFrame:
    """The table with predicted, confidence and one probability column per label appended."""
    _check_column(frame, text_column, "TEXT_COLUMN", Path(str(source)))
    texts = frame[text_column].fillna("").astype(str).tolist()
    out = frame.copy()
    if predictor.task == "token-classification":
        out["entities"] = [r["entities"] for r in predictor.predict(texts)]
        return out
    proba = predictor.predict_proba(texts)
    best = proba.argmax(axis=1)
    out["predicted"] = [predictor.labels[i] for i in best]
    out["confidence"] = proba[np.arange(len(best)), best].round(4)
    for j, label in enumerate(predictor.labels):
        out[f"p_{label}"] = proba[:, j].round(4)
    return out


def unique_path(path: Path) -> Path:
    """`path`, or `name-1.ext`, `name-2.ext`, ... if it exists: nothing saved is overwritten."""
    candidate, i = path, 0
    while candidate.exists():
        i += 1
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
    return candidate


def score_file(predictor: Predictor, path: str | Path, text_column: str = "text",
               out_dir: str | Path | None = None) -> Path:
    """Score every row of a CSV/TSV/JSONL/Parquet file; write `<name>_scored.csv`, return it."""
    frame = read_table(path)
    scored = score_table(predictor, frame, text_column, source=path)
    folder = Path(out_dir) if out_dir else Path(path).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    out = unique_path(folder / f"{Path(path).stem}_scored.csv")
    scored.to_csv(out, index=False)
    return out
