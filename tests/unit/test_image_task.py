"""The image-classification task through the generic modules: doctor, training, Predictor, 03's views,
the demo widget, the HTTP API and ONNX export, on small generated images."""

from __future__ import annotations

import io
import shutil
from datetime import datetime, timezone
from pathlib import Path

import httpx
import pandas as pd
import pytest
from PIL import Image

import hackkit as hk
from hackkit.runfolder import read_model_info
from helpers import IMAGE_LABELS, make_image_folder, served

IMAGES = hk.get_task("image-classification")
LABELS = IMAGE_LABELS


def doctor(folder: Path, **fields) -> hk.Diagnosis:
    return hk.diagnose(hk.DataConfig(task="image-classification", data_path=str(folder), **fields))


@pytest.fixture(scope="module")
def predictor(image_run):
    return hk.Predictor.from_run(image_run, device="cpu")


# --------------------------------------------------------------------------- data doctor


@pytest.mark.parametrize("bad, check", [("empty", "empty"), ("corrupt", "corrupt"),
                                        ("text", "not-an-image")])
def test_doctor_reports_each_bad_file_with_its_path(tmp_path, bad, check):
    folder = make_image_folder(tmp_path / "data", per_class=6, labels=("circle", "star"))
    good = folder / "star" / "star_0.jpg"
    path = folder / "star" / "bad.jpg"
    content = {"empty": b"", "corrupt": good.read_bytes()[: good.stat().st_size // 2],
               "text": b"these are my notes, not a photo\n"}[bad]
    path.write_bytes(content)

    diagnosis = doctor(folder)

    errors = [p for p in diagnosis.problems if p.level == "error"]
    assert [p.check for p in errors] == [check]
    assert str(path) in errors[0].message
    with pytest.raises(ValueError, match="bad.jpg"):
        diagnosis.raise_for_errors()


def test_doctor_finds_identical_and_near_identical_pictures(tmp_path):
    folder = tmp_path / "data"
    make_image_folder(folder / "train", per_class=6, labels=("circle", "star"))
    make_image_folder(folder / "test", per_class=3, labels=("circle", "star"), seed=1)
    make_image_folder(folder / "validation", per_class=3, labels=("circle", "star"), seed=2)
    # the same file in train and test (leakage), and a half-size JPEG copy within train (a near duplicate)
    shutil.copy(folder / "train" / "star" / "star_0.jpg", folder / "test" / "star" / "copy.jpg")
    original = Image.open(folder / "train" / "circle" / "circle_1.jpg")
    original.resize((original.width // 2, original.height // 2)).save(
        folder / "train" / "circle" / "smaller.jpg", quality=60)

    diagnosis = doctor(folder, split_column="")

    found = {p.check: p.message for p in diagnosis.problems}
    assert not diagnosis.errors
    assert "leakage" in found and "copy.jpg" in found["leakage"] and "1 pairs of identical files" in found["leakage"]
    assert "duplicates" in found and "smaller.jpg" in found["duplicates"]
    pairs = hk.near_duplicates(diagnosis.splits, IMAGES)
    assert set(pairs["kind"]) == {"exact", "near"} and pairs["cross_split"].sum() == 1


def test_clean_images_get_no_problems_and_a_size_report(tmp_path):
    folder = make_image_folder(tmp_path / "data", per_class=6, labels=("circle", "star"))
    data = hk.DataConfig(task="image-classification", data_path=str(folder))
    diagnosis = hk.diagnose(data)
    assert diagnosis.summary().startswith("data doctor: no problems found")
    assert diagnosis.lengths is None  # no tokenizer is loaded for images
    report = hk.data_report(diagnosis, data)
    assert report["images"]["checked"] == 12 and report["images"]["problems"] == []
    assert report["images"]["modes"] == {"RGB": 12} and 168 <= report["images"]["sizes"]["width"]["min"]
    assert hk.plot_examples(diagnosis.splits, IMAGES).axes
    assert hk.plot_input_sizes(diagnosis.splits, IMAGES, None, 128).axes
    assert hk.plot_examples(diagnosis.splits, hk.get_task("text-classification")).startswith("no examples view")


def test_a_table_of_paths_reads_text_column_as_the_image_column(tmp_path):
    folder = make_image_folder(tmp_path / "imgs", per_class=5, labels=("circle", "star"))
    rows = [{"file": str(p.relative_to(tmp_path)), "kind": p.parent.name} for p in sorted(folder.rglob("*.jpg"))]
    pd.DataFrame(rows).to_csv(tmp_path / "table.csv", index=False)
    dataset = hk.load_data(tmp_path / "table.csv", task="image-classification", text_column="file",
                           label_column="kind")
    assert len(dataset.frame) == 10 and Path(dataset.frame["path"][0]).is_file()
    with pytest.raises(ValueError, match="TEXT_COLUMN='path': no such column"):
        hk.load_data(tmp_path / "table.csv", task="image-classification", text_column="path",
                     label_column="kind")


def test_a_text_table_under_the_image_task_is_pointed_at_the_text_task(tmp_path, monkeypatch, capsys):
    from hackkit.cli import main

    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(tmp_path / "runs"))
    assert main(["run", "-p", "TASK", "image-classification", "-p", "DATA_PATH", "data/support_intents.csv"]) == 2
    err = capsys.readouterr().err
    assert "TEXT_COLUMN='text': none of the 1860 values in support_intents.csv is the path of an image file" in err
    assert "It looks like data for TASK='text-classification'" in err and "-p TASK text-classification" in err
    assert "do not exist" not in err and not (tmp_path / "runs").exists()


# --------------------------------------------------------------------------- training and prediction


def test_finetune_writes_a_self_describing_image_model(image_run):
    run = hk.Run(image_run)
    summary = hk.read_json(run.train_summary)
    assert summary["model"] == "efficientnet-lite0" and summary["head_init"] == "linear probe"
    assert summary["image_size"] == 64 and summary["batchnorm_layers_frozen"] > 40
    info = read_model_info(run.model_dir)
    assert info.task == "image-classification" and info.labels == list(LABELS)
    assert info.base_model == "efficientnet-lite0"
    assert not list(run.model_dir.glob("*.bin")) and list(run.model_dir.glob("*.safetensors"))
    config = hk.read_json(run.model_dir / "config.json")
    assert config["image_size"] == 64 and config["image_mean"] == pytest.approx([127 / 255] * 3)


def test_predictor_takes_paths_pil_images_and_bytes(predictor, image_run):
    path = hk.load_splits(image_run)[0]["test"]["path"][0]
    by_path, by_image, by_bytes = predictor.predict([path, Image.open(path), Path(path).read_bytes()])
    assert by_path["label"] in LABELS
    assert sum(by_path["probabilities"].values()) == pytest.approx(1.0, abs=1e-5)
    for other in (by_image, by_bytes):
        assert other["label"] == by_path["label"]
        assert other["score"] == pytest.approx(by_path["score"], abs=1e-5)
    table = predictor.table([path, Path(path).read_bytes()])
    assert table["image"].tolist() == [path, f"<image file, {Path(path).stat().st_size} bytes>"]
    assert predictor.predict_proba(path).shape == (1, 3)


@pytest.mark.parametrize("bad, message", [
    ("/nowhere/x.jpg", "item 0 ('/nowhere/x.jpg') is not a file"),
    ([b""], "item 0 is empty"),
    ([3], "item 0 is int"),
    ([b"not an image at all"], "not an image Pillow can read"),
])
def test_bad_image_inputs_are_named(predictor, bad, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        predictor.predict(bad)


def test_evaluation_views_for_images(image_run):
    predictions = hk.predict_split(image_run, "test", device="cpu")
    assert list(predictions.columns[:3]) == ["path", "label", "predicted"] and len(predictions) == 6
    scores = hk.score_predictions(image_run, predictions)
    assert set(scores["per_class"]) == set(LABELS) and 0 <= scores["macro_f1"] <= 1
    # a table with one sure mistake, so the thumbnail grid has something to show
    forced = predictions.assign(predicted=predictions["label"].map({"circle": "star", "star": "triangle",
                                                                    "triangle": "circle"}), correct=False)
    fig = hk.plot_worst_errors(image_run, forced, 4)
    assert len([ax for ax in fig.axes if ax.images]) == 4
    assert "->" in fig.axes[0].get_title()


# --------------------------------------------------------------------------- demo, API, ONNX


def test_demo_predicts_an_uploaded_image_and_a_path(predictor, image_run, tmp_path):
    path = hk.load_splits(image_run)[0]["test"]["path"][0]
    app = hk.DemoApp(predictor, out_dir=tmp_path, example=path)
    expected = predictor.predict([path])[0]["label"]
    assert "hackkit-demo-label" in app.result.value and f">{expected}</b>" in app.result.value
    assert app.input.preview.value == Path(path).read_bytes() and app.ui.titles[0] == "One image"
    data = Path(path).read_bytes()
    app.input.upload.value = ({"name": "up.jpg", "type": "image/jpeg", "size": len(data),
                               "last_modified": datetime.now(timezone.utc), "content": memoryview(data)},)
    assert f">{expected}</b>" in app.result.value and app.last[0] == data
    assert app.show(b"plain text, no picture") is None
    assert "not an image" in app.result.value
    assert hk.demo_examples(image_run, "ignored text") == hk.load_splits(image_run)[0]["test"]["path"][:3].tolist()


@pytest.fixture(scope="module")
def image_api(image_run):
    """`python -m hackkit serve` on the image run, on a free port; stopped by its PID."""
    with served(image_run) as url:
        yield url


def test_api_classifies_uploaded_images(image_api, image_run, predictor):
    paths = hk.load_splits(image_run)[0]["test"]["path"][:2].tolist()
    files = [("images", (Path(p).name, Path(p).read_bytes(), "image/jpeg")) for p in paths]
    r = httpx.post(f"{image_api}/predict", files=files, timeout=60)
    assert r.status_code == 200, r.text
    got = r.json()["predictions"]
    expected = predictor.predict(paths)
    assert [g["file"] for g in got] == [Path(p).name for p in paths]
    assert [g["label"] for g in got] == [e["label"] for e in expected]
    assert got[0]["score"] == pytest.approx(expected[0]["score"], abs=1e-4)
    health = httpx.get(f"{image_api}/health").json()
    assert health["input"] == "image" and health["max_images"] == 16
    assert 'type="file"' in httpx.get(image_api).text
    schema = httpx.get(f"{image_api}/openapi.json").json()
    form = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["multipart/form-data"]["schema"]
    assert form["required"] == ["images"] and form["properties"]["images"]["maxItems"] == 16
    assert form["properties"]["images"]["items"] == {"type": "string", "format": "binary"}
    assert "file" in schema["components"]["schemas"]["ImagePrediction"]["required"]


def test_api_refuses_what_is_not_an_image(image_api):
    r = httpx.post(f"{image_api}/predict", files=[("images", ("notes.jpg", b"my notes", "image/jpeg"))])
    assert r.status_code == 415 and "notes.jpg: not an image" in r.json()["error"]
    r = httpx.post(f"{image_api}/predict", json={"texts": ["hello"]})
    assert r.status_code == 415 and "multipart/form-data" in r.json()["error"]
    r = httpx.post(f"{image_api}/predict", files=[("other", ("a.jpg", b"x", "image/jpeg"))])
    assert r.status_code == 422 and "no 'images' file" in r.json()["error"]
    big = io.BytesIO()
    Image.effect_noise((1900, 1900), 60).convert("RGB").save(big, format="PNG")  # ~10.8 MB of noise
    big = big.getvalue() + b"\0" * max(0, 10_000_001 - len(big.getvalue()))
    r = httpx.post(f"{image_api}/predict", files=[("images", ("big.png", big, "image/png"))], timeout=60)
    assert r.status_code == 413 and "big.png: larger than 10000000 bytes" in r.json()["error"]


def test_onnx_export_matches_pytorch_on_test_images(image_run, copy_run):
    run_dir = copy_run(image_run)
    result = hk.export_run(run_dir, onnx=True)
    check = result["check"]
    assert check["texts"] == 6 and check["same_predicted_labels"] and check["within_tolerance"]
    import onnx

    graph = onnx.load(str(hk.Run(run_dir).onnx_file), load_external_data=False).graph
    assert [i.name for i in graph.input] == ["pixel_values"] and [o.name for o in graph.output] == ["logits"]
    assert hk.read_json(hk.Run(run_dir).onnx_file.with_name("onnx_check.json")) == check
