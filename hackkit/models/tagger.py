"""A transformers model class for token classification that also sees each word's shape: an
encoder whose input embeddings get a learned vector per word shape (lower case, capitalised, all
caps, digits, ...) added, then a linear tag head. An uncased encoder cannot tell "Germany" from
"germany"; the shape gives it back the strongest single cue for names (the CNN-BiLSTM taggers'
lesson). Which shape a word has is the task's business (hackkit.tasks.ner.word_shape); this class
only takes `shape_ids`, one per token, 0 for none.

Importing this module registers the class with AutoConfig and AutoModelForTokenClassification
(`import hackkit.models.auto` registers every class the kit saves). Without `shape_ids` (plain
transformers' pipeline) the model predicts as if no word had a shape: give it
hackkit.tasks.ner.shape_ids(...) to get the accuracy it was trained for.
"""

from __future__ import annotations

import torch
from transformers import (
    AutoConfig,
    AutoModel,
    AutoModelForTokenClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import TokenClassifierOutput

MODEL_TYPE = "hackkit-shape-tagger"
IGNORE = -100  # label id the loss skips (transformers' convention)


class HackkitShapeTaggerConfig(PretrainedConfig):
    """The encoder's own config (a dict), the number of word shapes and the tag labels."""

    model_type = MODEL_TYPE

    def __init__(self, encoder: dict | None = None, num_shapes: int = 0,
                 classifier_dropout: float = 0.1, **kwargs) -> None:
        self.encoder = dict(encoder or {})
        self.num_shapes = int(num_shapes)
        self.classifier_dropout = float(classifier_dropout)
        super().__init__(**kwargs)

    def encoder_config(self) -> PretrainedConfig:
        """The encoder's config object (e.g. a BertConfig)."""
        settings = dict(self.encoder)
        if "model_type" not in settings:
            raise ValueError("config.json: 'encoder' has no model_type; the folder was not written "
                             "by hackkit's token-classification task. Train it again with 02.")
        return AutoConfig.for_model(settings.pop("model_type"), **settings)

    def to_dict(self) -> dict:
        """The settings as config.json holds them, without the encoder's `_name_or_path` (a path
        on this machine)."""
        output = super().to_dict()
        output["encoder"] = {k: v for k, v in output.get("encoder", {}).items()
                             if k != "_name_or_path"}
        return output

    @property
    def hidden_size(self) -> int:
        """Width of the encoder's token vectors (the head's input)."""
        return int(self.encoder.get("hidden_size", 0))


class HackkitShapeTaggerForTokenClassification(PreTrainedModel):
    """logits = head(encoder(word embeddings + shape embeddings)); cross-entropy with labels."""

    config_class = HackkitShapeTaggerConfig
    base_model_prefix = "encoder"
    main_input_name = "input_ids"

    def __init__(self, config: HackkitShapeTaggerConfig) -> None:
        super().__init__(config)
        self.encoder = AutoModel.from_config(config.encoder_config())
        self.shapes = torch.nn.Embedding(max(config.num_shapes, 1), config.hidden_size)
        self.dropout = torch.nn.Dropout(config.classifier_dropout)
        self.classifier = torch.nn.Linear(config.hidden_size, config.num_labels)
        self.post_init()

    def _init_weights(self, module) -> None:
        """Shape vectors start at zero (the pretrained encoder's input unchanged); a new head small
        and random; the encoder keeps its own init."""
        if module is self.shapes:
            torch.nn.init.zeros_(module.weight)
        elif module is self.classifier:
            torch.nn.init.normal_(module.weight, std=0.02)
            torch.nn.init.zeros_(module.bias)
        elif hasattr(self.encoder, "_init_weights") and module is not self:
            self.encoder._init_weights(module)

    def get_input_embeddings(self):
        """The encoder's word-embedding table (FREEZE_EMBEDDINGS freezes it, not the shapes)."""
        return self.encoder.get_input_embeddings()

    def set_input_embeddings(self, value) -> None:
        """Replace the encoder's word-embedding table."""
        self.encoder.set_input_embeddings(value)

    def save_pretrained(self, *args, **kwargs):
        """Save with the encoder's current config."""
        self.config.encoder = self.encoder.config.to_dict()
        return super().save_pretrained(*args, **kwargs)

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, shape_ids=None,
                labels=None, **kwargs) -> TokenClassifierOutput:
        """Tag logits per token; the loss over tokens whose label is not IGNORE when given."""
        embeds = self.encoder.get_input_embeddings()(input_ids)
        if shape_ids is not None:
            embeds = embeds + self.shapes(shape_ids).to(embeds.dtype)
        given = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(inputs_embeds=embeds, attention_mask=attention_mask,
                              **given).last_hidden_state
        logits = self.classifier(self.dropout(hidden))
        loss = (torch.nn.functional.cross_entropy(logits.float().view(-1, logits.shape[-1]),
                                                  labels.view(-1), ignore_index=IGNORE)
                if labels is not None else None)
        return TokenClassifierOutput(loss=loss, logits=logits)


def build(base_location: str, labels: list[str],
          num_shapes: int) -> HackkitShapeTaggerForTokenClassification:
    """The base model's pretrained encoder with zero shape vectors and a new tag head."""
    encoder = AutoModel.from_pretrained(base_location, use_safetensors=True,
                                        trust_remote_code=False)
    config = HackkitShapeTaggerConfig(
        encoder=encoder.config.to_dict(), num_shapes=num_shapes, num_labels=len(labels),
        id2label=dict(enumerate(labels)), label2id={label: i for i, label in enumerate(labels)},
        architectures=[HackkitShapeTaggerForTokenClassification.__name__])
    model = HackkitShapeTaggerForTokenClassification(config)
    model.encoder.load_state_dict(encoder.state_dict())
    return model


AutoConfig.register(MODEL_TYPE, HackkitShapeTaggerConfig, exist_ok=True)
AutoModelForTokenClassification.register(HackkitShapeTaggerConfig,
                                         HackkitShapeTaggerForTokenClassification, exist_ok=True)
