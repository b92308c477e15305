"""The `finetune` method: every layer of a pretrained model trained with transformers' Trainer.

The task supplies the head, the encoded splits, the collator and the metrics; this module measures
the speed on a few batches, plans the steps so the learning-rate schedule ends with the time budget
(hackkit.budget), sets up Trainer (early stopping on the task's main metric, best checkpoint,
resume, live progress) and saves a self-describing model/ folder.
"""

from __future__ import annotations

import dataclasses
import shutil
import time
from dataclasses import asdict
from pathlib import Path

from transformers import TrainerCallback

from hackkit.averaging import average_best_checkpoints
from hackkit.base import Task, TrainParts
from hackkit.budget import TrainPlan, measure_throughput, plan_training, sample_batches
from hackkit.device import resolve_device, resolve_precision
from hackkit.distributed import (agree_to_stop_callback, backend_for, barrier, check_processes,
                                 is_main_process, launch_training, process_report, rank_and_world,
                                 slowest)
from hackkit.models import model_name_for, resolve_for_task
from hackkit.params import TrainConfig
from hackkit.paths import atomic_folder, read_json, write_json
from hackkit.runfolder import ModelInfo, Run, load_splits, write_model_info


def tensorboard_callback(log_dir: Path) -> TrainerCallback:
    """Trainer's TensorBoard logger writing into log_dir (transformers 5 has no logging_dir)."""
    from torch.utils.tensorboard import SummaryWriter
    from transformers.integrations import TensorBoardCallback

    callback = TensorBoardCallback(SummaryWriter(log_dir=str(log_dir)))
    callback.logging_dir = str(log_dir)  # also where it reopens, never under checkpoints/
    return callback


def last_checkpoint(run_dir: str | Path) -> Path | None:
    """The newest complete checkpoint of an interrupted training in the run folder, if any."""
    complete = []
    for folder in Run(run_dir).checkpoints.glob("checkpoint-*"):
        try:  # Trainer writes trainer_state.json last, so a readable one marks a whole checkpoint
            read_json(folder / "trainer_state.json")
        except (OSError, ValueError):
            continue
        complete.append((int(folder.name.rsplit("-", 1)[1]), folder))
    return max(complete)[1] if complete else None


def check_resumable(run: Run, config: TrainConfig) -> Path | None:
    """Return the checkpoint to resume from, after checking it was made with the same settings."""
    checkpoint = last_checkpoint(run.path)
    if checkpoint is None or not run.checkpoint_config.is_file():
        return None
    # The time budget may change between attempts; everything else shapes the result.
    before = {k: v for k, v in read_json(run.checkpoint_config).items() if k != "time_budget_minutes"}
    now = {k: v for k, v in asdict(config).items() if k != "time_budget_minutes"}
    changed = sorted(k for k in now if before.get(k, now[k]) != now[k])
    if changed:
        listed = ", ".join(f"{k.upper()} {before.get(k)!r} -> {now[k]!r}" for k in changed)
        raise ValueError(
            f"{run.path} holds an interrupted training ({checkpoint.name}) made with other "
            f"settings: {listed}. Use the same settings to resume it, or start a new run "
            f"(01_explore with RUN_DIR='') to train with the new ones."
        )
    return checkpoint


def check_run(run: Run, config: TrainConfig) -> Task:
    """Check, before any work, that the run can be trained with this config; return its task."""
    from hackkit.tasks import get_task

    config.validate()
    if run.model_dir.exists():
        raise FileExistsError(
            f"{run.model_dir} already exists; refusing to overwrite a trained model. Start a new "
            "run with 01_explore (RUN_DIR='') or give RUN_DIR a run folder without a model."
        )
    written = run.task_name()
    if written != config.task:
        raise ValueError(
            f"TASK={config.task!r}, but {run.path} holds {written} data written by 01_explore. "
            f"Set TASK = {written!r} in 02_finetune (or re-run 01 with TASK = {config.task!r})."
        )
    return get_task(config.task)


# Batches measured before planning: two warm-up batches (a CPU's first passes run several times
# slower while kernels and memory are set up), then these many timed.
WARMUP_BATCHES = 2
MEASURED_BATCHES = 4


# Evaluation batches timed after the training ones (the model is warm by then): one more warm-up.
MEASURED_EVAL_BATCHES = 2


def eval_batch_size(config: TrainConfig) -> int:
    """Examples per evaluation batch (per process): forward passes only, so larger than training's."""
    return max(32, config.batch_size)


def measure_speed(parts: TrainParts, config: TrainConfig, device: str, precision: str,
                  batch_size: int = 0) -> tuple[float, float]:
    """Training and evaluation examples/s on this machine, from a few batches of the real data.

    Evaluation is timed on validation batches of its own size: a fixed ratio to the training
    speed (EVAL_SPEEDUP) had put an evaluation at twice its real time on clinc150, and the plan
    then left no time for training.
    """
    import torch

    batches = sample_batches(parts.train_ds, parts.collator, batch_size or config.batch_size,
                             count=WARMUP_BATCHES + MEASURED_BATCHES, seed=config.seed,
                             grouped=False)
    dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(precision)
    model = parts.model.to(device)
    train = measure_throughput(model, batches, warmup_batches=WARMUP_BATCHES, dtype=dtype)
    if len(parts.val_ds) == 0:
        return train, 0.0
    evals = sample_batches(parts.val_ds, parts.collator, eval_batch_size(config),
                           count=1 + MEASURED_EVAL_BATCHES, seed=config.seed)
    return train, measure_throughput(model, evals, warmup_batches=1, dtype=dtype, backward=False)


def start_scores_callback(scores: dict):
    """A Trainer callback that logs known step-0 validation scores (eval_loss, eval_<metric>) as
    the evaluation Trainer's eval_on_start would have run."""
    from transformers import TrainerCallback

    class StartScores(TrainerCallback):
        def on_train_begin(self, args, state, control, **kwargs):
            state.log_history.append({**scores, "epoch": 0, "step": 0})

    return StartScores()


def freeze_word_embeddings(model) -> int:
    """Keep the model's input word-embedding table as pretrained; return its size (0: it has none).

    It is half of MiniLM's weights (30,522 x 384), and most rows belong to words the training data
    never uses, yet AdamW updates (and decays) every row at every step: frozen, a step ran 1.4-1.7x
    faster on a 2-core CPU (clinc150 texts, batches of 8). Position embeddings and every layer
    still train.
    """
    try:
        table = model.get_input_embeddings()
    except (NotImplementedError, AttributeError):  # e.g. an image network
        return 0
    if table is None or getattr(table, "weight", None) is None:
        return 0
    table.weight.requires_grad_(False)
    return int(table.weight.numel())


def length_sorted(dataset):
    """The evaluation set ordered by length (token ids), so each batch pads little; unchanged when
    its rows have no token ids (images). Trainer evaluates in order, and the scores do not depend
    on it: each row's predictions stay with its own labels."""
    import numpy as np

    if len(dataset) == 0 or "input_ids" not in (getattr(dataset, "column_names", None) or []):
        return dataset
    return dataset.select(np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable"))


def plan_for(parts: TrainParts, config: TrainConfig, speed: tuple[float, float],
             processes: int = 1) -> TrainPlan:
    """Steps, warm-up and evaluation cadence that fit TIME_BUDGET_MINUTES, EPOCHS as a cap.

    `speed` is (training, evaluation) examples/s of the whole run, as measure_speed returns. A warm
    start is evaluated before the first step (finetune): that evaluation is planned for too,
    unless the task already knows its scores (TrainParts.start_scores).
    """
    train, evaluation = speed
    plan = plan_training(
        len(parts.train_ds), config.batch_size, examples_per_second=train,
        budget_minutes=config.time_budget_minutes, max_epochs=config.epochs,
        warmup_ratio=config.warmup, validation_examples=len(parts.val_ds),
        eval_examples_per_second=evaluation,
        start_evaluation=parts.warm_start and parts.start_scores is None,
    )
    return dataclasses.replace(plan, processes=processes)


def measured_plan(parts: TrainParts, config: TrainConfig, device: str, precision: str) -> TrainPlan:
    """Measure the speed and plan; with NPROC processes, one plan that every process shares.

    Every process measures its share of a batch at the same time (so CPU processes compete as
    they will while training); the slowest one's speed times NPROC is the run's speed, and the
    same inputs give every process the same max_steps.
    """
    _, world = check_processes(config)
    train, evaluation = measure_speed(parts, config, device, precision, config.batch_size // world)
    # Evaluation is shared out between the processes too.
    return plan_for(parts, config, (slowest(train) * world, slowest(evaluation) * world), world)


def estimate_plan(splits: dict, labels: list[str], config: TrainConfig) -> TrainPlan:
    """The plan 02 would follow on these splits, measured on a few batches: no training, no files."""
    from hackkit.tasks import get_task

    config.validate()
    task = get_task(config.task)
    device = resolve_device(config.device)
    precision = resolve_precision(device, config.precision)
    resolved = resolve_for_task(task, config.model)
    train_frame = task.subsample(splits["train"], config.max_train_examples, config.seed)
    parts = task.train_parts(train_frame, splits["validation"], labels, resolved.location,
                             config.max_length)
    return plan_for(parts, config, measure_speed(parts, config, device, precision))


def training_arguments(run: Run, config: TrainConfig, task: Task, plan: TrainPlan,
                       device: str, precision: str, extra: dict | None = None):
    """Trainer's arguments from the plan: its steps and cadence, best checkpoint by the main metric."""
    from transformers import TrainingArguments

    settings = dict(
        output_dir=str(run.checkpoints),
        learning_rate=config.learning_rate,
        per_device_eval_batch_size=eval_batch_size(config),
        weight_decay=config.weight_decay,
        # Plain shuffled batches: length-grouped ones measured 0.841 test macro-F1 against 0.916 on
        # the sample (800 examples, 2 epochs); the padding they save is small for short texts.
        train_sampling_strategy="random",
        save_total_limit=None if config.average_checkpoints > 1 else 1,  # averaging keeps all
        load_best_model_at_end=True,
        metric_for_best_model=task.main_metric,
        greater_is_better=True,
        seed=config.seed,
        use_cpu=device == "cpu",
        fp16=precision == "fp16",
        bf16=precision == "bf16",
        dataloader_pin_memory=device == "cuda",
        report_to="none",  # TensorBoard is added by callbacks() with its folder inside the run
    )
    settings.update(plan.training_arguments())  # max_steps, warm-up, linear decay, eval/save cadence
    if plan.processes > 1:  # Trainer reads RANK / WORLD_SIZE from torchrun and wraps in DDP
        settings["ddp_backend"] = backend_for(device)
        # On (the transformers 5 default), Trainer multiplies the loss by the number of processes
        # for every model whose forward takes **kwargs, expecting it to divide by the tokens of all
        # processes; sequence classifiers take a plain mean, so their gradients came out NPROC
        # times too large (measured: logged loss 2.77 = 2 x ln 4 on 4 classes, and a stuck run).
        # Off, each process's mean loss is averaged by DDP: the single-process gradient.
        settings["average_tokens_across_devices"] = False
    settings.update(extra or {})  # the task's own settings (images: keep the path column, no grouping)
    return TrainingArguments(**settings)


def callbacks(run: Run, config: TrainConfig, plan: TrainPlan, task: Task) -> list[TrainerCallback]:
    """Budget safety net, live progress, TensorBoard and (with PATIENCE) early stopping.

    With several processes, rank 0 alone keeps the time, writes progress and TensorBoard and
    reports to a search; the last callback makes every process follow its decisions.
    """
    from transformers import EarlyStoppingCallback

    from hackkit.budget import BudgetCallback
    from hackkit.progress import ProgressCallback

    def replanned(max_steps: int) -> None:  # a resumed attempt follows the corrected schedule
        write_json(run.checkpoint_plan, {**plan.to_dict(), "max_steps": max_steps})

    main = is_main_process()
    found: list[TrainerCallback] = [
        BudgetCallback(plan if main else dataclasses.replace(plan, budget_minutes=0.0),
                       on_replan=replanned),
    ]
    if main:
        found += [ProgressCallback(run.progress, budget_seconds=plan.budget_minutes * 60,
                                   metric=task.main_metric),
                  tensorboard_callback(run.tensorboard)]
    if config.patience:  # counts evaluations without a better main metric
        found.append(EarlyStoppingCallback(early_stopping_patience=config.patience))
    from hackkit.pruning import trial_callbacks  # a search trial: report to Optuna, maybe prune

    if main:
        found += trial_callbacks(run)
    if plan.processes > 1:
        found.append(agree_to_stop_callback())
    return found


def save_model(trainer, run: Run, config: TrainConfig, labels: list[str]) -> Path:
    """Write model/ all or nothing: safetensors, config, tokenizer and MODEL_INFO."""
    from hackkit.tasks import get_task

    with atomic_folder(run.model_dir) as tmp:  # a crash while saving leaves no half-written model/
        trainer.save_model(str(tmp))  # safetensors weights, config with id2label, tokenizer
        # Trainer also pickles its arguments; they are in train_summary.json: keep model/ pickle-free.
        (tmp / "training_args.bin").unlink(missing_ok=True)
        write_model_info(tmp, ModelInfo(task=config.task, labels=labels,
                                        max_length=config.max_length, method=config.method,
                                        base_model=model_name_for(get_task(config.task),
                                                                  config.model)))
    return run.model_dir


def training_record(trainer, parts: TrainParts, plan: TrainPlan, budget, seconds: float,
                    metric: str, start_epoch: float = 0.0) -> dict:
    """What a Trainer run did, for train_summary.json: examples, epochs, steps, time, speed, plan."""
    state = trainer.state
    epochs = float(state.epoch or 0)
    return {
        "train_examples": len(parts.train_ds),
        "validation_examples": len(parts.val_ds),
        "epochs_completed": round(epochs, 3),
        "steps": state.global_step,
        "train_seconds": round(seconds, 2),  # this attempt only, when resumed
        "train_examples_per_second": round((epochs - start_epoch) * len(parts.train_ds) / seconds, 2),
        "stopped_by_time_budget": budget.stopped_by_budget,
        f"best_validation_{metric}": state.best_metric,
        "plan": plan.to_dict(),  # steps, epochs expected, measured examples/s
        "budget": budget.result(),  # planned vs realised
    }


def start_score(history: list[dict], metric: str) -> float | None:
    """The validation `metric` of the evaluation before the first step (eval_on_start), if any."""
    for entry in history:
        if entry.get("step") == 0 and f"eval_{metric}" in entry:
            return float(entry[f"eval_{metric}"])
    return None


def keep_start_if_better(trainer, initial: dict | None, metric: str) -> dict | None:
    """Put the warm start's weights back when it scored better on validation than every checkpoint."""
    if initial is None:
        return None
    start, best = start_score(trainer.state.log_history, metric), trainer.state.best_metric
    if start is None or best is None or start <= best:
        return {"kept": False, "start_validation": start, "best_validation": best}
    trainer.model.load_state_dict(initial)
    trainer.state.best_metric = start
    print(f"fine-tuning never beat its starting point on validation {metric} ({best:.4f} < "
          f"{start:.4f}): keeping the starting model (the frozen features + probe head). More steps "
          "(TIME_BUDGET_MINUTES) or a lower LEARNING_RATE may help.", flush=True)
    return {"kept": True, "start_validation": start, "best_validation": best}


def finetune(run_dir: str | Path, config: TrainConfig) -> dict:
    """Fine-tune on the run's splits and save model/, the history and the summary into it."""
    from transformers import Trainer, set_seed

    run = Run(run_dir)
    if config.nproc > 1 and rank_and_world()[1] == 1:  # start NPROC processes that come back here
        check_run(run, config)  # fail here in seconds, not in every process
        return launch_training(run.path, config)
    _, world = check_processes(config)  # NPROC > 1: one of the processes torchrun started
    main = is_main_process()
    task = check_run(run, config)
    device = resolve_device(config.device)
    precision = resolve_precision(device, config.precision)
    resolved = resolve_for_task(task, config.model)
    resume = check_resumable(run, config)
    barrier()  # every process has seen the checkpoints before rank 0 may clear them
    splits, labels = load_splits(run.path)
    train_frame = task.subsample(splits["train"], config.max_train_examples, config.seed)

    set_seed(config.seed)  # before loading: the new head is randomly initialised
    parts: TrainParts = task.train_parts(train_frame, splits["validation"], labels,
                                         resolved.location, config.max_length)
    if config.head_init == "probe":  # text: mean pooling + a fitted probe as the head
        if not main:
            barrier()  # rank 0 fills the run's embedding cache first; the others read it
        parts = task.warm_start(parts, train_frame, splits["validation"], labels,
                                resolved.location, config.max_length, run.embeddings, device,
                                config.seed)
        if main:
            barrier()
    frozen = freeze_word_embeddings(parts.model) if config.freeze_embeddings else 0
    if resume and run.checkpoint_plan.is_file():  # the schedule the checkpoint was made on
        plan = TrainPlan(**read_json(run.checkpoint_plan))
        plan = dataclasses.replace(plan, budget_minutes=float(config.time_budget_minutes))
    else:
        plan = measured_plan(parts, config, device, precision)
    if main:
        print(plan.describe(), flush=True)
    budget, *others = callbacks(run, config, plan, task)
    # A warm start already predicts: score it before the first step, and keep its weights to fall
    # back on if no checkpoint beats it on validation.
    # When the task already knows the start's scores (the probe's), they are logged as the step-0
    # evaluation instead of evaluating again.
    start_eval = parts.warm_start and resume is None
    known_start = start_eval and parts.start_scores is not None
    if known_start:
        others.insert(0, start_scores_callback(parts.start_scores))
    # A resumed attempt keeps them too: its warm start was rebuilt the same way above, and the
    # step-0 scores are in the checkpoint's history, so it falls back exactly as an unbroken run.
    initial = ({k: v.detach().to("cpu", copy=True) for k, v in parts.model.state_dict().items()}
               if parts.warm_start else None)
    trainer = Trainer(
        model=parts.model, args=training_arguments(run, config, task, plan, device, precision,
                                                   {**parts.training_args,
                                                    "eval_on_start": start_eval and not known_start}),
        train_dataset=parts.train_ds, eval_dataset=length_sorted(parts.val_ds),
        processing_class=parts.processor,
        data_collator=parts.collator, compute_metrics=parts.compute_metrics,
        callbacks=[budget, *others],
    )
    start_epoch = float(read_json(resume / "trainer_state.json").get("epoch") or 0) if resume else 0.0
    if resume and main:
        print(f"resuming the interrupted training from {resume} (epoch {start_epoch:g})")
    elif main:
        shutil.rmtree(run.checkpoints, ignore_errors=True)  # incomplete leftovers only
        write_json(run.checkpoint_config, asdict(config))
        write_json(run.checkpoint_plan, plan.to_dict())
    barrier()
    started = time.monotonic()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    seconds = time.monotonic() - started
    # Every process evaluates the averages (evaluation is shared out between them).
    averaged = average_best_checkpoints(trainer, run.checkpoints, task.main_metric,
                                        config.average_checkpoints, config.average_mode)
    processes = process_report(device)  # None in a single process
    if not main:  # rank 0 writes the model and the summary
        barrier()
        return {}
    kept_start = keep_start_if_better(trainer, initial, task.main_metric)
    save_model(trainer, run, config, labels)

    state = trainer.state
    summary = {
        "task": config.task,
        "method": config.method,
        "main_metric": task.main_metric,
        "model": resolved.name,
        "model_source": resolved.source,
        "device": device,
        "precision": precision,
        "available_train_examples": len(splits["train"]),
        **training_record(trainer, parts, plan, budget, seconds, task.main_metric, start_epoch),
        "resumed_from": resume.name if resume else None,
        "best_checkpoint": Path(state.best_model_checkpoint).name if state.best_model_checkpoint else None,
        "checkpoint_averaging": averaged,
        "kept_warm_start": kept_start,
        "frozen_word_embeddings": frozen,  # weights left as pretrained (FREEZE_EMBEDDINGS)
        "processes": world,
        "distributed": processes,  # NPROC > 1: backend, and each process's rank, pid, device
        **parts.extra,
        "config": asdict(config),
    }
    write_json(run.history, state.log_history)
    write_json(run.train_summary, summary)
    # The best weights are in model/ now; checkpoints hold optimizer state we no longer need.
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    barrier()
    return summary


def plot_learning_curve(run_dir: str | Path):
    """Training and validation loss, and the validation main metric and accuracy, per epoch."""
    import matplotlib.pyplot as plt

    run = Run(run_dir)
    task = run.task()
    history = read_json(run.history)
    train = [(h["epoch"], h["loss"]) for h in history if "loss" in h and "epoch" in h]
    evals = [h for h in history if "eval_loss" in h]
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(10, 3.5))
    if train:
        ax_loss.plot(*zip(*train), label="training loss")
    if evals:
        ax_loss.plot([h["epoch"] for h in evals], [h["eval_loss"] for h in evals], "o-",
                     label="validation loss")
        for key, style in ((task.main_metric, "o-"), ("accuracy", "s--")):
            if f"eval_{key}" in evals[0] and (key == task.main_metric or key in task.metric_names):
                ax_score.plot([h["epoch"] for h in evals], [h[f"eval_{key}"] for h in evals],
                              style, label=f"validation {task.metric_names.get(key, key)}")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_score.set(xlabel="epoch", ylabel="score", title="Validation", ylim=(0, 1.02))
    for ax in (ax_loss, ax_score):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
