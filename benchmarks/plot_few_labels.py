"""One figure of learning curves from bench_few_labels.py results, and their means as a Markdown table.

A panel per data set: test macro-F1 against labelled examples per class (log scale), one line per
method, and the ranges in which METHOD=auto picks zero-shot, embeddings and fine-tuning shaded.

    python benchmarks/plot_few_labels.py A.json B.json ... --out docs/learning_curves.png
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import pandas as pd

from hackkit.models.embeddings import ZERO_SHOT_BELOW_PER_CLASS
from hackkit.train.methods import FINETUNE_MIN_PER_CLASS

STYLE = {"embeddings + LR": dict(marker="o", color="tab:blue"),
         "TF-IDF + LR": dict(marker="s", color="tab:orange"),
         "fine-tune": dict(marker="*", color="tab:red", ms=11)}


def curves(results: list[dict]) -> pd.DataFrame:
    """Mean, min and max test macro-F1 per method and per-class size (0 = all) over the seeds."""
    frame = pd.DataFrame(results)
    return (frame.groupby(["method", "per_class"], sort=False)["macro_f1"]
            .agg(["mean", "min", "max", "size"]).reset_index())


def markdown_table(runs: list[dict]) -> str:
    """Mean test macro-F1 per data set, method and examples per class, as a Markdown table."""
    tables = [(Path(run["data"]).stem, curves(run["results"])) for run in runs]
    sizes = sorted({n for _, t in tables for n in t.loc[~t["method"].str.startswith("zero-shot"), "per_class"]},
                   key=lambda n: n or float("inf"))
    head = ["data set", "method", "no labels"] + [str(n) if n else "all" for n in sizes]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for name, table in tables:
        for method, group in table.groupby("method", sort=False):
            means = dict(zip(group["per_class"], group["mean"]))
            if method.startswith("zero-shot"):
                cells = [f"{means[0]:.3f}"] + [""] * len(sizes)
            else:
                cells = [""] + [f"{means[n]:.3f}" if n in means else "" for n in sizes]
            lines.append(f"| {name} | {method} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def plot_curves(runs: list[dict], path: str | Path, columns: int = 2) -> Path:
    """Save the figure: one panel per bench_few_labels.py JSON result (its --out file)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = min(columns, len(runs))
    rows = math.ceil(len(runs) / columns)
    fig, axes = plt.subplots(rows, columns, figsize=(5.6 * columns, 3.9 * rows), squeeze=False)
    for ax, run in zip(axes.flat, runs):
        table = curves(run["results"])
        full = run["train_rows"] / run["labels"]  # "all": the mean per class of the full train split
        x_of = lambda n: full if n == 0 else n  # noqa: E731
        ax.axvspan(0.7, ZERO_SHOT_BELOW_PER_CLASS, color="grey", alpha=0.10, lw=0)
        ax.axvspan(FINETUNE_MIN_PER_CLASS, full * 1.4, color="tab:red", alpha=0.06, lw=0)
        for x, words in ((ZERO_SHOT_BELOW_PER_CLASS * 1.08, "auto: embeddings"),
                         (FINETUNE_MIN_PER_CLASS * 1.08, "auto: fine-tune")):
            ax.text(x, 0.965, words, fontsize=6.5, color="dimgrey")
        for method, group in table.groupby("method", sort=False):
            if method.startswith("zero-shot"):
                ax.axhline(group["mean"].iloc[0], ls=":" if "names" in method else "--", color="dimgrey",
                           lw=1.2, label=method)
                continue
            group = group.assign(x=group["per_class"].map(x_of)).sort_values("x")
            style = next(v for k, v in STYLE.items() if method.startswith(k))
            tuned = method.startswith("fine-tune")
            ax.plot(group["x"], group["mean"], label=method, lw=0.8 if tuned else 1.4, ls="--" if tuned else "-",
                    **style)
            if (group["size"] > 1).any():
                ax.fill_between(group["x"], group["min"], group["max"], color=style["color"], alpha=0.15, lw=0)
        ax.set_xscale("log")
        ax.set(xlim=(0.7, full * 1.4), ylim=(0, 1.0), xlabel="labelled training examples per class",
               ylabel="test macro-F1",
               title=f"{Path(run['data']).stem}: {run['labels']} classes, test {run['test_rows']}")
        ticks = [n for n in (1, 2, 4, 8, 16, 32, 64, 128) if n < full * 0.7] + [round(full)]
        ax.set_xticks(ticks, [str(t) for t in ticks[:-1]] + [f"all\n{ticks[-1]}"], fontsize=8)
        ax.minorticks_off()
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower right")
    for ax in list(axes.flat)[len(runs):]:
        ax.set_visible(False)
    fig.suptitle("Few labels: test macro-F1 (lines: mean over seeds, bands: min-max)\nMETHOD=auto picks "
                 f"zero-shot below {ZERO_SHOT_BELOW_PER_CLASS}/class (grey), embeddings, fine-tuning from "
                 f"{FINETUNE_MIN_PER_CLASS}/class (red)", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return Path(path)


def main() -> None:
    """Read the JSON results, print the table of means and save the figure."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", nargs="+", help="bench_few_labels.py --out files")
    parser.add_argument("--out", required=True, help="PNG to write")
    args = parser.parse_args()
    runs = [json.loads(Path(p).read_text()) for p in args.results]
    print(markdown_table(runs))
    path = plot_curves(runs, args.out)
    print(f"wrote {path} ({path.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()
