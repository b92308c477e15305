"""Live progress of a headless run: a JSON Lines file written by the kernel, tailed by `hackkit run`."""

from __future__ import annotations

import functools
import json
import os
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

# Records that a non-interactive log prints as a line; "step" records only refresh a TTY line.
LOGGED_EVENTS = ("start", "evaluate", "end")


def _clock_text(seconds: float) -> str:
    """Seconds as m:ss (or h:mm:ss)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


@functools.cache
def _progress_callback_class() -> type:
    """Define ProgressCallback on first use, so the watcher side never imports transformers."""
    from transformers import TrainerCallback

    class ProgressCallback(TrainerCallback):
        """Append progress records (JSON Lines) to `path`; a tqdm.auto bar only if Trainer shows none."""

        def __init__(self, path: str | Path, notebook: str = "", budget_seconds: float = 0.0,
                     metric: str = "accuracy", min_interval: float = 1.0, bar: bool | None = None,
                     clock: Callable[[], float] = time.monotonic,
                     wall: Callable[[], float] = time.time) -> None:
            self.path = Path(path)
            self.notebook = notebook
            self.budget_seconds = budget_seconds
            self.metric = metric
            self.min_interval = min_interval
            self.bar_wanted = bar
            self.clock, self.wall = clock, wall
            self.start = self.last_write = 0.0
            self.start_step = 0
            self.validation: dict[str, float] = {}
            self.bar = None

        def _write(self, event: str, args, state, **extra: Any) -> dict:
            now = self.clock()
            elapsed = now - self.start
            per_step = args.train_batch_size * args.gradient_accumulation_steps * args.world_size
            done = state.global_step - self.start_step
            rate = done / elapsed if elapsed > 0 and done else 0.0
            record = {
                "event": event, "notebook": self.notebook, "time": round(self.wall(), 3),
                "step": state.global_step, "max_steps": state.max_steps,
                "epoch": round(float(state.epoch or 0), 3),
                "examples_per_second": round(rate * per_step, 2),
                "elapsed_seconds": round(elapsed, 1),
                "eta_seconds": round((state.max_steps - state.global_step) / rate, 1) if rate else None,
                "seconds_left": (round(max(0.0, self.budget_seconds - elapsed), 1)
                                 if self.budget_seconds else None),
                "metric": self.metric,
                "validation": self.validation.get(self.metric),
                **extra,
            }
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # One write of one line per record: a reader sees whole lines or an unfinished tail.
            with self.path.open("a", encoding="utf-8") as f:
                f.write(json.dumps(record) + "\n")
            self.last_write = now
            return record

        def on_train_begin(self, args, state, control, **kwargs):
            self.start = self.clock()
            self.start_step = state.global_step
            self._write("start", args, state)
            show = args.disable_tqdm if self.bar_wanted is None else self.bar_wanted
            if show:  # Trainer draws its own bar (console or notebook) unless disable_tqdm is set
                from tqdm.auto import tqdm

                self.bar = tqdm(total=state.max_steps, initial=state.global_step, desc="training",
                                unit="step", dynamic_ncols=True)

        def on_step_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.update(state.global_step - self.bar.n)
            if self.clock() - self.last_write >= self.min_interval:
                record = self._write("step", args, state)
                if self.bar is not None:
                    self.bar.set_postfix_str(_postfix(record), refresh=False)

        def on_evaluate(self, args, state, control, metrics=None, **kwargs):
            self.validation = {k.removeprefix("eval_"): float(v) for k, v in (metrics or {}).items()
                               if isinstance(v, (int, float))}
            self._write("evaluate", args, state, metrics=self.validation)

        def on_train_end(self, args, state, control, **kwargs):
            if self.bar is not None:
                self.bar.close()
                self.bar = None
            self._write("end", args, state)

    ProgressCallback.__qualname__ = "ProgressCallback"
    return ProgressCallback


def __getattr__(name: str) -> Any:
    """Module attribute hook: ProgressCallback is built on first access (PEP 562)."""
    if name == "ProgressCallback":
        return _progress_callback_class()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def _postfix(record: dict, now: float | None = None) -> str:
    """Speed, budget left (counted down since the record was written) and the latest validation."""
    parts = []
    if record.get("examples_per_second"):
        parts.append(f"{record['examples_per_second']:.0f} ex/s")
    if record.get("eta_seconds") is not None and record.get("event") != "end":
        parts.append(f"ETA {_clock_text(record['eta_seconds'])}")
    if record.get("seconds_left") is not None:
        since = max(0.0, now - record["time"]) if now is not None else 0.0
        parts.append(f"budget {_clock_text(record['seconds_left'] - since)} left")
    if record.get("validation") is not None:
        parts.append(f"val {record['metric']} {record['validation']:.4f}")
    return "  ".join(parts)


def render(record: dict, now: float | None = None) -> str:
    """One line describing a progress record (TTY refresh or log line)."""
    steps = f"step {record['step']}/{record['max_steps']}"
    if record["max_steps"]:
        steps += f" ({100 * record['step'] / record['max_steps']:.0f}%)"
    head = f"{record['notebook'] + ': ' if record['notebook'] else ''}"
    event = record["event"]
    if event == "start":
        return f"{head}training started: {record['max_steps']} steps" + (
            f", budget {_clock_text(record['seconds_left'])}" if record.get("seconds_left") else "")
    if event == "evaluate":
        scores = ", ".join(f"{k} {v:.4f}" for k, v in record.get("metrics", {}).items()
                           if k not in ("runtime", "samples_per_second", "steps_per_second", "epoch"))
        return f"{head}evaluation at {steps}, epoch {record['epoch']:.2f}: {scores}; {_postfix(record)}"
    if event == "end":
        return (f"{head}training ended at {steps}, epoch {record['epoch']:.2f}, after "
                f"{_clock_text(record['elapsed_seconds'])}; {_postfix(record)}")
    return f"{head}{steps}  epoch {record['epoch']:.2f}  {_postfix(record, now)}"


class ProgressWatcher:
    """Tail a progress file from another process: a refreshing line on a TTY, else logged events."""

    def __init__(self, path: str | Path, stream: TextIO | None = None, interval: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = Path(path)
        self.stream = stream if stream is not None else sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = interval
        self.clock = clock
        # Only what is written from now on (a resumed run appends to an older file).
        self.offset = self.path.stat().st_size if self.path.exists() else 0
        self.latest: dict | None = None
        self._width = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def read_new(self) -> list[dict]:
        """Records appended since the last read (whole lines only)."""
        try:
            with self.path.open("rb") as f:
                f.seek(self.offset)
                chunk = f.read()
        except FileNotFoundError:  # the kernel has not started training yet
            return []
        end = chunk.rfind(b"\n")
        if end < 0:
            return []
        self.offset += end + 1
        records = []
        for line in chunk[:end].decode("utf-8").splitlines():
            if line.strip():
                records.append(json.loads(line))
        return records

    def poll(self) -> list[dict]:
        """Read new records and render them; on a TTY redraw the line even with none."""
        records = self.read_new()
        if records:
            self.latest = records[-1]
        if self.tty:
            if self.latest is not None:
                line = render(self.latest, self.clock())
                self.stream.write("\r" + line.ljust(self._width))
                self._width = len(line)
                self.stream.flush()
        else:
            for record in records:
                if record["event"] in LOGGED_EVENTS:
                    self.stream.write(render(record) + "\n")
            if records:
                self.stream.flush()
        return records

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self.poll()

    def start(self) -> ProgressWatcher:
        """Start tailing in a daemon thread."""
        self._thread = threading.Thread(target=self._loop, name="hackkit-progress", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop the thread, render what is left and end the TTY line."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
            self._thread = None
        self.poll()
        if self.tty and self._width:
            self.stream.write("\n")
            self.stream.flush()
            self._width = 0

    def __enter__(self) -> ProgressWatcher:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def quiet_kernel_options() -> dict[str, Any]:
    """papermill.execute_notebook options that talk to the kernel over IPC sockets, not TCP.

    ipykernel (kernelapp.py, init_sockets) warns "Kernel is running over TCP without encryption"
    for every TCP kernel. Local Unix-domain sockets (file permissions, not ports) remove the cause,
    so the warning goes without filtering the kernel's stderr; real errors still show. Windows has
    no IPC transport: there it returns {} and the warning stays.
    """
    if os.name != "posix":
        return {}
    from traitlets.config import Config

    # The sockets are files named <ip>-<n>; by default "kernel-ipc" in the working directory (the
    # notebooks folder), where a killed kernel leaves them behind. Keep them in the temp folder.
    ip = os.path.join(tempfile.gettempdir(), f"hackkit-kernel-{os.getpid()}")
    return {"config": Config({"KernelManager": {"transport": "ipc", "ip": ip}})}
