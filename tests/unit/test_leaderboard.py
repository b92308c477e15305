"""The leaderboard over run folders: contents, ranking per task + data, CSV, plots, the best command."""

from __future__ import annotations

import shlex

import pandas as pd
import pytest

import hackkit as hk
from hackkit.cli import main
from hackkit.params import check_params, notebook_parameters

DATA_A, DATA_B = "data/support_intents.csv", "data/other.csv"


@pytest.fixture
def runs_dir(tmp_path, monkeypatch):
    """A runs root with runs on two data sets, a failed run, a JupyterLab run and an NER run."""
    root = tmp_path / "runs"
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(root))

    def run(name, params, scores=None, status="done", seconds=10.0, history=None):
        folder = root / name
        hk.write_json(folder / "run.json", {"status": status, "params": params})
        if scores:
            hk.write_json(folder / "metrics.json", {
                "test_examples": 100, "beats_baseline": True,
                "model": {**scores, "per_class": {"a": {"f1-score": 1.0}}},
                "baseline": {k: 0.5 for k in scores}})
            hk.TrainSummary(task=params["TASK"], main_metric=next(iter(scores)), model=params["MODEL"],
                            train_seconds=seconds).write(folder / "train_summary.json")
        if history:
            hk.write_json(folder / "training_history.json", history)
        return folder

    base = {"TASK": "text-classification", "DATA_PATH": DATA_A, "MODEL": "m", "EPOCHS": 2.0,
            "BATCH_SIZE": 8, "RUN_DIR": ""}
    curve = [{"epoch": 0.5, "loss": 2.0}, {"epoch": 1.0, "eval_loss": 1.0, "eval_macro_f1": 0.5},
             {"epoch": 2.0, "eval_loss": 0.5, "eval_macro_f1": 0.8}]
    run("r1-low", {**base, "LEARNING_RATE": 1e-4}, {"accuracy": 0.90, "macro_f1": 0.80}, history=curve)
    run("r2-high", {**base, "LEARNING_RATE": 3e-4}, {"accuracy": 0.85, "macro_f1": 0.88},
        seconds=20.0, history=curve)
    run("r3-failed", {**base, "LEARNING_RATE": 1e-3}, status="failed")
    run("r4-other-data", {**base, "DATA_PATH": DATA_B, "LEARNING_RATE": 1e-4},
        {"accuracy": 0.99, "macro_f1": 0.99})
    run("r5-ner", {**base, "TASK": "token-classification", "DATA_PATH": "data/ner.conll",
                   "LEARNING_RATE": 1e-4}, {"entity_f1": 0.7, "entity_macro_f1": 0.6, "accuracy": 0.9})
    run("r7-ner-better-macro", {**base, "TASK": "token-classification", "DATA_PATH": "data/ner.conll",
                                "LEARNING_RATE": 3e-4},
        {"entity_f1": 0.65, "entity_macro_f1": 0.8, "accuracy": 0.9})
    lab = root / "r6-lab"  # run from JupyterLab: no run.json
    hk.write_json(lab / "data_report.json", {"params": {"TASK": "text-classification", "DATA_PATH": DATA_A}})
    hk.TrainSummary(task="text-classification", main_metric="macro_f1", model="m", train_seconds=5.0,
                    config={"learning_rate": 2e-4, "batch_size": 8}).write(lab / "train_summary.json")
    hk.write_json(lab / "metrics.json", {"model": {"accuracy": 0.80, "macro_f1": 0.70},
                                         "baseline": {"accuracy": 0.5, "macro_f1": 0.5}})
    hk.write_json(root / "sweeps" / "lr" / "state.json", {"name": "lr", "trials": {
        "k1": {"attempts": [str(root / "r1-low")]}, "k2": {"attempts": [str(root / "r2-high")]}}})
    return root


def test_every_run_is_listed_with_its_settings_status_and_scores(runs_dir):
    board = hk.leaderboard()
    assert len(board) == 7 and "sweeps" not in set(board["run"])
    row = board.set_index("run").loc["r2-high"]
    assert (row["status"], row["sweep"], row["task"], row["data"], row["model"]) == \
        ("done", "lr", "text-classification", DATA_A, "m")
    assert (row["LEARNING_RATE"], row["accuracy"], row["baseline_macro_f1"], row["train_seconds"]) == \
        (3e-4, 0.85, 0.5, 20.0)
    lab = board.set_index("run").loc["r6-lab"]
    assert (lab["status"], lab["LEARNING_RATE"], lab["macro_f1"]) == ("done", 2e-4, 0.70)
    assert board.set_index("run").loc["r5-ner", "entity_f1"] == 0.7  # scores are read generically


def test_runs_are_ranked_best_first_within_each_task_and_data_only(runs_dir):
    board = hk.leaderboard()  # each task by its own main metric
    groups = {g: list(zip(part["run"], part["rank"])) for g, part in board.groupby("group", sort=False)}
    assert groups[f"text-classification on {DATA_A}"] == \
        [("r2-high", 1), ("r1-low", 2), ("r6-lab", 3), ("r3-failed", pd.NA)]
    assert groups[f"text-classification on {DATA_B}"] == [("r4-other-data", 1)]  # 0.99, yet not first
    # NER is ranked by entity micro-F1, the score training selects by, not by entity macro-F1
    assert groups["token-classification on data/ner.conll"] == [("r5-ner", 1), ("r7-ner-better-macro", 2)]
    assert set(board.loc[board["task"] == "token-classification", "ranked_by"]) == {"entity_f1"}
    assert set(board.loc[board["task"] == "text-classification", "ranked_by"]) == {"macro_f1"}
    by_accuracy = hk.pick_group(hk.leaderboard(metric="accuracy"), f"text-classification on {DATA_A}")
    assert list(by_accuracy["run"][:3]) == ["r1-low", "r2-high", "r6-lab"]


def test_an_error_metric_ranks_the_smallest_first(tmp_path, monkeypatch):
    root = tmp_path / "runs"
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(root))
    for name, rmse, r2 in (("small-error", 0.23, 0.54), ("large-error", 0.30, 0.20)):
        params = {"TASK": "text-regression", "DATA_PATH": "data/review_scores.csv", "MODEL": "m"}
        hk.write_json(root / name / "run.json", {"status": "done", "params": params})
        hk.write_json(root / name / "metrics.json", {"model": {"r2": r2, "rmse": rmse},
                                                      "baseline": {"r2": 0.0, "rmse": 0.35}})
        hk.TrainSummary(task="text-regression", main_metric="r2", model="m").write(
            root / name / "train_summary.json")
    for metric in ("", "r2", "rmse"):  # R² (the task's main metric) largest first, RMSE smallest
        board = hk.leaderboard(metric=metric)
        assert list(zip(board["run"], board["rank"])) == [("small-error", 1), ("large-error", 2)]


def test_unknown_metric_sweep_group_or_run_names_the_choices(runs_dir):
    with pytest.raises(ValueError, match=r"metric='f1': no run has it; metrics found: \['accuracy', "
                                         r"'macro_f1', 'entity_f1', 'entity_macro_f1'\]"):
        hk.leaderboard(metric="f1")
    with pytest.raises(ValueError, match=r"sweep='nope': no runs of that sweep; sweeps with runs: \['lr'\]"):
        hk.leaderboard(sweep="nope")
    board = hk.leaderboard()
    with pytest.raises(ValueError, match="GROUP='x' is not in the leaderboard"):
        hk.pick_group(board, "x")
    with pytest.raises(ValueError, match=r"RUNS: \['r9'\] not in the leaderboard"):
        hk.chosen_runs(board, "r1-low, r9")


def test_sweep_filter_group_choice_and_chosen_runs(runs_dir):
    assert list(hk.leaderboard(sweep="lr")["run"]) == ["r2-high", "r1-low"]
    group = hk.pick_group(hk.leaderboard())  # the group with most finished runs
    assert set(group["run"]) == {"r1-low", "r2-high", "r3-failed", "r6-lab"}
    assert [p.name for p in hk.chosen_runs(group, top=2)] == ["r2-high", "r1-low"]
    assert [p.name for p in hk.chosen_runs(group, "r6-lab,r1-low")] == ["r6-lab", "r1-low"]
    assert hk.varied_params(group) == ["LEARNING_RATE"]


def test_best_run_command_is_accepted_by_the_runner(runs_dir):
    declared = notebook_parameters()
    defaults = {k: v["default"] for nb in declared.values() for k, v in nb.items()}
    group = hk.pick_group(hk.leaderboard())
    command = hk.best_run_command(group)
    assert command.startswith("python -m hackkit run ") and command.endswith("--name best-of-r2-high")
    words = shlex.split(command)
    pairs = [(words[i + 1], words[i + 2]) for i, w in enumerate(words) if w == "-p"]
    params = hk.load_params(None, pairs)
    assert params == {k: v for k, v in {"LEARNING_RATE": 3e-4, "MODEL": "m", "EPOCHS": 2.0}.items()
                      if v != defaults[k]}
    check_params(params, declared)  # names and types are valid run parameters
    assert "No finished run" in hk.best_run_command(group[group["status"] == "failed"])


def test_csv_holds_every_parameter_and_cli_prints_each_group(runs_dir, capsys, tmp_path):
    assert main(["leaderboard", "--csv", str(tmp_path / "board.csv")]) == 0
    out = capsys.readouterr().out
    assert f"== text-classification on {DATA_A} (ranked by test macro_f1) ==" in out
    assert "token-classification on data/ner.conll (ranked by test entity_f1)" in out and "r3-failed" in out
    table = pd.read_csv(tmp_path / "board.csv")
    assert len(table) == 7 and {"EPOCHS", "BATCH_SIZE", "LEARNING_RATE", "run_dir"} <= set(table.columns)
    assert main(["leaderboard"]) == 0 and (runs_dir / "leaderboard.csv").is_file()
    assert main(["leaderboard", "--metric", "f1"]) == 2
    assert "metric='f1'" in capsys.readouterr().err


def test_no_runs_gives_a_message_not_an_error(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(tmp_path / "empty"))
    board = hk.leaderboard()
    assert board.empty and "No runs yet" in hk.leaderboard_view(board)
    assert hk.pick_group(board).empty and hk.chosen_runs(board) == []
    assert "No finished run yet" in hk.best_run_command(board)
    assert main(["leaderboard"]) == 0 and "No runs yet" in capsys.readouterr().out


def test_plots_show_each_swept_parameter_and_each_runs_curve(runs_dir):
    group = hk.pick_group(hk.leaderboard())
    fig = hk.plot_metric_vs_params(group)
    (ax,) = fig.axes
    assert ax.get_xlabel() == "LEARNING_RATE" and len(ax.collections[0].get_offsets()) == 3
    curves = hk.plot_learning_curves(hk.chosen_runs(group, top=2))
    assert [len(a.lines) for a in curves.axes] == [4, 2]  # validation and training loss; score
    one = hk.plot_metric_vs_params(group[group["run"] == "r1-low"])
    assert "nothing to compare yet" in one.axes[0].texts[0].get_text()
