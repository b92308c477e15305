"""Pick the device and numeric precision to train on, never falling back silently."""

from __future__ import annotations

from pathlib import Path

DEVICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "fp32", "fp16", "bf16")


def resolve_device(device: str) -> str:
    """Turn DEVICE into the device to train on; never fall back silently from a requested GPU."""
    import torch

    if device not in DEVICES:
        raise ValueError(f"DEVICE={device!r}: unknown device; use one of {DEVICES}.")
    if device == "auto":
        if torch.cuda.is_available():
            return "cuda"
        return "mps" if torch.backends.mps.is_available() else "cpu"
    if device == "cuda" and not torch.cuda.is_available():
        raise ValueError(
            "DEVICE='cuda' but no usable CUDA GPU was found (torch.cuda.is_available() is False). "
            "Use DEVICE='auto' to train on what is present, or fix the GPU/driver set-up."
        )
    if device == "mps" and not torch.backends.mps.is_available():
        raise ValueError("DEVICE='mps' but Apple's MPS backend is not available; use 'auto'.")
    return device


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX): elsewhere it is emulated, slower."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to tell cheaply, so full precision
        return False
    return any(flag in flags.split() for flag in ("avx512_bf16", "amx_bf16"))


def resolve_precision(device: str, precision: str, cpu_auto: str = "fp32") -> str:
    """Pick fp32/fp16/bf16: mixed precision on a GPU when 'auto'; on a CPU `cpu_auto` (a task's
    cpu_precision) where the CPU has native bf16, full precision elsewhere."""
    import torch

    if precision == "auto":
        if device != "cuda":
            return "bf16" if device == "cpu" and cpu_auto == "bf16" and cpu_has_bf16() else "fp32"
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    if precision == "fp16" and device != "cuda":
        raise ValueError(f"PRECISION='fp16' needs a CUDA GPU (device is {device}); use 'auto'.")
    return precision


def environment() -> dict[str, str]:
    """Versions and the device a run will use, for the top of each notebook."""
    import platform

    import torch
    import transformers

    device = resolve_device("auto")
    info = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "device": device,
        "cpu_threads": str(torch.get_num_threads()),
    }
    if device == "cuda":
        info["gpu"] = torch.cuda.get_device_name(0)
    return info
