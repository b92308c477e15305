"""Saved models work outside the kit: no file of a saved model/ names a path of this machine."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

import hackkit as hk
from hackkit.models.efficientnet import cache_root
from hackkit.models.resolve import resolve_model
from hackkit.runfolder import MODEL_INFO, portable_model_name
from helpers import MODEL, NER, ROOT

@pytest.fixture(scope="module")
def ner_model(tmp_path_factory, tiny_model) -> Path:
    """model/ of an NER run trained for one epoch from tiny_model on 24 short sentences."""
    rows = ["Ship order 1234 to Oslo .", "Anna Berg called about order 99 .",
            "Send it to Lyon please .", "Tom lives in New York ."]
    tags = [["O", "O", "B-ORDER_ID", "O", "B-LOC", "O"],
            ["B-PER", "I-PER", "O", "O", "O", "B-ORDER_ID", "O"],
            ["O", "O", "O", "B-LOC", "O"], ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]]
    root = tmp_path_factory.mktemp("ner-saved")
    (root / "s.conll").write_text("\n\n".join(
        "\n".join(f"{w} {t}" for w, t in zip(r.split(), tg)) for r, tg in zip(rows * 6, tags * 6)))
    dataset = hk.load_data(root / "s.conll", task=NER.name)
    frame = dataset.frame.assign(text=[f"{t} {i}" for i, t in enumerate(dataset.frame["text"])])
    run_dir = root / "runs" / "ner"
    hk.save_splits(hk.make_splits(frame, 0.25, 0.25, 0, NER), run_dir, NER)
    hk.finetune(run_dir, hk.TrainConfig(task=NER.name, model=str(tiny_model), epochs=1.0,
                                        max_length=32, batch_size=4, device="cpu", patience=0,
                                        time_budget_minutes=0))
    return run_dir / "model"


@pytest.fixture(scope="module")
def zero_shot_model(tmp_path_factory, sample_splits) -> Path:
    """model/ of a zero-shot run from the packaged MiniLM (the kit's mean-pooling class)."""
    run_dir = tmp_path_factory.mktemp("zero-shot") / "runs" / "zs"
    text = hk.get_task("text-classification")
    hk.save_splits({name: text.subsample(frame, 24, seed=0) for name, frame in sample_splits.items()},
                   run_dir, text)
    hk.train_model(run_dir, hk.TrainConfig(method="zero-shot", device="cpu"))
    return run_dir / "model"


@pytest.fixture(scope="module")
def lora_run(tmp_path_factory, tiny_model, sample_splits) -> Path:
    """A LoRA run from tiny_model with a new head (a transformers class, loaded from the folder)."""
    run_dir = tmp_path_factory.mktemp("lora") / "runs" / "lora"
    text = hk.get_task("text-classification")
    hk.save_splits({name: text.subsample(frame, 24, seed=0) for name, frame in sample_splits.items()},
                   run_dir, text)
    hk.train_model(run_dir, hk.TrainConfig(method="lora", head_init="new", model=str(tiny_model),
                                           epochs=1.0, batch_size=8, max_length=32, patience=0,
                                           device="cpu", time_budget_minutes=0))
    return run_dir


def _machine_paths(*extra: Path) -> list[str]:
    """Paths of this machine a saved model must not name: the virtual environment, the packaged
    MiniLM's folder, the repository, the folders the models were trained from."""
    found = {sys.prefix, str(Path(sys.prefix).resolve()), resolve_model(MODEL).location,
             str(cache_root()), str(ROOT), *(str(p) for p in extra)}
    return sorted(found, key=len, reverse=True)


def test_no_saved_model_names_a_path_of_this_machine(tiny_run, tiny_model, ner_model,
                                                     zero_shot_model, image_run, lora_run):
    paths = _machine_paths(tiny_model, tiny_model.resolve())
    folders = [tiny_run / "model", ner_model, zero_shot_model, image_run / "model",
               lora_run / "model", hk.Run(lora_run).adapter_dir]  # peft's config and card too
    for folder in folders:
        for file in folder.iterdir():
            if file.suffix in (".json", ".md", ".txt"):
                text = file.read_text(encoding="utf-8")
                named = [p for p in paths if p in text or json.dumps(p)[1:-1] in text]
                assert not named, f"{file} names {named}"
    # The packaged model is named by its hub id; a folder outside the project by nothing.
    assert hk.read_json(zero_shot_model / MODEL_INFO)["base_model"] == MODEL
    assert hk.read_json(tiny_run / "model" / MODEL_INFO)["base_model"] == ""
    encoder = hk.read_json(zero_shot_model / "config.json")["encoder"]
    assert encoder["model_type"] == "bert" and "_name_or_path" not in encoder


def test_portable_model_name_never_gives_a_path_outside_the_project(tmp_path, tiny_run):
    assert portable_model_name(MODEL) == MODEL
    assert portable_model_name("efficientnet-lite0") == "efficientnet-lite0"
    assert portable_model_name(str(tmp_path)) == ""  # a folder outside the project
    assert portable_model_name(str(tmp_path / "gone")) == ""  # an absolute path not here
    assert portable_model_name(str(ROOT / "notebooks")) == "notebooks"  # the same in every clone
    # A kit model folder names the model it came from (an older record's path is dropped).
    hk.write_json(tmp_path / MODEL_INFO, {"base_model": MODEL})
    assert portable_model_name(str(tmp_path)) == MODEL
    hk.write_json(tmp_path / MODEL_INFO, {"base_model": str(tiny_run / "model")})
    assert portable_model_name(str(tmp_path)) == ""
