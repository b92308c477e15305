"""Run the notebooks headless with papermill, one new run folder per run."""

from __future__ import annotations

import ast
import os
import socket
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hackkit.doctor import diagnose
from hackkit.models import TASKS, check_task, resolve_model
from hackkit.paths import new_run_dir, read_json, repo_root, write_json
from hackkit.train import TrainConfig

NOTEBOOKS = ("01_explore.ipynb", "02_finetune.ipynb", "03_evaluate.ipynb")


def notebooks_dir() -> Path:
    """The folder with the numbered notebooks."""
    return repo_root() / "notebooks"


def notebook_parameters(
    notebooks: tuple[str, ...] = NOTEBOOKS, source: Path | None = None
) -> dict[str, dict[str, Any]]:
    """Each notebook's parameters: {notebook: {NAME: {"default": value, "help": text}}}."""
    import papermill

    out: dict[str, dict[str, Any]] = {}
    for name in notebooks:
        found = papermill.inspect_notebook(str((source or notebooks_dir()) / name))
        out[name] = {
            key: {"default": ast.literal_eval(p["default"]), "help": p["help"]}
            for key, p in found.items()
        }
    return out


def parse_value(text: str) -> Any:
    """Turn a command-line string into int, float, bool, None or str, as a literal would."""
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return {"true": True, "false": False, "none": None, "null": None}.get(text.lower(), text)


def load_params(file: str | Path | None = None, pairs: list[tuple[str, str]] = ()) -> dict:
    """Merge parameters from a YAML file and NAME VALUE pairs (pairs win)."""
    params: dict[str, Any] = {}
    if file:
        path = Path(file)
        if not path.is_file():
            raise FileNotFoundError(f"parameters file {path} not found.")
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        if not isinstance(loaded, dict):
            raise ValueError(f"{path}: expected a mapping of NAME: value, got {type(loaded).__name__}.")
        params.update(loaded)
    params.update({name: parse_value(value) for name, value in pairs})
    return params


def check_params(params: dict, declared: dict[str, dict[str, Any]]) -> dict[str, Any]:
    """Reject unknown names and wrong types; return the merged defaults + params."""
    defaults = {k: v["default"] for nb in declared.values() for k, v in nb.items()}
    unknown = sorted(set(params) - set(defaults))
    if unknown:
        raise ValueError(
            f"unknown parameter(s) {unknown}. Valid names: {', '.join(sorted(defaults))} "
            "(see `python -m hackkit params`)."
        )
    if "RUN_DIR" in params:
        raise ValueError("RUN_DIR is chosen by the run command; use --name to label the run.")
    params = dict(params)
    for key, value in params.items():
        default = defaults[key]
        if isinstance(value, str) and isinstance(default, (int, float)) and not isinstance(default, bool):
            value = params[key] = parse_value(value)  # YAML reads 1e-4 as the string '1e-4'
        ok = isinstance(value, type(default)) or (
            isinstance(default, float) and isinstance(value, int) and not isinstance(value, bool)
        )
        if not ok:
            raise ValueError(
                f"{key}={value!r} has type {type(value).__name__}; expected "
                f"{type(default).__name__} like the default {default!r}."
            )
    return {**defaults, **params}


def preflight(params: dict[str, Any]) -> None:
    """Check task, data, splits, model and training settings in seconds, before any notebook."""
    if "TASK" in params:
        check_task(params["TASK"])
    data_keys = ("DATA_PATH", "TEXT_COLUMN", "LABEL_COLUMN", "SPLIT_COLUMN", "TEST_SIZE", "VAL_SIZE")
    if all(k in params for k in data_keys):
        # Blocking data problems only; 01 shows and records the warnings.
        diagnose(*(params[k] for k in data_keys), seed=params.get("SEED", 42),
                 task=params.get("TASK", TASKS[0]), tag_column=params.get("TAG_COLUMN", -1),
                 ).raise_for_errors()
    if "MODEL" in params:
        resolve_model(params["MODEL"])
    train_keys = {f.name: f.name.upper() for f in fields(TrainConfig)}
    if all(k in params for k in train_keys.values()):
        TrainConfig(**{name: params[key] for name, key in train_keys.items()}).validate()


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
    if not (run_dir / "run.json").is_file():
        raise FileNotFoundError(f"{run_dir} has no run.json: give the folder of a run made by "
                                "`python -m hackkit run` (see runs/).")
    record = read_json(run_dir / "run.json")
    status = run_status(run_dir)["status"]
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
        write_json(run_dir / "run.json", record)
        log(f"running {notebook} ...")
        try:
            papermill.execute_notebook(
                str(source / notebook), str(output),
                parameters={**own, "RUN_DIR": str(run_dir)}, kernel_name="python3",
                cwd=str(source), progress_bar=False,
            )
        except BaseException as e:
            record["notebooks"][notebook] = "failed"
            record.update(status="failed", failed_notebook=notebook,
                          error=f"{type(e).__name__}: {str(e).strip()[-2000:]}")
            write_json(run_dir / "run.json", record)
            log(f"{notebook} failed; the executed notebook with its traceback is {output}. "
                f"Fix the cause, then: python -m hackkit run --resume {run_dir}")
            raise
        record["notebooks"][notebook] = f"done in {time.monotonic() - started:.0f}s"
        write_json(run_dir / "run.json", record)
        log(f"  {record['notebooks'][notebook]}")
    record.update(status="done", finished=_now())
    write_json(run_dir / "run.json", record)
    return run_dir


def _save_record(run_dir: Path, record: dict) -> None:
    """Write run.json with this process's id, so a crash shows as 'interrupted' later."""
    record.update(pid=os.getpid(), host=socket.gethostname())
    write_json(run_dir / "run.json", record)


def _now() -> str:
    """Local time to the second, for run.json."""
    return datetime.now().isoformat(timespec="seconds")


def _alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def run_status(run_dir: str | Path) -> dict:
    """The run.json record; a 'running' run whose process is gone is reported 'interrupted'."""
    record = read_json(Path(run_dir) / "run.json")
    pid = record.get("pid")
    if (record.get("status") == "running" and isinstance(pid, int) and pid > 0
            and record.get("host") == socket.gethostname() and not _alive(pid)):
        record["status"] = "interrupted"
    return record
