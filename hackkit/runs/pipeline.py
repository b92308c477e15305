"""Run the notebooks headless with papermill, one new run folder per run."""

from __future__ import annotations

import os
import socket
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

from hackkit.data.doctor import diagnose
from hackkit.models.resolve import resolve_for_task
from hackkit.registry import get_task
from hackkit.params import (NOTEBOOKS, DataConfig, TrainConfig, check_params, notebook_parameters,
                            notebooks_dir)
from hackkit.paths import read_json, write_json
from hackkit.runs.watch import ProgressWatcher
from hackkit.runfolder import RUN_RECORD, Run, new_run_dir
from hackkit.device import resolve_device
from hackkit.train.methods import plan_method


def preflight(params: dict[str, Any]) -> None:
    """Check task, data, splits, model and training settings in seconds, before any notebook."""
    data = DataConfig.from_params(params)
    if "DATA_PATH" in params:  # blocking data problems only; 01 shows and records the warnings
        diagnose(data, lengths=False).raise_for_errors()
    if "MODEL" in params:
        resolve_for_task(get_task(data.task), params["MODEL"])  # images: the packaged EfficientNet
    train = TrainConfig.from_params(params)
    if train.device != "auto":
        resolve_device(train.device)  # DEVICE='cuda' without a GPU fails here, not inside 02


def dry_run(params: dict[str, Any], notebooks: tuple[str, ...] = NOTEBOOKS,
            source: Path | None = None, log: Callable[[str], None] = print) -> dict[str, str]:
    """Check everything as a run would, then say per notebook what it would do; train nothing.

    The training plan is measured on a few batches of the real data (model loaded, no steps
    taken); no run folder is created. Returns {notebook: what it would do}.
    """
    declared = notebook_parameters(notebooks, source or notebooks_dir())
    merged = check_params(params, declared)
    preflight(merged)
    data, train = DataConfig.from_params(merged), TrainConfig.from_params(merged)
    diagnosis = diagnose(data, lengths=False)
    diagnosis.raise_for_errors()
    task, splits = diagnosis.task, diagnosis.splits
    labels = task.labels(splits)
    sizes = " / ".join(f"{name} {len(frame):,}" for name, frame in splits.items())
    kept = task.subsample(splits["train"], train.max_train_examples, train.seed)
    said = {
        "01_explore.ipynb": (
            f"reads {diagnosis.data_path} ({sum(len(f) for f in splits.values()):,} {task.unit} "
            f"after {diagnosis.duplicates} duplicates), {len(labels)} {task.label_unit}s; splits "
            f"{sizes}; {len(diagnosis.warnings)} data-doctor warning(s)"),
        "03_evaluate.ipynb": (
            f"scores the model on the {len(splits['test']):,} test {task.unit} by "
            f"{task.main_metric}, next to the {task.baseline_name}"),
    }
    if "02_finetune.ipynb" in notebooks:
        log(f"measuring the training speed of {train.model} on a few batches ...")
        plan = plan_method(splits, labels, train)
        said["02_finetune.ipynb"] = (
            f"METHOD={train.method} on {len(kept):,} training {task.unit}: "
            + (plan.describe() if plan is not None else "no estimate for this method"))
        if train.nproc > 1:
            said["02_finetune.ipynb"] += (
                f" [measured in this one process; with NPROC={train.nproc} the training processes "
                "measure their own speed together and plan again]")
    out = {nb: said.get(nb, "runs with the parameters above") for nb in notebooks}
    log("dry run: checks passed; nothing trained, no run folder written")
    for notebook, text in out.items():
        log(f"{notebook}: {text}")
    return out


def run_pipeline(
    params: dict[str, Any], name: str = "", notebooks: tuple[str, ...] = NOTEBOOKS,
    source: Path | None = None, log: Callable[[str], None] = print,
    on_start: Callable[[Path], None] | None = None,
) -> Path:
    """Check the parameters, then execute the notebooks into a new run folder; return it."""
    source = source or notebooks_dir()
    declared = notebook_parameters(notebooks, source)
    merged = check_params(params, declared)
    preflight(merged)
    run_dir = new_run_dir(name)
    record = {"status": "running", "started": _now(), "params": merged,
              "plan": list(notebooks), "source": str(source), "notebooks": {}}
    _save_record(run_dir, record)
    if on_start:  # lets a sweep record the folder before anything can fail
        on_start(run_dir)
    log(f"run folder: {run_dir}")
    return _execute(run_dir, record, declared, log)


def resume_run(run_dir: str | Path, log: Callable[[str], None] = print) -> Path:
    """Finish an interrupted or failed run in its own folder, skipping the notebooks that are done."""
    run_dir = Path(run_dir).expanduser().resolve()
    if not Run(run_dir).record.is_file():
        raise FileNotFoundError(f"{run_dir} has no {RUN_RECORD}: give the folder of a run made by "
                                "`python -m hackkit run` (see runs/).")
    record = read_json(Run(run_dir).record)
    status = Run(run_dir).status()["status"]
    if status == "done":
        raise ValueError(f"{run_dir} finished already; nothing to resume. Start a new run instead.")
    if status == "running":
        raise ValueError(f"{run_dir} is still running (process {record.get('pid')}); wait for it "
                         "or stop it before resuming.")
    source = Path(record.get("source") or notebooks_dir())
    declared = notebook_parameters(tuple(record.get("plan", NOTEBOOKS)), source)
    preflight(check_params({k: v for k, v in record["params"].items() if k != "RUN_DIR"}, declared))
    record["attempts"] = record.get("attempts", 1) + 1
    for key in ("failed_notebook", "error", "finished"):
        record.pop(key, None)
    record.update(status="running", resumed=_now())
    log(f"resuming {run_dir} (attempt {record['attempts']})")
    return _execute(run_dir, record, declared, log)


def _execute(run_dir: Path, record: dict, declared: dict, log: Callable[[str], None]) -> Path:
    """Run the planned notebooks that are not done yet, keeping run.json up to date."""
    import papermill

    source, params = Path(record["source"]), record["params"]
    _save_record(run_dir, record)
    for notebook in record["plan"]:
        if record["notebooks"].get(notebook, "").startswith("done"):
            log(f"{notebook} is done; skipped")
            continue
        output = run_dir / notebook
        if output.exists():  # keep the failed attempt's notebook and traceback
            output.rename(run_dir / f"{output.stem}.attempt-{record.get('attempts', 1) - 1}.ipynb")
        own = {k: params[k] for k in declared[notebook] if k in params}
        started = time.monotonic()
        record["notebooks"][notebook] = "running"
        write_json(Run(run_dir).record, record)
        log(f"running {notebook} ...")
        try:
            # Live training progress from the kernel's progress file (refreshing line on a TTY,
            # one line per evaluation in a log); kernels over IPC, without the TCP warning.
            with ProgressWatcher(Run(run_dir).progress):
                papermill.execute_notebook(
                    str(source / notebook), str(output),
                    parameters={**own, "RUN_DIR": str(run_dir)}, kernel_name="python3",
                    cwd=str(source), progress_bar=False, **quiet_kernel_options(),
                )
        except BaseException as e:
            record["notebooks"][notebook] = "failed"
            record.update(status="failed", failed_notebook=notebook,
                          error=f"{type(e).__name__}: {str(e).strip()[-2000:]}")
            write_json(Run(run_dir).record, record)
            log(f"{notebook} failed; the executed notebook with its traceback is {output}. "
                f"Fix the cause, then: python -m hackkit run --resume {run_dir}")
            raise
        record["notebooks"][notebook] = f"done in {time.monotonic() - started:.0f}s"
        write_json(Run(run_dir).record, record)
        log(f"  {record['notebooks'][notebook]}")
    record.update(status="done", finished=_now())
    write_json(Run(run_dir).record, record)
    return run_dir


def _save_record(run_dir: Path, record: dict) -> None:
    """Write run.json with this process's id, so a crash shows as 'interrupted' later."""
    record.update(pid=os.getpid(), host=socket.gethostname())
    write_json(Run(run_dir).record, record)


def _now() -> str:
    """Local time to the second, for run.json."""
    return datetime.now().isoformat(timespec="seconds")


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
    return {"config": Config({
        "KernelManager": {"transport": "ipc", "ip": ip},
        # No SIGINT to a finished kernel on shutdown (hackkit.runs.kernel says why).
        "NotebookClient": {"kernel_manager_class": "hackkit.runs.kernel.FinishedKernelManager"}})}
