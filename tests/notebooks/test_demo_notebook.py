"""04_demo under papermill on a tiny trained run: it loads, predicts, builds the widget, exports."""

from __future__ import annotations

import nbformat
import papermill
import pytest

import hackkit as hk


def test_demo_notebook_runs_headless_and_exports_onnx(tiny_run, tmp_path):
    example = "my parcel never arrived"
    out = tmp_path / "04_demo.ipynb"
    papermill.execute_notebook(
        str(hk.params.notebooks_dir() / "04_demo.ipynb"), str(out),
        parameters={"RUN_DIR": str(tiny_run), "DEVICE": "cpu", "EXAMPLE": example,
                    "EXPORT_ONNX": True},
        kernel_name="python3", progress_bar=False,
    )
    executed = nbformat.read(out, as_version=4)
    outputs = {c.id: c.outputs for c in executed.cells if c.cell_type == "code"}
    label = hk.Predictor.from_run(tiny_run, device="cpu").predict(example)[0]["label"]
    table = outputs["04-06"][0]["data"]["text/plain"]
    assert example in table and label in table
    widget = outputs["04-08"][0]["data"]
    assert "application/vnd.jupyter.widget-view+json" in widget  # the widget was displayed
    check = hk.read_json(tiny_run / "model" / "onnx_check.json")
    assert check["within_tolerance"] and check["same_predicted_labels"] and check["texts"] == 40
    assert (tiny_run / "model" / "README.md").read_text().startswith("---\nlibrary_name: transformers")
    card = outputs["04-11"][0]["data"]["text/markdown"]
    assert card.startswith(f"# {tiny_run.name}: text-classification")
    usage = "".join(o.get("text", "") for o in outputs["04-13"] if o["output_type"] == "stream")
    assert usage.splitlines() == [f"python -m hackkit serve {tiny_run} --port 8000",
                                  hk.get_task("text-classification").api_example("localhost:8000")]


@pytest.mark.slow  # 14 s on an idle 2-core CPU; the distillation itself is tested in test_small_models
def test_demo_notebook_distills_a_student_and_compares_the_models(tiny_run, copy_run, tmp_path):
    run_dir = copy_run(tiny_run)
    out = tmp_path / "04_demo_distill.ipynb"
    papermill.execute_notebook(
        str(hk.params.notebooks_dir() / "04_demo.ipynb"), str(out),
        parameters={"RUN_DIR": str(run_dir), "DEVICE": "cpu", "DISTILL": True,
                    "COMPARE_MODELS": True},
        kernel_name="python3", progress_bar=False,
    )
    [student] = [p for p in run_dir.parent.iterdir() if p.name.endswith(f"-{run_dir.name}-student")]
    summary = hk.read_json(student / "train_summary.json")
    assert summary["method"] == "distill" and summary["teacher_run"] == run_dir.name
    assert summary["distillation"]["layers_kept"] == [1]  # 2 layers -> the top one
    assert (student / "metrics.json").is_file()
    executed = nbformat.read(out, as_version=4)
    outputs = {c.id: [o for o in c.outputs if o.output_type == "execute_result"]
               for c in executed.cells if c.cell_type == "code"}
    assert f"student {student}" in outputs["04-15"][0]["data"]["text/plain"]
    table = hk.read_comparison(run_dir)
    assert len(table) == 4  # the model, its int8 copy, the student, the student's int8 copy
    assert student.name in outputs["04-16"][0]["data"]["text/plain"]  # the table was shown
