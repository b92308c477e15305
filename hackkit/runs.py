"""Run the notebooks headless with papermill, one new run folder per run."""

from __future__ import annotations

import ast
import time
from collections.abc import Callable
from dataclasses import fields
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

from hackkit.data import deduplicate, load_dataset, make_splits
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
    for key, value in params.items():
        default = defaults[key]
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
        dataset = load_dataset(*(params[k] for k in data_keys[:4]), task=params.get("TASK", TASKS[0]),
                               tag_column=params.get("TAG_COLUMN", -1))
        make_splits(deduplicate(dataset.frame)[0], params["TEST_SIZE"], params["VAL_SIZE"],
                    params.get("SEED", 42))
    if "MODEL" in params:
        resolve_model(params["MODEL"])
    train_keys = {f.name: f.name.upper() for f in fields(TrainConfig)}
    if all(k in params for k in train_keys.values()):
        TrainConfig(**{name: params[key] for name, key in train_keys.items()}).validate()


def run_pipeline(
    params: dict[str, Any], name: str = "", notebooks: tuple[str, ...] = NOTEBOOKS,
    source: Path | None = None, log: Callable[[str], None] = print,
) -> Path:
    """Check the parameters, then execute the notebooks into a new run folder; return it."""
    import papermill

    source = source or notebooks_dir()
    declared = notebook_parameters(notebooks, source)
    merged = check_params(params, declared)
    preflight(merged)
    run_dir = new_run_dir(name)
    record = {"status": "running", "started": datetime.now().isoformat(timespec="seconds"),
              "params": merged, "notebooks": {}}
    write_json(run_dir / "run.json", record)
    log(f"run folder: {run_dir}")
    for notebook in notebooks:
        own = {k: merged[k] for k in declared[notebook] if k in merged}
        started = time.monotonic()
        log(f"running {notebook} ...")
        try:
            papermill.execute_notebook(
                str(source / notebook), str(run_dir / notebook),
                parameters={**own, "RUN_DIR": str(run_dir)}, kernel_name="python3",
                cwd=str(source), progress_bar=False,
            )
        except BaseException as e:
            record["notebooks"][notebook] = "failed"
            record.update(status="failed", failed_notebook=notebook,
                          error=f"{type(e).__name__}: {str(e).strip()[-2000:]}")
            write_json(run_dir / "run.json", record)
            log(f"{notebook} failed; the executed notebook with its traceback is "
                f"{run_dir / notebook}")
            raise
        record["notebooks"][notebook] = f"done in {time.monotonic() - started:.0f}s"
        write_json(run_dir / "run.json", record)
        log(f"  {record['notebooks'][notebook]}")
    record.update(status="done", finished=datetime.now().isoformat(timespec="seconds"))
    write_json(run_dir / "run.json", record)
    return run_dir


def run_status(run_dir: str | Path) -> dict:
    """The run.json record of a run folder."""
    return read_json(Path(run_dir) / "run.json")
