"""What TensorBoard logging costs: hackkit's fine-tuning with and without its TensorBoard callback.

Both arms train the same model on the same sample with the same seed, alternating (A B A B ...)
in this one process so a busy machine slows both alike. Prints examples per second of each
round, the median per arm, and the ratio.

    python benchmarks/bench_tensorboard.py [--examples 200] [--epochs 1] [--rounds 2]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
from pathlib import Path

from transformers import TrainerCallback

import hackkit as hk
import hackkit.train.session

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "support_intents.csv"


def main() -> None:
    """Run the rounds and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--examples", type=int, default=200)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    task = hk.get_task("text-classification")
    splits = hk.make_splits(hk.deduplicate(hk.load_data(SAMPLE).frame, task)[0], 0.2, 0.1, 42, task)
    with_tb = hackkit.train.session.tensorboard_callback
    speeds: dict[str, list[float]] = {"with TensorBoard": [], "without": []}
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.rounds):
            for arm in speeds:
                hackkit.train.session.tensorboard_callback = \
                    with_tb if arm == "with TensorBoard" else (lambda _: TrainerCallback())
                run_dir = Path(tmp) / f"{arm}-{i}".replace(" ", "_")
                hk.save_splits(splits, run_dir, task)
                summary = hk.finetune(run_dir, hk.TrainConfig(
                    epochs=args.epochs, max_train_examples=args.examples, device="cpu", patience=0))
                speeds[arm].append(summary["train_examples_per_second"])
                print(f"round {i + 1} {arm:<17} {summary['train_examples_per_second']:7.2f} examples/s, "
                      f"tensorboard files: {len(list(hk.Run(run_dir).tensorboard.glob('*')))}")
    hackkit.train.session.tensorboard_callback = with_tb
    med = {arm: statistics.median(v) for arm, v in speeds.items()}
    for arm, value in med.items():
        print(f"median {arm:<17} {value:7.2f} examples/s")
    print(f"ratio with/without: {med['with TensorBoard'] / med['without']:.3f}")


if __name__ == "__main__":
    main()
