"""The few-labels methods (METHOD embeddings, contrastive and zero-shot): frozen sentence
embeddings with a logistic-regression head; the same after contrastive tuning of the encoder on
pairs drawn from the few labels (the SetFit recipe); and label-name similarity. None trains with
Trainer (contrastive runs its own short loop inside TIME_BUDGET_MINUTES).

All save model/ as hackkit.models.meanpool's model class (encoder + mean pooling + linear head), so
the one prediction path loads them like a fine-tuned model. METHOD auto chooses between them and
finetune (hackkit.train.methods).
"""

from __future__ import annotations

import contextlib
import math
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.base import Task
from hackkit.device import resolve_device, resolve_precision
from hackkit.models.embeddings import (
    ZERO_SHOT_TEMPERATURE,
    EmbeddingClassifier,
    cached_embeddings,
    embed,
    embed_loaded,
    label_texts,
)
from hackkit.models.meanpool import build
from hackkit.models.resolve import resolve_model
from hackkit.params import TrainConfig, read_yaml
from hackkit.paths import atomic_folder, find_input, write_json
from hackkit.registry import get_method
from hackkit.runfolder import ModelInfo, Run, load_splits, write_model_info
from hackkit.summary import TrainSummary
from hackkit.train.session import check_run


def read_label_descriptions(path: str, labels: list[str]) -> dict[str, str]:
    """LABEL_DESCRIPTIONS: a CSV (label,description) or YAML ({label: one line}); {} when empty."""
    if not path:
        return {}
    file = find_input(path)
    if not file.is_file():
        raise FileNotFoundError(f"LABEL_DESCRIPTIONS={path!r}: {file} not found. Give a CSV with "
                                "columns label,description or a YAML file of label: description.")
    if file.suffix.lower() in (".yaml", ".yml"):
        found = read_yaml(file, "LABEL_DESCRIPTIONS file")
        if not isinstance(found, dict):
            raise ValueError(f"LABEL_DESCRIPTIONS={path!r}: expected a mapping label: description, "
                             f"got {type(found).__name__}.")
        pairs = {str(k): str(v) for k, v in found.items()}
    else:
        frame = pd.read_csv(file, dtype=str, keep_default_na=False)
        missing = [c for c in ("label", "description") if c not in frame.columns]
        if missing:
            raise ValueError(f"LABEL_DESCRIPTIONS={path!r}: no column {missing} in {file.name} "
                             f"(columns: {list(frame.columns)}); use the header label,description.")
        pairs = dict(zip(frame["label"], frame["description"]))
    unknown = sorted(set(pairs) - set(labels))
    if unknown:
        raise ValueError(f"LABEL_DESCRIPTIONS={path!r}: labels {unknown[:10]} are not among the "
                         f"run's labels {labels[:20]}; fix their spelling in {file.name}.")
    return {k: v.strip() for k, v in pairs.items() if v.strip()}


def _start(run_dir: str | Path, config: TrainConfig):
    """Check the run (as the training session does) and read its splits: run, task, splits, labels."""
    run = Run(run_dir)
    task = check_run(run, config)
    splits, labels = load_splits(run.path)
    return run, task, splits, labels


def _embedded(run: Run, frame: pd.DataFrame, name: str, location: str, config: TrainConfig,
              device: str) -> np.ndarray:
    """Cached embeddings of a split's texts in the run folder."""
    return cached_embeddings(list(frame["text"]), location, config.max_length, run.embeddings,
                             name=name, device=device)


def _validation_scores(task: Task, frame: pd.DataFrame, proba: np.ndarray, labels: list[str]) -> dict:
    """The task's metrics of validation probabilities (columns: labels)."""
    predicted = [labels[i] for i in proba.argmax(axis=1)]
    scores = task.score(pd.DataFrame({"label": list(frame["label"]), "predicted": predicted}), labels)
    index = {label: i for i, label in enumerate(labels)}
    gold = np.array([index.get(label, -1) for label in frame["label"]])
    known = gold >= 0  # cross-entropy, as Trainer logs eval_loss, over labels the model knows
    picked = proba[np.flatnonzero(known), gold[known]]
    return {**scores, "loss": float(-np.log(np.clip(picked, 1e-12, None)).mean())}


def _save(run: Run, config: TrainConfig, method: str, labels: list[str], location: str,
          weight: np.ndarray, bias: np.ndarray, task: Task, encoder=None) -> Path:
    """Write model/ all or nothing: encoder + head as safetensors, config, tokenizer, MODEL_INFO."""
    model = build(location, labels, weight, bias, encoder=encoder)
    with atomic_folder(run.model_dir) as tmp:
        model.save_pretrained(str(tmp))
        task.load_processor(location).save_pretrained(str(tmp))
        write_model_info(tmp, ModelInfo(task=config.task, labels=labels,
                                        max_length=config.max_length, method=method,
                                        base_model=config.model))
    return run.model_dir


def _finish(run: Run, config: TrainConfig, task: Task, method: str, device: str, source: str,
            train_examples: int, val_scores: dict, validation_examples: int, seconds: float,
            details: dict, precision: str = "fp32", **fields) -> TrainSummary:
    """The training summary, and a one-evaluation history."""
    validation = {k: v for k, v in val_scores.items() if k != "per_class"}
    summary = TrainSummary(
        task=config.task, method=method, main_metric=task.main_metric, model=config.model,
        model_source=source, device=device, precision=precision, train_examples=train_examples,
        validation_examples=validation_examples, best_validation=val_scores[task.main_metric],
        train_seconds=round(seconds, 2), config=config.read_by(get_method(method).options),
        details={"validation": validation, **details}, **fields)
    # One evaluation, in Trainer's log format, so the learning-curve plots read it like any run.
    write_json(run.history, [{"epoch": 1.0, "step": 0,
                              **{f"eval_{k}": v for k, v in validation.items()}}])
    summary.write(run.train_summary)
    return summary


def train_embeddings(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """Embed the splits once (cached), fit class-balanced logistic regression, save model/."""
    run, task, splits, labels = _start(run_dir, config)
    device = resolve_device(config.device)
    resolved = resolve_model(config.model)
    train = task.subsample(splits["train"], config.max_train_examples, config.seed)
    started = time.monotonic()
    full = splits["train"]
    if len(full) <= 4 * len(train):  # embed all of train once: the 02/03 baseline reuses the cache
        rows = dict(zip(full["text"], range(len(full))))
        train_emb = _embedded(run, full, "train", resolved.location, config, device)[
            [rows[t] for t in train["text"]]]
    else:
        train_emb = _embedded(run, train, "train-subsample", resolved.location, config, device)
    val_emb = _embedded(run, splits["validation"], "validation", resolved.location, config, device)
    probe = EmbeddingClassifier(embedding={"model": config.model, "max_length": config.max_length,
                                           "pooling": "mean, L2-normalised"})
    probe.fit(train_emb, train["label"], val_emb, splits["validation"]["label"], seed=config.seed)
    if probe.labels != labels:  # a class missing from the subsample: keep the run's label order
        raise ValueError(f"MAX_TRAIN_EXAMPLES={config.max_train_examples}: the training sample has "
                         f"labels {probe.labels}, the run {labels}; raise it (0 keeps all rows).")
    weight, bias = probe.head_weights()
    seconds = time.monotonic() - started
    _save(run, config, "embeddings", labels, resolved.location, weight, bias, task)
    val_scores = _validation_scores(task, splits["validation"], probe.predict_proba(val_emb), labels)
    return _finish(run, config, task, "embeddings", device, resolved.source, len(train), val_scores,
                   len(splits["validation"]), seconds,
                   {"probe": {"c": probe.c, "c_source": probe.c_source,
                              "validation_scores_by_c": probe.validation_scores}})


def train_zero_shot(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """No training: the head's rows are the label texts' embeddings / temperature (labels from train)."""
    run, task, splits, labels = _start(run_dir, config)
    descriptions = read_label_descriptions(config.label_descriptions, labels)
    device = resolve_device(config.device)
    resolved = resolve_model(config.model)
    started = time.monotonic()
    texts = label_texts(labels, descriptions)
    label_emb = embed(texts, resolved.location, max_length=config.max_length, device=device,
                      progress=False)
    weight = np.ascontiguousarray(label_emb / ZERO_SHOT_TEMPERATURE, dtype=np.float32)
    bias = np.zeros(len(labels), dtype=np.float32)
    seconds = time.monotonic() - started
    _save(run, config, "zero-shot", labels, resolved.location, weight, bias, task)
    val_emb = _embedded(run, splits["validation"], "validation", resolved.location, config, device)
    logits = val_emb @ weight.T
    proba = np.exp(logits - logits.max(axis=1, keepdims=True))
    val_scores = _validation_scores(task, splits["validation"], proba / proba.sum(1, keepdims=True),
                                    labels)
    return _finish(run, config, task, "zero-shot", device, resolved.source, 0, val_scores,
                   len(splits["validation"]), seconds,
                   {"zero_shot": {"label_texts": dict(zip(labels, texts)),
                                  "temperature": ZERO_SHOT_TEMPERATURE,
                                  "label_descriptions": config.label_descriptions}})


# METHOD contrastive (benchmarks/bench_few_labels.py, benchmarks/RESULTS.md "Few labels"):
# (anchor, positive) pairs a step; the other pairs are its negatives. 64 rather than 32: on clinc150
# at 10 per class, +0.2 points of test accuracy on average over three cuts (-0.2 to +0.6).
CONTRASTIVE_PAIRS_PER_STEP = 64
CONTRASTIVE_PASSES = 6.0  # with no time limit: each training text is an anchor about this often
# AdamW, constant: a budget stop leaves no schedule half-run (bench_few_labels.py --contrastive-lr)
CONTRASTIVE_LEARNING_RATE = 1e-4
CONTRASTIVE_SCALE = 20.0  # cosine similarity x this = the logits (sentence-transformers' default)


def pair_groups(labels: Sequence[str], rng: np.random.Generator,
                pairs: int = CONTRASTIVE_PAIRS_PER_STEP) -> list[list[tuple[int, int]]]:
    """One step's pairs of row positions (anchor, positive of the same label), in groups whose
    pairs all have different labels: inside a group every other pair's texts are negatives, so a
    negative is never of the anchor's own label. With fewer labels than `pairs`, several groups."""
    rows: dict[str, list[int]] = {}
    for i, label in enumerate(labels):
        rows.setdefault(str(label), []).append(i)
    usable = [r for r in rows.values() if len(r) >= 2]
    if len(usable) < 2:
        raise ValueError(f"METHOD='contrastive': {len(usable)} label(s) have two or more training "
                         "texts; pairs of the same label need at least two labels with two texts "
                         "each. Label more, or use METHOD='embeddings'.")
    size = min(len(usable), pairs)
    out = []
    for _ in range(max(1, pairs // size)):
        group = []
        for c in rng.choice(len(usable), size=size, replace=False):
            a, b = rng.choice(len(usable[c]), size=2, replace=False)
            group.append((usable[c][a], usable[c][b]))
        out.append(group)
    return out


def _on(features: dict, device) -> dict:
    """A tokenised batch moved to the model's device."""
    return {k: v.to(device) if hasattr(v, "to") else v for k, v in features.items()}


def tune_encoder(texts: Sequence[str], labels: Sequence[str], location: str, max_length: int,
                 seconds: float, seed: int, device: str,
                 learning_rate: float = CONTRASTIVE_LEARNING_RATE,
                 passes: float = CONTRASTIVE_PASSES,
                 precision: str = "auto") -> tuple[object, object, dict]:
    """Contrastive tuning of the sentence encoder on same-label pairs, until `seconds` run out (0:
    no limit) or `passes` over the texts are done: the tuned encoder, its tokenizer and a record.

    The loss is sentence-transformers' MultipleNegativesRankingLoss in both directions (anchor to
    positive and back), over groups of pairs of distinct labels (pair_groups). `precision` 'auto'
    runs the encoder under bf16 autocast where the CPU or GPU has bf16 (the weights, the optimizer
    and the loss stay fp32), else in fp32; 'bf16' or 'fp32' force one."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer.losses import MultipleNegativesRankingLoss
    from sentence_transformers.sentence_transformer.modules import Normalize, Pooling, Transformer
    from tqdm.auto import tqdm

    if precision not in ("auto", "fp32", "bf16"):
        raise ValueError(f"precision={precision!r}: use 'auto', 'fp32' or 'bf16'.")
    texts, labels = list(texts), [str(v) for v in labels]
    rng = np.random.default_rng(seed)
    pair_groups(labels, rng)  # refuses data without pairs before the model is loaded
    torch.manual_seed(seed)
    encoder = Transformer(location, max_seq_length=max_length)
    model = SentenceTransformer(modules=[encoder, Pooling(encoder.get_embedding_dimension(), "mean"),
                                         Normalize()], device=device)
    # As the training session does: the word-embedding table (half of MiniLM) stays pretrained,
    # so a step is faster and the few labels cannot drift the rows of the words they contain.
    model[0].auto_model.get_input_embeddings().weight.requires_grad_(False)
    loss_fn = MultipleNegativesRankingLoss(model, scale=CONTRASTIVE_SCALE,
                                           directions=("query_to_doc", "doc_to_query"))
    optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad],
                                  lr=learning_rate)
    # bf16 autocast: 1.5x the steps per second on a CPU with AVX512-BF16, the same test accuracy
    # (benchmarks/RESULTS.md, "Few labels"). A GPU without bf16 stays in fp32: fp16 would need a
    # loss scaler for so short a run.
    computed = resolve_precision(device, precision, cpu_auto="bf16")
    computed = "bf16" if computed == "bf16" else "fp32"
    autocast = (torch.autocast("cuda" if device == "cuda" else "cpu", dtype=torch.bfloat16)
                if computed == "bf16" else contextlib.nullcontext())
    max_steps = max(1, math.ceil(passes * len(texts) / CONTRASTIVE_PAIRS_PER_STEP))
    started, losses, stopped = time.monotonic(), [], False
    model.train()
    with tqdm(total=max_steps, desc="Contrastive pairs", unit="step") as bar:
        for _ in range(max_steps):
            if seconds and time.monotonic() - started >= seconds:
                stopped = True
                break
            optimizer.zero_grad()
            groups = pair_groups(labels, rng)
            # One forward pass for every anchor and one for every positive; the loss per group.
            with autocast:
                anchors, positives = (model(_on(model.preprocess([texts[p[side]] for g in groups
                                                                  for p in g]), model.device))
                                      ["sentence_embedding"].float() for side in (0, 1))
            size = len(groups[0])
            loss = sum(loss_fn.compute_loss_from_embeddings(
                [anchors[i:i + size], positives[i:i + size]], None)
                for i in range(0, len(anchors), size)) / len(groups)
            loss.backward()
            optimizer.step()
            losses.append(float(loss.detach()))
            bar.update(1)
            bar.set_postfix(loss=f"{losses[-1]:.3f}")
    tuned = model[0].auto_model.eval()
    record = {"steps": len(losses), "max_steps": max_steps, "seconds": round(time.monotonic() - started, 2),
              "stopped_by_time_budget": stopped, "pairs_per_step": CONTRASTIVE_PAIRS_PER_STEP,
              "learning_rate": learning_rate, "precision": computed,
              "loss_first": round(losses[0], 4) if losses else None,
              "loss_last": round(float(np.mean(losses[-10:])), 4) if losses else None}
    return tuned, model[0].tokenizer, record


def train_contrastive(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """Tune the encoder on same-label pairs inside the budget, fit the probe on its embeddings,
    save model/; the frozen encoder's probe is kept instead when it scores higher on validation."""
    run, task, splits, labels = _start(run_dir, config)
    device = resolve_device(config.device)
    resolved = resolve_model(config.model)
    train = task.subsample(splits["train"], config.max_train_examples, config.seed)
    validation = splits["validation"]
    pair_groups(list(train["label"]), np.random.default_rng(config.seed))  # before any work
    if config.precision == "fp16":
        raise ValueError("PRECISION='fp16': METHOD='contrastive' tunes in bf16 (where the CPU or "
                         "GPU has it) or fp32. Leave PRECISION='auto', or give 'bf16' or 'fp32'.")
    started = time.monotonic()
    tuned, tokenizer, record = tune_encoder(train["text"], train["label"], resolved.location,
                                            config.max_length, config.time_budget_minutes * 60,
                                            config.seed, device, CONTRASTIVE_LEARNING_RATE,
                                            precision=config.precision)
    print(f"contrastive tuning: {record['steps']} steps of {record['pairs_per_step']} pairs in "
          f"{record['seconds']:g} s (loss {record['loss_first']} -> {record['loss_last']})", flush=True)
    fits = {}
    for name, encoder in (("tuned", tuned), ("frozen", None)):
        if encoder is None:
            train_emb = _embedded(run, train, "train-subsample", resolved.location, config, device)
            val_emb = _embedded(run, validation, "validation", resolved.location, config, device)
        else:
            train_emb, val_emb = (embed_loaded(list(f["text"]), encoder, tokenizer, config.max_length,
                                               device=device) for f in (train, validation))
        probe = EmbeddingClassifier(embedding={"model": config.model, "max_length": config.max_length,
                                               "pooling": "mean, L2-normalised", "encoder": name})
        probe.fit(train_emb, train["label"], val_emb, validation["label"], seed=config.seed)
        if probe.labels != labels:  # a class missing from the subsample: keep the run's label order
            raise ValueError(f"MAX_TRAIN_EXAMPLES={config.max_train_examples}: the training sample "
                             f"has labels {probe.labels}, the run {labels}; raise it (0 keeps all).")
        fits[name] = (probe, _validation_scores(task, validation, probe.predict_proba(val_emb), labels))
    # Ties go to the tuned encoder; the frozen one only when it is better on validation.
    kept = ("frozen" if fits["frozen"][1][task.main_metric] > fits["tuned"][1][task.main_metric]
            else "tuned")
    probe, val_scores = fits[kept]
    weight, bias = probe.head_weights()
    seconds = time.monotonic() - started
    _save(run, config, "contrastive", labels, resolved.location, weight, bias, task,
          encoder=tuned if kept == "tuned" else None)
    if kept == "frozen":
        print(f"the frozen encoder's probe scored higher on validation ({task.main_metric} "
              f"{fits['frozen'][1][task.main_metric]:.4f} against {fits['tuned'][1][task.main_metric]:.4f}): "
              "kept it", flush=True)
    return _finish(run, config, task, "contrastive", device, resolved.source, len(train), val_scores,
                   len(validation), seconds,
                   {"contrastive": {**record, "kept": kept,
                                    "validation_by_encoder": {n: round(f[1][task.main_metric], 4)
                                                              for n, f in fits.items()}},
                    "probe": {"c": probe.c, "c_source": probe.c_source,
                              "validation_scores_by_c": probe.validation_scores}},
                   precision=record["precision"], steps=record["steps"],
                   stopped_by_time_budget=record["stopped_by_time_budget"],
                   available_train_examples=len(splits["train"]))
