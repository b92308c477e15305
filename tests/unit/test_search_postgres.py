"""Two search workers on a real PostgreSQL server: the shared storage machines would use.

The server is installed by `make postgres` (apt-get as root, like the browser test's Chromium) and
started here on loopback in a temporary data folder; skipped with the reason when that is
impossible, a failure in CI (CI=true). Part of the default run: about 8 s on an idle 2-core CPU
(initdb, the server, two worker processes, 6 short trials), up to 40 s on busy cores.
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import pytest
from test_search import TPE, check_split_once, run_two_workers

import hackkit as hk
from hackkit.runs.search import open_study
from helpers import free_port


def _unavailable(reason: str):
    if os.environ.get("CI"):
        pytest.fail(f"PostgreSQL test could not run in CI: {reason}")
    pytest.skip(reason)


def _pg_bin(name: str) -> str | None:
    found = shutil.which(name) or sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"))
    return found if isinstance(found, str) else (found[-1] if found else None)


@pytest.fixture
def postgres(tmp_path):
    """A PostgreSQL server on 127.0.0.1:<free port>, its data in tmp_path; stopped by its PID."""
    initdb, server = _pg_bin("initdb"), _pg_bin("postgres")
    if not initdb or not server:
        _unavailable("no PostgreSQL server binaries (initdb, postgres); install them with "
                     "`make postgres` (Debian: apt-get install postgresql)")
    try:
        import psycopg2  # noqa: F401
    except ImportError:
        _unavailable("psycopg2 is not installed; pip install -e '.[dev]'")
    as_user: list[str] = []
    home = Path(tempfile.mkdtemp(prefix="hackkit-pg-"))  # pytest's tmp is private to root
    data = home / "pgdata"
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root: use its own system user
        if not shutil.which("runuser") or subprocess.run(["id", "postgres"], capture_output=True).returncode:
            _unavailable("running as root without a 'postgres' user or runuser to start the server")
        as_user = ["runuser", "-u", "postgres", "--"]
        home.chmod(0o755)
        data.mkdir()
        shutil.chown(data, "postgres")
    init = subprocess.run([*as_user, initdb, "-D", str(data), "-U", "hackkit", "--auth=trust",
                           "-E", "UTF8", "--no-sync"], capture_output=True, text=True)
    if init.returncode:
        _unavailable(f"initdb failed: {init.stderr.strip()[-300:]}")
    import sqlalchemy

    log_path = tmp_path / "postgres.log"
    log = None
    try:
        for _ in range(3):  # another process may take the chosen port before the server does
            port = free_port()
            log = open(log_path, "w")
            proc = subprocess.Popen([*as_user, server, "-D", str(data), "-p", str(port),
                                     "-h", "127.0.0.1", "-k", str(data)],
                                    stdout=log, stderr=subprocess.STDOUT)
            url = f"postgresql+psycopg2://hackkit@127.0.0.1:{port}/postgres"
            engine = sqlalchemy.create_engine(url)
            deadline = time.monotonic() + 120  # it starts in about a second; busy cores: longer
            while True:
                try:
                    with engine.connect():
                        break
                except sqlalchemy.exc.OperationalError:
                    if proc.poll() is not None:
                        break
                    if time.monotonic() > deadline:
                        pytest.fail(f"postgres did not accept connections within 120 s: "
                                    f"{log_path.read_text()[-300:]}")
                    time.sleep(0.1)
            if proc.poll() is None:
                break
            log.close()
            if "already in use" not in log_path.read_text():
                _unavailable(f"postgres exited: {log_path.read_text()[-300:]}")
        else:
            pytest.fail(f"postgres found no free port in 3 tries: {log_path.read_text()[-300:]}")
        engine.dispose()
        yield url
    finally:
        pid_file = data / "postmaster.pid"  # the server's own PID (runuser may sit in between)
        if pid_file.is_file():
            os.kill(int(pid_file.read_text().splitlines()[0]), signal.SIGINT)  # fast shutdown
        if log is not None:
            proc.wait(timeout=30)
            log.close()
        shutil.rmtree(home, ignore_errors=True)


def test_two_workers_share_a_postgres_study_each_trial_once(postgres, runs_dir, tmp_path):
    path = tmp_path / "search.yaml"
    path.write_text(TPE.format(method="tpe", pruner="median", trials=6))
    # `sweep --workers N` creates the study before starting workers (two processes creating
    # Optuna's tables at once race in PostgreSQL); joining machines find it made.
    open_study(hk.load_sweep(path), postgres)
    run_two_workers(path, postgres, tmp_path, dict(os.environ))
    check_split_once(postgres, 6)
    assert len(list(runs_dir.glob("*-tpe-trial-*"))) >= 6
    assert hk.sweep_dir("tpe").is_dir()  # each machine keeps its own state.json of its runs
