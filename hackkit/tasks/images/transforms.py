"""Turning images into model inputs: the model's ImageSpec, the evaluation and (augmented) training
transforms, and the collator that loads, transforms and stacks a batch for Trainer."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hackkit.tasks.images.reading import open_image

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class ImageSpec:
    """How a model wants its input: square side in pixels and per-channel mean/std on [0, 1] values."""

    size: int = 224
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    crop_fraction: float = 0.875  # eval: resize the shorter side to size / 0.875, then centre-crop


def to_tensor(image, spec: ImageSpec):
    """An RGB PIL image as a normalised float tensor (3, H, W)."""
    import torch

    array = np.asarray(image, dtype=np.float32) / 255.0
    mean, std = np.asarray(spec.mean, np.float32), np.asarray(spec.std, np.float32)
    return torch.from_numpy(((array - mean) / std).transpose(2, 0, 1).copy())


def eval_transform(image, spec: ImageSpec):
    """Resize the shorter side to size / crop_fraction, centre-crop size x size, normalise."""
    from PIL import Image

    image = image.convert("RGB")
    short = round(spec.size / spec.crop_fraction)
    w, h = image.size
    scale = short / min(w, h)
    image = image.resize((max(spec.size, round(w * scale)), max(spec.size, round(h * scale))),
                         Image.Resampling.BICUBIC)
    w, h = image.size
    left, top = (w - spec.size) // 2, (h - spec.size) // 2
    return to_tensor(image.crop((left, top, left + spec.size, top + spec.size)), spec)


def train_transform(image, spec: ImageSpec, rng: random.Random, scale: tuple[float, float] = (0.35, 1.0),
                    jitter: float = 0.2):
    """Random resized crop, horizontal flip and small brightness/contrast/saturation jitter, then normalise."""
    from PIL import Image, ImageEnhance, ImageOps

    image = image.convert("RGB")
    w, h = image.size
    box = (0, 0, w, h)
    for _ in range(10):  # as torchvision's RandomResizedCrop: area share and aspect ratio, 10 tries
        area = w * h * rng.uniform(*scale)
        ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
        cw, ch = round(math.sqrt(area * ratio)), round(math.sqrt(area / ratio))
        if 0 < cw <= w and 0 < ch <= h:
            left, top = rng.randint(0, w - cw), rng.randint(0, h - ch)
            box = (left, top, left + cw, top + ch)
            break
    else:  # no crop fitted: the largest centred square
        side = min(w, h)
        box = ((w - side) // 2, (h - side) // 2, (w - side) // 2 + side, (h - side) // 2 + side)
    image = image.resize((spec.size, spec.size), Image.Resampling.BILINEAR, box=box)
    if rng.random() < 0.5:
        image = ImageOps.mirror(image)
    for enhance in (ImageEnhance.Brightness, ImageEnhance.Contrast, ImageEnhance.Color):
        image = enhance(image).enhance(rng.uniform(1 - jitter, 1 + jitter))
    return to_tensor(image, spec)


def image_items(frame: pd.DataFrame, labels: Sequence[str], augment: bool = False) -> list[dict]:
    """A dataset for ImageCollator and Trainer: one {"path", "label" (id), "augment"} per row."""
    index = {label: i for i, label in enumerate(labels)}
    unknown = sorted(set(frame["label"]) - set(index))
    if unknown:
        raise ValueError(f"labels {unknown} are not in the training labels {list(labels)}; "
                         "every validation/test label must also occur in train.")
    return [{"path": p, "label": index[l], "augment": augment} for p, l in zip(frame["path"], frame["label"])]


class ImageCollator:
    """Load, transform and stack a batch of {"path", "label"} items into {"pixel_values", "labels"}.

    Items with "augment": True (image_items(train, labels, augment=True)) get the training transform,
    the rest the eval transform, so one collator serves Trainer's training and evaluation loaders
    (Trainer uses a single data_collator for both). train=True augments every item. Trainer needs
    remove_unused_columns=False, or it drops "path" before the collator sees it. Augmentation is
    seeded by (seed, worker, batch number), so a run repeats exactly.
    """

    def __init__(self, spec: ImageSpec, train: bool = False, seed: int = 0) -> None:
        self.spec, self.train, self.seed = spec, train, seed
        self.calls = 0

    def __call__(self, items: Sequence[dict | tuple]) -> dict:
        """Collate one batch; items are dicts with path, label (id) and augment, or (path, label) pairs."""
        import torch

        rows = [(it["path"], it.get("label"), self.train or bool(it.get("augment"))) if isinstance(it, dict)
                else (it[0], it[1], self.train) for it in items]
        worker = torch.utils.data.get_worker_info()
        rng = random.Random(f"{self.seed}-{worker.id if worker else -1}-{self.calls}")
        self.calls += 1
        pixels = [train_transform(open_image(p), self.spec, rng) if augment
                  else eval_transform(open_image(p), self.spec) for p, _, augment in rows]
        batch = {"pixel_values": torch.stack(pixels)}
        if all(label is not None for _, label, _ in rows):
            batch["labels"] = torch.tensor([int(label) for _, label, _ in rows], dtype=torch.long)
        return batch
