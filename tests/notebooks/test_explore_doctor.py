"""01_explore runs the data doctor first: warnings land in the data report, errors stop it early."""

from __future__ import annotations

import pandas as pd
import papermill
import pytest

import hackkit as hk

NOTEBOOK = str(hk.params.notebooks_dir() / "01_explore.ipynb")


def _messy(tmp_path) -> str:
    """The sample data as a semicolon-separated export with a few numeric labels."""
    frame = pd.read_csv(hk.paths.repo_root() / "data" / "support_intents.csv")
    frame.loc[:3, "label"] = "3"
    path = tmp_path / "export.csv"
    frame.to_csv(path, sep=";", index=False)
    return str(path)


def test_warnings_are_shown_and_recorded_in_the_data_report(tmp_path):
    run_dir = tmp_path / "run"
    papermill.execute_notebook(NOTEBOOK, str(tmp_path / "out.ipynb"), kernel_name="python3",
                               parameters={"DATA_PATH": _messy(tmp_path), "RUN_DIR": str(run_dir)},
                               progress_bar=False)
    warnings = " | ".join(hk.read_json(run_dir / "data_report.json")["warnings"])
    assert "export.csv is semicolon-separated" in warnings
    assert "4 labels are numbers (['3'])" in warnings


def test_a_blocking_problem_stops_before_anything_is_written(tmp_path):
    run_dir = tmp_path / "run"
    with pytest.raises(papermill.PapermillExecutionError, match="LABEL_COLUMN='intent': no such column"):
        papermill.execute_notebook(
            NOTEBOOK, str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False,
            parameters={"DATA_PATH": _messy(tmp_path), "LABEL_COLUMN": "intent", "RUN_DIR": str(run_dir)},
        )
    assert not run_dir.exists()
