"""Text generation on a data set with its own splits, through the calls the notebooks make (01's
checks and splits, 02's training in the one session, 03's generation, scores and baselines), with
the CPU lock taken exclusively around training only: the score a time budget buys depends on the
machine's speed while training, not while scoring.

    python benchmarks/bench_generation_e2e.py ../shared/benchdata/e2e_nlg/e2e_nlg.parquet \\
        --budget 10 [--lock ../cpu.lock]

What it runs is `python -m hackkit run -p TASK text-generation -p DATA_PATH <data> -p SPLIT_COLUMN
split -p TIME_BUDGET_MINUTES <budget>` without the notebooks around it; the run folder (under
$HACKKIT_RUNS_DIR or runs/) holds the same files. Prints the test scores of the model and both
baselines (BLEU, chrF, ROUGE-L, exact match against every reference), the training summary and the
minutes each stage took.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import time

import hackkit as hk


@contextlib.contextmanager
def cpu_lock(path: str, mode: int):
    """Hold `path` with flock in `mode` (fcntl.LOCK_SH or LOCK_EX); nothing when path is empty."""
    if not path:
        yield
        return
    with open(path, "a") as f:
        fcntl.flock(f, mode)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split-column", default="split")
    parser.add_argument("--budget", type=float, default=10.0, help="TIME_BUDGET_MINUTES")
    parser.add_argument("--lock", default="", help="a shared flock file (exclusive in training)")
    args = parser.parse_args()
    minutes = {}
    started = time.monotonic()
    with cpu_lock(args.lock, fcntl.LOCK_SH):
        data = hk.DataConfig(task="text-generation", data_path=args.data,
                             split_column=args.split_column)
        diagnosis = hk.diagnose(data)
        diagnosis.raise_for_errors()
        run_dir = hk.start_run("")
        hk.save_splits(diagnosis.splits, run_dir, diagnosis.task)
        hk.write_json(hk.Run(run_dir).data_report, hk.data_report(diagnosis, data))
        print(diagnosis.text(), flush=True)
    minutes["01"] = (time.monotonic() - started) / 60
    config = hk.TrainConfig(task="text-generation", time_budget_minutes=args.budget)
    started = time.monotonic()
    with cpu_lock(args.lock, fcntl.LOCK_EX):
        waited = (time.monotonic() - started) / 60
        summary = hk.train_model(run_dir, config)
    minutes["02 (after waiting for the lock)"] = (time.monotonic() - started) / 60 - waited
    started = time.monotonic()
    with cpu_lock(args.lock, fcntl.LOCK_SH):
        predictions = hk.predict_split(run_dir, "test")
        scores = hk.score_predictions(run_dir, predictions)
        minutes["03 model"] = (time.monotonic() - started) / 60
        baseline = hk.baseline_scores(run_dir, "test")
        extra = hk.extra_baselines(run_dir, "test")
        verdict = hk.explain_run(run_dir, scores, baseline)
        hk.write_metrics(run_dir, scores, baseline, predictions, verdict, extra)
    minutes["03 all"] = (time.monotonic() - started) / 60
    print(f"run {run_dir}: {summary.method} on {summary.train_examples} of "
          f"{summary.available_train_examples} training pairs, {summary.steps} steps, "
          f"{summary.epochs_completed} epochs, {summary.train_examples_per_second} pairs/s, "
          f"{summary.precision}; best validation token accuracy {summary.best_validation:.4f}")
    for name, m in (("fine-tuned", scores), (hk.get_task("text-generation").baseline_name, baseline),
                    *extra.items()):
        print(f"{name:55s} BLEU {m['bleu']:.4f}  chrF {m['chrf']:.4f}  ROUGE-L {m['rougeL']:.4f}  "
              f"exact {m['exact_match']:.4f}")
    print(verdict["message"])
    print("minutes: " + ", ".join(f"{k} {v:.1f}" for k, v in minutes.items()))


if __name__ == "__main__":
    main()
