"""Image classification: one label per image (products, defects, plants, scans, ...).

DATA_PATH is a folder with one sub-folder per class (optionally under train/ validation/ test/), or a
table whose TEXT_COLUMN holds image paths (relative to the table) and LABEL_COLUMN the labels. Splits are
written as CSV files of paths, not copies. MAX_LENGTH is the side in pixels the images are resized to.
The model defaults to the packaged, ImageNet-pretrained EfficientNet-Lite0 (hackkit.models.efficientnet).

The task's other half lives beside this file: reading (folders, tables, one image), checks (unreadable
files, duplicate pictures), transforms (ImageSpec, collator), classifier (load, save, features,
baseline), views (plots), demo (the upload widget) and api (the multipart POST /predict).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.base import Dataset, TrainParts
from hackkit.paths import find_input, repo_root
from hackkit.tasks.batches import in_batches
from hackkit.tasks.images import checks, classifier, reading, transforms, views
from hackkit.tasks.images.demo import ImagePicker
from hackkit.tasks.labels import (
    LabelTask,
    classification_metrics,
    compute_metrics,
    predictions_table,
)

BASELINE_SIZE = 128  # side of the images the frozen-feature baseline sees (the sample's measured setting)


def _problems(dataset: Dataset) -> checks.ImageCheck:
    """The ImageCheck that load() recorded in the dataset's info."""
    found = dataset.info.get("images", {})
    return checks.ImageCheck(problems=[checks.ImageProblem(**p) for p in found.get("problems", [])])


def _with_split(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """All splits in one frame (path, label, split)."""
    return pd.concat([f[["path", "label"]].assign(split=name) for name, f in splits.items()],
                     ignore_index=True)


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
    input_column = "image"
    default_model = classifier.DEFAULT_IMAGE_MODEL
    python_example = '["photo.jpg"]'
    processor_files = "the image side and normalisation (in config.json)"

    def data_columns(self, params, data_path):
        """A folder's class sub-folders, or a table's image-path and label columns."""
        if find_input(data_path).is_dir():
            return "images in one sub-folder per class (the folder name is the label)"
        return f"image paths in {params.get('TEXT_COLUMN')} / labels in {params.get('LABEL_COLUMN')}"

    # --- data ---------------------------------------------------------------------------
    def load(self, data) -> Dataset:
        """Image folder or table (TEXT_COLUMN: the image paths); every file opened and decoded once."""
        sample = repo_root() / "data" / "shapes"
        if find_input(data.data_path) == sample and not sample.is_dir():
            reading.sample_images()  # the shipped generator writes the sample set on first use (seconds)
        frame = reading.load_images(data.data_path, data.text_column, data.label_column,
                                    data.split_column)
        check = checks.check_images(frame["path"])
        info = {"images": {"checked": len(frame), "problems": [vars(p) for p in check.problems],
                           "sizes": checks.size_summary(check.sizes).to_dict(orient="index")
                           if len(check.sizes) else {},
                           "modes": check.sizes["mode"].value_counts().to_dict() if len(check.sizes) else {},
                           "formats": check.sizes["format"].value_counts().to_dict()
                           if len(check.sizes) else {}}}
        return Dataset(frame=frame, path=find_input(data.data_path), info=info)

    def dedupe_key(self, frame):
        """The file path: the same file listed twice (identical pictures are found by near_duplicates)."""
        return frame["path"]

    def near_duplicates(self, splits):
        """Exact (same bytes) and near (perceptual hash) duplicate pairs, within and across splits."""
        return checks.duplicates(_with_split(splits))

    def extra_checks(self, dataset, splits, near):
        """Unreadable files (errors) and exact or near-duplicate pictures within and across splits."""
        return checks.image_findings(_problems(dataset), near)

    def plot_examples(self, splits):
        """A grid of training images per class."""
        return views.plot_examples(splits["train"])

    def plot_sizes(self, splits):
        """Image width against height, and the aspect ratios."""
        return views.plot_sizes(checks.check_images(_with_split(splits)["path"], progress=False).sizes)

    def describe(self, frame):
        """Nothing beyond what load() recorded (sizes, modes, formats)."""
        return {}

    # --- training -------------------------------------------------------------------------
    def resolve_model(self, name):
        """The packaged EfficientNet-Lite0, a saved local folder, or a hub id."""
        return classifier.resolve_image_model(name)

    def load_processor(self, location):
        """The ImageSpec (input side, normalisation) of a model folder."""
        return classifier.image_spec(location)

    def new_model(self, location, labels):
        """The pretrained network with a fresh head for `labels`."""
        return classifier.load_image_classifier(location, labels)[0]

    def train_parts(self, train, validation, labels, location, max_length):
        """Paths in, images decoded and augmented by the collator; the head starts as the linear probe."""
        if max_length < 32:
            raise ValueError(f"MAX_LENGTH={max_length}: for images it is the side in pixels the images "
                             "are resized to; use at least 32 (e.g. 128 on a CPU, 224 on a GPU).")
        default = classifier.DEFAULT_IMAGE_MODEL
        packaged = Path(classifier.resolve_image_model(default).location)
        # The packaged weights get their head swapped cleanly; other folders and hub ids load as they are.
        name = default if Path(location) == packaged else location
        model, spec = classifier.load_image_classifier(name, labels, size=max_length)
        model.config.image_size, model.config.image_mean, model.config.image_std = (
            spec.size, list(spec.mean), list(spec.std))  # saved with the weights: the folder describes itself
        extra = classifier.head_from_probe(
            model, classifier.image_features(model, spec, list(train["path"])), labels, train["label"])
        extra["batchnorm_layers_frozen"] = classifier.freeze_batchnorm(model)
        return TrainParts(
            model=model, processor=None,
            train_ds=transforms.image_items(train, labels, augment=True),
            val_ds=transforms.image_items(validation, labels),
            collator=transforms.ImageCollator(spec), compute_metrics=compute_metrics,
            extra={**extra, "image_size": spec.size, "head_init": "linear probe"},
            warm_start=True,
            training_args={"remove_unused_columns": False,  # the collator needs the path column
                           "train_sampling_strategy": "random"})  # no token lengths to group by

    # --- prediction ---------------------------------------------------------------------------
    def load_trained(self, model_dir: Path):
        """The ImageSpec and the image classifier of a saved folder (safetensors only)."""
        model, spec = classifier.load_saved_image_classifier(model_dir)
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
            pixels = torch.stack([transforms.eval_transform(
                reading.to_image(items[i], f"images: item {i}"), predictor.processor) for i in indices])
            return predictor.probabilities({"pixel_values": pixels})

        rows = in_batches(items, predictor.batch_size, run)
        return np.array(rows, dtype=np.float32).reshape(len(items), len(predictor.labels))

    def onnx_examples(self, max_length):
        """Two small generated images of different sizes (the model resizes them to its side)."""
        from PIL import Image

        return [Image.new("RGB", (max_length, max_length), (200, 40, 40)),
                Image.new("RGB", (max_length + 20, max_length), "white")]

    def onnx_inputs(self, processor, items, max_length, kind):
        """pixel_values of eval-transformed images ("pt" tensor or "np" array)."""
        import torch

        pixels = torch.stack([transforms.eval_transform(reading.to_image(x, f"images: item {i}"), processor)
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
        return views.plot_confident_mistakes(predictions["path"], predictions["label"],
                                             predictions["predicted"], predictions["confidence"], n=k)

    # --- demo and API (04, serve) ---------------------------------------------------------------
    def demo_input(self, example=None):
        """An image upload or path, and a preview."""
        return ImagePicker(example)

    def predict_route(self, predictor, run, **limits):
        """multipart/form-data uploads named `images` (hackkit.tasks.images.api)."""
        from hackkit.tasks.images.api import image_route  # imports FastAPI: only when serving

        return image_route(predictor, run, **limits)

    def api_example(self, url):
        """curl uploading one image file."""
        return f"curl -s -F images=@photo.jpg {url}/predict"

    # --- evaluation -----------------------------------------------------------------------------
    def baseline_scores(self, splits, labels, split, seed=42):
        """Logistic regression on frozen pretrained features of the training images, scored on `split`."""
        model, spec = classifier.load_image_classifier(classifier.DEFAULT_IMAGE_MODEL, labels,
                                                       size=BASELINE_SIZE)
        train, target = splits["train"], splits[split]
        probe = classifier.fit_feature_baseline(
            classifier.image_features(model, spec, list(train["path"])), train["label"], seed)
        predicted = probe.predict(classifier.image_features(model, spec, list(target["path"])))
        return classification_metrics(target["label"], predicted, labels)
