"""Make a run's model folder self-contained: a model card, and an ONNX copy checked against PyTorch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hackkit.models.resolve import load_saved
from hackkit.paths import write_json
from hackkit.registry import get_task, task_names
from hackkit.runfolder import ONNX_CHECK, Run, load_splits, read_model_info
from hackkit.use.card import write_model_card

ONNX_TOLERANCE = 1e-4  # max |logit difference| accepted between ONNX Runtime and PyTorch (fp32)


ONNX_INPUTS = ("input_ids", "attention_mask", "token_type_ids", "pixel_values")


def export_onnx(model_dir: str | Path, out_path: str | Path | None = None,
                opset: int = 18) -> Path:
    """Export a one-label classifier to ONNX (logits; batch, and text's sequence length, dynamic)."""
    import torch


    model_dir = Path(model_dir)
    info = read_model_info(model_dir)
    task = get_task(info.task)
    if not task.onnx_export:
        covered = [name for name in task_names() if get_task(name).onnx_export]
        raise ValueError(f"{model_dir}: a {task.name} model; ONNX export covers the tasks with "
                         f"one label per input ({', '.join(covered)}).")
    out = Path(out_path) if out_path else model_dir / Run(model_dir.parent).onnx_file.name
    if out.exists():
        raise FileExistsError(f"{out} already exists; delete it to export again, or pass "
                              "another out_path.")
    processor, model = load_saved(model_dir)
    example = task.onnx_inputs(processor, task.onnx_examples(info.max_length), 32, "pt")

    class Logits(torch.nn.Module):
        """Named tensor inputs, logits out: a plain graph signature for ONNX."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids=None, attention_mask=None, token_type_ids=None, pixel_values=None):
            given = {"input_ids": input_ids, "attention_mask": attention_mask,
                     "token_type_ids": token_type_ids, "pixel_values": pixel_values}
            return self.model(**{k: v for k, v in given.items() if v is not None}).logits

    unknown = set(example) - set(ONNX_INPUTS)
    if unknown:
        raise ValueError(f"{model_dir}: the model takes inputs {sorted(unknown)} that the "
                         f"ONNX export does not handle; it supports {', '.join(ONNX_INPUTS)}.")
    dims = {axis: torch.export.Dim(label, max=512) if label == "sequence" else torch.export.Dim(label)
            for axis, label in task.onnx_dynamic_axes.items()}
    torch.onnx.export(
        Logits().eval(), (), str(out), kwargs=example, output_names=["logits"],
        opset_version=opset, dynamo=True, verbose=False,
        dynamic_shapes={name: dict(dims) for name in example},
    )
    return out


def _as_feed(arrays: dict) -> dict:
    """ONNX Runtime's feed: integer inputs as int64, the rest as float32."""
    return {k: v.astype(np.int64) if v.dtype.kind in "iub" else v.astype(np.float32)
            for k, v in arrays.items()}


def check_onnx(model_dir: str | Path, onnx_path: str | Path, texts: Sequence,
               max_length: int | None = None, batch_size: int = 32,
               tolerance: float = ONNX_TOLERANCE) -> dict:
    """Compare ONNX Runtime with PyTorch on inputs (texts, image paths): logit difference, same labels, inputs/s."""
    import onnxruntime as ort
    import torch


    model_dir = Path(model_dir)
    info = read_model_info(model_dir)
    task = get_task(info.task)
    max_length = max_length or info.max_length
    if not texts:
        raise ValueError("texts: give at least one input to compare ONNX and PyTorch on.")
    processor, model = load_saved(model_dir)
    model.eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batches = [list(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    torch_out, onnx_out, seconds = [], [], {"pytorch": 0.0, "onnxruntime": 0.0}
    for batch in batches:
        started = time.perf_counter()
        with torch.inference_mode():
            torch_out.append(model(**task.onnx_inputs(processor, batch, max_length, "pt")).logits.numpy())
        seconds["pytorch"] += time.perf_counter() - started
        started = time.perf_counter()
        feed = _as_feed(task.onnx_inputs(processor, batch, max_length, "np"))
        onnx_out.append(session.run(["logits"], feed)[0])
        seconds["onnxruntime"] += time.perf_counter() - started
    ref, got = np.concatenate(torch_out), np.concatenate(onnx_out)
    diff = float(np.abs(ref - got).max())
    result = {
        "texts": len(texts),
        "max_abs_logit_difference": diff,
        "tolerance": tolerance,
        "within_tolerance": diff <= tolerance,
        "same_predicted_labels": bool((task.decisions(ref, info) == task.decisions(got, info)).all()),
        "texts_per_second": {k: round(len(texts) / max(s, 1e-9), 1) for k, s in seconds.items()},
    }

    write_json(Path(onnx_path).with_name(ONNX_CHECK), result)
    return result


def export_run(run_dir: str | Path, onnx: bool = False, check_texts: int = 256) -> dict:
    """Write the model card; with onnx, export model.onnx (once) and check it on test texts."""
    run = Run(run_dir)
    result: dict = {"model_card": write_model_card(run.path)}
    if onnx:
        if not run.onnx_file.exists():  # an earlier export is checked again, never overwritten
            export_onnx(run.model_dir, run.onnx_file)
        texts = run.task().inputs_of(load_splits(run.path)[0]["test"])[:check_texts]
        result.update(onnx=run.onnx_file, check=check_onnx(run.model_dir, run.onnx_file, texts,
                                                           max_length=run.max_length()))
    return result
