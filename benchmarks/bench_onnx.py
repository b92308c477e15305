"""Inference speed: PyTorch vs ONNX Runtime on the same model and texts, in this one process.

Uses a run's model (default: the latest run with one), or, with --fresh, all-MiniLM-L6-v2 with a
new 8-label head (same size and speed as a fine-tuned one). Both run fp32 on the CPU with their
default thread counts (or --threads N for both); each figure is the best of --repeats passes over the texts, after a
warm-up pass, with the tokenizer's time included for both.

    python benchmarks/bench_onnx.py [--run runs/<run>] [--fresh] [--texts 256] [--repeats 3] [--threads N]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import hackkit as hk
import hackkit.models.auto  # noqa: F401  plain transformers loads the kit's model classes
from hackkit.models.resolve import load_for_classification, load_tokenizer

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "support_intents.csv"
TEXT = hk.get_task("text-classification")


def fresh_model(folder: Path) -> Path:
    """all-MiniLM-L6-v2 with an untrained head for the sample data's labels, saved to folder."""
    labels = sorted(hk.read_table(SAMPLE)["label"].unique())
    model = load_for_classification("sentence-transformers/all-MiniLM-L6-v2", labels)
    model.save_pretrained(folder, safe_serialization=True)
    load_tokenizer("sentence-transformers/all-MiniLM-L6-v2").save_pretrained(folder)
    return folder


def best_time(fn, repeats: int) -> float:
    """Best wall time of `repeats` calls after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return min(times)


def compare(tmp: Path, args: argparse.Namespace) -> None:
    """Export to ONNX in tmp, then time both engines at three batch sizes."""
    import onnxruntime as ort
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    model_dir = fresh_model(tmp / "model") if args.fresh else hk.Run(hk.find_run(args.run, "model")).model_dir
    onnx_path = hk.export_onnx(model_dir, tmp / "model.onnx")
    texts = list(hk.read_table(SAMPLE)["text"][: args.texts])
    tokenizer = AutoTokenizer.from_pretrained(model_dir)
    model = AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True).eval()
    options = ort.SessionOptions()
    if args.threads:
        torch.set_num_threads(args.threads)
        options.intra_op_num_threads = args.threads
    session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
    print(f"model {model_dir}; {len(texts)} texts; torch {torch.__version__} "
          f"({torch.get_num_threads()} threads), onnxruntime {ort.__version__} "
          f"({args.threads or 'default'} threads)")

    def run_torch(batch: list[str]) -> np.ndarray:
        with torch.inference_mode():
            return model(**TEXT.onnx_inputs(tokenizer, batch, 128, "pt")).logits.numpy()

    def run_onnx(batch: list[str]) -> np.ndarray:
        feed = {k: v.astype(np.int64) for k, v in TEXT.onnx_inputs(tokenizer, batch, 128, "np").items()}
        return session.run(["logits"], feed)[0]

    print(f"{'batch size':>10} {'PyTorch texts/s':>16} {'ONNX Runtime texts/s':>21} {'ORT/PT':>6} "
          f"{'max |logit diff|':>17}")
    for batch_size in (1, 8, 32):
        batches = [texts[i:i + batch_size] for i in range(0, len(texts), batch_size)]
        diff = max(float(np.abs(run_torch(b) - run_onnx(b)).max()) for b in batches)
        t_torch = best_time(lambda: [run_torch(b) for b in batches], args.repeats)
        t_onnx = best_time(lambda: [run_onnx(b) for b in batches], args.repeats)
        print(f"{batch_size:>10} {len(texts) / t_torch:>16.1f} {len(texts) / t_onnx:>21.1f} "
              f"{t_torch / t_onnx:>5.2f}x {diff:>17.2e}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--run", default="", help="run folder (default: the latest with a model)")
    parser.add_argument("--fresh", action="store_true", help="MiniLM with a new head, no run")
    parser.add_argument("--texts", type=int, default=256, help="sample texts to predict")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes; the best counts")
    parser.add_argument("--threads", type=int, default=0,
                        help="CPU threads for both engines; 0 = each engine's default")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-onnx-") as tmp:
        compare(Path(tmp), args)


if __name__ == "__main__":
    main()
