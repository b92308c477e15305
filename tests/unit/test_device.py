"""Device and precision choice: GPU when present, never a silent fallback."""

from __future__ import annotations

import pytest
import torch

import hackkit as hk
from hackkit.device import resolve_precision

no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="checks the no-GPU behaviour")


@no_cuda
def test_requesting_cuda_without_a_gpu_stops_with_a_fix():
    with pytest.raises(ValueError, match=r"DEVICE='cuda' but no usable CUDA GPU.*DEVICE='auto'"):
        hk.resolve_device("cuda")


@no_cuda
def test_auto_uses_the_cpu_in_full_precision_when_no_gpu():
    device = hk.resolve_device("auto")
    assert device in ("cpu", "mps")
    assert resolve_precision(device, "auto") == "fp32"


def test_unknown_device_and_cpu_fp16_are_rejected():
    with pytest.raises(ValueError, match="DEVICE='gpu'"):
        hk.resolve_device("gpu")
    with pytest.raises(ValueError, match="PRECISION='fp16' needs a CUDA GPU"):
        resolve_precision("cpu", "fp16")
    assert resolve_precision("cpu", "bf16") == "bf16"


def test_environment_reports_versions_and_device():
    info = hk.environment()
    assert info["torch"] == torch.__version__
    assert info["device"] == hk.resolve_device("auto")


def test_auto_picks_a_present_gpu(monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert hk.resolve_device("auto") == "cuda" and hk.resolve_device("cuda") == "cuda"


@pytest.mark.gpu
def test_auto_on_a_gpu_uses_mixed_precision():
    assert hk.resolve_device("auto") == "cuda"
    assert resolve_precision("cuda", "auto") in ("bf16", "fp16")
