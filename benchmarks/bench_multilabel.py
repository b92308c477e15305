"""The committed defaults on real multi-label data, as a new user runs them, and what the tuned
decision thresholds are worth.

Runs `python -m hackkit run -p TASK multi-label-classification -p DATA_PATH DATA ...` (01 -> 03, a
fresh runs folder, every other parameter at its committed default unless given with -p) and prints,
from the run folder: the main metric (micro-F1) and macro-F1 on the test split of the model, of the
TF-IDF baseline and of the frozen-embeddings probe, whether the model beats both on the main
metric, the minutes 02 trained against the budget, the steps and epochs. Then it loads the saved
model and scores its validation and test probabilities twice: at the thresholds tuned on
validation (what the model uses) and at a fixed 0.5, as macro- and micro-F1.

    python benchmarks/bench_multilabel.py ../shared/benchdata/reuters21578/reuters21578_modapte.parquet \
        -p SPLIT_COLUMN split [-p TIME_BUDGET_MINUTES 10] [--out results.json]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TASK = "multi-label-classification"


def run_once(data: str, params: list[tuple[str, str]], root: Path) -> Path:
    """One `hackkit run` into its own runs folder; returns the run folder."""
    env = {**os.environ, "HACKKIT_RUNS_DIR": str(root)}
    cmd = [sys.executable, "-m", "hackkit", "run", "-p", "TASK", TASK, "-p", "DATA_PATH", data]
    for name, value in params:
        cmd += ["-p", name, value]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"{' '.join(cmd)} failed:\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return max((p for p in root.iterdir() if p.is_dir() and not p.name.startswith(".")),
               key=lambda p: p.stat().st_mtime)


def thresholds_against_half(run_dir: Path) -> dict:
    """Macro- and micro-F1 of the saved model on validation and test: tuned thresholds vs 0.5."""
    import hackkit as hk
    from hackkit.tasks.multilabel import label_matrix, multilabel_metrics, threshold_vector

    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    splits, labels = hk.load_splits(run_dir)
    tuned = threshold_vector(predictor.info.tuned, labels)
    out = {"tuned_labels": len(predictor.info.tuned["thresholds"]),
           "fallback": predictor.info.tuned["fallback"]}
    for split in ("validation", "test"):
        frame = splits[split]
        proba = predictor.predict_proba(list(frame["text"]))
        gold = label_matrix(frame["labels"], labels)
        for name, cut in (("tuned", tuned), ("fixed_0.5", 0.5)):
            scores = multilabel_metrics(gold, proba >= cut, labels)
            out[f"{split}_{name}"] = {k: round(scores[k], 4) for k in ("micro_f1", "macro_f1")}
    return out


def figures(run_dir: Path) -> dict:
    """The figures of one finished run, read back from its folder."""
    import hackkit as hk

    run = hk.Run(run_dir)
    record, summary, metrics = (hk.read_json(run.record), hk.read_json(run.train_summary),
                                hk.read_json(run.metrics))
    main = metrics["main_metric"]
    rows = {"model": metrics["model"], "tfidf": metrics["baseline"],
            **{"probe": v for v in metrics["extra_baselines"].values()}}
    return {
        "main_metric": main,
        "test": {name: {k: round(m[k], 4) for k in ("micro_f1", "macro_f1", "samples_f1",
                                                     "hamming_loss", "accuracy")}
                 for name, m in rows.items()},
        "beats_every_baseline": all(metrics["model"][main] > m[main] for n, m in rows.items()
                                    if n != "model"),
        "budget_minutes": summary["config"]["time_budget_minutes"],
        "train_minutes": round(summary["train_seconds"] / 60, 2),
        "notebooks": record["notebooks"],
        "steps": summary["steps"], "epochs": summary["epochs_completed"],
        "kept_warm_start": (summary.get("kept_warm_start") or {}).get("kept"),
        "best_validation": summary.get(f"best_validation_{main}"),
        "verdict": metrics.get("verdict", {}).get("message", ""),
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("-p", nargs=2, action="append", default=[], metavar=("NAME", "VALUE"))
    parser.add_argument("--out", default="")
    parser.add_argument("--run", default="", help="a finished run folder: only read its figures")
    parser.add_argument("--runs-root", default="", help="runs folder to run in (its embedding "
                        "cache is reused; scores are the same, the minutes before training fewer)")
    parser.add_argument("--no-thresholds", action="store_true",
                        help="skip the tuned-against-0.5 comparison (a pass over validation and test)")
    args = parser.parse_args(argv)
    started = time.monotonic()
    run_dir = (Path(args.run) if args.run else
               run_once(args.data, [tuple(p) for p in args.p],
                        Path(args.runs_root or tempfile.mkdtemp(prefix="bench-multilabel-"))))
    result = {"data": Path(args.data).name, "params": dict(args.p), "run": str(run_dir),
              **figures(run_dir)}
    result["run_wall_minutes"] = round((time.monotonic() - started) / 60, 2)
    result["thresholds"] = {} if args.no_thresholds else thresholds_against_half(run_dir)
    test = result["test"]
    print(f"\n{result['data']} ({' '.join(f'{k}={v}' for k, v in result['params'].items())})")
    for name, m in test.items():
        print(f"  {name:6s} test micro-F1 {m['micro_f1']:.4f}  macro-F1 {m['macro_f1']:.4f}  "
              f"samples-F1 {m['samples_f1']:.4f}  exact {m['accuracy']:.4f}")
    print(f"  beats every baseline on {result['main_metric']}: {result['beats_every_baseline']}; "
          f"trained {result['train_minutes']} min of a {result['budget_minutes']} min budget, "
          f"{result['steps']} steps, {result['epochs']} epochs; notebooks {result['notebooks']}")
    th = result["thresholds"]
    for split in ("validation", "test") if th else ():
        print(f"  {split}: tuned thresholds macro-F1 {th[f'{split}_tuned']['macro_f1']:.4f} "
              f"(micro {th[f'{split}_tuned']['micro_f1']:.4f}) against 0.5: "
              f"{th[f'{split}_fixed_0.5']['macro_f1']:.4f} (micro {th[f'{split}_fixed_0.5']['micro_f1']:.4f})")
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2))
    return result


if __name__ == "__main__":
    main()
