"""A transformers model class for the few-labels methods: encoder + L2-normalised mean pooling + a
linear head. The embeddings probe and zero-shot save themselves as this class, so the one
prediction path (Predictor, 03, 04, serve, ONNX export) loads them like a fine-tuned model.

Importing this module registers the class with AutoConfig and AutoModelForSequenceClassification
(`import hackkit.models.auto` registers every class the kit saves).
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput

from hackkit.models.embeddings import mean_pool

MODEL_TYPE = "hackkit-meanpool"


class HackkitMeanPoolConfig(PretrainedConfig):
    """The encoder's own config (a dict) plus the head's labels; hidden_size is the encoder's."""

    model_type = MODEL_TYPE

    def __init__(self, encoder: dict | None = None, **kwargs) -> None:
        self.encoder = dict(encoder or {})
        super().__init__(**kwargs)

    def encoder_config(self) -> PretrainedConfig:
        """The encoder's config object (e.g. a BertConfig)."""
        settings = dict(self.encoder)
        if "model_type" not in settings:
            raise ValueError("config.json: 'encoder' has no model_type; the folder was not written "
                             "by hackkit's embeddings or zero-shot method. Train it again with 02.")
        return AutoConfig.for_model(settings.pop("model_type"), **settings)

    def to_dict(self) -> dict:
        """The settings as config.json holds them: the encoder's without `_name_or_path`, the
        folder it was loaded from (a path on this machine, e.g. inside a virtual environment)."""
        output = super().to_dict()
        output["encoder"] = {k: v for k, v in output.get("encoder", {}).items()
                             if k != "_name_or_path"}
        return output

    @property
    def hidden_size(self) -> int:
        """Width of the pooled embedding (the head's input)."""
        return int(self.encoder.get("hidden_size", 0))


class HackkitMeanPoolForSequenceClassification(PreTrainedModel):
    """logits = normalise(mean_pool(encoder(x))) @ W.T + b; a loss too when labels are given
    (cross-entropy, or one sigmoid per label when config.problem_type is multi-label)."""

    config_class = HackkitMeanPoolConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"

    def __init__(self, config: HackkitMeanPoolConfig) -> None:
        super().__init__(config)
        self.encoder = AutoModel.from_config(config.encoder_config())
        self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module) -> None:
        """New heads start at zero (every class equally likely); the encoder keeps its own init."""
        if module is self.classifier:
            torch.nn.init.zeros_(module.weight)
            torch.nn.init.zeros_(module.bias)
        elif hasattr(self.encoder, "_init_weights") and module is not self:
            self.encoder._init_weights(module)

    def save_pretrained(self, *args, **kwargs):
        """Save with the encoder's current config (a distilled student has fewer layers)."""
        self.config.encoder = self.encoder.config.to_dict()
        return super().save_pretrained(*args, **kwargs)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                **kwargs) -> SequenceClassifierOutput:
        """Class logits of a batch; cross-entropy loss when labels are given (Trainer)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        given = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              **given).last_hidden_state
        pooled = torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)
        # A dynamically quantised (int8) head takes float32 input and has weight() as a method.
        dtype = getattr(self.classifier.weight, "dtype", torch.float32)
        logits = self.classifier(pooled.to(dtype))
        loss = None
        if labels is not None and self.config.problem_type == "multi_label_classification":
            # Several labels per text (a 0/1 row each): one sigmoid per label.
            loss = torch.nn.functional.binary_cross_entropy_with_logits(logits.float(),
                                                                        labels.float())
        elif labels is not None:
            loss = torch.nn.functional.cross_entropy(logits.float(), labels)
        return SequenceClassifierOutput(loss=loss, logits=logits)


def build(base_location: str, labels: list[str], weight: np.ndarray, bias: np.ndarray,
          problem_type: str | None = None, encoder=None) -> HackkitMeanPoolForSequenceClassification:
    """The base model's encoder weights (or `encoder`'s, e.g. one just tuned) with a head
    (W: labels x hidden, b: labels); problem_type "multi_label_classification" trains it with one
    sigmoid per label."""
    if encoder is None:
        encoder = AutoModel.from_pretrained(base_location, use_safetensors=True,
                                            trust_remote_code=False)
    weight, bias = np.asarray(weight, dtype=np.float32), np.asarray(bias, dtype=np.float32)
    hidden = encoder.config.hidden_size
    if weight.shape != (len(labels), hidden) or bias.shape != (len(labels),):
        raise ValueError(f"head shapes W{weight.shape}, b{bias.shape} do not fit {len(labels)} "
                         f"labels and the encoder's {hidden} dimensions ({base_location}).")
    config = HackkitMeanPoolConfig(
        encoder=encoder.config.to_dict(), num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
        architectures=[HackkitMeanPoolForSequenceClassification.__name__],
        problem_type=problem_type)
    model = HackkitMeanPoolForSequenceClassification(config)
    model.encoder.load_state_dict(encoder.state_dict())
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(weight))
        model.classifier.bias.copy_(torch.from_numpy(bias))
    return model.eval()


AutoConfig.register(MODEL_TYPE, HackkitMeanPoolConfig, exist_ok=True)
AutoModelForSequenceClassification.register(HackkitMeanPoolConfig,
                                            HackkitMeanPoolForSequenceClassification,
                                            exist_ok=True)
