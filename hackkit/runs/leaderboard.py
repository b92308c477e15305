"""The leaderboard: every run's settings and scores in one table, ranked per task and data set."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pandas as pd

from hackkit.paths import read_json, runs_root
from hackkit.figures import message_figure
from hackkit.runfolder import Run
from hackkit.summary import TrainSummary
from hackkit.use.compare import read_comparison
from hackkit.registry import get_task
from hackkit.params import notebook_parameters

BASE_COLUMNS = ["group", "rank", "run", "status", "sweep", "task", "data", "model", "ranked_by",
                "score", "baseline_score"]
INFO_COLUMNS = ["run_dir", "train_seconds", "test_examples", "latency_ms_batch1"]
HIDDEN_PARAMS = {"RUN_DIR", "TASK", "DATA_PATH", "MODEL"}  # shown in their own columns


def _sweep_names(root: Path) -> dict[str, str]:
    """Which sweep each run folder belongs to, from the sweeps' state files."""
    names: dict[str, str] = {}
    for state_file in sorted(root.glob("sweeps/*/state.json")):
        state = read_json(state_file)
        for entry in state.get("trials", {}).values():
            for run_dir in entry.get("attempts", []):
                names[Path(run_dir).name] = state.get("name", state_file.parent.name)
    return names


def _run_row(run_dir: Path, sweeps: dict[str, str]) -> dict[str, Any] | None:
    """One leaderboard row from a run folder's files; None if it is not a run folder."""
    run = Run(run_dir)
    record, report = run.read(run.record), run.read(run.data_report)
    if record is None and report is None:
        return None
    summary = run.summary()
    metrics = run.read(run.metrics)
    if record:  # a papermill run: every parameter is in run.json
        # status() tells a crashed run ('interrupted') from one still running.
        params, status = dict(record.get("params", {})), run.status().get("status", "unknown")
    else:  # run from JupyterLab: 01 and 02 record what they used
        params = {**(report or {}).get("params", {}),
                  **{k.upper(): v for k, v in (summary.config if summary else {}).items()}}
        status = "done" if metrics else "incomplete"
    # DATA_PATH left at its default reads the task's own sample: 01 records the file it read.
    data = (report or {}).get("params", {}).get("DATA_PATH") or params.get("DATA_PATH", "")
    scores = (metrics or {}).get("model", {})
    baseline = (metrics or {}).get("baseline", {})
    row: dict[str, Any] = {
        "run": run_dir.name, "status": status, "sweep": sweeps.get(run_dir.name, ""),
        "task": run.task_name(default=params.get("TASK", "")), "data": data,
        "model": (summary.model if summary else "") or params.get("MODEL", ""),
        **{k: v for k, v in params.items() if k not in HIDDEN_PARAMS},
    }
    for key, value in scores.items():  # any scalar score: accuracy, macro_f1, micro_f1, ...
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            row[key] = value
            if isinstance(baseline.get(key), (int, float)):
                row[f"baseline_{key}"] = baseline[key]
    row["train_seconds"] = summary.train_seconds if summary else None
    row["test_examples"] = (metrics or {}).get("test_examples")
    row["latency_ms_batch1"] = _latency(run, summary)
    row["run_dir"] = str(run_dir)
    return row


def _latency(run: Run, summary: TrainSummary | None) -> float | None:
    """The run's CPU latency at batch size 1 from its model comparison (or its teacher's)."""
    for source in (run.path, summary.details.get("teacher") if summary else None):
        table = read_comparison(source) if source and Path(source).is_dir() else None
        if table is not None:
            mine = table[(table["run"] == run.name) & ~table["int8"].astype(bool)]
            if len(mine):
                return float(mine["latency_ms_batch1"].iloc[0])
    return None


def collect_runs(root: str | Path | None = None) -> pd.DataFrame:
    """One row per run folder under root (default runs/): settings, status, scores, times."""
    root = Path(root) if root else runs_root()
    if not root.is_dir():
        return pd.DataFrame(columns=BASE_COLUMNS)
    sweeps = _sweep_names(root)
    rows = [r for d in sorted(root.iterdir()) if d.is_dir() and d.name != "sweeps"
            for r in [_run_row(d, sweeps)] if r]
    return pd.DataFrame(rows, columns=None if rows else BASE_COLUMNS)


def _main_metric(task: str) -> str:
    """The metric a task's runs are ranked by."""
    try:
        return get_task(task).main_metric
    except ValueError:  # a task this installation does not know: rank by accuracy
        return "accuracy"


# Scores where lower is better (errors and losses): ranked smallest first.
LOWER_IS_BETTER = ("rmse", "mae", "hamming_loss", "loss", "perplexity")


def lower_is_better(metric: str) -> bool:
    """Whether a smaller value of `metric` is the better one (RMSE, MAE, Hamming loss, losses)."""
    return metric in LOWER_IS_BETTER or metric.endswith(("_loss", "_rmse", "_mae"))


def leaderboard(root: str | Path | None = None, metric: str = "",
                sweep: str = "") -> pd.DataFrame:
    """All runs ranked best first within each task + data group (never across), by `metric`
    or, when empty, by each task's main metric."""
    runs = collect_runs(root)
    if sweep:
        known = sorted(set(runs["sweep"]) - {""}) if len(runs) else []
        if sweep not in known:
            raise ValueError(f"sweep={sweep!r}: no runs of that sweep; sweeps with runs: {known}.")
        runs = runs[runs["sweep"] == sweep]
    if runs.empty:
        return runs
    if metric and metric not in runs.columns:
        scores = [c for c in runs.columns if c.islower() and c not in BASE_COLUMNS + INFO_COLUMNS
                  and not c.startswith("baseline_")]
        raise ValueError(f"metric={metric!r}: no run has it; metrics found: {scores}.")
    runs = runs.assign(group=runs["task"] + " on " + runs["data"].astype(str))
    runs["ranked_by"] = [metric or _main_metric(t) for t in runs["task"]]
    runs["score"] = [row.get(m) for m, (_, row) in zip(runs["ranked_by"], runs.iterrows())]
    runs["baseline_score"] = [row.get(f"baseline_{m}") for m, (_, row)
                              in zip(runs["ranked_by"], runs.iterrows())]
    runs["score"] = pd.to_numeric(runs["score"], errors="coerce")
    runs["baseline_score"] = pd.to_numeric(runs["baseline_score"], errors="coerce")
    # Best first: larger scores, or for an error metric (METRIC rmse, say) smaller ones.
    goodness = runs["score"] * [-1.0 if lower_is_better(m) else 1.0 for m in runs["ranked_by"]]
    runs = runs.assign(_goodness=goodness).sort_values(["group", "_goodness"], ascending=[True, False],
                                                        na_position="last")
    runs["rank"] = runs.groupby("group")["_goodness"].rank(ascending=False,
                                                           method="min").astype("Int64")
    runs = runs.drop(columns="_goodness")
    first = [c for c in BASE_COLUMNS if c in runs.columns]
    return runs[first + [c for c in runs.columns if c not in first]].reset_index(drop=True)


def varied_params(board: pd.DataFrame) -> list[str]:
    """The parameters that differ between the runs in the table (the swept ones)."""
    params = [c for c in board.columns if c.isupper()]
    return [c for c in params if board[c].astype(str).nunique() > 1]


def leaderboard_view(board: pd.DataFrame) -> pd.DataFrame | str:
    """The table to read: rank, run, swept parameters and scores; a message when there are no runs."""
    if board.empty:
        return (f"No runs yet under {runs_root()}. Start one with `python -m hackkit run` "
                "or a grid with `python -m hackkit sweep FILE.yaml`.")
    ranked = set(board["ranked_by"])
    others = sorted(c for c in board.columns if c.islower() and c not in BASE_COLUMNS + INFO_COLUMNS
                    and not c.startswith("baseline_") and c not in ranked)
    scores = ["ranked_by", "score", "baseline_score", *others, "train_seconds",
              *(["latency_ms_batch1"] if "latency_ms_batch1" in board
                 and board["latency_ms_batch1"].notna().any() else [])]
    columns = ["group", "rank", "run", "status", "sweep", "model", *varied_params(board), *scores]
    return board[[c for c in columns if c in board.columns]].set_index(["group", "rank"])


def write_leaderboard(board: pd.DataFrame, path: str | Path | None = None) -> Path:
    """Write the full table (every parameter) as CSV; default runs/leaderboard.csv."""
    path = Path(path) if path else runs_root() / "leaderboard.csv"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    board.to_csv(tmp, index=False)
    tmp.replace(path)
    return path


def pick_group(board: pd.DataFrame, group: str = "") -> pd.DataFrame:
    """The runs of one task + data group: the one named, or the one with most finished runs."""
    if board.empty:
        return board
    groups = list(board["group"].unique())
    if group and group not in groups:
        raise ValueError(f"GROUP={group!r} is not in the leaderboard; groups: {groups}.")
    if not group:
        group = board[board["rank"].notna()]["group"].value_counts().index[0] \
            if board["rank"].notna().any() else groups[0]
    return board[board["group"] == group].reset_index(drop=True)


def chosen_runs(board: pd.DataFrame, names: str = "", top: int = 3) -> list[Path]:
    """Run folders by comma-separated names, or the `top` ranked ones of the table."""
    if names:
        wanted = [n.strip() for n in names.split(",") if n.strip()]
        missing = sorted(set(wanted) - set(board["run"]))
        if missing:
            raise ValueError(f"RUNS: {missing} not in the leaderboard; runs: {list(board['run'])}.")
        return [Path(board.loc[board["run"] == n, "run_dir"].iloc[0]) for n in wanted]
    if board.empty:
        return []
    return [Path(d) for d in board[board["rank"].notna()].head(top)["run_dir"]]


def plot_metric_vs_params(board: pd.DataFrame):
    """The ranking score against each swept parameter, one panel each, over the finished runs."""
    import matplotlib.pyplot as plt

    done = board[board["rank"].notna()] if not board.empty else board
    if len(done) < 2:
        return message_figure(f"{len(done)} finished run(s): nothing to compare yet. "
                               "Run a sweep to fill this plot.")
    params = varied_params(done)
    if not params:
        return message_figure("The finished runs all have the same parameters.")
    fig, axes = plt.subplots(1, len(params), figsize=(4 * len(params), 3.2), squeeze=False)
    for ax, param in zip(axes[0], params):
        values = done[param]
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            ax.scatter(values, done["score"])
            if values.min() > 0 and values.max() / values.min() >= 20:
                ax.set_xscale("log")
        else:
            cats = sorted(values.astype(str).unique())
            ax.scatter([cats.index(v) for v in values.astype(str)], done["score"])
            ax.set_xticks(range(len(cats)), cats, rotation=30)
        ax.set(xlabel=param, ylabel=f"test {done['ranked_by'].iloc[0]}")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def plot_learning_curves(run_dirs: Sequence[str | Path], metric: str = ""):
    """Loss and validation `metric` (default: the task's main one) per epoch of several runs."""
    import matplotlib.pyplot as plt

    if not metric and run_dirs:
        metric = _main_metric(Run(run_dirs[0]).task_name(default="text-classification"))
    histories = {Path(d).name: Run(d).read(Run(d).history) for d in run_dirs}
    histories = {k: v for k, v in histories.items() if v}
    if not histories:
        return message_figure("No finished runs with a training history to plot yet.")
    fig, (ax_loss, ax_score) = plt.subplots(1, 2, figsize=(11, 3.8))
    for name, history in histories.items():
        evals = [h for h in history if "eval_loss" in h]
        line, = ax_loss.plot([h["epoch"] for h in evals], [h["eval_loss"] for h in evals], "o-",
                             label=name)
        train = [h for h in history if "loss" in h and "epoch" in h]
        if train:
            ax_loss.plot([h["epoch"] for h in train], [h["loss"] for h in train], ":",
                         color=line.get_color(), alpha=0.7)
        scored = [h for h in evals if f"eval_{metric}" in h]
        ax_score.plot([h["epoch"] for h in scored], [h[f"eval_{metric}"] for h in scored], "o-",
                      color=line.get_color(), label=name)
    ax_loss.set(xlabel="epoch", ylabel="loss", title="Validation loss (dotted: training loss)")
    ax_score.set(xlabel="epoch", ylabel=f"validation {metric}", title=f"Validation {metric}")
    for ax in (ax_loss, ax_score):
        ax.grid(alpha=0.3)
    ax_score.legend(fontsize=8)
    fig.tight_layout()
    return fig


def best_run_command(board: pd.DataFrame, defaults: dict[str, Any] | None = None) -> str:
    """The top-ranked run's settings as a `python -m hackkit run -p ...` command to copy."""
    done = board[board["rank"].notna()] if not board.empty else board
    if done.empty:
        return "No finished run yet: nothing to copy. Start one with `python -m hackkit run`."
    if defaults is None:
        defaults = {k: v["default"] for nb in notebook_parameters().values() for k, v in nb.items()}
    best = done.iloc[0]
    params = {k: v for k, v in best.items() if k in defaults and k != "RUN_DIR" and pd.notna(v)}
    params.update(TASK=best["task"], DATA_PATH=best["data"], MODEL=best["model"])
    # A column with gaps turns ints into floats; give each value its default's type back.
    params = {k: int(v) if isinstance(defaults.get(k), int) and not isinstance(defaults[k], bool)
              and float(v).is_integer() else v for k, v in params.items()}
    changed = {k: v for k, v in params.items() if k in defaults and v != defaults[k]}
    parts = [f"-p {k} {shlex.quote(str(v))}" for k, v in sorted(changed.items())]
    return " ".join(["python -m hackkit run", *parts, f"--name best-of-{best['run']}"])
