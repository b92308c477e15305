"""Figures every view shares."""

from __future__ import annotations


def message_figure(text: str):
    """A small figure that says why there is nothing to plot."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 1.2))
    ax.text(0.5, 0.5, text, ha="center", va="center", wrap=True)
    ax.axis("off")
    return fig
