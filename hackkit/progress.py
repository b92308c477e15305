"""The live progress records of a training (JSON Lines, one per event) and how one is shown:
written by the training callback (hackkit.train.callbacks), tailed by `hackkit run`
(hackkit.runs.watch). Light: no training library is imported here."""

from __future__ import annotations

# Records that a non-interactive log prints as a line; "step" records only refresh a TTY line.
LOGGED_EVENTS = ("start", "evaluate", "end")


def clock_text(seconds: float) -> str:
    """Seconds as m:ss (or h:mm:ss)."""
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


def postfix(record: dict, now: float | None = None) -> str:
    """Speed, budget left (counted down since the record was written) and the latest validation."""
    parts = []
    if record.get("examples_per_second"):
        parts.append(f"{record['examples_per_second']:.0f} ex/s")
    if record.get("eta_seconds") is not None and record.get("event") != "end":
        parts.append(f"ETA {clock_text(record['eta_seconds'])}")
    if record.get("seconds_left") is not None:
        since = max(0.0, now - record["time"]) if now is not None else 0.0
        parts.append(f"budget {clock_text(record['seconds_left'] - since)} left")
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
            f", budget {clock_text(record['seconds_left'])}" if record.get("seconds_left") else "")
    if event == "evaluate":
        scores = ", ".join(f"{k} {v:.4f}" for k, v in record.get("metrics", {}).items()
                           if k not in ("runtime", "samples_per_second", "steps_per_second", "epoch"))
        return f"{head}evaluation at {steps}, epoch {record['epoch']:.2f}: {scores}; {postfix(record)}"
    if event == "end":
        return (f"{head}training ended at {steps}, epoch {record['epoch']:.2f}, after "
                f"{clock_text(record['elapsed_seconds'])}; {postfix(record)}")
    return f"{head}{steps}  epoch {record['epoch']:.2f}  {postfix(record, now)}"
