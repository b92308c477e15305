"""02's learning curve: training and validation loss, and the validation scores, per epoch."""

from __future__ import annotations

from pathlib import Path

from hackkit.paths import read_json
from hackkit.runfolder import Run


def plot_learning_curve(run_dir: str | Path):
    """Training and validation loss, and the validation main metric and accuracy, per epoch."""
    import matplotlib.pyplot as plt

    run = Run(run_dir)
    task = run.task()
    history = read_json(run.history)
    train = [(h["epoch"], h["loss"]) for h in history if "loss" in h and "epoch" in h]
    evals = [h for h in history if "eval_loss" in h]
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(10, 3.5))
    if train:
        ax_loss.plot(*zip(*train), label="training loss")
    if evals:
        ax_loss.plot([h["epoch"] for h in evals], [h["eval_loss"] for h in evals], "o-",
                     label="validation loss")
        for key, style in ((task.main_metric, "o-"), ("accuracy", "s--")):
            if f"eval_{key}" in evals[0] and (key == task.main_metric or key in task.metric_names):
                ax_score.plot([h["epoch"] for h in evals], [h[f"eval_{key}"] for h in evals],
                              style, label=f"validation {task.metric_names.get(key, key)}")
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Loss")
    ax_score.set(xlabel="epoch", ylabel="score", title="Validation", ylim=(0, 1.02))
    for ax in (ax_loss, ax_score):
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig
