"""`hackkit run` tails the kernel's progress file (hackkit.progress) while the notebooks run."""

from __future__ import annotations

import json
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from hackkit.progress import LOGGED_EVENTS, render


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


