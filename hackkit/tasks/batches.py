"""The one prediction loop every task uses: inputs in batches (the shortest first when their
length is given, so a batch pads little), a progress bar for long runs, results in input order."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from tqdm.auto import tqdm


def in_batches(items: Sequence, batch_size: int, run: Callable[[list[int]], Sequence],
               length: Callable[[Any], int] | None = None, desc: str = "Predicting") -> list:
    """run(indices) on batches of at most batch_size items; its per-item results in input order."""
    if batch_size < 1:
        raise ValueError(f"batch_size={batch_size!r}: use a positive integer, e.g. 32.")
    # A stable sort: inputs given already in length order keep it (distillation relies on that).
    order = (np.argsort([length(item) for item in items], kind="stable") if length is not None
             else np.arange(len(items)))
    results: list = [None] * len(items)
    starts = range(0, len(items), batch_size)
    for start in tqdm(starts, desc=desc, disable=len(starts) < 4):  # a few batches (the demo): no bar
        indices = [int(i) for i in order[start:start + batch_size]]
        batch = run(indices)
        if len(batch) != len(indices):
            raise RuntimeError(f"{desc}: {len(batch)} results for a batch of {len(indices)} inputs.")
        for i, result in zip(indices, batch):
            results[i] = result
    return results
