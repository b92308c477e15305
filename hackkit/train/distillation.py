"""Knowledge distillation, the method: a smaller student trained from a finished run's model (the
teacher) in the one training session.

The student learns from the gold labels and from the teacher's softened outputs (its logits
divided by a temperature), mixed by a weight; and, when both models have one, it learns to give
the same vector as the teacher to the classification head (cosine distance, a third weight): a
whole sentence embedding per text instead of one number per class. By default the student is the
teacher itself with fewer layers (and optionally narrower feed-forward layers), initialised from
the teacher's weights so it starts close; any model can be named instead. The `distill` command
(hackkit.runs.distill) makes the student's run folder, labels the texts with the teacher and
scores the student like 03.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from transformers import AutoConfig, Trainer

from hackkit.base import TrainParts
from hackkit.models import meanpool  # noqa: F401  registers the kit's mean-pooling classifier
from hackkit.params import TrainConfig
from hackkit.paths import find_input
from hackkit.registry import TRAINER_PARAMETERS
from hackkit.runfolder import Run
from hackkit.train.session import SessionMethod


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
    is less than twice as fast; narrower layers cut the rest (benchmarks/RESULTS.md,
    "Distillation").
    """
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
        targets = {key: [f.pop(key) for f in features] for key in self.COLUMNS
                   if features and key in features[0]}
        batch = self.collator(features)
        for key, values in targets.items():
            batch[key] = torch.tensor(np.array(values), dtype=torch.float32)
        return batch


def distillation_loss(student_logits, teacher_logits, gold_loss, temperature: float, alpha: float):
    """(1 - alpha) * gold cross-entropy + alpha * T^2 * KL(teacher_T || student_T)."""
    soft = F.kl_div(F.log_softmax(student_logits / temperature, dim=-1),
                    F.softmax(teacher_logits.to(student_logits.dtype) / temperature, dim=-1),
                    reduction="batchmean") * temperature ** 2  # T^2 keeps gradients comparable
    return (1 - alpha) * gold_loss + alpha * soft


def embedding_loss(student_features, teacher_features):
    """Mean cosine distance between the student's and the teacher's head inputs (0: same direction)."""
    return (1 - F.cosine_similarity(student_features.float(), teacher_features.float(),
                                    dim=-1)).mean()


class DistillTrainer(Trainer):
    """Trainer with the distillation loss: gold labels, the teacher's soft labels and its head inputs."""

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


class DistillMethod(SessionMethod):
    """The session with the teacher's targets as extra columns, the student made from the teacher
    (unless one is named), and the distillation loss."""

    name = "distill"
    resumable = False  # every distill command makes a new student run
    options = TRAINER_PARAMETERS  # the teacher's training settings; none of 02's extras

    def __init__(self, options: DistillConfig, teacher: Run, teacher_base: str, targets: dict):
        """`targets`: the teacher's logits and head inputs ("features") for the training rows and
        the validation split ("val_logits", "val_features"), in their order."""
        self.distill, self.teacher, self.teacher_base = options, teacher, teacher_base
        self.targets = targets
        self.kept: list[int] | None = None
        self.matched = False

    def prepare(self, parts: TrainParts, config: TrainConfig) -> TrainParts:
        if not self.distill.student:
            if self.distill.ffn:  # first: the stack of layers is found while it still has several
                narrow_ffn(parts.model, self.distill.ffn)
            parts.model, self.kept = shallow_copy(parts.model, self.distill.layers)
        targets = self.targets
        self.matched = embedding_match(parts.model, targets["features"],
                                       self.distill.embedding_weight)
        parts.train_ds = parts.train_ds.add_column("teacher_logits", targets["logits"].tolist())
        parts.val_ds = parts.val_ds.add_column("teacher_logits", targets["val_logits"].tolist())
        if self.matched:
            parts.train_ds = parts.train_ds.add_column("teacher_features",
                                                       targets["features"].tolist())
            parts.val_ds = parts.val_ds.add_column("teacher_features",
                                                   targets["val_features"].tolist())
        parts.collator = TeacherCollator(parts.collator)
        return parts

    def arguments(self) -> dict:
        return {"remove_unused_columns": False}  # keep the teacher's columns for compute_loss

    def trainer(self, **kwargs) -> Trainer:
        return DistillTrainer(**kwargs, temperature=self.distill.temperature,
                              alpha=self.distill.alpha,
                              embedding_weight=self.distill.embedding_weight if self.matched else 0.0)

    def model_name(self, config: TrainConfig, resolved) -> tuple[str, str]:
        if self.distill.student:
            return resolved.name, resolved.source
        return (f"{self.teacher.name} with layers {self.kept} of its model kept"
                + (f", {self.distill.ffn} feed-forward units in each" if self.distill.ffn else ""),
                "teacher")

    def base_model(self, config: TrainConfig, resolved) -> str:
        return resolved.name if self.distill.student else self.teacher_base

    def details(self, trainer: Trainer, parts: TrainParts) -> dict:
        return {"teacher": str(self.teacher.path), "teacher_run": self.teacher.name,
                "distillation": {**asdict(self.distill), "layers_kept": self.kept,
                                 "unlabelled_texts": self.targets.get("unlabelled", 0),
                                 "embeddings_matched": self.matched},
                "parameters": sum(p.numel() for p in trainer.model.parameters())}
