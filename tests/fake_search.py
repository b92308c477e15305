"""A fast stand-in for the papermill pipeline in search tests: trains nothing, reports like 02 does."""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import hackkit as hk
from hackkit.runfolder import Run
from hackkit.train.trial import TrialLink, prune_record

TARGET_LR = 3e-4


def closeness(params: dict, epoch: int) -> float:
    """A validation score that peaks at TARGET_LR."""
    distance = abs(math.log10(params["LEARNING_RATE"]) - math.log10(TARGET_LR))
    # Near the target it keeps rising; far from it, it peaks after the first epoch and falls, as a
    # learning rate far off does (the median pruner stops only trials that stopped improving).
    trend = -0.1 * (3 - epoch) if distance < 0.5 else -0.02 * (epoch - 1)
    return round(max(0.0, 0.9 - 0.3 * distance + trend), 4)


class FakeTraining:
    """A run folder, a validation score per 'epoch' reported to the search's trial (and stopped
    when the pruner says so, as hackkit.train.pruning does), then a train summary and metrics."""

    def __init__(self, score: Callable[[dict, int], float] = closeness, epochs: int = 3,
                 seconds: float = 0.0, interrupt_after: int | None = None,
                 before: Callable[[], None] = lambda: None):
        self.score, self.epochs, self.seconds = score, epochs, seconds
        self.interrupt_after, self.before = interrupt_after, before
        self.calls: list[dict] = []

    def __call__(self, params, name, log, on_start) -> Path:
        self.before()
        run = Run(hk.new_run_dir(name))
        hk.write_json(run.record, {"status": "running", "params": params, "pid": os.getpid()})
        on_start(run.path)
        self.calls.append(params)
        if self.interrupt_after is not None and len(self.calls) > self.interrupt_after:
            raise KeyboardInterrupt  # a crash of the whole search mid-trial
        link, best, started = TrialLink.from_env(), 0.0, time.monotonic()
        for epoch in range(1, self.epochs + 1):
            time.sleep(self.seconds)
            value = self.score(params, epoch)
            best = max(best, value)
            if (link and link.report(value, epoch, epoch / self.epochs, left=self.epochs - epoch)
                    and epoch < self.epochs):
                hk.write_json(run.pruned_mark, prune_record(
                    link, "macro_f1", value, epoch, self.epochs * 10, epoch * 10,
                    time.monotonic() - started))
                break
        hk.TrainSummary(task="text-classification", main_metric="macro_f1", best_validation=best,
                        steps=epoch * 10, model="fake").write(run.train_summary)
        hk.write_json(run.metrics, {"model": {"macro_f1": best}})
        hk.write_json(run.record, {"status": "done", "params": params, "pid": os.getpid()})
        return run.path


def barrier(folder: Path, me: int, count: int, timeout: float = 60) -> Callable[[], None]:
    """Before the first trial, wait until all `count` workers have started (so both take trials)."""
    def wait() -> None:
        (folder / f"ready-{me}").touch()
        end = time.monotonic() + timeout
        while len(list(folder.glob("ready-*"))) < count and time.monotonic() < end:
            time.sleep(0.05)
    return wait


if __name__ == "__main__":  # one worker process: sweep file, storage URL, worker index, barrier dir
    import sys

    from hackkit.runs.sweep import run_worker

    file, storage, worker, ready = sys.argv[1], sys.argv[2], int(sys.argv[3]), Path(sys.argv[4])
    import hackkit.runs.sweep as sweep

    fake = FakeTraining(seconds=0.2, before=barrier(ready, worker, 2))
    sweep.run_pipeline = fake  # run_worker trains through this module's run_pipeline
    run_worker(file, worker, storage)
