"""The `distill` command: a student trained from a finished run's model (the teacher) into a new
run folder beside the teacher's, then scored the way 03 scores a run.

The student run gets the teacher's splits and data report, its own model/ (method "distill",
trained by hackkit.train.distillation in the one training session), metrics.json and a model card,
so 03, 04, `serve`, export and the leaderboard treat it like any other run.
"""

from __future__ import annotations

import shutil
from dataclasses import fields, replace
from pathlib import Path

import pandas as pd

from hackkit.params import TrainConfig
from hackkit.paths import find_input
from hackkit.registry import COMMON_PARAMETERS
from hackkit.runfolder import Run, find_run, load_splits, new_run_dir, read_model_info
from hackkit.summary import TrainSummary
from hackkit.tables import check_column, read_table
from hackkit.train.distillation import (DistillConfig, DistillMethod, check_ffn, kept_layers,
                                        teacher_depth, teacher_targets)
from hackkit.train.session import check_run, train_session
from hackkit.use.card import write_model_card
from hackkit.use.evaluate import baseline_scores, predict_split, score_predictions, write_metrics
from hackkit.use.predict import Predictor


def _unlabelled_texts(path: str) -> list[str]:
    """The `text` column of the unlabelled file, blanks dropped."""
    frame = read_table(find_input(path))
    check_column(frame, "text", "--unlabelled", find_input(path))
    texts = frame["text"].dropna().astype(str)
    return texts[texts.str.strip() != ""].tolist()


def start_student_run(teacher: Run, name: str = "") -> Run:
    """A new run folder beside the teacher's with its splits and data report."""
    student = Run(new_run_dir(name or f"{teacher.name}-student", root=teacher.path.parent))
    shutil.copytree(teacher.splits_dir, student.splits_dir)
    if teacher.data_report.is_file():
        shutil.copy2(teacher.data_report, student.data_report)
    return student


def student_config(teacher: Run, options: DistillConfig, device: str) -> TrainConfig:
    """The student's training settings: the teacher's common and Trainer settings, its own
    model, epochs and budget; the options of the teacher's method left at their defaults (the
    student trains every weight of its model, in one process, from its own head)."""
    summary = teacher.summary()
    saved = summary.config if summary else None
    if not saved:
        raise FileNotFoundError(f"{teacher.train_summary} not found: distill needs a run trained "
                                "by 02_finetune (its settings are reused for the student).")
    reads = set(COMMON_PARAMETERS) | set(DistillMethod.options)
    kept = {f.name: saved[f.name] for f in fields(TrainConfig)
            if f.name.upper() in reads and f.name in saved}
    base = TrainConfig(**kept)
    config = replace(base, method="finetune", head_init="new", freeze_embeddings=False,
                     model=options.student or str(teacher.model_dir), device=device,
                     epochs=options.epochs or base.epochs,
                     time_budget_minutes=(base.time_budget_minutes
                                          if options.time_budget_minutes == -1
                                          else options.time_budget_minutes),
                     max_length=teacher.max_length())
    config.validate()
    return config


def distill_run(teacher_dir: str | Path, options: DistillConfig | None = None,
                name: str = "", device: str = "auto") -> dict:
    """Train a student from the teacher run's model into a new run folder; score it like 03.
    Returns the student's training summary (as written), its run folder and its test scores."""
    options = options or DistillConfig()
    options.validate()
    teacher = Run(find_run(str(teacher_dir), needs="model"))
    task = teacher.task()
    if not task.distillable:
        raise ValueError(f"{teacher.path} is a {task.name} run: distillation supports tasks with "
                         "one label per text (text-classification) only.")
    config = student_config(teacher, options, device)
    if options.layers:  # before the student's run folder exists
        kept_layers(teacher_depth(teacher.model_dir), options.layers)
    if options.ffn:
        check_ffn(teacher.model_dir, options.ffn)
    student = start_student_run(teacher, name)
    check_run(student, config)
    splits, labels = load_splits(student.path)
    train = task.subsample(splits["train"], config.max_train_examples, config.seed)
    extra = _unlabelled_texts(options.unlabelled) if options.unlabelled else []
    labeller = Predictor(teacher.model_dir, batch_size=64, max_length=config.max_length)
    match = options.embedding_weight > 0
    logits, features = teacher_targets(labeller, train["text"].tolist() + extra, match)
    val_logits, val_features = teacher_targets(labeller, splits["validation"]["text"].tolist(),
                                               match)
    del labeller  # its memory, before the student trains
    if extra:  # the teacher's label for each unlabelled text
        train = pd.concat([train, pd.DataFrame({"text": extra, "label": [
            labels[i] for i in logits[len(train):].argmax(axis=1)]})], ignore_index=True)
    method = DistillMethod(options, teacher, read_model_info(teacher.model_dir).base_model, {
        "logits": logits, "features": features, "val_logits": val_logits,
        "val_features": val_features, "unlabelled": len(extra)})
    summary: TrainSummary = train_session(student.path, config, method, train_frame=train)

    # 03's path: predictions on the test split, the task's scores, the baseline, metrics.json.
    predictions = predict_split(student.path, "test", device=device)
    scores = score_predictions(student.path, predictions)
    write_metrics(student.path, scores, baseline_scores(student.path, "test", config.seed),
                  predictions)
    write_model_card(student.path)
    return {**summary.to_dict(), "run_dir": str(student.path),
            "test": {k: v for k, v in scores.items() if isinstance(v, float)}}
