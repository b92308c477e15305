"""The `lora` method: low-rank adapters (peft) on a frozen pretrained model, the head trained fully.

What LoRA buys is memory: the optimizer holds state for a few hundred thousand parameters instead
of every weight, so bigger models fit on a GPU. It does not make a 22M-parameter model faster on a
CPU. It runs in the one training session, so it has the time budget, the probe start (HEAD_INIT:
the head starts from the probe, then the adapters are added), several processes (NPROC) and resume
after an interruption; it refuses AVERAGE_CHECKPOINTS and FREEZE_EMBEDDINGS=False (every pretrained
weight stays frozen). The adapters are merged into the weights on save (`merge_and_unload`), so
model/ is a plain model that every loader, export and server uses unchanged; the adapter alone is
kept in the run folder (ADAPTER_DIR) as well.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

from peft import LoraConfig, get_peft_model

from hackkit.base import TrainParts
from hackkit.params import TrainConfig
from hackkit.registry import get_task
from hackkit.runfolder import ADAPTER_DIR, Run
from hackkit.summary import TrainSummary
from hackkit.train.distributed import is_main_process
from hackkit.train.session import SessionMethod, train_session

# The head modules a LoRA model trains fully: transformers' *ForSequenceClassification models and
# the kit's mean-pooling model name the head `classifier` (DistilBERT also `pre_classifier`) or
# `score`; the base model is everything else.
HEAD_NAMES = ("classifier", "pre_classifier", "score")


@dataclass(frozen=True)
class LoraOptions:
    """LoRA's own settings: 02's LORA_* parameters."""

    rank: int = 8
    alpha: int = 16
    dropout: float = 0.1
    targets: tuple[str, ...] = ("query", "value")

    @classmethod
    def from_config(cls, config: TrainConfig) -> LoraOptions:
        """The LORA_* parameters of a (validated) TrainConfig."""
        return cls(rank=config.lora_rank, alpha=config.lora_alpha, dropout=config.lora_dropout,
                   targets=tuple(n.strip() for n in config.lora_targets.split(",") if n.strip()))


def head_modules(model) -> list[str]:
    """The names of the task head's top-level modules: the parameters the new head owns."""
    names = [n for n, _ in model.named_children() if n in HEAD_NAMES]
    if not names:
        raise ValueError(f"METHOD='lora': {type(model).__name__} has no `classifier` or `score` "
                         "head module to train fully; use METHOD='finetune' for this model.")
    return names


def lora_model(model, options: LoraOptions, new_head: bool = True):
    """The model wrapped with LoRA adapters on the target modules; a new head (`new_head`) trained
    fully; the base frozen. A language model keeps its own head (tied to the embeddings)."""
    present = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
    missing = [t for t in options.targets if t not in present]
    if missing:
        linear = sorted({name.rsplit(".", 1)[-1] for name, m in model.named_modules()
                         if type(m).__name__ == "Linear"})
        raise ValueError(f"LORA_TARGETS={','.join(options.targets)!r}: {missing} not in "
                         f"{type(model).__name__}; its linear layers are named {linear}.")
    peft_config = LoraConfig(r=options.rank, lora_alpha=options.alpha,
                             lora_dropout=options.dropout, target_modules=list(options.targets),
                             modules_to_save=head_modules(model) if new_head else None,
                             bias="none")
    return get_peft_model(model, peft_config)


def trainable_parameters(model) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    params = list(model.parameters())
    return sum(p.numel() for p in params if p.requires_grad), sum(p.numel() for p in params)


class LoraMethod(SessionMethod):
    """The session with the model wrapped in adapters, saved merged (and the adapter alone)."""

    name = "lora"

    def __init__(self, options: LoraOptions) -> None:
        self.lora = options
        self.counts = (0, 0)

    def check(self, run: Run, config: TrainConfig) -> None:
        if run.adapter_dir.exists():
            raise FileExistsError(f"{run.adapter_dir} already exists; start a new run (01 with "
                                  "RUN_DIR='') rather than overwrite a trained adapter.")

    def prepare(self, parts: TrainParts, config: TrainConfig) -> TrainParts:
        parts.model = lora_model(parts.model, self.lora, get_task(config.task).new_head)
        self.counts = trainable, total = trainable_parameters(parts.model)
        if is_main_process():
            print(f"LoRA: training {trainable:,} of {total:,} parameters ({trainable / total:.2%})")
        return parts

    def arguments(self) -> dict:
        return {"label_names": ["labels"]}  # a PeftModel's forward hides the names Trainer reads

    def save(self, trainer, folder: Path, run: Run) -> None:
        trainer.model.save_pretrained(str(run.adapter_dir))  # adapter + head weights alone (small)
        trainer.model = trainer.model.merge_and_unload()  # a plain transformers model from here on
        trainer.save_model(str(folder))

    def details(self, trainer, parts: TrainParts) -> dict:
        trainable, total = self.counts
        return {"trainable_parameters": trainable, "total_parameters": total,
                "lora": {**asdict(self.lora), "targets": list(self.lora.targets),
                         "adapter": ADAPTER_DIR, "merged": True}}


def finetune_lora(run_dir: str | Path, config: TrainConfig) -> TrainSummary:
    """Train LoRA adapters + the head on the run's splits; save the merged model and the adapter."""
    return train_session(run_dir, config, LoraMethod(LoraOptions.from_config(config)))
