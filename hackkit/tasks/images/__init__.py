"""Image classification: one label per image (products, defects, plants, scans, ...).

DATA_PATH is a folder with one sub-folder per class (optionally under train/ validation/ test/), or a
table whose TEXT_COLUMN holds image paths (relative to the table) and LABEL_COLUMN the labels. Splits are
written as CSV files of paths, not copies. MAX_LENGTH is the side in pixels the images are resized to.
The model defaults to the packaged, ImageNet-pretrained EfficientNet-Lite0 (hackkit.models.efficientnet).
"""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.base import Dataset, TrainParts
from hackkit.tasks.batches import in_batches
from hackkit.tasks.images import imaging as im
from hackkit.tasks.labels import (
    LabelTask,
    classification_metrics,
    compute_metrics,
    predictions_table,
)

BASELINE_SIZE = 128  # side of the images the frozen-feature baseline sees (the sample's measured setting)


def _problems(dataset: Dataset) -> im.ImageCheck:
    """The ImageCheck that load() recorded in the dataset's info."""
    found = dataset.info.get("images", {})
    return im.ImageCheck(problems=[im.ImageProblem(**p) for p in found.get("problems", [])])


def _with_split(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All splits in one frame (path, label, split)."""
    return pd.concat([f[["path", "label"]].assign(split=name) for name, f in splits.items()],
                     ignore_index=True)


def to_image(item, where: str = "image"):
    """A path, PIL image or the bytes of an image file as an RGB PIL image; the error names the item."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, Image.Image):
        return item.convert("RGB")
    try:
        if isinstance(item, (bytes, bytearray)):
            return im.open_image(io.BytesIO(item))
        return im.open_image(item)
    except UnidentifiedImageError as e:
        raise ValueError(f"{where}: not an image Pillow can read ({e}). Send a JPEG, PNG or WebP file.") from e
    except (OSError, SyntaxError) as e:
        raise ValueError(f"{where}: the image cannot be decoded ({e}); the file is damaged or truncated.") from e


def head_from_probe(model, features: np.ndarray, labels: list[str], train_labels, seed: int = 0) -> dict:
    """Set the classifier to the logistic-regression probe on frozen features (linear probe, then fine-tune).

    A fine-tune that starts from a random head first drags the pretrained features towards whatever the
    random head wants; starting from the probe keeps them and only refines. Returns the probe's accuracy.
    """
    import torch

    probe = im.fit_feature_baseline(features, train_labels, seed)
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


class ImageClassification(LabelTask):
    """One label per image: frozen-feature baseline, EfficientNet-Lite0 (or a hub model), macro-F1."""

    name = "image-classification"
    split_suffix = ".csv"
    unit = "images"
    architecture_suffix = "ForImageClassification"
    baseline_name = "baseline (logistic regression on frozen EfficientNet-Lite0 features)"
    data_hint = ("a folder with one sub-folder per class (optionally under train/ validation/ test/), "
                 "or a table with an image-path column (TEXT_COLUMN) and a label column")
    onnx_export = True
    input_kind = "image"
    input_column = "image"
    default_model = im.DEFAULT_IMAGE_MODEL
    text_duplicates = False
    measures_lengths = False

    # --- data ---------------------------------------------------------------------------
    def load(self, data) -> Dataset:
        """Image folder or table (TEXT_COLUMN: the image paths); every file opened and decoded once."""
        sample = im.repo_root() / "data" / "shapes"
        if im.find_input(data.data_path) == sample and not sample.is_dir():
            im.sample_images()  # the shipped generator writes the sample set on first use (seconds)
        frame = im.load_images(data.data_path, data.text_column, data.label_column, data.split_column)
        check = im.check_images(frame["path"])
        info = {"images": {"checked": len(frame), "problems": [vars(p) for p in check.problems],
                           "sizes": im.size_summary(check.sizes).to_dict(orient="index")
                           if len(check.sizes) else {},
                           "modes": check.sizes["mode"].value_counts().to_dict() if len(check.sizes) else {},
                           "formats": check.sizes["format"].value_counts().to_dict()
                           if len(check.sizes) else {}}}
        return Dataset(frame=frame, path=im.find_input(data.data_path), info=info)

    def dedupe_key(self, frame):
        """The file path: the same file listed twice (identical pictures are found by extra_checks)."""
        return frame["path"]

    def extra_checks(self, dataset, splits):
        """Unreadable files (errors) and exact or near-duplicate pictures within and across splits."""
        return im.image_findings(_problems(dataset), self.near_duplicates(splits))

    def near_duplicates(self, splits):
        """Exact (same bytes) and near (perceptual hash) duplicate pairs, within and across splits."""
        return im.duplicates(_with_split(splits))

    def plot_examples(self, splits):
        """A grid of training images per class."""
        return im.plot_examples(splits["train"])

    def plot_sizes(self, splits):
        """Image width against height, and the aspect ratios."""
        import matplotlib.pyplot as plt

        sizes = im.check_images(_with_split(splits)["path"], progress=False).sizes
        fig, (ax_wh, ax_aspect) = plt.subplots(1, 2, figsize=(10, 3.5))
        ax_wh.scatter(sizes["width"], sizes["height"], s=10, alpha=0.5)
        ax_wh.set(xlabel="width (px)", ylabel="height (px)", title=f"Image sizes ({len(sizes)} images)")
        ax_aspect.hist(sizes["aspect"], bins=30, color="tab:blue", alpha=0.8)
        ax_aspect.set(xlabel="aspect ratio (width / height)", ylabel="images", title="Aspect ratios")
        fig.tight_layout()
        return fig

    def describe(self, frame):
        """Nothing beyond what load() recorded (sizes, modes, formats)."""
        return {}

    # --- training -------------------------------------------------------------------------
    def resolve_model(self, name):
        """The packaged EfficientNet-Lite0, a saved local folder, or a hub id."""
        return im.resolve_image_model(name)

    def load_processor(self, location):
        """The ImageSpec (input side, normalisation) of a model folder."""
        return im.image_spec(location)

    def new_model(self, location, labels):
        """The pretrained network with a fresh head for `labels`."""
        return im.load_image_classifier(location, labels)[0]

    def train_parts(self, train, validation, labels, location, max_length):
        """Paths in, images decoded and augmented by the collator; the head starts as the linear probe."""
        if max_length < 32:
            raise ValueError(f"MAX_LENGTH={max_length}: for images it is the side in pixels the images "
                             "are resized to; use at least 32 (e.g. 128 on a CPU, 224 on a GPU).")
        packaged = Path(im.resolve_image_model(im.DEFAULT_IMAGE_MODEL).location)
        # The packaged weights get their head swapped cleanly; other folders and hub ids load as they are.
        name = im.DEFAULT_IMAGE_MODEL if Path(location) == packaged else location
        model, spec = im.load_image_classifier(name, labels, size=max_length)
        model.config.image_size, model.config.image_mean, model.config.image_std = (
            spec.size, list(spec.mean), list(spec.std))  # saved with the weights: the folder describes itself
        extra = head_from_probe(model, im.image_features(model, spec, list(train["path"])), labels,
                                train["label"])
        extra["batchnorm_layers_frozen"] = freeze_batchnorm(model)
        return TrainParts(
            model=model, processor=None,
            train_ds=im.image_items(train, labels, augment=True),
            val_ds=im.image_items(validation, labels),
            collator=im.ImageCollator(spec), compute_metrics=compute_metrics,
            extra={**extra, "image_size": spec.size, "head_init": "linear probe"},
            warm_start=True,
            training_args={"remove_unused_columns": False,  # the collator needs the path column
                           "train_sampling_strategy": "random"})  # no token lengths to group by

    # --- prediction ---------------------------------------------------------------------------
    def load_trained(self, model_dir: Path):
        """The ImageSpec and the image classifier of a saved folder (safetensors only)."""
        model, spec = im.load_saved_image_classifier(model_dir)
        return spec, model

    def check_inputs(self, inputs):
        """Image paths, PIL images or image-file bytes, as a list; a missing file is named."""
        from PIL import Image

        single = (str, Path, bytes, bytearray, Image.Image)
        items = [inputs] if isinstance(inputs, single) else list(inputs)
        for i, item in enumerate(items):
            if isinstance(item, (str, Path)):
                if not Path(item).is_file():
                    raise ValueError(f"images: item {i} ({str(item)!r}) is not a file; give the path of "
                                     "an image file.")
            elif not isinstance(item, (bytes, bytearray, Image.Image)):
                raise ValueError(f"images: item {i} is {type(item).__name__}; give image paths, PIL images "
                                 "or the bytes of image files.")
            elif isinstance(item, (bytes, bytearray)) and not item:
                raise ValueError(f"images: item {i} is empty (0 bytes); send the image file's content.")
        return items

    def predict_proba(self, predictor, inputs):
        """Class probabilities in batches of eval-transformed images (the model's size and normalisation)."""
        import torch

        items = self.check_inputs(inputs)

        def run(indices):
            pixels = torch.stack([im.eval_transform(to_image(items[i], f"images: item {i}"),
                                                    predictor.processor) for i in indices])
            return predictor.probabilities({"pixel_values": pixels})

        rows = in_batches(items, predictor.batch_size, run)
        return np.array(rows, dtype=np.float32).reshape(len(items), len(predictor.labels))

    onnx_dynamic_axes = {0: "batch"}  # the image side is fixed by the model's ImageSpec

    def onnx_inputs(self, processor, items, max_length, kind):
        """pixel_values of eval-transformed images ("pt" tensor or "np" array)."""
        import torch

        pixels = torch.stack([im.eval_transform(to_image(x, f"images: item {i}"), processor)
                              for i, x in enumerate(items)])
        return {"pixel_values": pixels if kind == "pt" else pixels.numpy()}

    def inputs_of(self, frame):
        """The image paths of a split."""
        return list(frame["path"])

    def show_input(self, item):
        """A path as itself, an in-memory image by its size."""
        if isinstance(item, (str, Path)):
            return str(item)
        if isinstance(item, (bytes, bytearray)):
            return f"<image file, {len(item)} bytes>"
        return f"<image {item.size[0]}x{item.size[1]}>"

    def predictions_table(self, frame, results):
        """Path, gold and predicted label, confidence, correctness."""
        labels = list(results[0]["probabilities"]) if results else []
        proba = np.array([[r["probabilities"][label] for label in labels] for r in results])
        table = predictions_table(self.inputs_of(frame), frame["label"], proba.reshape(len(results), -1),
                                  labels)
        return table.rename(columns={"text": "path"})

    def errors_figure(self, predictions, k=10):
        """Thumbnails of the most confident mistakes, titled true -> predicted (confidence)."""
        return im.plot_confident_mistakes(predictions["path"], predictions["label"],
                                          predictions["predicted"], predictions["confidence"], n=k)

    # --- evaluation -----------------------------------------------------------------------------
    def baseline_scores(self, splits, labels, split, seed=42):
        """Logistic regression on frozen pretrained features of the training images, scored on `split`."""
        model, spec = im.load_image_classifier(im.DEFAULT_IMAGE_MODEL, labels, size=BASELINE_SIZE)
        train, target = splits["train"], splits[split]
        probe = im.fit_feature_baseline(im.image_features(model, spec, list(train["path"])),
                                        train["label"], seed)
        predicted = probe.predict(im.image_features(model, spec, list(target["path"])))
        return classification_metrics(target["label"], predicted, labels)
