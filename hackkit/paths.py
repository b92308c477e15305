"""Where things live (the repository root, input paths) and crash-safe file writes. A leaf module."""

from __future__ import annotations

import csv
import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
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


def cache_root() -> Path:
    """Where converted models are kept: $HACKKIT_CACHE, else $XDG_CACHE_HOME/hackkit or ~/.cache/hackkit."""
    if os.environ.get("HACKKIT_CACHE"):
        return Path(os.environ["HACKKIT_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "hackkit"


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


def write_json(path: Path, data: Any) -> Path:
    """Write JSON atomically (temp file + rename) so a crash never leaves half a file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False) as f:
        json.dump(data, f, indent=2, default=str)
        tmp = Path(f.name)
    tmp.replace(path)
    return path


def append_csv_row(path: Path, header: Sequence[str], row: Sequence[Any]) -> Path:
    """Append one CSV row (the header first if the file is new) and sync it to disk.

    Append mode never rewrites what is there; after fsync a crash loses nothing already given.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        if f.tell() == 0:
            writer.writerow(header)
        writer.writerow(row)
        f.flush()
        os.fsync(f.fileno())
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


PICKLED = ("*.bin", "*.pt", "*.pth", "*.ckpt", "*.pkl")


def check_safetensors(folder: Path, name: str) -> None:
    """Refuse weights that only exist as pickles: unpickling a file can run arbitrary code."""
    if any(Path(folder).glob("*.safetensors")):
        return
    pickled = sorted(f.name for pattern in PICKLED for f in Path(folder).glob(pattern))
    if pickled:
        raise ValueError(
            f"MODEL={name!r}: {folder} has weights only as pickle files ({', '.join(pickled)}), "
            "which hackkit does not load because unpickling can run code. If you trust the "
            "files, convert them once: AutoModel.from_pretrained(folder, use_safetensors=False)"
            ".save_pretrained(folder) writes model.safetensors."
        )


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists on this machine (one owned by another user counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True
