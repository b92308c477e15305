"""Knowledge distillation: a smaller student trained from a finished run's model (the teacher).

The student learns from the gold labels and from the teacher's softened outputs (its logits
divided by a temperature), mixed by a weight; and, when both models have one, it learns to give
the same vector as the teacher to the classification head (cosine distance, a third weight): a
whole sentence embedding per text instead of one number per class. By default the student is the
teacher itself with every other layer kept (initialised from the teacher's weights, so it starts
close); any model can be named instead. Extra unlabelled texts, labelled by the teacher, can be added to its training data.
The student is a new run folder beside the teacher's, with the teacher's splits and data report,
its own model/ (method "distill"), metrics written the way 03 writes them, and a model card,
so 03, 04, `serve`, export and the leaderboard treat it like any other run.
"""

from __future__ import annotations

import shutil
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.device import resolve_device, resolve_precision
from hackkit.params import TrainConfig
from hackkit.paths import find_input, write_json
from hackkit.runfolder import Run, find_run, load_splits, new_run_dir
from hackkit.train import (callbacks, check_run, measure_speed, plan_for, save_model,
                           training_arguments, training_record)


@dataclass
class DistillConfig:
    """How a student is distilled (the `distill` command's options)."""

    student: str = ""  # hub id or model folder; empty: the teacher with every other layer kept
    temperature: float = 2.0  # >1 softens the teacher's outputs, showing how classes relate
    alpha: float = 0.5  # weight of the teacher's soft labels; 1 - alpha for the gold labels
    unlabelled: str = ""  # file of extra texts (column `text`) labelled by the teacher
    epochs: float = 0.0  # 0: the teacher's EPOCHS
    time_budget_minutes: float = -1.0  # -1: the teacher's TIME_BUDGET_MINUTES; 0: no limit
    layers: int = 0  # layers of the teacher kept in the default student; 0: every other one
    ffn: int = 0  # feed-forward units kept in each of the default student's layers; 0: all
    embedding_weight: float = 1.0  # weight of the head-input (sentence embedding) match; 0: off

    def validate(self) -> None:
        """Raise a ValueError naming the option for any out-of-range value."""
        if not self.temperature > 0:
            raise ValueError(f"--temperature {self.temperature}: use a positive number, e.g. 2.")
        if not 0 <= self.alpha <= 1:
            raise ValueError(f"--alpha {self.alpha}: use a weight in [0, 1], e.g. 0.5.")
        if not self.embedding_weight >= 0:
            raise ValueError(f"--embedding-weight {self.embedding_weight}: use 0 (off) or a "
                             "positive weight, e.g. 1.")
        if self.time_budget_minutes < 0 and self.time_budget_minutes != -1:
            raise ValueError(f"--minutes {self.time_budget_minutes}: use -1 (the teacher's budget), "
                             "0 (no limit) or a positive number of minutes.")
        for option, value, zero, count in (
                ("--layers", self.layers, "every other layer of the teacher",
                 "the number of layers to keep, e.g. 2"),
                ("--ffn", self.ffn, "every feed-forward unit of the teacher's layers",
                 "the number to keep in each layer, e.g. 768")):
            if value < 0:
                raise ValueError(f"{option} {value}: use 0 ({zero}) or {count}.")
            if value and self.student:
                raise ValueError(f"{option} {value} applies to the default student (the teacher's "
                                 f"own layers); --student {self.student} names a model of its "
                                 "own: give one of the two.")
        if self.epochs < 0:
            raise ValueError(f"--epochs {self.epochs}: use 0 (the teacher's) or a positive number.")
        if self.unlabelled and not find_input(self.unlabelled).is_file():
            raise FileNotFoundError(f"--unlabelled {self.unlabelled}: no such file; give a "
                                    "CSV/TSV/JSONL/Parquet file with a `text` column.")


def layer_list(model):
    """The model's stack of transformer layers (the longest torch.nn.ModuleList), and its path."""
    import torch

    found = [(len(m), name) for name, m in model.named_modules()
             if isinstance(m, torch.nn.ModuleList) and len(m) > 1]
    if not found:
        raise ValueError(f"{type(model).__name__}: no stack of layers found to thin; name a "
                         "student model with --student instead.")
    return max(found)[1]


def kept_layers(total: int, count: int = 0) -> list[int]:
    """Which of `total` layers a student keeps: `count` evenly spaced ones, the top one included
    (the head was trained on its output); count 0 keeps every other one. 6 -> [1, 3, 5]; 6, 2 ->
    [2, 5]; 6, 1 -> [5]."""
    if not count:
        return list(range(total - 1, -1, -2))[::-1]
    if count >= total:
        raise ValueError(f"--layers {count}: the teacher has {total} layers; a student keeps fewer "
                         f"(1 to {total - 1}).")
    step = total / count
    return [round(total - 1 - i * step) for i in range(count)][::-1]


def _encoder_config(model_dir: Path):
    """A saved model's encoder config (a wrapped encoder's own), from its config file alone."""
    from transformers import AutoConfig

    import hackkit.meanpool  # noqa: F401  registers hackkit's mean-pooling classifier

    config = AutoConfig.from_pretrained(str(model_dir))
    return config.encoder_config() if hasattr(config, "encoder_config") else config


def teacher_depth(model_dir: Path) -> int:
    """Transformer layers of a saved model (transformers maps names such as DistilBERT's n_layers
    to num_hidden_layers)."""
    return int(_encoder_config(model_dir).num_hidden_layers)


def check_ffn(model_dir: Path, units: int) -> None:
    """Refuse --ffn when it keeps every feed-forward unit of the teacher's layers, or more."""
    width = getattr(_encoder_config(model_dir), "intermediate_size", None)
    if width is None:
        raise ValueError(f"--ffn {units}: {model_dir} has no intermediate_size in its config; --ffn "
                         "needs BERT-style layers. Leave it out, or use --layers.")
    if units >= width:
        raise ValueError(f"--ffn {units}: the teacher's layers have {width} feed-forward units; a "
                         f"student keeps fewer (1 to {width - 1}, e.g. {width // 2}).")


def narrow_ffn(model, units: int) -> None:
    """Keep `units` feed-forward units in each transformer layer, in place: those with the largest
    |input weights| x |output weights| (BERT-style intermediate.dense and output.dense).

    At batch size 1 a layer's fixed costs stay however few layers are kept, so half the layers
    is less than twice as fast; narrower layers cut the rest (raw MiniLM forward, 2-core CPU:
    3 layers 2.0x the 6-layer model, 3 layers of 768 units 2.6x).
    """
    import torch

    for layer in model.get_submodule(layer_list(model)):
        try:
            up, down = layer.intermediate.dense, layer.output.dense
        except AttributeError:
            raise ValueError(f"--ffn {units}: {type(layer).__name__} has no BERT-style "
                             "intermediate.dense / output.dense; leave --ffn out.") from None
        keep = (up.weight.norm(dim=1) * down.weight.norm(dim=0)).topk(units).indices.sort().values
        narrow_up = torch.nn.Linear(up.in_features, units, dtype=up.weight.dtype,
                                    device=up.weight.device)
        narrow_down = torch.nn.Linear(units, down.out_features, dtype=down.weight.dtype,
                                      device=down.weight.device)
        with torch.no_grad():
            narrow_up.weight.copy_(up.weight[keep])
            narrow_up.bias.copy_(up.bias[keep])
            narrow_down.weight.copy_(down.weight[:, keep])
            narrow_down.bias.copy_(down.bias)
        layer.intermediate.dense, layer.output.dense = narrow_up, narrow_down
    _set_config(model, "intermediate_size", units)


def shallow_copy(model, count: int = 0):
    """The model with `count` of its transformer layers kept (0: every other one), in place."""
    import torch

    path = layer_list(model)
    parent_name, _, attribute = path.rpartition(".")
    parent = model.get_submodule(parent_name) if parent_name else model
    layers = getattr(parent, attribute)
    keep = kept_layers(len(layers), count)
    setattr(parent, attribute, torch.nn.ModuleList([layers[i] for i in keep]))
    model.config.num_hidden_layers = len(keep)
    _set_config(model, "num_hidden_layers", len(keep))
    return model, keep


def _set_config(model, name: str, value: int) -> None:
    """Set `name` in every config of the model that has it: a wrapped encoder has its own (e.g.
    mean pooling), and the saved config must describe the thinned weights."""
    for module in model.modules():
        config = getattr(module, "config", None)
        if config is not None and hasattr(config, name):
            setattr(config, name, value)


def head_module(model):
    """The classification head that takes one vector per text (a Linear named `classifier` or
    `score`, as in the kit's mean-pooling model and BERT's), or None (e.g. RoBERTa's two-layer head,
    which takes the whole sequence): the vector going into it is the one the student matches."""
    import torch

    for name in ("classifier", "score"):
        module = getattr(model, name, None)
        if isinstance(module, torch.nn.Linear):
            return module
    return None


@contextmanager
def head_inputs(model, into: list):
    """While inside, each forward pass appends the head's input (batch x hidden) to `into`;
    yields whether the model has such a head."""
    head = head_module(model)
    if head is None:
        yield False
        return
    handle = head.register_forward_hook(lambda _module, args, _output: into.append(args[0]))
    try:
        yield True
    finally:
        handle.remove()


def teacher_targets(teacher, texts: list[str], embeddings: bool = True):
    """The teacher's log-probabilities for each text (a Predictor's, in fp32): its logits less a
    constant per text, which the softened softmax of the distillation loss ignores; and the vector
    its head takes for each text (None when `embeddings` is off or the head takes none).

    The texts go in length order, so the task's length-sorted batches keep that order and the
    head inputs, captured batch by batch, line up with them."""
    teacher.precision = "fp32"  # soft targets at full precision, on a GPU too
    order = np.argsort([len(t) for t in texts], kind="stable")
    captured: list = []
    with head_inputs(teacher.model if embeddings else None, captured) as hooked:
        probabilities = teacher.predict_proba([texts[i] for i in order])
    logits = np.empty_like(probabilities)
    logits[order] = np.log(np.maximum(probabilities, 1e-30))
    if not hooked or not captured:
        return logits.astype(np.float32), None
    vectors = np.concatenate([c.detach().float().cpu().numpy() for c in captured])
    if len(vectors) != len(texts):
        raise RuntimeError(f"the teacher's head saw {len(vectors)} vectors for {len(texts)} texts.")
    features = np.empty_like(vectors)
    features[order] = vectors
    return logits.astype(np.float32), features


class TeacherCollator:
    """The task's collator, plus the teacher's targets (logits, head inputs) stacked as tensors."""

    COLUMNS = ("teacher_logits", "teacher_features")

    def __init__(self, collator) -> None:
        self.collator = collator

    def __call__(self, features: list[dict]):
        import torch

        targets = {key: [f.pop(key) for f in features] for key in self.COLUMNS
                   if features and key in features[0]}
        batch = self.collator(features)
        for key, values in targets.items():
            batch[key] = torch.tensor(np.array(values), dtype=torch.float32)
        return batch


def distillation_loss(student_logits, teacher_logits, gold_loss, temperature: float, alpha: float):
    """(1 - alpha) * gold cross-entropy + alpha * T^2 * KL(teacher_T || student_T)."""
    import torch.nn.functional as F

    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.softmax(teacher_logits.to(student_logits.dtype) / temperature, dim=-1),
                    reduction="batchmean") * temperature ** 2  # T^2 keeps gradients comparable
    return (1 - alpha) * gold_loss + alpha * soft


def embedding_loss(student_features, teacher_features):
    """Mean cosine distance between the student's and the teacher's head inputs (0: same direction)."""
    import torch.nn.functional as F

    return (1 - F.cosine_similarity(student_features.float(), teacher_features.float(),
                                    dim=-1)).mean()


def _trainer_class():
    """transformers' Trainer with the distillation loss (defined here: transformers loads lazily)."""
    from transformers import Trainer

    class DistillTrainer(Trainer):
        def __init__(self, *args, temperature: float, alpha: float, embedding_weight: float = 0.0,
                     **kwargs):
            super().__init__(*args, **kwargs)
            self.temperature, self.alpha = temperature, alpha
            self.embedding_weight = embedding_weight

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            teacher = inputs.pop("teacher_logits", None)
            targets = inputs.pop("teacher_features", None)
            captured: list = []
            with head_inputs(model if targets is not None else None, captured):
                outputs = model(**inputs)
            loss = outputs.loss
            if teacher is not None:
                loss = distillation_loss(outputs.logits, teacher, loss, self.temperature,
                                         self.alpha)
            if targets is not None and captured:
                loss = loss + self.embedding_weight * embedding_loss(captured[-1], targets)
            return (loss, outputs) if return_outputs else loss

    return DistillTrainer


def embedding_match(student, teacher_features, weight: float) -> bool:
    """Whether the student learns the teacher's head inputs: asked for (weight > 0), the teacher's
    head takes one vector per text, and the student's takes one of the same width (a student
    named with --student may have another width or head; it then learns from the outputs only)."""
    if weight <= 0 or teacher_features is None:
        return False
    head = head_module(student)
    if head is None or head.in_features != teacher_features.shape[1]:
        print(f"distill: the student's head does not take a {teacher_features.shape[1]}-wide "
              "vector like the teacher's; it learns from the teacher's outputs only.")
        return False
    return True


def _unlabelled_texts(path: str) -> list[str]:
    """The `text` column of the unlabelled file, blanks dropped."""
    from hackkit.data import check_column, read_table

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


def distill_run(teacher_dir: str | Path, options: DistillConfig | None = None,
                name: str = "", device: str = "auto") -> dict:
    """Train a student from the teacher run's model into a new run folder; score it like 03."""
    from transformers import set_seed

    from hackkit.evaluate import baseline_scores, predict_split, score_predictions, write_metrics
    from hackkit.export import write_model_card
    from hackkit.models import resolve_model

    options = options or DistillConfig()
    options.validate()
    teacher = Run(find_run(str(teacher_dir), needs="model"))
    task = teacher.task()
    if not task.distillable:
        raise ValueError(f"{teacher.path} is a {task.name} run: distillation supports tasks with "
                         "one label per text (text-classification) only.")
    saved = teacher.read(teacher.train_summary, {}).get("config")
    if not saved:
        raise FileNotFoundError(f"{teacher.train_summary} not found: distill needs a run trained "
                                "by 02_finetune (its settings are reused for the student).")
    base = TrainConfig(**{k: v for k, v in saved.items() if k in TrainConfig.__dataclass_fields__})
    student_model = options.student or str(teacher.model_dir)
    config = replace(base, model=student_model, method="finetune", device=device,
                     epochs=options.epochs or base.epochs, average_checkpoints=0,
                     time_budget_minutes=(base.time_budget_minutes
                                          if options.time_budget_minutes == -1
                                          else options.time_budget_minutes),
                     max_length=teacher.max_length(), nproc=1)  # distill trains in one process
    resolved = resolve_model(student_model) if options.student else None
    config.validate()

    if options.layers:  # before the student's run folder exists
        kept_layers(teacher_depth(teacher.model_dir), options.layers)
    if options.ffn:
        check_ffn(teacher.model_dir, options.ffn)
    student = start_student_run(teacher, name)
    check_run(student, config)
    splits, labels = load_splits(student.path)
    train = task.subsample(splits["train"], config.max_train_examples, config.seed)
    extra = _unlabelled_texts(options.unlabelled) if options.unlabelled else []
    texts = train["text"].tolist() + extra
    from hackkit.predict import Predictor

    labeller = Predictor(teacher.model_dir, batch_size=64, max_length=config.max_length)
    match = options.embedding_weight > 0
    logits, features = teacher_targets(labeller, texts, match)
    val_logits, val_features = teacher_targets(labeller, splits["validation"]["text"].tolist(),
                                               match)
    del labeller  # its memory, before the student trains
    if extra:  # the teacher's label for each unlabelled text
        train = pd.concat([train, pd.DataFrame({"text": extra, "label": [
            labels[i] for i in logits[len(train):].argmax(axis=1)]})], ignore_index=True)

    set_seed(config.seed)
    location = resolved.location if resolved else str(teacher.model_dir)
    parts = task.train_parts(train, splits["validation"], labels, location, config.max_length)
    kept = None
    if not options.student:
        if options.ffn:  # first: the stack of layers is found while it still has several
            narrow_ffn(parts.model, options.ffn)
        parts.model, kept = shallow_copy(parts.model, options.layers)
    matched = embedding_match(parts.model, features, options.embedding_weight)
    train_ds = parts.train_ds.add_column("teacher_logits", logits.tolist())
    val_ds = parts.val_ds.add_column("teacher_logits", val_logits.tolist())
    if matched:
        train_ds = train_ds.add_column("teacher_features", features.tolist())
        val_ds = val_ds.add_column("teacher_features", val_features.tolist())
    device_name = resolve_device(config.device)
    precision = resolve_precision(device_name, config.precision)
    plan = plan_for(parts, config, measure_speed(parts, config, device_name, precision))
    print(plan.describe(), flush=True)
    args = training_arguments(student, config, task, plan, device_name, precision,
                              parts.training_args)
    args.remove_unused_columns = False  # keep the teacher_logits column for compute_loss
    budget, *others = callbacks(student, config, plan, task)
    trainer = _trainer_class()(
        model=parts.model, args=args,
        train_dataset=train_ds, eval_dataset=val_ds,
        processing_class=parts.processor, data_collator=TeacherCollator(parts.collator),
        compute_metrics=parts.compute_metrics, callbacks=[budget, *others],
        temperature=options.temperature, alpha=options.alpha,
        embedding_weight=options.embedding_weight if matched else 0.0)
    started = time.monotonic()
    trainer.train()
    seconds = time.monotonic() - started
    recorded = replace(config, method="distill")
    save_model(trainer, student, recorded, labels)

    state = trainer.state
    summary = {
        "task": task.name, "method": "distill", "main_metric": task.main_metric,
        "model": student_model if options.student else
        f"{teacher.name} with layers {kept} of its model kept"
        + (f", {options.ffn} feed-forward units in each" if options.ffn else ""),
        "teacher": str(teacher.path), "teacher_run": teacher.name,
        "distillation": {**asdict(options), "layers_kept": kept,
                         "unlabelled_texts": len(extra), "embeddings_matched": matched},
        "model_source": resolved.source if resolved else "teacher",
        "device": device_name, "precision": precision,
        **training_record(trainer, parts, plan, budget, seconds, task.main_metric),
        "parameters": sum(p.numel() for p in trainer.model.parameters()),
        **parts.extra,
        "config": asdict(recorded),
    }
    write_json(student.history, state.log_history)
    write_json(student.train_summary, summary)
    shutil.rmtree(student.checkpoints, ignore_errors=True)

    # 03's path: predictions on the test split, the task's scores, the baseline, metrics.json.
    predictions = predict_split(student.path, "test", device=device)
    scores = score_predictions(student.path, predictions)
    write_metrics(student.path, scores, baseline_scores(student.path, "test", config.seed),
                  predictions)
    write_model_card(student.path)
    return {**summary, "run_dir": str(student.path),
            "test": {k: v for k, v in scores.items() if isinstance(v, float)}}
