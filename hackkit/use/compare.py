"""Which model do I demo? One table for a run and the models derived from it (distilled students,
int8 copies, an averaged checkpoint): test scores, agreement with the run's own model, size, and
speed on this machine's CPU, all measured in the same process so the numbers compare."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.runfolder import Run, find_run, load_splits
from hackkit.use.predict import Predictor
from hackkit.use.quantize import onnx_int8_file


def student_runs(run_dir: str | Path) -> list[Path]:
    """Run folders beside this one whose model was distilled from it."""
    run = Run(run_dir)
    found = []
    for folder in sorted(run.path.parent.iterdir()):
        other = Run(folder)
        if folder.is_dir() and folder != run.path and other.has("model"):
            summary = other.summary()
            if summary and summary.details.get("teacher_run") == run.name:
                found.append(folder)
    return found


def model_bytes(predictor) -> int:
    """Size of the model's weights as saved: the safetensors file, the int8 ONNX file, or the int8 state dict."""
    if predictor.session is not None:
        return onnx_int8_file(predictor.model_dir).stat().st_size
    if not predictor.int8:
        return sum(p.stat().st_size for p in predictor.model_dir.glob("*.safetensors"))
    import torch

    buffer = io.BytesIO()
    torch.save(predictor.model.state_dict(), buffer)
    return buffer.tell()


def interleaved_speed(predictors: list, texts: list[str], latency_texts: int,
                      throughput_texts: int, batch_size: int = 32, rounds: int = 4
                      ) -> list[tuple[float, float]]:
    """(median ms per text at batch 1, texts/s at batch_size) for each predictor, timed in turns.

    Both samples are split into rounds that every model runs in turn, so that a busy moment on a
    shared machine slows all the models alike instead of whichever was being timed: the ratios
    between rows hold even when the absolute times drift. Within a round a model answers several
    texts in a row (one at a time), as a demo does, so its weights are warm in the caches.
    """
    for predictor in predictors:  # warm-up, and the batch size for the throughput rounds
        predictor.predict(texts[:1])
        predictor.batch_size = batch_size
        predictor.predict(texts[:batch_size])
    waits = [[] for _ in predictors]
    sample = (texts * latency_texts)[:latency_texts]
    step = max(1, -(-len(sample) // rounds))
    for begin in range(0, len(sample), step):
        for i, predictor in enumerate(predictors):
            for text in sample[begin:begin + step]:
                start = time.perf_counter()
                predictor.predict([text])
                waits[i].append(time.perf_counter() - start)
    sample = (texts * (throughput_texts // max(1, len(texts)) + 1))[:max(1, throughput_texts)]
    step = max(1, -(-len(sample) // rounds))
    spent = [0.0] * len(predictors)
    for begin in range(0, len(sample), step):
        for i, predictor in enumerate(predictors):
            start = time.perf_counter()
            predictor.predict(sample[begin:begin + step])
            spent[i] += time.perf_counter() - start
    return [(float(np.median(w) * 1000), len(sample) / s) for w, s in zip(waits, spent)]


def measure(model_dir: Path, name: str, int8: bool, frame: pd.DataFrame,
            reference: np.ndarray | None) -> tuple[dict, np.ndarray, object]:
    """One row of the comparison without its speed: scores, agreement with `reference`
    predictions, parameters and size; with the predictions and the loaded Predictor."""
    predictor = Predictor(model_dir, device="cpu", int8=int8)
    task = predictor.task
    inputs = task.inputs_of(frame)
    table = task.predictions_table(frame, predictor.predict(inputs))
    scores = task.score(table, predictor.labels)
    predicted = table["predicted"].to_numpy()
    # Parameters of the network (an int8 copy has the same count, stored in a quarter of the bytes).
    params = sum(p.numel() for p in task.load_trained(model_dir)[1].parameters())
    row = {
        "model": name, "run": model_dir.parent.name, "int8": int8,
        # accuracy where the task has one (a regression has only its main metric here)
        **{k: scores[k] for k in dict.fromkeys(("accuracy", task.main_metric)) if k in scores},
        "agreement_with_run": float(np.mean(predicted == reference)) if reference is not None
        else 1.0,
        "parameters_m": round(params / 1e6, 2),
        "size_mb": round(model_bytes(predictor) / 2**20, 1),
    }
    return row, predicted, predictor


def compare_models(run_dir: str | Path = "", int8: bool = True, latency_texts: int = 50,
                   throughput_texts: int = 256, write: bool = True) -> pd.DataFrame:
    """The run's model, its int8 copy, and each distilled student (and its int8 copy), measured
    (the speeds in turns, see interleaved_speed). A text-generation run compares its model, the
    int8 copy and the untrained base model instead (compare_generators).

    Written to the run folder (MODEL_COMPARISON) where 04 and the leaderboard read it.
    """
    import torch

    run = Run(find_run(str(run_dir), needs="model"))
    if run.task().name == "text-generation":
        return compare_generators(run, int8=int8, latency_prompts=min(latency_texts, 8),
                                  write=write)
    frame = load_splits(run.path)[0]["test"]
    summary = run.summary()
    averaging = (summary.details.get("checkpoint_averaging") if summary else None) or {}
    own = f"{run.name} ({summary.method if summary else 'finetune'}"
    own += f", {len(averaging['chosen'])} epochs averaged)" if averaging.get("kept") else ")"
    candidates = [(run.model_dir, own)]
    for student in student_runs(run.path):
        candidates.append((Run(student).model_dir, f"{student.name} (student)"))
    rows, predictors, reference = [], [], None
    print(f"measuring on {torch.get_num_threads()} CPU threads, {len(frame)} test examples")
    for model_dir, name in candidates:
        for quantised in ((False, True) if int8 else (False,)):
            row, predicted, predictor = measure(model_dir, name + (" int8" if quantised else ""),
                                                quantised, frame, reference)
            reference = predicted if reference is None else reference
            rows.append(row)
            predictors.append(predictor)
    texts = [str(x) for x in predictors[0].task.inputs_of(frame)]
    for row, (ms, per_s) in zip(rows, interleaved_speed(predictors, texts, latency_texts,
                                                        throughput_texts)):
        row.update(latency_ms_batch1=round(ms, 2), texts_per_s_batch32=round(per_s, 1))
    table = pd.DataFrame(rows)
    base = table["latency_ms_batch1"].iloc[0]
    table["speedup_batch1"] = (base / table["latency_ms_batch1"]).round(2)
    main = run.task().main_metric
    table[f"{main}_kept"] = (table[main] / table[main].iloc[0]).round(4)
    if write:
        table.to_csv(run.model_comparison, index=False)
    return table


GENERATION_ROWS = 48  # test prompts every generator answers for the comparison's scores
GENERATION_BATCH = 8  # prompts generated together for the batched speed


def compare_generators(run: Run, rows: int = GENERATION_ROWS, int8: bool = True,
                       latency_prompts: int = 8, write: bool = True,
                       base_model: str = "") -> pd.DataFrame:
    """Quality against speed for a text-generation run: its model, the model's int8 copy (PyTorch
    dynamic int8, fp32 activations) and the base model it was trained from, untrained, answering
    as the prompted baseline does (similar training pairs as examples).

    Each answers the first `rows` test prompts in batches of GENERATION_BATCH (BLEU, ROUGE-L and
    chrF against every reference; generated tokens/s in batches), then `latency_prompts` prompts
    one at a time as the demo streams them (ms per answer, tokens/s). The models take turns in
    every round, so a busy moment slows all of them alike. `base_model`: the untrained row's
    model when hackkit.json cannot name it (a local folder outside the project); without one the
    row is left out.
    """
    import torch

    splits = load_splits(run.path)[0]
    frame = splits["test"].head(rows)
    own = Predictor(run.model_dir, device="cpu", batch_size=GENERATION_BATCH)
    task = own.task
    summary = run.summary()
    entries = [(f"{run.name} ({summary.method if summary else own.method})", own)]
    if int8:
        entries.append((f"{run.name} int8", Predictor(run.model_dir, device="cpu", int8=True,
                                                      batch_size=GENERATION_BATCH)))
    base = task.untrained_like(own, splits["train"], base_model)
    if base is not None:
        name = base_model or own.info.base_model
        entries.append((f"{Path(name).name if base_model else name} (no training, similar pairs "
                        "as examples)", base))
    prompts = [str(x) for x in task.inputs_of(frame)]
    if not prompts:
        raise ValueError(f"{run.path}: the test split is empty; there is nothing to compare on.")
    print(f"measuring on {torch.get_num_threads()} CPU threads, {len(prompts)} test prompts")
    for _, predictor in entries:  # warm-up
        predictor.predict(prompts[:1])
    answers: list[list] = [[] for _ in entries]
    spent = [0.0] * len(entries)
    step = max(1, -(-len(prompts) // 4))
    for begin in range(0, len(prompts), step):
        for i, (_, predictor) in enumerate(entries):
            start = time.perf_counter()
            answers[i] += predictor.predict(prompts[begin:begin + step])
            spent[i] += time.perf_counter() - start
    waits: list[list[float]] = [[] for _ in entries]
    written = [0] * len(entries)
    for prompt in prompts[:max(1, latency_prompts)]:
        for i, (_, predictor) in enumerate(entries):
            start = time.perf_counter()
            written[i] += predictor.predict([prompt])[0]["new_tokens"]
            waits[i].append(time.perf_counter() - start)
    parameters = sum(p.numel() for p in own.model.parameters())
    table_rows = []
    for i, (name, predictor) in enumerate(entries):
        scores = task.score(task.predictions_table(frame, answers[i]), [])
        tokens = sum(a["new_tokens"] for a in answers[i])
        table_rows.append({
            "model": name, "run": run.name, "int8": predictor.int8,
            **{k: round(scores[k], 4) for k in ("bleu", "rougeL", "chrf")},
            "tokens_per_answer": round(tokens / len(prompts), 1),
            "parameters_m": round(parameters / 1e6, 2),
            "size_mb": round(model_bytes(predictor) / 2**20, 1),
            "latency_ms_batch1": round(float(np.median(waits[i])) * 1000, 1),
            "tokens_per_s_batch1": round(written[i] / sum(waits[i]), 1),
            f"tokens_per_s_batch{GENERATION_BATCH}": round(tokens / spent[i], 1),
        })
    table = pd.DataFrame(table_rows)
    first = table["bleu"].iloc[0]  # the run's model: what the other rows keep of its BLEU
    table["bleu_kept"] = (table["bleu"] / first).round(4) if first > 0 else float("nan")
    table["speedup_batch1"] = (table["tokens_per_s_batch1"]
                               / table["tokens_per_s_batch1"].iloc[0]).round(2)
    if write:
        table.to_csv(run.model_comparison, index=False)
    return table


def check_int8(run_dir: str | Path, split: str = "test") -> dict:
    """Accuracy and main metric of the fp32 and int8 models on a split, and how often they agree."""
    run = Run(run_dir)
    frame = load_splits(run.path)[0][split]
    results = {}
    for name, int8 in (("fp32", False), ("int8", True)):
        predictor = Predictor(run.model_dir, device="cpu", int8=int8)
        task = predictor.task
        table = task.predictions_table(frame, predictor.predict(task.inputs_of(frame)))
        results[name] = (table, task.score(table, predictor.labels))
    fp32, int8 = results["fp32"][0], results["int8"][0]
    agreement = float(np.mean(fp32["predicted"].to_numpy() == int8["predicted"].to_numpy()))
    main = predictor.task.main_metric
    return {"split": split, "examples": len(frame), "agreement": agreement,
            **{f"{name}_{key}": results[name][1][key] for name in results
               for key in dict.fromkeys(("accuracy", main)) if key in results[name][1]}}


def read_comparison(run_dir: str | Path) -> pd.DataFrame | None:
    """The run's model comparison table, or None when compare_models has not been run."""
    path = Run(run_dir).model_comparison
    return pd.read_csv(path) if path.is_file() else None
