"""Generate hackkit's sample image set ``data/shapes/``: five drawn shapes on varied backgrounds.

Each image shows one object whose *shape* is the label: circle, triangle, square, star or cross.
Colour says nothing about the class: object and background colours are drawn independently for
every image. The object is placed at a random position, scale and rotation, is filled or drawn
as a thick outline, and sits on one of four background kinds (two-colour gradient, stripes,
blurred noise texture, soft tiles) with 0-3 distractor strokes and blobs, sensor-like noise, an
occasional blur and JPEG compression at a random quality. Image sizes and aspect ratios vary.

The output is deterministic for a seed (Pillow + numpy only) and is written as
``data/shapes/<label>/<label>_NNN.jpg`` together with a ``.gitignore`` that keeps the generated
files out of git. ``python data/make_sample_images.py`` (re)writes it; hackkit calls ``make`` on
first use.

Licence: CC0-1.0 (public domain dedication), like the generated images.
"""

from __future__ import annotations

import argparse
import math
import shutil
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

LABELS = ("circle", "triangle", "square", "star", "cross")
SIZES = ((192, 192), (224, 168), (168, 224), (256, 192), (200, 200), (240, 240))
SUPERSAMPLE = 2  # draw at twice the size, then downsample: smooth edges like a photo


def _colour(rng: np.random.Generator) -> tuple[int, int, int]:
    """A random RGB colour."""
    return tuple(int(v) for v in rng.integers(0, 256, 3))


def _background(rng: np.random.Generator, w: int, h: int) -> Image.Image:
    """One of four background kinds in random colours."""
    kind = rng.integers(4)
    a, b = np.array(_colour(rng), float), np.array(_colour(rng), float)
    if kind == 0:  # linear gradient at a random angle
        angle = rng.uniform(0, 2 * math.pi)
        yy, xx = np.mgrid[0:h, 0:w]
        t = (xx * math.cos(angle) + yy * math.sin(angle))
        t = (t - t.min()) / (np.ptp(t) + 1e-9)
        pixels = a * (1 - t[..., None]) + b * t[..., None]
    elif kind == 1:  # stripes of random width and angle
        angle, period = rng.uniform(0, math.pi), rng.uniform(12, 48) * SUPERSAMPLE
        yy, xx = np.mgrid[0:h, 0:w]
        t = ((xx * math.cos(angle) + yy * math.sin(angle)) // (period / 2)) % 2
        pixels = np.where(t[..., None] > 0, a, b * 0.6 + a * 0.4)
    elif kind == 2:  # blurred noise texture (grass, sand, fabric-like)
        small = rng.uniform(0, 1, (h // 16 + 1, w // 16 + 1))
        t = np.asarray(Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.BICUBIC), float) / 255
        t += rng.normal(0, 0.08, (h, w))
        pixels = a * (1 - t[..., None]) + b * t[..., None]
    else:  # soft tiles
        tile = int(rng.integers(24, 64)) * SUPERSAMPLE
        yy, xx = np.mgrid[0:h, 0:w]
        t = ((xx // tile + yy // tile) % 2).astype(float) * 0.5 + 0.25
        pixels = a * (1 - t[..., None]) + b * t[..., None]
    return Image.fromarray(np.clip(pixels, 0, 255).astype(np.uint8))


def _polygon(label: str, cx: float, cy: float, r: float, rot: float) -> list[tuple[float, float]]:
    """Corner points of a shape centred at (cx, cy) with radius r, rotated by rot."""
    if label == "triangle":
        angles, radii = [rot + k * 2 * math.pi / 3 for k in range(3)], [r] * 3
    elif label == "square":
        angles, radii = [rot + math.pi / 4 + k * math.pi / 2 for k in range(4)], [r] * 4
    elif label == "star":
        angles = [rot + k * math.pi / 5 for k in range(10)]
        radii = [r if k % 2 == 0 else r * 0.42 for k in range(10)]
    elif label == "cross":  # a plus sign: 12 corners
        a, b = r, r * 0.33
        pts = [(b, a), (b, b), (a, b), (a, -b), (b, -b), (b, -a), (-b, -a), (-b, -b), (-a, -b), (-a, b),
               (-b, b), (-b, a)]
        c, s = math.cos(rot), math.sin(rot)
        return [(cx + x * c - y * s, cy + x * s + y * c) for x, y in pts]
    else:
        raise ValueError(label)
    return [(cx + q * math.cos(t), cy + q * math.sin(t)) for t, q in zip(angles, radii)]


def _distractors(draw: ImageDraw.ImageDraw, rng: np.random.Generator, w: int, h: int) -> None:
    """0-3 small strokes or blobs that belong to no class."""
    for _ in range(int(rng.integers(0, 4))):
        x, y = rng.uniform(0, w), rng.uniform(0, h)
        if rng.random() < 0.5:
            dx, dy = rng.uniform(-0.3, 0.3, 2) * min(w, h)
            draw.line([(x, y), (x + dx, y + dy)], fill=_colour(rng), width=int(rng.integers(2, 6)) * SUPERSAMPLE)
        else:
            rx, ry = rng.uniform(0.02, 0.07, 2) * min(w, h)
            draw.ellipse([x - rx, y - ry, x + rx, y + ry], fill=_colour(rng))


def draw_image(label: str, rng: np.random.Generator) -> Image.Image:
    """One image of `label` with random background, placement, colour, distractors and noise."""
    width, height = SIZES[int(rng.integers(len(SIZES)))]
    w, h = width * SUPERSAMPLE, height * SUPERSAMPLE
    image = _background(rng, w, h)
    draw = ImageDraw.Draw(image)
    _distractors(draw, rng, w, h)
    r = rng.uniform(0.16, 0.36) * min(w, h)
    cx, cy = rng.uniform(r * 0.8, w - r * 0.8), rng.uniform(r * 0.8, h - r * 0.8)
    colour, rot = _colour(rng), rng.uniform(0, 2 * math.pi)
    outline = rng.random() < 0.3
    stroke = int(max(3, r * 0.12))
    if label == "circle":
        box = [cx - r, cy - r, cx + r, cy + r]
        draw.ellipse(box, outline=colour, width=stroke) if outline else draw.ellipse(box, fill=colour)
    else:
        points = _polygon(label, cx, cy, r, rot)
        if outline:
            draw.line(points + points[:1], fill=colour, width=stroke, joint="curve")
        else:
            draw.polygon(points, fill=colour)
    image = image.resize((width, height), Image.LANCZOS)
    if rng.random() < 0.25:
        image = image.filter(ImageFilter.GaussianBlur(rng.uniform(0.5, 1.5)))
    noisy = np.asarray(image, float) + rng.normal(0, rng.uniform(2, 12), (height, width, 3))
    return Image.fromarray(np.clip(noisy, 0, 255).astype(np.uint8))


def make(out_dir: Path, per_class: int = 80, seed: int = 0) -> Path:
    """Write per_class JPEGs for each label under out_dir/<label>/ (replacing out_dir); return out_dir."""
    rng = np.random.default_rng(seed)
    tmp = out_dir.with_name(f".{out_dir.name}.partial")
    shutil.rmtree(tmp, ignore_errors=True)
    for label in LABELS:
        (tmp / label).mkdir(parents=True)
    for i in range(per_class):  # interleave labels so every class sees the same random stream depth
        for label in LABELS:
            quality = int(rng.integers(70, 96))
            draw_image(label, rng).save(tmp / label / f"{label}_{i:03d}.jpg", quality=quality)
    (tmp / ".gitignore").write_text("# generated by data/make_sample_images.py\n*\n")
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    return out_dir


def main() -> None:
    """Command line: python data/make_sample_images.py [--out data/shapes] [--per-class 80] [--seed 0]."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parent / "shapes")
    parser.add_argument("--per-class", type=int, default=80)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    out = make(args.out, args.per_class, args.seed)
    files = list(out.rglob("*.jpg"))
    print(f"wrote {len(files)} images ({sum(f.stat().st_size for f in files) / 1e6:.1f} MB) to {out}")


if __name__ == "__main__":
    main()
