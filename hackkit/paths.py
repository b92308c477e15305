"""Where things live: the repository root, input paths and run folders."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

RUNS_ENV = "HACKKIT_RUNS_DIR"


def repo_root() -> Path:
    """Return the repository root (the folder holding notebooks/), or the current folder."""
    here = Path(__file__).resolve().parent.parent
    return here if (here / "notebooks").is_dir() else Path.cwd()


def runs_root() -> Path:
    """Return the folder that holds run folders ($HACKKIT_RUNS_DIR or <repo>/runs)."""
    return Path(os.environ.get(RUNS_ENV) or repo_root() / "runs").expanduser().resolve()


def load_env(path: Path | None = None) -> bool:
    """Load tokens from the repository's .env (git-ignored) without overriding the environment."""
    from dotenv import load_dotenv

    return load_dotenv(path or repo_root() / ".env", override=False)


def find_input(path: str | Path) -> Path:
    """Resolve a user-given path: as given, then relative to the repository root."""
    p = Path(path).expanduser()
    if p.is_absolute() or p.exists():
        return p.resolve()
    return (repo_root() / p).resolve()


def new_run_dir(name: str = "", root: Path | None = None) -> Path:
    """Create a fresh, uniquely named run folder; never reuses an existing one."""
    root = root or runs_root()
    root.mkdir(parents=True, exist_ok=True)
    stem = datetime.now().strftime("%Y%m%d-%H%M%S") + (f"-{name}" if name else "")
    for i in range(1000):
        candidate = root / (stem if i == 0 else f"{stem}-{i}")
        try:
            candidate.mkdir()
            return candidate
        except FileExistsError:
            continue
    raise RuntimeError(f"Could not create a new run folder under {root}")


def start_run(run_dir: str = "") -> Path:
    """The run folder 01 writes into: RUN_DIR as given (created if needed), or a new one."""
    if not run_dir:
        return new_run_dir()
    path = find_input(run_dir)
    path.mkdir(parents=True, exist_ok=True)
    return path


def latest_run_dir(needs: str, root: Path | None = None) -> Path:
    """Return the newest run folder that contains the file or folder `needs`."""
    root = root or runs_root()
    candidates = sorted(
        (d for d in root.glob("*") if (d / needs).exists()), key=lambda d: d.stat().st_mtime
    )
    if not candidates:
        raise FileNotFoundError(
            f"No run folder under {root} contains '{needs}'. Run the earlier notebooks first "
            f"(01_explore, then 02_finetune), or set RUN_DIR to a run folder that has it."
        )
    return candidates[-1]


def run_dir_for(run_dir: str, needs: str) -> Path:
    """Resolve a notebook's RUN_DIR parameter: the given folder, or the latest one with `needs`."""
    if not run_dir:
        return latest_run_dir(needs)
    path = find_input(run_dir)
    if not (path / needs).exists():
        raise FileNotFoundError(
            f"RUN_DIR={run_dir!r}: {path / needs} does not exist. Run the notebook that writes "
            f"'{needs}' into this run folder first, or point RUN_DIR at a run folder that has it."
        )
    return path


def write_json(path: Path, data: Any) -> Path:
    """Write JSON atomically (temp file + rename) so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(data, f, indent=2, default=str)
        tmp = Path(f.name)
    tmp.replace(path)
    return path


@contextmanager
def atomic_file(path: Path) -> Iterator[Path]:
    """Yield a temp path beside `path`; it replaces `path` only if the block finishes."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


@contextmanager
def atomic_folder(path: Path) -> Iterator[Path]:
    """Yield a temp folder beside `path`, renamed to `path` only if the block finishes."""
    if path.exists():
        raise FileExistsError(f"{path} already exists; refusing to overwrite it.")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial"))
    try:
        yield tmp
        tmp.rename(path)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def read_json(path: Path) -> Any:
    """Read a JSON file."""
    return json.loads(Path(path).read_text(encoding="utf-8"))
