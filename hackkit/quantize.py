"""Dynamic int8 quantisation for CPU serving, checked against the fp32 model on the test split.

PyTorch's dynamic quantisation stores the Linear layers' weights as int8 and quantises the
activations on the fly, batch by batch: no calibration data, no export, and the model stays a
PyTorch module that Predictor, 04 and `serve` use as before (`Predictor(..., int8=True)`); hk.check_int8 (in compare.py) scores it against fp32.
It runs on the CPU only. ONNX Runtime's dynamic quantisation of the exported model was faster in
one measurement on the loaded development machine (README, "A small, fast model for the demo");
this in-process path is the one that needs no export.
"""

from __future__ import annotations


def quantize_int8(model):
    """A copy of the model with every torch.nn.Linear dynamically quantised to int8 (CPU only)."""
    import copy

    import torch
    from torch.ao.quantization import quantize_dynamic

    return quantize_dynamic(copy.deepcopy(model).cpu().eval(), {torch.nn.Linear},
                            dtype=torch.qint8)

