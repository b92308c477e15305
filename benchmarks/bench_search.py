"""Grid versus Optuna TPE + pruning, given the same time, on the sample data.

Runs the example grid (sweeps/example.yaml: its fixed values, grid and named settings) through
the real papermill pipeline and times it; then a TPE search with pruning (`--pruner`, by default
the kit's default, trend) over the same ranges (LEARNING_RATE log-uniform between the grid's
ends, BATCH_SIZE and WARMUP among the grid's choices) with the grid's wall time as its time
budget. Prints the best validation and test score each found, the trials run and pruned, and the
seconds pruning saved. Both use fresh run roots.

    python benchmarks/bench_search.py [--model PATH] [--examples 800] [--epochs 2] [--workers 1]
        [--val-size 0.3] [--pruner trend|median|hyperband|none] [--prune-from 0.75]

Optuna checks its time budget between trials, so the search may overrun by one trial: both wall
times are printed. `--keep-grid DIR` keeps the grid's runs; `--grid-runs DIR --grid-seconds S`
then reruns only the search against them.

    python benchmarks/bench_search.py --compare-workers 4 [--examples 400] [--epochs 1]

instead runs one search of 4 equal-cost trials (only LEARNING_RATE varies, no pruner) with one
worker and then the same search with two, and prints both wall times, the speed-up, and whether
every trial ran exactly once (one run folder per trial number, no number twice).
"""

from __future__ import annotations

import argparse
import math
import os
import shutil
import tempfile
import time
from pathlib import Path

import yaml

import hackkit as hk
from hackkit.train.trial import DEFAULT_PRUNER, PRUNE_FROM, PRUNERS

ROOT = Path(__file__).resolve().parent.parent


def best_scores(root: Path, sweep: str) -> tuple[float, float, str]:
    """Best validation main metric of the sweep's finished runs, that run's test score, its name."""
    board = hk.leaderboard(root, sweep=sweep)
    rows = []
    for _, row in board.iterrows():
        summary = hk.read_json(Path(row["run_dir"]) / "train_summary.json")
        metric = summary["main_metric"]
        rows.append((summary[f"best_validation_{metric}"], row["score"], row["run"]))
    return max(rows)


def compare_workers(args) -> None:
    """The same search with one worker and with two: wall times, and each trial run exactly once."""
    fixed = {"MAX_TRAIN_EXAMPLES": args.examples or 400, "EPOCHS": args.epochs or 1.0,
             "TIME_BUDGET_MINUTES": 0}
    if args.model:
        fixed["MODEL"] = args.model
    seconds = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["HACKKIT_RUNS_DIR"] = str(tmp / "runs")
        for workers in (1, 2):
            name = f"bench-workers-{workers}"
            path = tmp / f"{name}.yaml"
            path.write_text(yaml.safe_dump({"name": name, "fixed": fixed, "search": {
                "method": "random", "pruner": "none", "trials": args.compare_workers, "seed": 0,
                "space": {"LEARNING_RATE": {"low": 5e-5, "high": 2e-4, "log": True}}}}))
            started = time.monotonic()
            hk.run_sweep(path, workers=workers)
            seconds[workers] = time.monotonic() - started
            trials = hk.load_search(name).trials
            done = [t for t in trials if t.state.name == "COMPLETE"]
            folders = list((tmp / "runs").glob(f"*-{name}-trial-*"))
            pids = {t.user_attrs.get("pid") for t in done}
            print(f"{workers} worker(s): {len(done)} trials done in {seconds[workers]:.0f}s by "
                  f"{len(pids)} process(es); {len(folders)} run folders; trial numbers unique: "
                  f"{len({t.number for t in trials}) == len(trials)}")
    print(f"\nsettings: {fixed}, {args.compare_workers} trials; CPU cores: {os.cpu_count()}")
    print(f"two workers took {seconds[2]:.0f}s against {seconds[1]:.0f}s for one: "
          f"{seconds[1] / seconds[2]:.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--grid", default=str(ROOT / "sweeps" / "example.yaml"))
    parser.add_argument("--model", default="", help="override MODEL (e.g. a tiny model folder)")
    parser.add_argument("--examples", type=int, default=0, help="override MAX_TRAIN_EXAMPLES")
    parser.add_argument("--epochs", type=float, default=0, help="override EPOCHS")
    parser.add_argument("--val-size", type=float, default=0,
                        help="override VAL_SIZE in both (e.g. 0.3: more validation texts, so that "
                             "one text moves the score less; training keeps MAX_TRAIN_EXAMPLES)")
    parser.add_argument("--workers", type=int, default=1, help="search worker processes")
    parser.add_argument("--pruner", default=DEFAULT_PRUNER, choices=PRUNERS,
                        help=f"the search's pruner (default {DEFAULT_PRUNER})")
    parser.add_argument("--prune-from", type=float, default=PRUNE_FROM,
                        help=f"no trial stopped before this share of its training "
                             f"(default {PRUNE_FROM})")
    parser.add_argument("--keep-grid", default="", metavar="DIR",
                        help="copy the grid's runs folder to DIR, to rerun the search alone later")
    parser.add_argument("--grid-runs", default="", metavar="DIR",
                        help="reuse a grid kept with --keep-grid (give --grid-seconds too)")
    parser.add_argument("--grid-seconds", type=float, default=0,
                        help="the kept grid's wall time, printed when it ran")
    parser.add_argument("--compare-workers", type=int, default=0, metavar="TRIALS",
                        help="time a search of TRIALS trials with 1 worker, then with 2")
    args = parser.parse_args()
    if args.grid_runs and not args.grid_seconds:
        parser.error("--grid-runs needs --grid-seconds (the grid's wall time)")
    if args.compare_workers:
        compare_workers(args)
        return
    grid = yaml.safe_load(Path(args.grid).read_text())
    fixed = dict(grid.get("fixed") or {})
    for key, value in (("MODEL", args.model), ("MAX_TRAIN_EXAMPLES", args.examples),
                       ("EPOCHS", args.epochs), ("VAL_SIZE", args.val_size)):
        if value:
            fixed[key] = value
    grid["fixed"] = fixed
    rates = [float(v) for v in grid["grid"]["LEARNING_RATE"]]
    warmups = sorted({0.0, *(float(s.get("WARMUP", 0.1)) for s in grid.get("settings", []))} | {0.1})
    # `trials` is a cap (the grid's time decides); sized like the grid so that TPE's random start
    # (a quarter of the trials) leaves most trials to the model-guided sampler.
    settings = len(grid.get("settings") or []) + math.prod(len(v) for v in grid["grid"].values())
    trials = 2 * settings
    search = {"name": "bench-tpe", "fixed": fixed, "search": {
        "method": "tpe", "pruner": args.pruner, "prune_from": args.prune_from, "trials": trials,
        "seed": 0,
        "space": {"LEARNING_RATE": {"low": min(rates), "high": max(rates), "log": True},
                  "BATCH_SIZE": list(grid["grid"]["BATCH_SIZE"]), "WARMUP": warmups}}}

    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        os.environ["HACKKIT_RUNS_DIR"] = str(tmp / "runs")
        grid_file, search_file = tmp / "grid.yaml", tmp / "search.yaml"
        grid["name"] = "bench-grid"
        grid_file.write_text(yaml.safe_dump(grid))
        if args.grid_runs:  # the grid of an earlier run of this script, with its wall time
            shutil.copytree(args.grid_runs, tmp / "runs")
            grid_seconds = args.grid_seconds
            grid_done = len(list((tmp / "runs").glob("*-bench-grid-*")))
        else:
            started = time.monotonic()
            grid_done = hk.run_sweep(grid_file)["summary"]["done"]
            grid_seconds = time.monotonic() - started
            if args.keep_grid:
                shutil.copytree(tmp / "runs", args.keep_grid)
        search["search"]["time_budget_minutes"] = grid_seconds / 60
        search_file.write_text(yaml.safe_dump(search))
        started = time.monotonic()
        state = hk.run_sweep(search_file, workers=args.workers)
        search_seconds = time.monotonic() - started
        g_val, g_test, g_run = best_scores(tmp / "runs", "bench-grid")
        s_val, s_test, s_run = best_scores(tmp / "runs", "bench-tpe")
        s = state["summary"]
        val_texts = hk.read_json(next((tmp / "runs").glob("*-bench-grid-*")) /
                                 "train_summary.json")["validation_examples"]
        print(f"\nsettings: {fixed}; {val_texts} validation texts")
        print(f"grid : {grid_done} runs in {grid_seconds:.0f}s; best validation "
              f"{g_val:.4f} (test {g_test:.4f}) {g_run}")
        print(f"TPE ({args.pruner} pruner from {args.prune_from:.0%}): {s['done']} finished + "
              f"{s['pruned']} pruned trials in {search_seconds:.0f}s (budget {grid_seconds:.0f}s); "
              f"best validation {s_val:.4f} (test {s_test:.4f}) {s_run}")
        print(f"pruning saved ~{state['seconds_saved_by_pruning']:.0f}s of training; "
              f"TPE best - grid best (validation): {s_val - g_val:+.4f}")


if __name__ == "__main__":
    main()
