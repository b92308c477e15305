"""The papermill runner: parameters, pre-flight checks, run folders and failures."""

from __future__ import annotations

import os

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook
from papermill.exceptions import PapermillExecutionError

import hackkit as hk
from hackkit.cli import main
from hackkit.params import check_params, parse_value


def test_parse_value_reads_literals_like_papermill():
    assert [parse_value(v) for v in ["3", "2.5", "1e-4", "true", "None", "text"]] == \
        [3, 2.5, 1e-4, True, None, "text"]


def test_yaml_numbers_written_without_a_dot_are_numbers(tmp_path):
    path = tmp_path / "p.yaml"
    path.write_text("LEARNING_RATE: 1e-4\nEPOCHS: 3\n")
    merged = check_params(hk.load_params(path), hk.notebook_parameters())
    assert merged["LEARNING_RATE"] == 1e-4 and merged["EPOCHS"] == 3


def test_yaml_file_and_pairs_merge_with_pairs_winning(tmp_path):
    file = tmp_path / "p.yaml"
    file.write_text("EPOCHS: 4\nMODEL: my/model\n")
    assert hk.load_params(file, [("EPOCHS", "1")]) == {"EPOCHS": 1, "MODEL": "my/model"}
    file.write_text("- not a mapping\n")
    with pytest.raises(ValueError, match="expected a mapping"):
        hk.load_params(file)


def test_notebook_parameters_are_read_from_the_notebooks():
    declared = hk.notebook_parameters()
    assert declared["01_explore.ipynb"]["DATA_PATH"]["default"] == "data/support_intents.csv"
    assert declared["02_finetune.ipynb"]["EPOCHS"]["help"]
    assert "TOP_MISTAKES" in declared["03_evaluate.ipynb"]


def test_unknown_names_wrong_types_and_run_dir_are_rejected():
    declared = hk.notebook_parameters()
    with pytest.raises(ValueError, match=r"unknown parameter\(s\) \['EPOCS'\].*EPOCHS"):
        check_params({"EPOCS": 3}, declared)
    with pytest.raises(ValueError, match=r"EPOCHS='three' has type str; expected float"):
        check_params({"EPOCHS": "three"}, declared)
    with pytest.raises(ValueError, match="use --name"):
        check_params({"RUN_DIR": "runs/x"}, declared)
    merged = check_params({"EPOCHS": 1}, declared)
    assert merged["EPOCHS"] == 1 and merged["TEST_SIZE"] == 0.2


@pytest.mark.parametrize("args, message", [
    (["-p", "TEXT_COLUMN", "txt"], "TEXT_COLUMN='txt': no such column in support_intents.csv"),
    (["-p", "DATA_PATH", "data/missing.csv"], "DATA_PATH: data file 'data/missing.csv' not found"),
    (["-p", "EPOCHS", "-1"], "EPOCHS=-1.0 is out of range"),
    (["-p", "LEARNING_RATE", "0"], "LEARNING_RATE=0.0 is out of range: use e.g. 5e-5 to 2e-4"),
    (["-p", "BATCH_SIZE", "8.5"], "BATCH_SIZE=8.5 has type float; expected int like the default 8"),
    (["-p", "EPOCH", "3"], "unknown parameter(s) ['EPOCH']. Valid names:"),
    (["-p", "MODEL", "nobody/nothing"], "MODEL='nobody/nothing' is not a local folder"),
    (["-p", "TASK", "translation"], "TASK='translation': unknown task"),
])
def test_bad_input_stops_before_any_run_folder_exists(runs_dir, capsys, args, message):
    assert main(["run", *args]) == 2
    assert message in capsys.readouterr().err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_params_command_lists_every_parameter(capsys):
    assert main(["params"]) == 0
    out = capsys.readouterr().out
    assert "DATA_PATH" in out and "TIME_BUDGET_MINUTES" in out and "03_evaluate.ipynb" in out


def test_new_run_folders_never_collide(runs_dir):
    first, second = hk.new_run_dir("same"), hk.new_run_dir("same")
    assert first != second and first.is_dir() and second.is_dir()


def test_failed_notebook_is_kept_with_its_traceback_and_the_run_marked_failed(tmp_path, runs_dir):
    params = new_code_cell('RUN_DIR = ""  # run folder', metadata={"tags": ["parameters"]})
    nb = new_notebook(cells=[params, new_code_cell('raise RuntimeError("boom in the notebook")')])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, tmp_path / "99_fails.ipynb")
    with pytest.raises(PapermillExecutionError, match="boom in the notebook"):
        hk.run_pipeline({}, name="broken", notebooks=("99_fails.ipynb",), source=tmp_path,
                        log=lambda _: None)
    (run_dir,) = runs_dir.iterdir()
    status = hk.run_status(run_dir)
    assert status["status"] == "failed" and status["failed_notebook"] == "99_fails.ipynb"
    assert "boom in the notebook" in status["error"]
    executed = nbformat.read(run_dir / "99_fails.ipynb", as_version=4)
    assert any(o.get("ename") == "RuntimeError" for c in executed.cells for o in c.get("outputs", []))


def test_a_running_run_whose_process_is_gone_reads_as_interrupted(tmp_path):
    import socket
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True)
    for pid, expected in ((int(gone.stdout), "interrupted"), (os.getpid(), "running")):
        hk.write_json(tmp_path / "run.json", {"status": "running", "pid": pid,
                                              "host": socket.gethostname()})
        assert hk.run_status(tmp_path)["status"] == expected
    with pytest.raises(ValueError, match="is still running"):
        hk.resume_run(tmp_path)


def test_device_cuda_without_a_gpu_stops_before_any_run_folder(runs_dir, capsys):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has a GPU: DEVICE='cuda' is valid here")
    assert main(["run", "-p", "DEVICE", "cuda"]) == 2
    assert "DEVICE='cuda' but no usable CUDA GPU was found" in capsys.readouterr().err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_a_params_file_with_a_yaml_error_names_the_file_and_the_line(runs_dir, tmp_path, capsys):
    bad = tmp_path / "params.yaml"
    bad.write_text("EPOCHS: 3\nLEARNING_RATE: [1e-4\nBATCH_SIZE: 16\n")
    assert main(["run", "-f", str(bad)]) == 2
    err = capsys.readouterr().err
    assert f"parameters file {bad}: not valid YAML at line 3" in err and "Fix the line" in err
    assert not runs_dir.exists() or not any(runs_dir.iterdir())


def test_a_conll_file_with_the_text_task_says_which_task_to_set(runs_dir, tmp_path, capsys):
    conll = tmp_path / "entities.conll"
    conll.write_text("Anna B-PER\nflies O\nto O\nParis B-LOC\n\n")
    assert main(["run", "-p", "DATA_PATH", str(conll)]) == 2
    err = capsys.readouterr().err
    assert ("entities.conll is a .conll file, which TASK='text-classification' does not read" in err
            and "Set TASK = 'token-classification'" in err)


def test_dry_run_prints_each_notebooks_plan_and_writes_no_run(runs_dir, tiny_model, capsys):
    args = ["-p", "MODEL", str(tiny_model), "-p", "DEVICE", "cpu", "-p", "TIME_BUDGET_MINUTES", "2"]
    assert main(["run", "--dry-run", *args]) == 0
    out = capsys.readouterr().out
    assert "nothing trained, no run folder written" in out
    assert "01_explore.ipynb: reads " in out and "splits train 1,302 / validation 186 / test 372" in out
    assert "02_finetune.ipynb: METHOD=finetune on 1,302 training texts: about " in out
    assert "examples/s here; one epoch ≈ " in out and " in 2 min (" in out
    assert "03_evaluate.ipynb: scores the model on the 372 test texts by macro_f1" in out
    assert not runs_dir.exists() or not any(runs_dir.iterdir())
