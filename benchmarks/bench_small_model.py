"""Teacher vs distilled student vs int8 (vs student + int8): macro-F1, share of the teacher's
macro-F1 kept, latency at batch size 1 and the speed-up, all measured in this one process.

Trains a teacher (all-MiniLM-L6-v2 fine-tuned with the settings below) on a data file, distils a
student (every other layer kept) from it, then runs hk.compare_models. Optionally also times
ONNX Runtime's dynamic int8 quantisation of the exported teacher against PyTorch's (--onnx).

    python benchmarks/bench_small_model.py [--data data/support_intents.csv] [--max-train 800]
        [--epochs 3] [--student-epochs 4] [--max-length 64] [--onnx]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "support_intents.csv"


def onnx_latency(run_dir: Path, texts: list[str], repeats: int = 50) -> dict:
    """Median ms per text at batch 1: ONNX Runtime fp32 and dynamic-int8 copies of the model."""
    import onnxruntime as ort
    from onnxruntime.quantization import QuantType, quantize_dynamic

    import hackkit as hk
    from hackkit.export import _onnx_inputs

    run = hk.Run(run_dir)
    hk.export_onnx(run.model_dir, run.onnx_file)
    int8_file = Path(tempfile.mkdtemp()) / "model_int8.onnx"
    quantize_dynamic(str(run.onnx_file), str(int8_file), weight_type=QuantType.QInt8)
    tokenizer = hk.Predictor(run.model_dir, device="cpu").processor
    out = {}
    for name, path in (("onnx fp32", run.onnx_file), ("onnx int8", int8_file)):
        session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
        session.run(None, _onnx_inputs(tokenizer, texts[:1], 128, "np"))
        times = []
        for text in (texts * repeats)[:repeats]:
            start = time.perf_counter()
            session.run(None, _onnx_inputs(tokenizer, [text], 128, "np"))
            times.append(time.perf_counter() - start)
        out[name] = round(float(np.median(times) * 1000), 2)
        out[f"{name} MB"] = round(path.stat().st_size / 2**20, 1)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(SAMPLE))
    parser.add_argument("--max-train", type=int, default=800)
    parser.add_argument("--epochs", type=float, default=3.0)
    parser.add_argument("--student-epochs", type=float, default=4.0)
    parser.add_argument("--max-length", type=int, default=64)
    parser.add_argument("--time-budget", type=float, default=6.0, help="minutes per training")
    parser.add_argument("--onnx", action="store_true", help="also time ONNX Runtime fp32/int8")
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="bench-small-"))
    os.environ["HACKKIT_RUNS_DIR"] = str(root)

    import pandas as pd

    import hackkit as hk

    task = hk.get_task("text-classification")
    frame = hk.load_data(args.data).frame
    splits = hk.make_splits(hk.deduplicate(frame, task)[0], 0.2, 0.1, 42, task)
    run_dir = root / "teacher"
    hk.save_splits(splits, run_dir, task)
    config = hk.TrainConfig(epochs=args.epochs, max_train_examples=args.max_train,
                            max_length=args.max_length, time_budget_minutes=args.time_budget,
                            learning_rate=1e-4, batch_size=16, patience=0, device="cpu")
    teacher = hk.finetune(run_dir, config)
    student = hk.distill_run(run_dir, hk.DistillConfig(epochs=args.student_epochs), device="cpu")
    table = hk.compare_models(run_dir, latency_texts=100, throughput_texts=256)
    shown = table[["model", "macro_f1", "macro_f1_kept", "agreement_with_run", "parameters_m",
                   "size_mb", "latency_ms_batch1", "speedup_batch1", "texts_per_s_batch32"]]
    import torch

    print(f"\ndata {args.data}: {sum(len(s) for s in splits.values())} rows, test "
          f"{len(splits['test'])}; teacher trained {teacher['train_seconds']} s, student "
          f"{student['train_seconds']} s; CPU threads {torch.get_num_threads()}")
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(shown.to_string(index=False))
    if args.onnx:
        texts = splits["test"]["text"].tolist()
        print("ONNX Runtime, batch 1 (ms, same texts):", onnx_latency(run_dir, texts))
    print(f"runs kept under {root}")


if __name__ == "__main__":
    main()
