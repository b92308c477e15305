"""Sentence embeddings of a frozen model: mean pooling, a cache, a linear probe on them, and zero-shot
by label names."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hackkit.device import PRECISIONS, resolve_device, resolve_precision

C_GRID = (0.1, 1.0, 10.0, 100.0)
# On the learning curves of benchmarks/bench_few_labels.py a fixed C=10 did about as well as the
# grid's best C, while picking C on small validation sets mostly added noise (benchmarks/RESULTS.md,
# "Few labels").
DEFAULT_C = 10.0
VALIDATION_MARGIN = 0.01  # leave the default C only for a validation macro-F1 gain larger than this
PROBE_WEIGHTS = "probe.safetensors"
PROBE_SETTINGS = "probe.json"
ZERO_SHOT_TEMPERATURE = 0.05
ZERO_SHOT_BELOW_PER_CLASS = 2  # below this many labelled texts per class, label names do as well (bench_few_labels.py)


def _check_texts(texts: Sequence[str], parameter: str = "texts") -> list[str]:
    """Return texts as a list of str, or raise naming the first bad entry."""
    if isinstance(texts, str):
        raise TypeError(f"{parameter}: got a single string; pass a list of strings, e.g. [{texts[:30]!r}].")
    out = list(texts)
    for i, text in enumerate(out):
        if not isinstance(text, str):
            raise TypeError(
                f"{parameter}[{i}] is {type(text).__name__} ({text!r}), not str; convert or drop "
                "missing values first, e.g. frame['text'].fillna('').astype(str)."
            )
    return out


def mean_pool(last_hidden, attention_mask):
    """Mean of token vectors where attention_mask is 1 (padding excluded), in float32."""
    mask = attention_mask.unsqueeze(-1).float()
    summed = (last_hidden.float() * mask).sum(dim=1)
    return summed / mask.sum(dim=1).clamp(min=1e-9)


def embed(
    texts: Sequence[str], model_location: str, max_length: int = 128, batch_size: int = 64,
    device: str = "cpu", progress: bool = True, precision: str = "auto",
) -> np.ndarray:
    """L2-normalised mean-pooled sentence embeddings (float32, one row per text, input order);
    `precision` as embed_loaded's."""
    from transformers import AutoModel, AutoTokenizer

    texts = _check_texts(texts)
    if not 8 <= max_length <= 4096:
        raise ValueError(f"max_length={max_length!r} is out of range: use e.g. 128 (8 to 4096).")
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: use a positive integer, e.g. 64.")
    tokenizer = AutoTokenizer.from_pretrained(model_location, trust_remote_code=False)
    model = AutoModel.from_pretrained(model_location, use_safetensors=True, trust_remote_code=False)
    return embed_loaded(texts, model, tokenizer, max_length, batch_size, device, progress, precision)


def embedding_precision(device: str, precision: str = "auto") -> str:
    """What a frozen embedding pass computes in: with 'auto', bf16 on a CPU that has it natively
    (1.7 times the texts per second for MiniLM on 128-token articles, cosine to fp32 above 0.9999:
    benchmarks/RESULTS.md, "Embedding in bf16"), bf16 or fp16 on a GPU, fp32 elsewhere."""
    if precision not in PRECISIONS:
        raise ValueError(f"precision={precision!r}: use 'auto' (bf16 where the hardware has it), "
                         f"'fp32', or one of {PRECISIONS}.")
    return resolve_precision(device, precision, cpu_auto="bf16")


def embed_loaded(
    texts: Sequence[str], model, tokenizer, max_length: int = 128, batch_size: int = 64,
    device: str = "cpu", progress: bool = True, precision: str = "auto",
) -> np.ndarray:
    """embed() with an encoder and tokenizer already in memory (e.g. one just fine-tuned);
    `precision`: 'auto' computes under bf16 autocast where the hardware has it (embedding_precision),
    'fp32' never, 'bf16' or 'fp16' always. The vectors are float32 either way."""
    import torch
    from tqdm.auto import tqdm

    texts = _check_texts(texts)
    device = resolve_device(device)
    model.eval().to(device)
    if not texts:
        return np.zeros((0, model.config.hidden_size), dtype=np.float32)
    encoded = tokenizer(texts, truncation=True, max_length=max_length)["input_ids"]
    # Longest first, so each batch holds texts of similar length and padding stays small.
    order = np.argsort([-len(ids) for ids in encoded], kind="stable")
    out = np.empty((len(texts), model.config.hidden_size), dtype=np.float32)
    computed = embedding_precision(device, precision)
    autocast = None
    if computed != "fp32":
        dtype = torch.bfloat16 if computed == "bf16" else torch.float16
        autocast = torch.autocast("cuda" if device == "cuda" else "cpu", dtype=dtype)
    starts = range(0, len(texts), batch_size)
    with torch.inference_mode():
        for start in tqdm(starts, desc="Embedding", unit="batch", disable=not progress):
            idx = order[start:start + batch_size]
            batch = tokenizer.pad({"input_ids": [encoded[i] for i in idx]}, return_tensors="pt")
            batch = {k: v.to(device) for k, v in batch.items()}
            if autocast is not None:
                with autocast:
                    hidden = model(**batch).last_hidden_state
            else:
                hidden = model(**batch).last_hidden_state
            pooled = torch.nn.functional.normalize(mean_pool(hidden, batch["attention_mask"]), dim=-1)
            out[idx] = pooled.cpu().numpy()
    return out


def _model_fingerprint(model_location: str) -> dict:
    """Identify a model folder by path and weight files' size and mtime, so retraining it invalidates."""
    path = Path(model_location)
    if not path.is_dir():
        return {"model": model_location}
    weights = sorted(path.glob("*.safetensors"))
    return {
        "model": str(path.resolve()),
        "weights": [[w.name, w.stat().st_size, w.stat().st_mtime_ns] for w in weights],
    }


def cache_key(texts: Sequence[str], model_location: str, max_length: int,
              precision: str = "fp32") -> str:
    """Hex digest of the model (location and weights), max_length, the precision computed in and
    every text, in order."""
    digest = hashlib.sha256()
    settings = {**_model_fingerprint(model_location), "max_length": max_length}
    if precision != "fp32":  # keys of full-precision entries stay as they were
        settings["precision"] = precision
    digest.update(json.dumps(settings, sort_keys=True).encode())
    for text in texts:
        encoded = text.encode("utf-8")
        digest.update(len(encoded).to_bytes(8, "little"))  # length-prefixed: no ambiguous joins
        digest.update(encoded)
    return digest.hexdigest()


def cached_embeddings(
    texts: Sequence[str], model_location: str, max_length: int, cache_dir: str | Path,
    name: str = "embeddings", batch_size: int = 64, device: str = "cpu", progress: bool = True,
    precision: str = "auto",
) -> np.ndarray:
    """embed(), stored as cache_dir/<name>-<key>.safetensors; any change of model, length,
    precision (embedding_precision) or text recomputes."""
    from safetensors.numpy import load_file, save_file

    texts = _check_texts(texts)
    if not name or any(c in name for c in "/\\") or name.startswith("."):
        raise ValueError(f"name={name!r}: use a plain file-name stem such as 'train' or 'test'.")
    computed = embedding_precision(resolve_device(device), precision)
    key = cache_key(texts, model_location, max_length, computed)
    folder = Path(cache_dir)
    path = folder / f"{name}-{key[:24]}.safetensors"
    if path.is_file():
        try:
            vectors = load_file(path)["embeddings"]
            os.utime(path)  # recently used: evicted last
            return vectors
        except (OSError, KeyError):  # evicted by another process meanwhile: compute it again
            pass
    vectors = embed(texts, model_location, max_length=max_length, batch_size=batch_size,
                    device=device, progress=progress, precision=computed)
    folder.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".tmp{os.getpid()}")
    save_file({"embeddings": np.ascontiguousarray(vectors)}, str(tmp),
              metadata={"model": model_location, "max_length": str(max_length), "rows": str(len(texts)),
                        "precision": computed})
    tmp.replace(path)  # atomic: a crash never leaves a half-written cache entry
    evict(folder, keep=path)
    return vectors


CACHE_LIMIT_MB = 1024  # the embedding cache beside the run folders stays under this
CACHE_PROBES = 16  # and keeps this many fitted probes


def evict(folder: Path, keep: Path | None = None, limit_mb: float = CACHE_LIMIT_MB,
          probes: int = CACHE_PROBES) -> list[str]:
    """Delete the least recently used embedding files until the cache holds at most `limit_mb`,
    and all but the `probes` most recently used probes; `keep` (the entry just written) stays.
    Returns the names deleted."""
    def by_use(pattern: str) -> list[tuple[Path, os.stat_result]]:
        """Entries matching the pattern with their stat, most recently used first."""
        found = []
        for entry in folder.glob(pattern):
            try:
                found.append((entry, entry.stat()))
            except OSError:  # deleted by another process meanwhile
                pass
        return sorted(found, key=lambda item: item[1].st_mtime, reverse=True)

    deleted, total = [], 0
    for entry, stat in by_use("*.safetensors"):
        total += stat.st_size
        if total > limit_mb * 2**20 and entry != keep:
            entry.unlink(missing_ok=True)
            deleted.append(entry.name)
    fitted = [entry for entry, _ in by_use("probe-*") if ".tmp" not in entry.name]
    for entry in fitted[probes:]:
        if entry != keep:
            shutil.rmtree(entry, ignore_errors=True)
            deleted.append(entry.name)
    return deleted


def _softmax(logits: np.ndarray) -> np.ndarray:
    """Row-wise softmax, stable for large logits."""
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _check_matrix(emb, parameter: str) -> np.ndarray:
    """Return emb as a 2-D float32 array, or raise naming the parameter."""
    arr = np.asarray(emb, dtype=np.float32)
    if arr.ndim != 2 or arr.shape[0] == 0:
        raise ValueError(f"{parameter}: expected a 2-D array (texts x dimensions) with rows, got shape {arr.shape}; "
                         "compute it with embed(texts, model_location).")
    return arr


@dataclass
class EmbeddingClassifier:
    """Logistic regression on frozen embeddings; C is chosen on validation when there is enough of it."""

    c_grid: tuple[float, ...] = C_GRID
    default_c: float = DEFAULT_C
    min_validation_per_class: float = 10.0  # fewer validation rows per class than this: use default_c
    embedding: dict = field(default_factory=dict)  # e.g. model, max_length, pooling: makes save() self-describing
    labels: list[str] = field(default_factory=list)
    c: float | None = None
    c_source: str = ""
    validation_scores: dict[str, float] = field(default_factory=dict)
    weights: np.ndarray | None = field(default=None, repr=False)
    bias: np.ndarray | None = field(default=None, repr=False)

    def fit(self, train_emb, train_labels: Sequence, val_emb=None, val_labels: Sequence | None = None,
            seed: int = 42) -> EmbeddingClassifier:
        """Fit on train (class_weight='balanced'); pick C by validation macro-F1 from c_grid, else default_c."""
        from sklearn.linear_model import LogisticRegression
        from sklearn.metrics import f1_score

        x = _check_matrix(train_emb, "train_emb")
        y = np.asarray([str(v) for v in train_labels])
        if len(y) != len(x):
            raise ValueError(f"train_labels has {len(y)} entries but train_emb has {len(x)} rows; pass one label per row.")
        classes = sorted(set(y))
        if len(classes) < 2:
            raise ValueError(f"train_labels: found a single class {classes}; a classifier needs at least two.")

        def fitted(c: float):
            return LogisticRegression(C=c, class_weight="balanced", max_iter=2000,
                                      random_state=seed).fit(x, y)

        self.validation_scores = {}
        enough = False
        if val_emb is not None and val_labels is not None:
            vx = _check_matrix(val_emb, "val_emb")
            vy = np.asarray([str(v) for v in val_labels])
            if len(vy) != len(vx):
                raise ValueError(f"val_labels has {len(vy)} entries but val_emb has {len(vx)} rows.")
            enough = len(vy) >= self.min_validation_per_class * len(classes)
        if enough:
            models, scores = {}, {}
            for c in dict.fromkeys((self.default_c, *self.c_grid)):
                models[c] = fitted(c)
                scores[c] = float(f1_score(vy, models[c].predict(vx), labels=classes, average="macro",
                                           zero_division=0))
            self.validation_scores = {str(c): round(v, 4) for c, v in scores.items()}
            best = max(scores, key=scores.get)
            # Validation scores are noisy: move off the default only for a clear gain.
            self.c = best if scores[best] > scores[self.default_c] + VALIDATION_MARGIN else self.default_c
            model = models[self.c]
            self.c_source = (f"validation macro-F1 over C in {list(self.c_grid)} ({len(vy)} rows; the default "
                             f"{self.default_c:g} unless another beats it by over {VALIDATION_MARGIN})")
        else:
            self.c = self.default_c
            model = fitted(self.c)
            self.c_source = ("default (no validation set)" if val_emb is None else
                             f"default (validation under {self.min_validation_per_class:g} rows per class)")
        self.labels = [str(c) for c in model.classes_]
        # C order: sklearn's coef_ is Fortran-ordered and safetensors writes raw buffers as C order.
        coef = np.ascontiguousarray(model.coef_, dtype=np.float32)
        intercept = np.ascontiguousarray(model.intercept_, dtype=np.float32)
        if coef.shape[0] == 1:  # binary: sigmoid(z) == softmax([-z/2, z/2]), so one head shape for all
            coef = np.ascontiguousarray(np.vstack([-coef / 2, coef / 2]))
            intercept = np.array([-intercept[0] / 2, intercept[0] / 2], dtype=np.float32)
        self.weights, self.bias = coef, intercept
        return self

    def _check_fitted(self) -> None:
        """Raise if fit() or load() has not been called."""
        if self.weights is None or self.bias is None:
            raise RuntimeError("EmbeddingClassifier is not fitted: call fit(train_emb, train_labels) or load(folder).")

    def predict_proba(self, emb) -> np.ndarray:
        """Class probabilities (rows: texts, columns: self.labels)."""
        self._check_fitted()
        x = _check_matrix(emb, "emb")
        if x.shape[1] != self.weights.shape[1]:
            raise ValueError(f"emb has {x.shape[1]} dimensions but the classifier was fitted on "
                             f"{self.weights.shape[1]}; embed with the same model ({self.embedding.get('model', 'unknown')}).")
        return _softmax(x @ self.weights.T + self.bias)

    def predict(self, emb) -> list[str]:
        """The most probable label for each row."""
        return [self.labels[i] for i in self.predict_proba(emb).argmax(axis=1)]

    def head_weights(self) -> tuple[np.ndarray, np.ndarray]:
        """(W, b) float32, logits = e @ W.T + b for e the L2-NORMALISED mean-pooled embedding (normalise in the head too)."""
        self._check_fitted()
        return self.weights.copy(), self.bias.copy()

    def save(self, folder: str | Path) -> Path:
        """Write probe.safetensors (W, b) and probe.json (labels, C, embedding settings); no pickle."""
        from safetensors.numpy import save_file

        self._check_fitted()
        folder = Path(folder)
        folder.mkdir(parents=True, exist_ok=True)
        save_file({"weight": np.ascontiguousarray(self.weights), "bias": np.ascontiguousarray(self.bias)}, str(folder / PROBE_WEIGHTS))
        settings = {
            "method": "embeddings", "labels": self.labels, "c": self.c, "c_source": self.c_source,
            "c_grid": list(self.c_grid), "default_c": self.default_c,
            "min_validation_per_class": self.min_validation_per_class,
            "validation_scores": self.validation_scores, "embedding": self.embedding,
        }
        (folder / PROBE_SETTINGS).write_text(json.dumps(settings, indent=2), encoding="utf-8")
        return folder

    @classmethod
    def load(cls, folder: str | Path) -> EmbeddingClassifier:
        """Read a folder written by save()."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        missing = [n for n in (PROBE_WEIGHTS, PROBE_SETTINGS) if not (folder / n).is_file()]
        if missing:
            raise FileNotFoundError(f"{folder} has no {', '.join(missing)}: it is not a saved EmbeddingClassifier "
                                    "(write one with EmbeddingClassifier.fit(...).save(folder)).")
        settings = json.loads((folder / PROBE_SETTINGS).read_text(encoding="utf-8"))
        tensors = load_file(folder / PROBE_WEIGHTS)
        probe = cls(c_grid=tuple(settings["c_grid"]), default_c=settings["default_c"],
                    min_validation_per_class=settings["min_validation_per_class"],
                    embedding=settings["embedding"], labels=list(settings["labels"]), c=settings["c"],
                    c_source=settings["c_source"], validation_scores=settings["validation_scores"],
                    weights=tensors["weight"], bias=tensors["bias"])
        if probe.weights.shape[0] != len(probe.labels):
            raise ValueError(f"{folder}: {PROBE_WEIGHTS} has {probe.weights.shape[0]} rows but "
                             f"{PROBE_SETTINGS} lists {len(probe.labels)} labels; the folder is corrupt, refit.")
        return probe


def cached_probe(train_texts: Sequence[str], train_labels: Sequence, val_texts: Sequence[str],
                 val_labels: Sequence, model_location: str, max_length: int, cache_dir: str | Path,
                 device: str = "cpu", seed: int = 42) -> tuple[EmbeddingClassifier, np.ndarray]:
    """The probe fitted on the cached train embeddings (C chosen on validation), and those embeddings.

    The fit (several logistic regressions on the C grid: tens of seconds on 15,000 texts and 150
    classes) is stored beside the embeddings, so 02's second baseline, the fine-tuning warm start,
    03 and every other run on the same splits fit it once. Any change of texts, labels, model,
    length or seed fits again.
    """
    train_emb = cached_embeddings(list(train_texts), model_location, max_length, cache_dir,
                                  name="train", device=device)
    val_emb = cached_embeddings(list(val_texts), model_location, max_length, cache_dir,
                                name="validation", device=device)
    key = cache_key([*train_texts, "\x1f", *map(str, train_labels), "\x1f", *val_texts, "\x1f",
                     *map(str, val_labels), f"seed={seed}"], model_location, max_length)
    folder = Path(cache_dir) / f"probe-{key[:24]}"
    if (folder / PROBE_WEIGHTS).is_file() and (folder / PROBE_SETTINGS).is_file():
        try:
            probe = EmbeddingClassifier.load(folder)
            os.utime(folder)  # recently used: evicted last
            return probe, train_emb
        except OSError:  # evicted by another process meanwhile: fit it again
            pass
    probe = EmbeddingClassifier().fit(train_emb, list(train_labels), val_emb, list(val_labels),
                                      seed=seed)
    tmp = folder.with_name(f"{folder.name}.tmp{os.getpid()}")
    probe.save(tmp)
    try:
        tmp.replace(folder)  # atomic: a crash never leaves a half-written probe
    except OSError:  # another process stored the same probe first
        shutil.rmtree(tmp, ignore_errors=True)
    evict(Path(cache_dir), keep=folder)
    return probe, train_emb


def label_texts(label_names: Sequence[str], descriptions: Mapping[str, str] | Sequence[str] | None = None,
                template: str = "{label}") -> list[str]:
    """The text embedded for each label: 'under_scores' as words, plus ': description' when given."""
    names = _check_texts([str(n) for n in label_names], "label_names")
    if "{label}" not in template:
        raise ValueError(f"template={template!r} must contain '{{label}}', e.g. 'a message about {{label}}'.")
    if descriptions is not None and not isinstance(descriptions, Mapping):
        descriptions = list(descriptions)
        if len(descriptions) != len(names):
            raise ValueError(f"descriptions has {len(descriptions)} entries for {len(names)} labels; "
                             "give one per label, or a dict {label: description}.")
        descriptions = dict(zip(names, descriptions))
    out = []
    for name in names:
        text = template.format(label=name.replace("_", " ").replace("-", " ").strip())
        if descriptions and descriptions.get(name):
            text = f"{text}: {descriptions[name]}"
        out.append(text)
    return out


# How well zero-shot does is in benchmarks/RESULTS.md, "Few labels": good enough to start labelling
# from, better with label names that are words ("negative", not "0") or one-line descriptions, and a
# probe on 2+ examples per class usually beats it. The temperature only sharpens probabilities; it
# does not change the ranking.
def zero_shot_proba(
    text_emb, label_names: Sequence[str], model_location: str,
    descriptions: Mapping[str, str] | Sequence[str] | None = None, temperature: float = ZERO_SHOT_TEMPERATURE,
    template: str = "{label}", max_length: int = 128, device: str = "cpu",
) -> np.ndarray:
    """softmax(cosine(text, label text) / temperature); columns follow label_names. See the note above on accuracy."""
    x = _check_matrix(text_emb, "text_emb")
    norms = np.linalg.norm(x, axis=1)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise ValueError("text_emb rows are not unit length; compute them with embed() (L2-normalised) "
                         "from the same model_location.")
    if temperature <= 0:
        raise ValueError(f"temperature={temperature!r}: use a positive number, e.g. {ZERO_SHOT_TEMPERATURE}.")
    if len(label_names) < 2:
        raise ValueError(f"label_names: got {list(label_names)}; zero-shot needs at least two labels.")
    label_emb = embed(label_texts(label_names, descriptions, template), model_location,
                      max_length=max_length, device=device, progress=False)
    if label_emb.shape[1] != x.shape[1]:
        raise ValueError(f"text_emb has {x.shape[1]} dimensions, the label embeddings {label_emb.shape[1]}: "
                         "embed the texts with the same model_location.")
    return _softmax((x @ label_emb.T) / temperature)


def descriptive_label(label: str) -> bool:
    """Whether a label name carries words a sentence model can match (not '0', '1', 'A')."""
    return sum(ch.isalpha() for ch in str(label)) >= 3
