"""Constants and helpers the tests import (fixtures live in conftest.py)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
from pathlib import Path

import hackkit as hk

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "data" / "support_intents.csv"
NER_SAMPLE = ROOT / "data" / "support_entities.conll"
TEXT = hk.get_task("text-classification")
NER = hk.get_task("token-classification")
MODEL = "sentence-transformers/all-MiniLM-L6-v2"


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def stop_process(proc: subprocess.Popen, timeout: float = 20) -> None:
    """Stop a server this test started, by its own PID (its process group when it has one)."""
    if proc.poll() is not None:
        return
    try:
        if os.getpgid(proc.pid) == proc.pid:  # started with start_new_session: stop its children too
            os.killpg(proc.pid, signal.SIGTERM)
        else:
            proc.terminate()
        proc.wait(timeout=timeout)
    except (subprocess.TimeoutExpired, ProcessLookupError):
        proc.kill()
        proc.wait(timeout=timeout)
