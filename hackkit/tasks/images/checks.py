"""Checking image files for the data doctor: unreadable files, sizes, and exact or near-duplicate
pictures (SHA-256 of the bytes, a 256-bit perceptual hash of the pixels)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hackkit.tasks.images.reading import open_image

# pHash bits (of 256) that may differ. On data/shapes, half-size JPEG-60 copies differ by 6 (median) to
# 58 (max, 99th percentile 48); the closest two distinct images differ by 72. A 64-bit dHash could not
# separate them: smooth gradient backgrounds gave distinct images identical dHashes.
NEAR_DUPLICATE_BITS = 52


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
