"""Dynamic int8 quantisation for CPU serving, checked against the fp32 model on the test split.

PyTorch's dynamic quantisation stores the Linear layers' weights as int8 and quantises the
activations on the fly, batch by batch: no calibration data, no export, and the model stays a
PyTorch module that Predictor, 04 and `serve` use as before (`Predictor(..., int8=True)`).
It runs on the CPU only. (ONNX Runtime's dynamic quantisation of the exported model was measured
against it in benchmarks/bench_small_model.py; see the README for the figures.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np


def quantize_int8(model):
    """A copy of the model with every torch.nn.Linear dynamically quantised to int8 (CPU only)."""
    import copy

    import torch
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                            dtype=torch.qint8)


def check_int8(run_dir: str | Path, split: str = "test") -> dict:
    """Accuracy and macro-F1 of the fp32 and int8 models on a split, and how often they agree."""
    from hackkit.predict import Predictor
    from hackkit.runfolder import Run, load_splits

    run = Run(run_dir)
    frame = load_splits(run.path)[0][split]
    results = {}
    for name, int8 in (("fp32", False), ("int8", True)):
        predictor = Predictor(run.model_dir, device="cpu", int8=int8)
        task = predictor.task
        table = task.predictions_table(frame, predictor.predict(task.inputs_of(frame)))
        results[name] = (table, task.score(table, predictor.labels))
    fp32, int8 = results["fp32"][0], results["int8"][0]
    agreement = float(np.mean(fp32["predicted"].to_numpy() == int8["predicted"].to_numpy()))
    main = predictor.task.main_metric
    return {"split": split, "examples": len(frame), "agreement": agreement,
            **{f"{name}_{key}": results[name][1][key] for name in results
               for key in ("accuracy", main)}}
