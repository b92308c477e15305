"""Pictures of image data for 01 and 03: example thumbnails per class, image sizes and aspect ratios,
and the most confident mistakes."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from hackkit.tasks.images.reading import open_image


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


def plot_sizes(sizes: pd.DataFrame):
    """Image width against height, and the aspect ratios (check_images' size table)."""
    import matplotlib.pyplot as plt

    fig, (ax_wh, ax_aspect) = plt.subplots(1, 2, figsize=(10, 3.5))
    ax_wh.scatter(sizes["width"], sizes["height"], s=10, alpha=0.5)
    ax_wh.set(xlabel="width (px)", ylabel="height (px)", title=f"Image sizes ({len(sizes)} images)")
    ax_aspect.hist(sizes["aspect"], bins=30, color="tab:blue", alpha=0.8)
    ax_aspect.set(xlabel="aspect ratio (width / height)", ylabel="images", title="Aspect ratios")
    fig.tight_layout()
    return fig
