"""Teacher vs distilled student vs int8 (vs student + int8): macro-F1, share of the teacher's
macro-F1 kept, latency at batch size 1 and the speed-up, all measured in this one process.

Trains a teacher (all-MiniLM-L6-v2 fine-tuned with the settings below) on a data file, distils a
student (every other layer kept) from it, then runs hk.compare_models. Optionally also times
PyTorch's dynamic int8 of the teacher against the ONNX Runtime int8 that Predictor(int8=True) uses.

    python benchmarks/bench_small_model.py [--data data/support_intents.csv] [--split-column split]
        [--max-train 0] [--epochs 10] [--student-epochs 10] [--max-length 128] [--time-budget 5]
        [--learning-rate 5e-5] [--teacher RUN_DIR] [--student-minutes M] [--student-layers N]
        [--student-ffn U] [--embedding-weight 1.0] [--pytorch-int8]
"""

from __future__ import annotations

import argparse
import os
import tempfile
from pathlib import Path

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "support_intents.csv"


def pytorch_int8_latency(run_dir: Path, texts: list[str], repeats: int = 50) -> float:
    """Median ms per text at batch 1 for PyTorch's dynamic int8 of the run's model (the other engine)."""
    import hackkit as hk
    from hackkit.use.compare import interleaved_speed
    from hackkit.use.quantize import quantize_int8

    predictor = hk.Predictor(hk.Run(run_dir).model_dir, device="cpu")
    predictor.model = quantize_int8(predictor.model)
    return round(interleaved_speed([predictor], texts, repeats, throughput_texts=1)[0][0], 2)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SAMPLE))
    parser.add_argument("--split-column", default="", help="the file's own split column, if any")
    parser.add_argument("--max-train", type=int, default=0, help="0: all training rows")
    parser.add_argument("--epochs", type=float, default=10.0, help="a cap; the budget decides")
    parser.add_argument("--student-epochs", type=float, default=10.0)
    parser.add_argument("--max-length", type=int, default=128)
    parser.add_argument("--learning-rate", type=float, default=5e-5)
    parser.add_argument("--time-budget", type=float, default=5.0, help="minutes per training")
    parser.add_argument("--student-minutes", type=float, default=-1.0,
                        help="the student's time budget (-1: the teacher's)")
    parser.add_argument("--teacher", default="", help="a finished run folder to use as the teacher "
                        "(its splits; --data and the training options are then ignored)")
    parser.add_argument("--student-layers", type=int, default=0,
                        help="layers the student keeps (0: every other one of the teacher's)")
    parser.add_argument("--student-ffn", type=int, default=0,
                        help="feed-forward units the student keeps in each layer (0: all)")
    parser.add_argument("--embedding-weight", type=float, default=1.0,
                        help="the student's sentence-embedding match weight (0: outputs only)")
    parser.add_argument("--pytorch-int8", action="store_true",
                        help="also time PyTorch's dynamic int8 of the teacher at batch 1")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-small-"))
    os.environ["HACKKIT_RUNS_DIR"] = str(root)

    import pandas as pd

    import hackkit as hk

    task = hk.get_task("text-classification")
    if args.teacher:  # a finished run (e.g. from bench_defaults.py) is the teacher
        run_dir = Path(args.teacher)
        splits = hk.load_splits(run_dir)[0]
        teacher = hk.read_json(hk.Run(run_dir).train_summary)
        data = f"teacher {run_dir}"
    else:
        data = f"data {args.data}"
        splits = hk.diagnose(args.data, lengths=False, split_column=args.split_column).splits  # as 01
        run_dir = root / "teacher"
        hk.save_splits(splits, run_dir, task)
        config = hk.TrainConfig(epochs=args.epochs, max_train_examples=args.max_train,
                                max_length=args.max_length, time_budget_minutes=args.time_budget,
                                learning_rate=args.learning_rate, patience=0, device="cpu")
        teacher = hk.finetune(run_dir, config)
    student = hk.distill_run(run_dir, hk.DistillConfig(epochs=args.student_epochs,
                                                       time_budget_minutes=args.student_minutes,
                                                       layers=args.student_layers,
                                                       ffn=args.student_ffn,
                                                       embedding_weight=args.embedding_weight),
                             device="cpu")
    table = hk.compare_models(run_dir, latency_texts=100, throughput_texts=256)
    shown = table[["model", "macro_f1", "macro_f1_kept", "agreement_with_run", "parameters_m",
                   "size_mb", "latency_ms_batch1", "speedup_batch1", "texts_per_s_batch32"]]
    import torch

    print(f"\n{data}: {sum(len(s) for s in splits.values())} rows, test "
          f"{len(splits['test'])}; teacher trained {teacher['train_seconds']} s, student "
          f"{student['train_seconds']} s; CPU threads {torch.get_num_threads()}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown.to_string(index=False))
    if args.pytorch_int8:
        texts = splits["test"]["text"].tolist()
        print(f"teacher, PyTorch dynamic int8 at batch 1: {pytorch_int8_latency(run_dir, texts)} ms "
              "(the table's int8 rows are ONNX Runtime's)")
    print(f"runs kept under {run_dir.parent}")


if __name__ == "__main__":
    main()
