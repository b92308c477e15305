"""A transformers model class for text regression: encoder + L2-normalised mean pooling + a linear
head that predicts one number in the target's own units.

The head is trained on the standardised target (z = (y - mean) / std, so one learning rate suits
any scale); the config keeps `target_mean` and `target_std` and the forward pass returns
`z * std + mean`, so the saved model, plain transformers and an ONNX export all give the score
itself. Importing this module registers the class with AutoConfig and
AutoModelForSequenceClassification (`import hackkit.models.auto` registers every class the kit saves).
"""

from __future__ import annotations

import numpy as np
import torch
from transformers import AutoConfig, AutoModel, AutoModelForSequenceClassification
from transformers.modeling_outputs import SequenceClassifierOutput

from hackkit.models.embeddings import mean_pool
from hackkit.models.meanpool import HackkitMeanPoolConfig, HackkitMeanPoolForSequenceClassification

MODEL_TYPE = "hackkit-meanpool-regression"


class HackkitRegressionConfig(HackkitMeanPoolConfig):
    """The mean-pooling config plus the training target's mean and standard deviation."""

    model_type = MODEL_TYPE

    def __init__(self, encoder: dict | None = None, target_mean: float = 0.0,
                 target_std: float = 1.0, **kwargs) -> None:
        self.target_mean = float(target_mean)
        self.target_std = float(target_std)
        kwargs.setdefault("problem_type", "regression")
        super().__init__(encoder=encoder, **kwargs)


class HackkitMeanPoolForTextRegression(HackkitMeanPoolForSequenceClassification):
    """logits = (normalise(mean_pool(encoder(x))) @ W.T + b) * std + mean: one score per text;
    the loss (labels given) is the mean squared error of the standardised target."""

    config_class = HackkitRegressionConfig

    def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, labels=None,
                **kwargs) -> SequenceClassifierOutput:
        """Scores of a batch, shape (batch, 1); MSE on the standardised scale when labels are given."""
        if attention_mask is None:
            attention_mask = torch.ones_like(input_ids)
        given = {"token_type_ids": token_type_ids} if token_type_ids is not None else {}
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask,
                              **given).last_hidden_state
        pooled = torch.nn.functional.normalize(mean_pool(hidden, attention_mask), dim=-1)
        dtype = getattr(self.classifier.weight, "dtype", torch.float32)
        standard = self.classifier(pooled.to(dtype)).float()
        mean, std = self.config.target_mean, self.config.target_std
        loss = None
        if labels is not None:
            target = (labels.float().view(-1) - mean) / std
            loss = torch.nn.functional.mse_loss(standard.view(-1), target)
        return SequenceClassifierOutput(loss=loss, logits=standard * std + mean)


def build_regression(base_location: str, label: str, target_mean: float, target_std: float,
                     weight: np.ndarray | None = None, bias: float = 0.0
                     ) -> HackkitMeanPoolForTextRegression:
    """The base model's encoder with a one-output head in standardised units (W: hidden; zero
    when not given, i.e. it predicts the training mean) and the target's mean and std."""
    encoder = AutoModel.from_pretrained(base_location, use_safetensors=True,
                                        trust_remote_code=False)
    hidden = encoder.config.hidden_size
    weight = np.zeros(hidden, np.float32) if weight is None else np.asarray(weight, np.float32)
    if weight.shape != (hidden,):
        raise ValueError(f"head shape W{weight.shape} does not fit the encoder's {hidden} "
                         f"dimensions ({base_location}).")
    if not target_std > 0:
        raise ValueError(f"target_std={target_std}: the training scores must vary (std > 0).")
    config = HackkitRegressionConfig(
        encoder=encoder.config.to_dict(), target_mean=target_mean, target_std=target_std,
        num_labels=1, id2label={0: label}, label2id={label: 0},
        architectures=[HackkitMeanPoolForTextRegression.__name__])
    model = HackkitMeanPoolForTextRegression(config)
    model.encoder.load_state_dict(encoder.state_dict())
    with torch.no_grad():
        model.classifier.weight.copy_(torch.from_numpy(weight).view(1, -1))
        model.classifier.bias.fill_(float(bias))
    return model.eval()


AutoConfig.register(MODEL_TYPE, HackkitRegressionConfig, exist_ok=True)
AutoModelForSequenceClassification.register(HackkitRegressionConfig,
                                            HackkitMeanPoolForTextRegression, exist_ok=True)
