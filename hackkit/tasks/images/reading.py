"""Reading image data: a folder with one sub-folder per class (optionally under train/ validation/
test/) or a table of image paths and labels; opening one image, from a path, bytes or a PIL image."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd

from hackkit.paths import find_input, repo_root
from hackkit.registry import other_task_hint
from hackkit.tables import SPLIT_ALIASES, read_table

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff")


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


def _check_image_paths(values: pd.Series, column: str, table_path: Path) -> None:
    """Refuse a column where no value names an image file: the table is not one of images."""
    if any(Path(str(v).strip()).suffix.lower() in IMAGE_SUFFIXES for v in values):
        return
    example = str(values.iloc[0])
    example = example if len(example) <= 60 else example[:57] + "..."
    raise ValueError(
        f"TEXT_COLUMN={column!r}: none of the {len(values)} values in {table_path.name} is the path "
        f"of an image file (e.g. {example!r}), so this is not a table of images. "
        + (other_task_hint(table_path, "image-classification")
           or "For images, set TEXT_COLUMN to the column of image paths (.jpg, .png, ...).")
    )


def read_image_table(path: str | Path, image_column: str = "image", label_column: str = "label",
                     split_column: str = "") -> pd.DataFrame:
    """A CSV/TSV/JSONL/Parquet table of image paths (relative to the table) and labels: path, label[, split]."""
    table_path = find_input(path)
    raw = read_table(table_path)
    for parameter, column in (("TEXT_COLUMN", image_column), ("LABEL_COLUMN", label_column),
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
    _check_image_paths(raw[image_column], image_column, table_path)
    base = table_path.parent
    paths = [Path(str(p)).expanduser() for p in raw[image_column]]
    paths = [(p if p.is_absolute() else base / p).resolve() for p in paths]
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"TEXT_COLUMN={image_column!r}: {len(missing)} of {len(paths)} image files in "
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


def to_image(item, where: str = "image"):
    """A path, PIL image or the bytes of an image file as an RGB PIL image; the error names the item."""
    from PIL import Image, UnidentifiedImageError

    if isinstance(item, Image.Image):
        return item.convert("RGB")
    try:
        if isinstance(item, (bytes, bytearray)):
            return open_image(io.BytesIO(item))
        return open_image(item)
    except UnidentifiedImageError as e:
        raise ValueError(f"{where}: not an image Pillow can read ({e}). Send a JPEG, PNG or WebP file.") from e
    except (OSError, SyntaxError) as e:
        raise ValueError(f"{where}: the image cannot be decoded ({e}); the file is damaged or truncated.") from e
