"""The `lora` method: low-rank adapters (peft) on a frozen pretrained model, the head trained fully.

What LoRA buys is memory: the optimizer holds state for a few hundred thousand parameters instead
of every weight, so bigger models fit on a GPU. It does not make a 22M-parameter model faster on a
CPU. The adapters are merged into the weights on save (`merge_and_unload`), so model/ is a plain
transformers model that every loader, export and server uses unchanged; the adapter alone is kept
in the run folder (ADAPTER_DIR) as well.
"""

from __future__ import annotations

import shutil
import time
from dataclasses import asdict
from pathlib import Path

from hackkit.device import resolve_device, resolve_precision
from hackkit.distributed import (barrier, check_processes, is_main_process, launch_training,
                                 process_report, rank_and_world)
from hackkit.models import resolve_model
from hackkit.params import TrainConfig
from hackkit.paths import write_json
from hackkit.runfolder import Run, load_splits
from hackkit.train import (callbacks, check_run, measured_plan, save_model, training_arguments,
                           training_record)


def lora_targets(config: TrainConfig) -> list[str]:
    """LORA_TARGETS as a list of module names."""
    return [name.strip() for name in config.lora_targets.split(",") if name.strip()]


def head_modules(model) -> list[str]:
    """The names of the task head's top-level modules: the parameters the new head owns."""
    # transformers' *ForSequenceClassification models name the head `classifier` (BERT,
    # DistilBERT's pre_classifier too) or `score`; the base model is everything else.
    names = [n for n, _ in model.named_children() if n in ("classifier", "pre_classifier", "score")]
    if not names:
        raise ValueError(f"METHOD='lora': {type(model).__name__} has no `classifier` or `score` "
                         "head module to train fully; use METHOD='finetune' for this model.")
    return names


def lora_model(model, config: TrainConfig):
    """The model wrapped with LoRA adapters on LORA_TARGETS; head trained fully; base frozen."""
    from peft import LoraConfig, get_peft_model

    targets = lora_targets(config)
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in targets if t not in present]
    if missing:
        linear = sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules()
                         if type(m).__name__ == "Linear"})
        raise ValueError(f"LORA_TARGETS={config.lora_targets!r}: {missing} not in "
                         f"{type(model).__name__}; its linear layers are named {linear}.")
    peft_config = LoraConfig(r=config.lora_rank, lora_alpha=config.lora_alpha,
                             lora_dropout=config.lora_dropout, target_modules=targets,
                             modules_to_save=head_modules(model), bias="none")
    return get_peft_model(model, peft_config)


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


def finetune_lora(run_dir: str | Path, config: TrainConfig) -> dict:
    """Train LoRA adapters + the head on the run's splits; save the merged model and the adapter."""
    from transformers import Trainer, set_seed

    run = Run(run_dir)
    task = check_run(run, config)
    if run.adapter_dir.exists():
        raise FileExistsError(f"{run.adapter_dir} already exists; start a new run (01 with "
                              "RUN_DIR='') rather than overwrite a trained adapter.")
    if config.nproc > 1 and rank_and_world()[1] == 1:  # start NPROC processes that come back here
        return launch_training(run.path, config)
    _, world = check_processes(config)  # NPROC > 1: one of the processes torchrun started
    main = is_main_process()
    device = resolve_device(config.device)
    precision = resolve_precision(device, config.precision)
    resolved = resolve_model(config.model)
    splits, labels = load_splits(run.path)
    train_frame = task.subsample(splits["train"], config.max_train_examples, config.seed)

    set_seed(config.seed)
    parts = task.train_parts(train_frame, splits["validation"], labels, resolved.location,
                             config.max_length)
    model = parts.model = lora_model(parts.model, config)
    trainable, total = trainable_parameters(model)
    plan = measured_plan(parts, config, device, precision)
    if main:
        print(f"LoRA: training {trainable:,} of {total:,} parameters ({trainable / total:.2%})")
        print(plan.describe(), flush=True)
    args = training_arguments(run, config, task, plan, device, precision, parts.training_args)
    args.label_names = ["labels"]  # a PeftModel's forward hides the argument names Trainer reads
    budget, *others = callbacks(run, config, plan, task)
    trainer = Trainer(model=model, args=args, train_dataset=parts.train_ds,
                      eval_dataset=parts.val_ds, processing_class=parts.processor,
                      data_collator=parts.collator, compute_metrics=parts.compute_metrics,
                      callbacks=[budget, *others])
    if main:
        shutil.rmtree(run.checkpoints, ignore_errors=True)  # no resume for LoRA: start clean
        write_json(run.checkpoint_config, asdict(config))
    barrier()
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    processes = process_report(device)  # None in a single process
    if not main:  # rank 0 writes the adapter, the merged model and the summary
        barrier()
        return {}

    trainer.model.save_pretrained(str(run.adapter_dir))  # adapter + head weights alone (small)
    trainer.model = trainer.model.merge_and_unload()  # plain transformers model from here on
    save_model(trainer, run, config, labels)

    state = trainer.state
    summary = {
        "task": config.task, "method": config.method, "main_metric": task.main_metric,
        "model": config.model, "model_source": resolved.source, "device": device,
        "precision": precision,
        **training_record(trainer, parts, plan, budget, seconds, task.main_metric),
        "trainable_parameters": trainable, "total_parameters": total,
        "lora": {"rank": config.lora_rank, "alpha": config.lora_alpha,
                 "dropout": config.lora_dropout, "targets": lora_targets(config),
                 "adapter": run.adapter_dir.name, "merged": True},
        "processes": world, "distributed": processes,
        **parts.extra,
        "config": asdict(config),
    }
    write_json(run.history, state.log_history)
    write_json(run.train_summary, summary)
    shutil.rmtree(run.checkpoints, ignore_errors=True)
    barrier()
    return summary
