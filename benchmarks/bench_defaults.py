"""The committed defaults on real data: `python -m hackkit run` per data file, as a new user runs it.

For each file, runs 01 -> 03 through the CLI (a fresh runs folder, every parameter at its committed
default unless given with -p) and prints, from the run folder: the test main metric (macro-F1 for
text classification, the task's own otherwise) of the model and of every baseline 03 scored (TF-IDF
and the frozen-embeddings probe for text), the minutes 02 took against the budget, the
steps and epochs trained, the planned and real examples/s, and whether the plan was corrected.

    python benchmarks/bench_defaults.py DATA.csv [DATA2.csv ...] [-p SPLIT_COLUMN split]
        [-p TIME_BUDGET_MINUTES 10] [--out results.json]
    python benchmarks/bench_defaults.py ../shared/benchdata/wnut17 -p TASK token-classification
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def run_once(data: str, params: list[tuple[str, str]], root: Path) -> dict:
    """One `hackkit run` into its own runs folder; the figures read back from the run folder."""
    import hackkit as hk

    env = {**os.environ, "HACKKIT_RUNS_DIR": str(root)}
    cmd = [sys.executable, "-m", "hackkit", "run", "-p", "DATA_PATH", data]
    for name, value in params:
        cmd += ["-p", name, value]
    started = time.monotonic()
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    wall = time.monotonic() - started
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    run = hk.Run(max(root.iterdir(), key=lambda p: p.stat().st_mtime))
    record, summary, metrics = (hk.read_json(run.path / "run.json"), hk.read_json(run.train_summary),
                                hk.read_json(run.metrics))
    seconds = {name: int(re.search(r"(\d+)s", text).group(1))
               for name, text in record["notebooks"].items()}
    budget = summary.get("budget") or {}
    extra = metrics.get("extra_baselines", {})
    main = metrics.get("main_metric") or "macro_f1"  # the task's own (NER: entity F1, images: ...)
    lower = main in ("rmse", "mae", "hamming_loss")
    model = metrics["model"][main]
    baselines = [metrics["baseline"][main]] + [v[main] for v in extra.values() if main in v]
    best = min(baselines) if lower else max(baselines)
    return {
        "data": Path(data).name, "params": dict(params), "main_metric": main,
        "model": round(model, 4),
        "baseline": round(metrics["baseline"][main], 4),
        "extra_baselines": {k: round(v[main], 4) for k, v in extra.items() if main in v},
        "model_accuracy": round(metrics["model"]["accuracy"], 4)
        if "accuracy" in metrics["model"] else None,
        # What model/ predicts with: 02's choice on validation (BASELINE_BLEND).
        "final_model": {k: v for k, v in metrics.get("final_model", {}).items()
                        if k != "validation_by_share"},
        "beats_both": model < best if lower else model > best,
        "at_least_best_baseline": model <= best if lower else model >= best,
        "budget_minutes": summary["config"]["time_budget_minutes"],
        "train_minutes": round(summary["train_seconds"] / 60, 2),
        "notebook_seconds": seconds, "wall_minutes": round(wall / 60, 2),
        "train_examples": summary["train_examples"], "steps": summary["steps"],
        "epochs": summary["epochs_completed"],
        "planned_examples_per_second": (summary.get("plan") or {}).get("examples_per_second"),
        "real_examples_per_second": budget.get("train_examples_per_second"),
        "recalibrated": budget.get("recalibrated"),
        "kept_warm_start": (summary.get("kept_warm_start") or {}).get("kept"),
        "verdict": metrics.get("verdict", {}).get("message", ""),
    }


def main(argv: list[str] | None = None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data", nargs="+")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--out", default="")
    args = parser.parse_args(argv)
    results = []
    for data in args.data:
        root = Path(tempfile.mkdtemp(prefix="bench-defaults-"))
        result = run_once(data, [tuple(p) for p in args.p], root)
        results.append(result)
        print(f"\n{result['data']} ({' '.join(f'{k}={v}' for k, v in result['params'].items())})")
        print(f"  test {result['main_metric']}: model {result['model']:.4f}, baseline "
              f"{result['baseline']:.4f}, others {result['extra_baselines']}; beats every "
              f"baseline: {result['beats_both']}; at least the best: "
              f"{result['at_least_best_baseline']}")
        print(f"  final model (02's choice on validation): {result['final_model'] or 'the model'}")
        print(f"  02 trained {result['train_minutes']} min of a {result['budget_minutes']} min "
              f"budget ({result['notebook_seconds']}); {result['steps']} steps, "
              f"{result['epochs']} epochs of {result['train_examples']} examples")
        print(f"  examples/s planned {result['planned_examples_per_second']}, real "
              f"{result['real_examples_per_second']}; check of the plan on real steps: {result['recalibrated']}")
        print(f"  {result['verdict']}", flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(results, indent=2))
    return results


if __name__ == "__main__":
    main()
