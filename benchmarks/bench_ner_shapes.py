"""NER with and without word shapes: the token task's default model (the uncased encoder plus a
learned vector per word shape, hackkit.models.tagger) against the plain transformers token head on
the same encoder, with the same time budget, data, seed and evaluation.

Both train through hk.train_model (the one training session, the committed defaults but for
TIME_BUDGET_MINUTES) on the data's own train/validation/test split, then score the test split with
entity-level micro-F1 (seqeval, conlleval's rules). The plain variant is the same task with
`word_shapes = False`, registered here under another name.

    python benchmarks/bench_ner_shapes.py DATA_FOLDER_OR_FILE [--minutes 4 | --epochs 1] [--seeds 0]
        [--variants shapes plain] [--out results.json]

e.g. DATA_FOLDER_OR_FILE = ../shared/benchdata/wnut17 (train.conll, dev.conll, test.conll).
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import hackkit as hk
from hackkit.registry import register_task
from hackkit.tasks.ner import TokenClassification


class PlainTokens(TokenClassification):
    """The token task with the plain transformers head: no word shapes."""

    name = "token-classification-plain"
    word_shapes = False


def run_once(data: str, task_name: str, minutes: float, seed: int, epochs: float = 0) -> dict:
    """Split, train within the budget (or for `epochs` with no time limit), score the test split."""
    task = hk.get_task(task_name)
    dataset = hk.load_data(data, task="token-classification")
    splits = task.split(dataset.frame, 0.2, 0.1, seed)
    with tempfile.TemporaryDirectory(prefix="bench-ner-") as tmp:
        run = Path(tmp) / "run"
        hk.save_splits(splits, run, task)
        started = time.perf_counter()
        summary = hk.train_model(run, hk.TrainConfig(
            task=task_name, seed=seed, device="cpu",
            **({"epochs": epochs, "time_budget_minutes": 0} if epochs else
               {"time_budget_minutes": minutes})))
        trained = time.perf_counter() - started
        scores = hk.score_predictions(run, hk.predict_split(run, "test", device="cpu"))
        validation = summary.best_validation
    return {"variant": "shapes" if task.word_shapes else "plain", "seed": seed,
            "test_entity_f1": round(scores["entity_f1"], 4),
            "test_precision": round(scores["entity_precision"], 4),
            "test_recall": round(scores["entity_recall"], 4),
            "best_validation_entity_f1": round(validation, 4),
            "epochs": summary.epochs_completed, "steps": summary.steps,
            "train_seconds": round(trained, 1),
            "sizes": {name: len(frame) for name, frame in splits.items()}}


def main() -> None:
    """Parse arguments, run each variant and seed, print a table, write JSON."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("data")
    parser.add_argument("--minutes", type=float, default=4.0, help="TIME_BUDGET_MINUTES of each run")
    parser.add_argument("--epochs", type=float, default=0,
                        help="train this many epochs with no time limit instead (the same steps for "
                             "both variants, whatever else runs on the machine)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--variants", nargs="+", default=["shapes", "plain"],
                        choices=["shapes", "plain"])
    parser.add_argument("--out", default="")
    args = parser.parse_args()
    register_task(PlainTokens())
    names = {"shapes": "token-classification", "plain": PlainTokens.name}
    results = []
    for seed in args.seeds:
        for variant in args.variants:
            print(f"{variant}, seed {seed}, "
                  + (f"{args.epochs:g} epochs" if args.epochs else f"{args.minutes:g} min"), flush=True)
            results.append(run_once(args.data, names[variant], args.minutes, seed, args.epochs))
            print(json.dumps(results[-1]), flush=True)
    print(f"{'variant':8} {'seed':>4} {'test F1':>8} {'P':>7} {'R':>7} {'val F1':>7} {'epochs':>7}")
    for r in results:
        print(f"{r['variant']:8} {r['seed']:>4} {r['test_entity_f1']:>8.4f} {r['test_precision']:>7.4f} "
              f"{r['test_recall']:>7.4f} {r['best_validation_entity_f1']:>7.4f} {r['epochs'] or 0:>7.2f}")
    if args.out:
        Path(args.out).write_text(json.dumps({"data": args.data, "minutes": args.minutes,
                                              "epochs": args.epochs,
                                              "results": results}, indent=1))


if __name__ == "__main__":
    main()
