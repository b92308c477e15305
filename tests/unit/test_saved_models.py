"""Saved models work outside the kit: in a fresh Python process, plain transformers loads a run's
model/ after the documented line `import hackkit.models.auto`, and agrees with hk.Predictor; no
file of a saved model/ names a path of this machine."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import hackkit as hk
from hackkit.models.efficientnet import cache_root
from hackkit.models.resolve import resolve_model
from hackkit.runfolder import MODEL_INFO, portable_model_name
from helpers import MODEL, NER, ROOT

TEXTS = ["where is my parcel", "I forgot my password and cannot log in", "refund please"]
SENTENCE = "Anna Berg ships order 12 to Oslo"


def fresh_python(code: str, *args: str) -> dict:
    """Run `code` in a new interpreter (nothing these tests imported is registered there) and
    return the JSON it prints last."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code), *args],
                          capture_output=True, text=True, timeout=600)  # a hang, not a speed limit
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


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


# One fresh interpreter loads all three kinds of saved model, as a user's own script would: first
# without the documented line (transformers must refuse the kit's model type), then after it.
OUTSIDE = """
    import json, sys
    import numpy as np, torch
    from transformers import (AutoModelForImageClassification, AutoModelForSequenceClassification,
                              AutoModelForTokenClassification, AutoTokenizer, pipeline)

    text_folder, ner_folder, image_folder, pixels_file = sys.argv[1:5]
    texts, sentence = json.loads(sys.argv[5]), sys.argv[6]
    try:
        AutoModelForSequenceClassification.from_pretrained(text_folder)
        refused = ""
    except ValueError as e:
        refused = str(e)

    import hackkit.models.auto  # the documented line

    classify = pipeline("text-classification", model=text_folder, device="cpu")
    ranked = classify(texts, top_k=None, truncation=True, max_length=128)
    model = AutoModelForSequenceClassification.from_pretrained(text_folder).eval()
    batch = AutoTokenizer.from_pretrained(text_folder)(texts, padding=True, truncation=True,
                                                       max_length=128, return_tensors="pt")
    with torch.no_grad():
        text = {"class": type(model).__name__, "logits": model(**batch).logits.tolist(),
                "pipeline": [{r["label"]: r["score"] for r in one} for one in ranked]}

    tag = pipeline("token-classification", model=ner_folder, device="cpu", ignore_labels=[])
    model = AutoModelForTokenClassification.from_pretrained(ner_folder).eval()
    with torch.no_grad():
        logits = model(**AutoTokenizer.from_pretrained(ner_folder)(sentence,
                                                                  return_tensors="pt")).logits
    ner = {"logits": logits[0].tolist(), "pipeline": [
        {"index": t["index"], "entity": t["entity"], "score": float(t["score"])}
        for t in tag(sentence)]}

    model = AutoModelForImageClassification.from_pretrained(image_folder).eval()
    with torch.no_grad():
        logits = model(pixel_values=torch.from_numpy(np.load(pixels_file))).logits
    image = {"class": type(model).__name__, "logits": logits.tolist()}
    print(json.dumps({"refused": refused, "text": text, "ner": ner, "image": image}))
"""


@pytest.fixture(scope="module")
def outside(tiny_run, ner_model, image_run, tmp_path_factory) -> dict:
    """What the fresh interpreter found, and the pixels it gave the image model."""
    pixels = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    pixels_file = tmp_path_factory.mktemp("pixels") / "pixels.npy"
    np.save(pixels_file, pixels)
    found = fresh_python(OUTSIDE, str(tiny_run / "model"), str(ner_model),
                         str(image_run / "model"), str(pixels_file), json.dumps(TEXTS), SENTENCE)
    return {**found, "pixels": pixels}


def test_text_classifier_loads_with_plain_transformers_after_the_documented_line(tiny_run, outside):
    folder, found = tiny_run / "model", outside["text"]
    saved = hk.read_json(folder / "config.json")
    assert found["class"] == saved["architectures"][0] == "HackkitMeanPoolForSequenceClassification"
    predictor = hk.Predictor(folder, device="cpu")
    expected = predictor.predict_proba(TEXTS)
    logits = np.asarray(found["logits"])
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), expected,
                               atol=1e-5)
    piped = np.asarray([[one[label] for label in predictor.labels] for one in found["pipeline"]])
    np.testing.assert_allclose(piped, expected, atol=1e-5)
    assert [p["label"] for p in predictor.predict(TEXTS)] == [
        max(one, key=one.get) for one in found["pipeline"]]


def test_ner_model_loads_with_plain_transformers_after_the_documented_line(ner_model, outside):
    found = outside["ner"]
    predictor = hk.Predictor(ner_model, device="cpu")
    expected = predictor.probabilities(predictor.processor(SENTENCE, return_tensors="pt"))[0]
    logits = np.asarray(found["logits"])
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), expected,
                               atol=1e-5)
    tokens = found["pipeline"]
    assert [t["index"] for t in tokens] == list(range(1, len(expected) - 1))  # all but [CLS], [SEP]
    assert [t["entity"] for t in tokens] == [predictor.labels[i] for i in expected[1:-1].argmax(1)]
    np.testing.assert_allclose([t["score"] for t in tokens], expected[1:-1].max(1), atol=1e-5)


def test_image_classifier_loads_with_plain_transformers_after_the_documented_line(image_run,
                                                                                  outside):
    import torch

    found = outside["image"]
    assert found["class"] == "EfficientNetLiteForImageClassification"
    expected = hk.Predictor(image_run / "model", device="cpu").probabilities(
        {"pixel_values": torch.from_numpy(outside["pixels"])})
    logits = np.asarray(found["logits"])
    np.testing.assert_allclose(np.exp(logits) / np.exp(logits).sum(1, keepdims=True), expected,
                               atol=1e-5)


def test_without_the_line_transformers_names_the_kits_model_type(outside):
    assert "hackkit-meanpool" in outside["refused"]


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
