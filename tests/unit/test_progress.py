"""Live progress: the callback's JSON Lines file, the watcher's TTY line and log lines, quiet kernels."""

from __future__ import annotations

import io
import json
import signal
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest

from hackkit.runs.pipeline import quiet_kernel_options
from hackkit.runs.watch import ProgressWatcher
from hackkit.train.callbacks import ProgressCallback
from helpers import TEXT


class Tty(io.StringIO):
    """A StringIO that says it is a terminal."""

    def isatty(self) -> bool:
        return True


ARGS = SimpleNamespace(train_batch_size=8, gradient_accumulation_steps=1, world_size=1,
                       disable_tqdm=False)


def _simulate(path: Path) -> list[dict]:
    """Drive the callback through 10 steps 0.3 s apart, two evaluations and the end."""
    now = [100.0]
    callback = ProgressCallback(path, notebook="02_finetune.ipynb", budget_seconds=60,
                                clock=lambda: now[0], wall=lambda: 1_000.0 + now[0])
    state = SimpleNamespace(global_step=0, max_steps=10, epoch=0.0)
    callback.on_train_begin(ARGS, state, None)
    for step in range(1, 11):
        now[0] += 0.3
        state.global_step, state.epoch = step, step / 5
        callback.on_step_end(ARGS, state, None)
        if step % 5 == 0:
            callback.on_evaluate(ARGS, state, None, metrics={"eval_accuracy": 0.5 + step / 50,
                                                             "eval_loss": 1.0, "epoch": step / 5})
    callback.on_train_end(ARGS, state, None)
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_callback_writes_throttled_records_with_speed_budget_and_validation(tmp_path):
    records = _simulate(tmp_path / "progress.jsonl")
    events = [r["event"] for r in records]
    assert events[0] == "start" and events[-1] == "end"
    assert events.count("evaluate") == 2
    # at most one write per 1 s, evaluation writes included: steps 4 (t=1.2 s) and 9 (t=2.7 s)
    assert [r["step"] for r in records if r["event"] == "step"] == [4, 9]
    end = records[-1]
    assert end["step"] == end["max_steps"] == 10 and end["epoch"] == 2.0
    assert end["examples_per_second"] == pytest.approx(10 * 8 / 3.0, rel=1e-3)
    assert end["seconds_left"] == pytest.approx(57.0)
    assert end["validation"] == pytest.approx(0.7) and end["metric"] == "accuracy"
    assert records[-2]["metrics"]["accuracy"] == pytest.approx(0.7)


def test_watcher_logs_one_line_per_evaluation_when_not_a_terminal(tmp_path):
    path = tmp_path / "progress.jsonl"
    out = io.StringIO()
    watcher = ProgressWatcher(path, out)
    assert watcher.poll() == []  # no file yet: nothing, no error
    _simulate(path)
    watcher.poll()
    lines = out.getvalue().splitlines()
    assert len(lines) == 4  # start, 2 evaluations, end; no step lines
    assert lines[0].startswith("02_finetune.ipynb: training started: 10 steps, budget 1:00")
    assert "evaluation at step 5/10 (50%), epoch 1.00: accuracy 0.6000, loss 1.0000" in lines[1]
    assert "training ended at step 10/10 (100%)" in lines[3] and "budget 0:57 left" in lines[3]
    assert watcher.poll() == [] and len(out.getvalue().splitlines()) == 4  # nothing read twice


def test_watcher_refreshes_one_line_on_a_terminal(tmp_path):
    path = tmp_path / "progress.jsonl"
    out = Tty()
    now = [1_000.0]
    watcher = ProgressWatcher(path, out, clock=lambda: now[0])
    record = {"event": "step", "notebook": "02_finetune.ipynb", "time": 1_000.0, "step": 30,
              "max_steps": 120, "epoch": 0.5, "examples_per_second": 41.0, "eta_seconds": 90.0,
              "seconds_left": 300.0, "metric": "accuracy", "validation": 0.8123}
    line = json.dumps(record) + "\n"
    path.write_text(line[:20])  # the kernel is mid-write: no whole line yet
    assert watcher.poll() == []
    path.write_text(line)
    watcher.poll()
    now[0] += 10  # no new record: the refresh still counts the budget down
    watcher.poll()
    text = out.getvalue()
    assert "\n" not in text and text.count("\r") == 2
    assert "step 30/120 (25%)" in text and "41 ex/s" in text and "val accuracy 0.8123" in text
    assert "budget 5:00 left" in text and "budget 4:50 left" in text
    watcher.stop()
    assert out.getvalue().endswith("\n")


def test_watcher_thread_renders_everything_by_the_time_it_stops(tmp_path):
    path = tmp_path / "progress.jsonl"
    out = io.StringIO()
    with ProgressWatcher(path, out, interval=0.01):
        _simulate(path)
    assert len(out.getvalue().splitlines()) == 4


def test_a_real_trainer_writes_progress(tiny_model, small_frame, tmp_path):
    from transformers import Trainer, TrainingArguments, set_seed

    set_seed(0)
    parts = TEXT.train_parts(small_frame, small_frame, sorted(small_frame["label"].unique()),
                             str(tiny_model), max_length=32)
    args = TrainingArguments(output_dir=str(tmp_path / "ckpt"), max_steps=4, eval_strategy="steps",
                             eval_steps=2, save_strategy="no", per_device_train_batch_size=8,
                             use_cpu=True, report_to="none", disable_tqdm=True)
    path = tmp_path / "progress.jsonl"
    trainer = Trainer(model=parts.model, args=args, train_dataset=parts.train_ds,
                      eval_dataset=parts.val_ds, data_collator=parts.collator,
                      callbacks=[ProgressCallback(path, notebook="nb", min_interval=0, bar=False)])
    trainer.train()
    records = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["event"] for r in records if r["event"] != "step"] == ["start", "evaluate", "evaluate", "end"]
    assert [r["step"] for r in records if r["event"] == "step"] == [1, 2, 3, 4]
    assert records[-1]["max_steps"] == 4 and records[-1]["examples_per_second"] > 0
    assert "loss" in records[-2]["metrics"]


def test_the_watcher_side_does_not_import_transformers():
    code = ("import sys; from hackkit.runs.watch import ProgressWatcher; "
            "ProgressWatcher('x.jsonl'); print('transformers' in sys.modules, 'torch' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["False", "False"]


@pytest.mark.skipif(sys.platform == "win32", reason="no IPC transport on Windows")
def test_ipc_kernel_runs_a_notebook_without_the_tcp_encryption_warning(tmp_path, capfd, monkeypatch):
    import nbformat
    import papermill
    from jupyter_client.manager import KernelManager

    # jupyter_client SIGINTs every kernel on shutdown; a kernel caught inside a handler printed
    # "KeyboardInterrupt caught in kernel." after notebooks that had finished. Count the signals.
    sent, original = [], KernelManager._async_signal_kernel

    async def record(self, signum):
        sent.append(signum)
        await original(self, signum)

    monkeypatch.setattr(KernelManager, "_async_signal_kernel", record)

    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_code_cell("print(6 * 7)")]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "in.ipynb")
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "tcp.ipynb"),
                               kernel_name="python3", progress_bar=False, cwd=str(tmp_path))
    tcp_err = capfd.readouterr().err
    assert sent == [signal.SIGINT]  # what plain papermill does on shutdown
    papermill.execute_notebook(str(tmp_path / "in.ipynb"), str(tmp_path / "ipc.ipynb"),
                               kernel_name="python3", progress_bar=False, cwd=str(tmp_path),
                               **quiet_kernel_options())
    ipc_err = capfd.readouterr().err
    assert sent == [signal.SIGINT]  # none more: the pipeline's kernels are not interrupted when done
    assert "without encryption" in tcp_err  # the warning this option exists to remove
    assert "without encryption" not in ipc_err
    out = nbformat.read(tmp_path / "ipc.ipynb", as_version=4)
    assert out.cells[0].outputs[0]["text"] == "42\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.ipynb", "ipc.ipynb", "tcp.ipynb"]
