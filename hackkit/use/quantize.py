"""Dynamic int8 quantisation for CPU serving, checked against the fp32 model on the test split.

Two engines, chosen per task by what measured faster here (benchmarks/RESULTS.md, "int8"): for
tasks with an ONNX export (one label per input) ONNX Runtime's dynamic quantisation of the exported
graph, made once and kept as model/model.int8.onnx (faster than PyTorch's int8 for MiniLM at
batch size 1 on a CPU); for the others (NER) PyTorch's dynamic quantisation,
which stays a PyTorch module. Both store the Linear layers' weights as int8 and quantise the
activations on the fly: no calibration data. `Predictor(..., int8=True)` picks the engine;
hk.compare_models scores it against fp32. CPU only.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from hackkit.runfolder import ONNX_FILE, ONNX_INT8_FILE
from hackkit.use.export import export_onnx


def quantize_int8(model):
    """A copy of the model with every torch.nn.Linear dynamically quantised to int8 (CPU only)."""
    import copy

    import torch
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                            dtype=torch.qint8)


def onnx_int8_file(model_dir: str | Path) -> Path:
    """model/model.int8.onnx: ONNX Runtime's dynamic int8 of the exported model, made on first use.

    The export (about half a minute for MiniLM) is done once; later calls reuse the file. An
    existing model.onnx is quantised as it is. Written all or nothing.
    """
    from onnxruntime.quantization import QuantType, quantize_dynamic


    model_dir = Path(model_dir)
    target = model_dir / ONNX_INT8_FILE
    if target.is_file():
        return target
    with tempfile.TemporaryDirectory(prefix=".int8-", dir=model_dir) as tmp:
        fp32 = model_dir / ONNX_FILE
        if not fp32.is_file():
            print(f"exporting {model_dir} to ONNX for int8 (once; kept as {target.name})", flush=True)
            fp32 = export_onnx(model_dir, Path(tmp) / ONNX_FILE)
        part = Path(tmp) / ONNX_INT8_FILE
        # one scale per output channel: it kept the teacher's macro-F1 where one scale per tensor
        # lost more than a point, at the same file size (benchmarks/RESULTS.md, "int8")
        quantize_dynamic(str(fp32), str(part), weight_type=QuantType.QInt8, per_channel=True)
        part.replace(target)
    return target


def onnx_session(path: str | Path, threads: int = 0):
    """An ONNX Runtime CPU session (threads 0: ONNX Runtime's default, one per core).

    Its threads do not spin after a call: spinning buys a little latency for back-to-back calls
    but keeps the cores busy for a while after each one, which slowed PyTorch work in the same
    process (the demo's other models, a notebook) several times over on a 2-core CPU.
    """
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if threads:
        options.intra_op_num_threads = threads
    return ort.InferenceSession(str(path), sess_options=options,
                                providers=["CPUExecutionProvider"])
