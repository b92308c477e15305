"""Image classification helpers: readers, doctor checks, hashes, transforms, EfficientNet-Lite0 weights."""

from __future__ import annotations

import importlib.util
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from PIL import Image

from hackkit.tasks.images import checks, classifier, reading, transforms, views
from helpers import image_generator

FLOWER = Path(importlib.util.find_spec("sklearn").origin).parent / "datasets" / "images" / "flower.jpg"
DAISY = 985  # ImageNet class index of "daisy"


@pytest.fixture(scope="module")
def generator():
    """data/make_sample_images.py as a module (draws single images without writing the whole set)."""
    return image_generator()


def draw(generator, label: str = "star", seed: int = 0) -> Image.Image:
    """One generated sample image."""
    return generator.draw_image(label, np.random.default_rng(seed))


def class_folders(root: Path, generator, labels=("circle", "star"), per_class: int = 2) -> Path:
    """root/<label>/<i>.jpg for a few generated images."""
    for label in labels:
        (root / label).mkdir(parents=True)
        for i in range(per_class):
            draw(generator, label, i).save(root / label / f"{i}.jpg")
    return root


@pytest.fixture(scope="module")
def weights_cache(tmp_path_factory) -> Path:
    """A cache folder holding the converted EfficientNet-Lite0 (converted once for this module)."""
    from hackkit.models.efficientnet import convert_packaged_weights

    cache = tmp_path_factory.mktemp("cache")
    convert_packaged_weights(cache)
    return cache


# --------------------------------------------------------------------------- doctor checks


def test_check_images_reports_each_bad_file_with_its_path(tmp_path, generator):
    good = tmp_path / "good.jpg"
    draw(generator).save(good, quality=90)
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    truncated = tmp_path / "truncated.jpg"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    text = tmp_path / "notes.jpg"
    text.write_text("these are my notes, not a photo\n")

    result = checks.check_images([good, empty, truncated, text])

    found = {Path(p.path).name: p for p in result.problems}
    assert {n: p.check for n, p in found.items()} == {
        "empty.jpg": "empty", "truncated.jpg": "corrupt", "notes.jpg": "not-an-image"}
    for name, problem in found.items():
        assert str(tmp_path / name) in problem.message
    assert "text content" in found["notes.jpg"].message
    assert result.sizes["path"].tolist() == [str(good)]
    assert result.table()["check"].tolist() == ["empty", "corrupt", "not-an-image"]
    findings = checks.image_findings(result, checks.duplicates(pd.DataFrame({"path": [str(good)], "label": ["a"]})),
                                 min_side=500)
    assert [f[:2] for f in findings] == [("error", "empty"), ("error", "corrupt"), ("error", "not-an-image"),
                                         ("warning", "small-images")]


def test_size_table_and_exif_rotation(tmp_path):
    path = tmp_path / "rotated.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6  # stored landscape, displayed rotated 90 degrees
    Image.new("RGB", (40, 20), "red").save(path, exif=exif)
    Image.new("RGB", (30, 30), "blue").save(tmp_path / "square.png")

    assert reading.open_image(path).size == (20, 40)
    sizes = checks.check_images([path, tmp_path / "square.png"]).sizes
    assert sizes[["width", "height"]].values.tolist() == [[20, 40], [30, 30]]
    summary = checks.size_summary(sizes)
    assert summary.loc["aspect", "min"] == 0.5 and summary.loc["height", "max"] == 40


@pytest.mark.parametrize("mode,suffix", [("L", ".png"), ("RGBA", ".png"), ("RGB", ".webp"), ("LA", ".png"),
                                         ("P", ".png")])
def test_image_modes_load_as_three_channels(tmp_path, mode, suffix):
    path = tmp_path / f"img{suffix}"
    image = Image.new("RGBA", (50, 30), (200, 30, 30, 255))
    image.putpixel((0, 0), (0, 0, 0, 0))  # one fully transparent pixel
    if mode == "P":
        image.convert("RGB").convert("P").save(path, transparency=0)
    else:
        image.convert(mode).save(path)

    loaded = reading.open_image(path)
    assert loaded.mode == "RGB" and loaded.size == (50, 30)
    if mode in ("RGBA", "LA"):
        assert loaded.getpixel((0, 0)) == (255, 255, 255)  # transparency flattened on white
    tensor = transforms.eval_transform(loaded, transforms.ImageSpec(size=64))
    assert tensor.shape == (3, 64, 64) and tensor.dtype == torch.float32


# --------------------------------------------------------------------------- duplicates


def test_perceptual_hash_flags_resized_copy_not_a_different_image(tmp_path, generator):
    original = draw(generator, "star", 1)
    original.save(tmp_path / "a.jpg", quality=90)
    original.resize((original.width // 2, original.height // 2)).save(tmp_path / "a_small.jpg", quality=70)
    shutil.copy(tmp_path / "a.jpg", tmp_path / "a_copy.jpg")
    draw(generator, "star", 2).save(tmp_path / "b.jpg", quality=90)
    frame = pd.DataFrame({"path": [str(tmp_path / n) for n in ("a.jpg", "a_small.jpg", "a_copy.jpg", "b.jpg")],
                          "label": ["star", "star", "circle", "star"],
                          "split": ["train", "test", "train", "train"]})

    pairs = checks.duplicates(frame)

    named = {(Path(r.path_a).name, Path(r.path_b).name): r for r in pairs.itertuples()}
    assert set(named) == {("a.jpg", "a_small.jpg"), ("a.jpg", "a_copy.jpg"), ("a_small.jpg", "a_copy.jpg")}
    assert named[("a.jpg", "a_copy.jpg")].kind == "exact" and named[("a.jpg", "a_copy.jpg")].label_conflict
    assert named[("a.jpg", "a_small.jpg")].kind == "near" and named[("a.jpg", "a_small.jpg")].cross_split
    findings = {check: message for _, check, message in checks.image_findings(checks.check_images(frame["path"]), pairs)}
    assert set(findings) == {"duplicates", "leakage", "label-conflicts"}
    assert findings["leakage"].startswith("2 pairs of exact or near-identical images across splits")
    assert checks.image_findings(checks.check_images(frame["path"][3:]), checks.duplicates(frame[3:])) == []
    distance_to_b = checks.hash_distance(checks.phash(original), checks.phash(reading.open_image(tmp_path / "b.jpg")))
    assert distance_to_b > 2 * checks.NEAR_DUPLICATE_BITS


# --------------------------------------------------------------------------- readers


def test_read_image_folder_with_and_without_split_folders(tmp_path, generator):
    flat = reading.read_image_folder(class_folders(tmp_path / "flat", generator))
    assert list(flat.columns) == ["path", "label"]
    assert flat["label"].value_counts().to_dict() == {"circle": 2, "star": 2}
    assert all(Path(p).is_absolute() and Path(p).is_file() for p in flat["path"])

    class_folders(tmp_path / "split" / "train", generator)
    class_folders(tmp_path / "split" / "val", generator, per_class=1)
    split = reading.read_image_folder(tmp_path / "split")
    assert split["split"].value_counts().to_dict() == {"train": 4, "validation": 2}


@pytest.mark.parametrize("layout,expected", [
    ({}, "no sub-folders"),
    ({"cat": 2}, "only one class (cat)"),
    ({"cat": 2, "dog": 0}, "has no image files"),
    ({"train/cat": 1, "train/dog": 1, "extra/cat": 1}, "mixes split folders (train) with other folders (extra)"),
    ({"test/cat": 1, "test/dog": 1}, "no train/ folder"),
    ({"cat": 1, "dog": 1, ".": 1}, "outside any class folder"),
])
def test_read_image_folder_errors_name_the_folder_and_the_fix(tmp_path, layout, expected):
    root = tmp_path / "data"
    root.mkdir()
    for folder, n in layout.items():
        (root / folder).mkdir(parents=True, exist_ok=True)
        for i in range(n):
            Image.new("RGB", (8, 8)).save(root / folder / f"{i}.png")
    with pytest.raises(ValueError, match="DATA_PATH") as info:
        reading.read_image_folder(root)
    assert expected in str(info.value)


def test_read_image_table_paths_relative_to_the_table(tmp_path, generator):
    class_folders(tmp_path / "imgs", generator)
    rows = [{"file": f"imgs/{label}/{i}.jpg", "class": label, "part": "train" if i == 0 else "valid"}
            for label in ("circle", "star") for i in range(2)]
    pd.DataFrame(rows).to_csv(tmp_path / "labels.csv", index=False)
    pd.DataFrame(rows).to_parquet(tmp_path / "labels.parquet")

    for name in ("labels.csv", "labels.parquet"):
        frame = reading.load_images(tmp_path / name, image_column="file", label_column="class", split_column="part")
        assert frame["path"].tolist() == [str(tmp_path / r["file"]) for r in rows]
        assert frame["split"].tolist() == ["train", "validation"] * 2

    with pytest.raises(ValueError, match=r"TEXT_COLUMN='image': no such column in labels.csv. Columns: file"):
        reading.read_image_table(tmp_path / "labels.csv", label_column="class")
    pd.DataFrame(rows + [{"file": "imgs/gone.jpg", "class": "star", "part": "test"}]).to_csv(
        tmp_path / "missing.csv", index=False)
    with pytest.raises(FileNotFoundError, match=r"1 of 5 image files in missing.csv do not exist.*gone.jpg"):
        reading.read_image_table(tmp_path / "missing.csv", "file", "class")
    pd.DataFrame([dict(r, part="holdout") for r in rows]).to_csv(tmp_path / "split.csv", index=False)
    with pytest.raises(ValueError, match=r"SPLIT_COLUMN='part': unknown split values \['holdout'\]"):
        reading.read_image_table(tmp_path / "split.csv", "file", "class", "part")


# --------------------------------------------------------------------------- transforms and collator


def test_training_augmentation_is_seeded(generator):
    image, spec = draw(generator), transforms.ImageSpec(size=96)
    import random

    first = transforms.train_transform(image, spec, random.Random(7))
    again = transforms.train_transform(image, spec, random.Random(7))
    other = transforms.train_transform(image, spec, random.Random(8))
    assert first.shape == (3, 96, 96)
    assert torch.equal(first, again) and not torch.equal(first, other)
    assert not torch.equal(first, transforms.eval_transform(image, spec))


def test_collator_makes_trainer_batches(tmp_path, generator):
    frame = reading.read_image_folder(class_folders(tmp_path, generator))
    items = transforms.image_items(frame, ["circle", "star"])
    batch = transforms.ImageCollator(transforms.ImageSpec(size=64), train=True, seed=1)(items)
    assert batch["pixel_values"].shape == (4, 3, 64, 64)
    assert batch["labels"].tolist() == [0, 0, 1, 1]
    # one collator for Trainer's train and eval loaders: only items marked augment are augmented
    collate = transforms.ImageCollator(transforms.ImageSpec(size=64), seed=1)
    plain = collate(items)["pixel_values"]
    assert torch.equal(plain, collate(items)["pixel_values"])
    augmented = collate(transforms.image_items(frame, ["circle", "star"], augment=True))["pixel_values"]
    assert not torch.equal(plain[0], augmented[0])
    assert set(transforms.ImageCollator(transforms.ImageSpec(size=64))([(p, None) for p in frame["path"]])) == {"pixel_values"}
    with pytest.raises(ValueError, match=r"labels \['star'\] are not in the training labels \['circle'\]"):
        transforms.image_items(frame, ["circle"])


# --------------------------------------------------------------------------- the network


def test_conversion_loads_every_packaged_key(weights_cache):
    from hackkit.models.efficientnet import (
        EfficientNetLiteConfig,
        EfficientNetLiteForImageClassification,
        load_packaged_state_dict,
    )

    packaged = load_packaged_state_dict()
    model = EfficientNetLiteForImageClassification(EfficientNetLiteConfig(num_labels=1000))
    assert len(packaged) == 296
    assert set(packaged) == set(model.state_dict())
    assert all(packaged[k].shape == v.shape for k, v in model.state_dict().items())
    folder = weights_cache / "efficientnet-lite0"
    assert sorted(f.name for f in folder.iterdir()) == ["config.json", "model.safetensors"]


def test_pretrained_network_recognises_a_daisy_deterministically(weights_cache, generator):
    model, spec = classifier.load_saved_image_classifier(weights_cache / "efficientnet-lite0")
    assert spec.size == 224 and spec.mean == pytest.approx((127 / 255,) * 3)
    proba = classifier.predict_image_proba(model, spec, [str(FLOWER)])
    assert proba.shape == (1, 1000) and proba[0].argmax() == DAISY
    pixels = transforms.eval_transform(draw(generator), spec)[None]
    with torch.inference_mode():
        assert torch.equal(model(pixel_values=pixels).logits, model(pixel_values=pixels).logits)


def test_fine_tuned_head_round_trip_is_exact_and_pickle_free(tmp_path, weights_cache, generator):
    labels = ["circle", "star", "square"]
    model, spec = classifier.load_image_classifier("efficientnet-lite0", labels, size=96, cache_dir=weights_cache)
    assert model.classifier.out_features == 3 and model.config.id2label[2] == "square"
    with torch.no_grad():
        model.classifier.weight.add_(torch.randn_like(model.classifier.weight))  # as if fine-tuned
    pixels = torch.stack([transforms.eval_transform(draw(generator, "star", s), spec) for s in range(2)])
    out = model(pixel_values=pixels, labels=torch.tensor([1, 0]))
    assert out.loss.ndim == 0 and out.logits.shape == (2, 3)
    assert model.pooled_features(pixels).shape == (2, 1280)

    folder = classifier.save_image_classifier(model, spec, tmp_path / "model")
    assert sorted(f.name for f in folder.iterdir()) == ["config.json", "model.safetensors"]
    loaded, loaded_spec = classifier.load_saved_image_classifier(folder)
    model.eval()
    with torch.inference_mode():
        assert torch.equal(model(pixel_values=pixels).logits, loaded(pixel_values=pixels).logits)
    assert loaded_spec == spec and loaded.config.id2label == {0: "circle", 1: "star", 2: "square"}


def test_random_initialisation_differs_from_pretrained(weights_cache):
    pretrained, _ = classifier.load_image_classifier("efficientnet-lite0", ["a", "b"], cache_dir=weights_cache)
    scratch, _ = classifier.load_image_classifier("efficientnet-lite0", ["a", "b"], cache_dir=weights_cache,
                                          pretrained=False)
    stem = "efficientnet.stem.conv.weight"
    assert not torch.equal(pretrained.state_dict()[stem], scratch.state_dict()[stem])
    assert scratch.state_dict()["efficientnet.head.bn.weight"].eq(1).all()


def test_resolve_image_model_errors_state_the_fix(tmp_path, monkeypatch):
    (tmp_path / "no_config").mkdir()
    with pytest.raises(ValueError, match="has no config.json"):
        classifier.resolve_image_model(str(tmp_path / "no_config"))
    pickled = tmp_path / "pickled"
    pickled.mkdir()
    (pickled / "config.json").write_text("{}")
    (pickled / "pytorch_model.bin").write_bytes(b"x")
    with pytest.raises(ValueError, match="does not unpickle"):
        classifier.resolve_image_model(str(pickled))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ValueError, match="Use MODEL='efficientnet-lite0', which works offline"):
        classifier.resolve_image_model("someone/vit-not-cached")


# --------------------------------------------------------------------------- views


def test_views(tmp_path, generator):
    import matplotlib

    matplotlib.use("Agg")
    frame = reading.read_image_folder(class_folders(tmp_path, generator, per_class=3))
    fig = views.plot_examples(frame, per_class=2)
    assert len(fig.axes) == 4 and fig.axes[0].get_ylabel() == "circle\n(3)"

    paths = frame["path"].tolist()
    fig = views.plot_confident_mistakes(paths, ["circle"] * 6, ["circle", "star", "star", "circle", "star", "star"],
                                     [0.9, 0.6, 0.95, 0.99, 0.7, 0.8], n=2)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles == ["circle -> star\n(0.95)", "circle -> star\n(0.80)"]
    fig = views.plot_confident_mistakes(paths[:2], ["a", "b"], ["a", "b"], [0.9, 0.9])
    assert fig.axes[0].texts[0].get_text() == "No mistakes among 2 images."


def test_other_transformers_models_load_through_the_same_path(tmp_path, generator):
    """A saved ViT (as a hub download would be) gets a fresh head, its own preprocessing and features."""
    import json

    from transformers import ViTConfig, ViTForImageClassification

    folder = tmp_path / "tiny-vit"
    config = ViTConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
                       image_size=32, patch_size=8, num_labels=7)
    ViTForImageClassification(config).save_pretrained(folder)
    (folder / "preprocessor_config.json").write_text(json.dumps({
        "image_processor_type": "ViTImageProcessor", "size": {"height": 32, "width": 32},
        "image_mean": [0.5, 0.5, 0.5], "image_std": [0.5, 0.5, 0.5]}))
    model, spec = classifier.load_image_classifier(str(folder), ["circle", "star"])
    assert spec == transforms.ImageSpec(32, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert model.config.num_labels == 2
    draw(generator).save(tmp_path / "a.jpg")
    assert classifier.image_features(model, spec, [str(tmp_path / "a.jpg")]).shape == (1, 32)
    assert classifier.predict_image_proba(model, spec, [str(tmp_path / "a.jpg")]).shape == (1, 2)
