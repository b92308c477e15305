"""Choosing and running a training method: `train_model` runs the METHOD a config names (its
registry line in hackkit.registry), `plan_method` says what it would do, and METHOD `auto` picks
zero-shot, embeddings, contrastive or finetune from the labelled examples per class, the number of
classes and the time budget."""

from __future__ import annotations

from dataclasses import fields, replace
from pathlib import Path

from hackkit.models.embeddings import ZERO_SHOT_BELOW_PER_CLASS, descriptive_label
from hackkit.params import TrainConfig
from hackkit.registry import COMMON_PARAMETERS, get_method, load_target
from hackkit.runfolder import Run, load_splits
from hackkit.summary import TrainSummary

# choose_method thresholds, from the learning curves of benchmarks/bench_few_labels.py on four sets
# (benchmarks/RESULTS.md, "Few labels"):
# - With 1 labelled example per class, zero-shot by label names beat the probe on 3 of 4 sets; with
#   2 per class the probe won or tied on the intent sets and spam. So: zero-shot below 2 per class.
# - Full fine-tuning (5 epochs) lost to the probe at 8 per class, at hundreds of times the time,
#   and won at 32 per class on the sample. So: fine-tune from 32 per class, time allowing.
FINETUNE_MIN_PER_CLASS = 32
# hackkit.finetune, 256 rows x 5 epochs with evaluation each epoch, 2 CPU cores shared with other jobs
# (load ~6); the same code did 10.6/s on 64 rows under less load. Pass your own rate for a GPU.
FINETUNE_EXAMPLES_PER_SECOND = 3.2
FINETUNE_EPOCHS = 3.0  # TrainConfig's default
# Between those, METHOD contrastive (the encoder tuned on same-label pairs, then the probe) beat the
# frozen probe on clinc150 (150 intents) at 10 per class by 2.15 points of test accuracy on average
# over three cuts, with a 2-minute budget on a 2-core CPU (benchmarks/RESULTS.md, "Few labels"),
# and it keeps the frozen probe when tuning does not help on validation. It is measured on a
# many-class set only, and its pairs' in-batch negatives need many labels, so below this many
# classes auto keeps the probe.
CONTRASTIVE_MIN_CLASSES = 20
CONTRASTIVE_MIN_MINUTES = 0.5  # under this budget the tuning is a handful of steps: keep the probe


def train_model(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """Train with the method config.method names; return the training summary.

    With NPROC > 1 the method starts NPROC processes with torchrun (hackkit.train.distributed),
    each of which calls it again; the first one writes the model and the summary returned here.
    """
    config.validate()
    return load_target(get_method(config.method).target)(run_dir, config)


def plan_method(splits: dict, labels: list[str], config: TrainConfig):
    """What config.method would do on these splits (an object with .describe()), or None."""
    config.validate()
    method = get_method(config.method)
    return load_target(method.plan)(splits, labels, config) if method.plan else None


def choose_method(
    examples_per_class, time_budget_minutes: float,
    examples_per_second: float = FINETUNE_EXAMPLES_PER_SECOND, epochs: float = FINETUNE_EPOCHS,
) -> tuple[str, str]:
    """Pick zero-shot, embeddings, contrastive or finetune from label counts and time; thresholds measured in benchmarks/bench_few_labels.py."""
    counts = {str(k): int(v) for k, v in dict(examples_per_class).items()}
    if len(counts) < 2:
        raise ValueError(f"examples_per_class: got {counts}; give a count for every class (at least two), "
                         "e.g. frame['label'].value_counts().")
    if any(v < 0 for v in counts.values()):
        raise ValueError(f"examples_per_class: negative counts in {counts}.")
    if not time_budget_minutes > 0:
        raise ValueError(f"time_budget_minutes={time_budget_minutes!r}: give the minutes you can spend, e.g. 30.")
    total, fewest = sum(counts.values()), min(counts.values())
    empty = sorted(k for k, v in counts.items() if v == 0)
    vague = sorted(k for k in counts if not descriptive_label(k))
    names_note = (f" Label names {vague[:5]} carry no words: give each a description or zero-shot will guess."
                  if vague else "")
    if empty:
        return "zero-shot", (f"{total} labelled examples and {len(empty)} of {len(counts)} classes with none "
                             f"({', '.join(empty[:5])}{', ...' if len(empty) > 5 else ''}): a trained classifier "
                             f"cannot predict a class it never saw, so compare texts with the label names.{names_note}")
    if fewest < ZERO_SHOT_BELOW_PER_CLASS and not vague:
        return "zero-shot", (f"the smallest class has {fewest} labelled example(s), under "
                             f"{ZERO_SHOT_BELOW_PER_CLASS} per class, where label-name similarity matched or beat a "
                             f"probe trained on them; label a few more per class to switch to embeddings.")
    minutes = total * epochs / examples_per_second / 60
    if (fewest < FINETUNE_MIN_PER_CLASS and len(counts) >= CONTRASTIVE_MIN_CLASSES
            and time_budget_minutes >= CONTRASTIVE_MIN_MINUTES):
        return "contrastive", (f"the smallest class has {fewest} labelled examples ({total} in all), "
                               f"under {FINETUNE_MIN_PER_CLASS} per class, and there are {len(counts)} "
                               f"classes (at least {CONTRASTIVE_MIN_CLASSES}), where tuning the encoder "
                               "on same-label pairs before the logistic regression beat frozen "
                               "embeddings; it tunes inside the time budget.")
    if fewest < FINETUNE_MIN_PER_CLASS:
        return "embeddings", (f"the smallest class has {fewest} labelled examples ({total} in all), under "
                              f"{FINETUNE_MIN_PER_CLASS} per class, where frozen embeddings + logistic regression beat "
                              f"full fine-tuning; it trains in seconds.")
    if minutes > time_budget_minutes:
        return "embeddings", (f"{total} labelled examples would take about {minutes:.0f} min to fine-tune for "
                              f"{epochs:g} epochs at {examples_per_second:g} examples/s, over the "
                              f"{time_budget_minutes:g} min budget; embeddings + logistic regression take seconds.")
    return "finetune", (f"every class has at least {fewest} labelled examples ({total} in all), at or over "
                        f"{FINETUNE_MIN_PER_CLASS} per class where fine-tuning beat the frozen probe, and "
                        f"{epochs:g} epochs take about {minutes:.0f} min at {examples_per_second:g} examples/s, "
                        f"within the {time_budget_minutes:g} min budget.")


def method_choice(run_dir: str | Path, config: TrainConfig) -> dict:
    """What METHOD=auto picks for this run and why: examples per class and the time budget."""
    config.validate()
    run = Run(run_dir)
    task = run.task()
    splits, labels = load_splits(run.path)
    train = task.subsample(splits["train"], config.max_train_examples, config.seed)
    counts = task.label_counts(train).reindex(labels, fill_value=0)
    budget = config.time_budget_minutes or float("inf")  # 0 means no limit
    chosen, reason = choose_method(counts.to_dict(), budget)
    return {"chosen": chosen, "reason": reason,
            "examples_per_class": {k: int(v) for k, v in counts.items()},
            "time_budget_minutes": config.time_budget_minutes}


def for_method(config: TrainConfig, method: str) -> TrainConfig:
    """The config for `method`, with the parameters it does not read back at their defaults."""
    reads = set(COMMON_PARAMETERS) | set(get_method(method).options)
    reset = {f.name: f.default for f in fields(config) if f.name.upper() not in reads}
    return replace(config, **reset, method=method)


def train_auto(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """Pick zero-shot, embeddings, contrastive or finetune (choose_method), say why, run it."""
    choice = method_choice(run_dir, config)
    chosen = for_method(config, choice["chosen"])
    unused = sorted(f.name.upper() for f in fields(config)
                    if getattr(config, f.name) != getattr(chosen, f.name) and f.name != "method")
    print(f"METHOD='auto' chose {choice['chosen']!r}: {choice['reason']}"
          + (f" ({', '.join(unused)} not used by {choice['chosen']})" if unused else ""))
    summary = train_model(run_dir, chosen)
    summary.details["method_choice"] = choice
    summary.config = config.read_by(get_method("auto").options)
    summary.write(Run(run_dir).train_summary)
    return summary
