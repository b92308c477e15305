"""A transformers model class for METHOD lm-classifier: a small chat language model that classifies
a text by how likely it finds each label's words as the answer to "which label is this?".

For a text x and a label y (its name made readable, or its LABEL_DESCRIPTIONS line), the logit is
the mean log-probability of y's tokens after the chat-formatted question prefix + x + suffix; the
prefix may show a few labelled training texts. The prefix, suffix and label token ids live in
config.json, so the saved folder is self-describing and the one prediction path (Predictor, 03, 04,
serve) loads it as a sequence classifier: `forward(input_ids)` takes the text's own token ids.

Importing this module registers the class with AutoConfig and AutoModelForSequenceClassification.
"""

from __future__ import annotations

import torch
from transformers import (
    AutoConfig,
    AutoModelForCausalLM,
    AutoModelForSequenceClassification,
    PretrainedConfig,
    PreTrainedModel,
)
from transformers.modeling_outputs import SequenceClassifierOutput

MODEL_TYPE = "hackkit-lm-scorer"
TEXT_SLOT = "\u2063TEXT\u2063"  # stands for the text while the chat template is written


class HackkitLabelScorerConfig(PretrainedConfig):
    """The language model's own config (a dict) plus the question around the text and the labels'
    token ids."""

    model_type = MODEL_TYPE

    def __init__(self, decoder: dict | None = None, prefix_ids: list[int] | None = None,
                 suffix_ids: list[int] | None = None, label_token_ids: list[list[int]] | None = None,
                 **kwargs) -> None:
        self.decoder = dict(decoder or {})
        self.prefix_ids = list(prefix_ids or [])
        self.suffix_ids = list(suffix_ids or [])
        self.label_token_ids = [list(ids) for ids in (label_token_ids or [])]
        super().__init__(**kwargs)

    def decoder_config(self) -> PretrainedConfig:
        """The language model's config object (e.g. a LlamaConfig)."""
        settings = dict(self.decoder)
        if "model_type" not in settings:
            raise ValueError("config.json: 'decoder' has no model_type; the folder was not written "
                             "by hackkit's lm-classifier method. Make it again with 02.")
        return AutoConfig.for_model(settings.pop("model_type"), **settings)

    def to_dict(self) -> dict:
        """config.json's content, without the folder the language model came from."""
        output = super().to_dict()
        output["decoder"] = {k: v for k, v in output.get("decoder", {}).items()
                             if k != "_name_or_path"}
        return output


class HackkitLabelScorerForSequenceClassification(PreTrainedModel):
    """logits[i, j] = mean log p(label j's tokens | prefix + text i + suffix)."""

    config_class = HackkitLabelScorerConfig
    base_model_prefix = "decoder"
    main_input_name = "input_ids"

    def __init__(self, config: HackkitLabelScorerConfig) -> None:
        super().__init__(config)
        self.decoder = AutoModelForCausalLM.from_config(config.decoder_config())
        self.post_init()

    def _init_weights(self, module) -> None:
        """The language model keeps its own initialisation (its weights are loaded after)."""
        if hasattr(self.decoder, "_init_weights") and module is not self:
            self.decoder._init_weights(module)

    def forward(self, input_ids=None, attention_mask=None, labels=None,
                **kwargs) -> SequenceClassifierOutput:
        """Label logits of a batch of tokenized texts (any padding side)."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        config, device = self.config, input_ids.device
        sequences, spans = [], []
        for row, mask in zip(input_ids.tolist(), attention_mask.tolist()):
            text = [t for t, m in zip(row, mask) if m]
            head = config.prefix_ids + text + config.suffix_ids
            for label in config.label_token_ids:
                spans.append((len(head), len(label)))
                sequences.append(head + label)
        longest = max(len(s) for s in sequences)
        pad = self.decoder.config.pad_token_id or 0
        ids = torch.tensor([s + [pad] * (longest - len(s)) for s in sequences], device=device)
        mask = torch.tensor([[1] * len(s) + [0] * (longest - len(s)) for s in sequences],
                            device=device)
        logprobs = torch.log_softmax(self.decoder(input_ids=ids, attention_mask=mask).logits.float(),
                                     dim=-1)
        scores = []
        for k, (start, length) in enumerate(spans):
            positions = torch.arange(start - 1, start - 1 + length, device=device)
            scores.append(logprobs[k, positions, ids[k, positions + 1]].mean())
        logits = torch.stack(scores).view(input_ids.shape[0], len(config.label_token_ids))
        loss = torch.nn.functional.cross_entropy(logits, labels) if labels is not None else None
        return SequenceClassifierOutput(loss=loss, logits=logits)


def question_parts(tokenizer, label_texts: list[str],
                   shots: list[tuple[str, str]] = ()) -> tuple[list[int], list[int]]:
    """Token ids before and after the text: the chat-formatted question listing the labels (and
    the shots, text then label), up to where the answer starts."""
    listed = "; ".join(label_texts)
    examples = "".join(f"Text: {text}\nLabel: {label}\n\n" for text, label in shots)
    question = (f"Classify the text with one of these labels: {listed}.\n\n{examples}"
                f"Text: {TEXT_SLOT}\nLabel:")
    written = tokenizer.apply_chat_template([{"role": "user", "content": question}],
                                            tokenize=False, add_generation_prompt=True)
    before, after = written.split(TEXT_SLOT)
    encode = lambda s: tokenizer(s, add_special_tokens=False)["input_ids"]  # noqa: E731
    return encode(before), encode(after)


def build(location: str, labels: list[str], label_texts: list[str],
          shots: list[tuple[str, str]] = ()) -> tuple[HackkitLabelScorerForSequenceClassification, object]:
    """The scorer around the causal language model at `location`, and its tokenizer."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(location, trust_remote_code=False)
    if not getattr(tokenizer, "chat_template", None):
        raise ValueError(f"MODEL: {location} has no chat template; METHOD lm-classifier needs a "
                         "chat (instruction-tuned) language model, e.g. SmolLM2-135M-Instruct.")
    decoder = AutoModelForCausalLM.from_pretrained(location, use_safetensors=True,
                                                   trust_remote_code=False)
    prefix, suffix = question_parts(tokenizer, label_texts, shots)
    config = HackkitLabelScorerConfig(
        decoder=decoder.config.to_dict(), prefix_ids=prefix, suffix_ids=suffix,
        label_token_ids=[tokenizer(" " + t, add_special_tokens=False)["input_ids"]
                         for t in label_texts],
        num_labels=len(labels), id2label=dict(enumerate(labels)),
        label2id={label: i for i, label in enumerate(labels)},
        architectures=[HackkitLabelScorerForSequenceClassification.__name__])
    model = HackkitLabelScorerForSequenceClassification(config)
    model.decoder.load_state_dict(decoder.state_dict())
    if decoder.config.tie_word_embeddings:
        model.decoder.tie_weights()
    return model.eval(), tokenizer


AutoConfig.register(MODEL_TYPE, HackkitLabelScorerConfig, exist_ok=True)
AutoModelForSequenceClassification.register(HackkitLabelScorerConfig,
                                            HackkitLabelScorerForSequenceClassification,
                                            exist_ok=True)
