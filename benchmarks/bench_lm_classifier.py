"""METHOD lm-classifier (a small chat language model scoring each label, no training) against
the fine-tuned encoder (METHOD finetune, the committed defaults), on one data set's test split:
accuracy, macro-F1 and seconds per text, both measured in this run on the same test rows.

    python benchmarks/bench_lm_classifier.py data/support_intents.csv
    python benchmarks/bench_lm_classifier.py ../shared/benchdata/sst2/sst2.csv --split-column split \\
        --max-test 300

Each model is trained (or built) in its own run folder under a temporary runs root; the test rows
are the first --max-test of the test split (every label scores one pass of the language model per
text, so the whole of a large test split takes long on a CPU).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time

import hackkit as hk


def scored(run_dir, frame) -> dict:
    """Accuracy, macro-F1 and seconds per text of the run's model on `frame` (batch 8, warm)."""
    predictor = hk.Predictor.from_run(run_dir, device="cpu", batch_size=8)
    predictor.predict(list(frame["text"][:8]))  # warm-up
    start = time.perf_counter()
    results = predictor.predict(list(frame["text"]))
    seconds = time.perf_counter() - start
    scores = predictor.task.score(predictor.task.predictions_table(frame, results), predictor.labels)
    return {"accuracy": scores["accuracy"], "macro_f1": scores["macro_f1"],
            "ms_per_text": 1000 * seconds / len(frame)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--split-column", default="")
    parser.add_argument("--max-test", type=int, default=300)
    parser.add_argument("--shots", type=int, default=0, help="LM_SHOTS of the lm-classifier")
    parser.add_argument("--budget", type=float, default=1.0, help="TIME_BUDGET_MINUTES of finetune")
    args = parser.parse_args()
    os.environ["HACKKIT_RUNS_DIR"] = tempfile.mkdtemp(prefix="bench-lm-")
    data = hk.DataConfig(data_path=args.data, split_column=args.split_column)
    diagnosis = hk.diagnose(data, lengths=False)
    diagnosis.raise_for_errors()
    test = diagnosis.splits["test"].head(args.max_test).reset_index(drop=True)
    rows = {}
    for method, config in (
            ("finetune", hk.TrainConfig(method="finetune", time_budget_minutes=args.budget,
                                        device="cpu")),
            ("lm-classifier", hk.TrainConfig(method="lm-classifier", lm_shots=args.shots,
                                             device="cpu"))):
        run_dir = hk.start_run("")
        hk.save_splits(diagnosis.splits, run_dir, diagnosis.task)
        start = time.perf_counter()
        hk.train_model(run_dir, config)
        rows[method] = {"train_seconds": time.perf_counter() - start, **scored(run_dir, test)}
    labels = len(hk.load_splits(run_dir)[1])
    print(f"{args.data}: {labels} labels, {len(test)} test texts; lm-classifier shots per label "
          f"{args.shots}; finetune budget {args.budget:g} min")
    for method, r in rows.items():
        print(f"{method:14s} accuracy {r['accuracy']:.4f}  macro-F1 {r['macro_f1']:.4f}  "
              f"{r['ms_per_text']:7.1f} ms/text  (made in {r['train_seconds']:.0f} s)")
    ratio = rows["lm-classifier"]["ms_per_text"] / rows["finetune"]["ms_per_text"]
    print(f"lm-classifier / finetune latency: {ratio:.1f}x")


if __name__ == "__main__":
    main()
