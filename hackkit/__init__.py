"""hackkit: the helpers behind the numbered notebooks (explore, train, evaluate, demo, compare).

`import hackkit as hk` is light: each name below loads its module (and torch, transformers ...)
on first use. Tasks live in hackkit.tasks, training methods in hackkit.methods.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

__version__ = "0.1.0"

# Public name -> the module that defines it. Everything a notebook or a user's script needs.
_EXPORTS: dict[str, str] = {
    # tasks, methods and parameters
    "get_task": "hackkit.tasks", "task_names": "hackkit.tasks",
    "method_names": "hackkit.methods", "train_model": "hackkit.methods",
    "DataConfig": "hackkit.params", "TrainConfig": "hackkit.params",
    "notebook_parameters": "hackkit.params", "load_params": "hackkit.params",
    # the run folder
    "Run": "hackkit.runfolder", "start_run": "hackkit.runfolder", "find_run": "hackkit.runfolder",
    "latest_run": "hackkit.runfolder", "new_run_dir": "hackkit.runfolder",
    "save_splits": "hackkit.runfolder", "load_splits": "hackkit.runfolder",
    "read_model_info": "hackkit.runfolder", "run_status": "hackkit.runfolder",
    "runs_root": "hackkit.paths", "read_json": "hackkit.paths", "write_json": "hackkit.paths",
    # 01: data
    "read_table": "hackkit.data", "deduplicate": "hackkit.data", "make_splits": "hackkit.data",
    "load_data": "hackkit.doctor", "diagnose": "hackkit.doctor", "data_report": "hackkit.doctor",
    "Diagnosis": "hackkit.doctor",
    "class_balance": "hackkit.explore", "plot_class_balance": "hackkit.explore",
    "plot_lengths": "hackkit.explore", "leakage": "hackkit.explore",
    "near_duplicates": "hackkit.explore", "plot_examples": "hackkit.explore",
    "plot_input_sizes": "hackkit.explore", "plot_worst_errors": "hackkit.evaluate",
    # 02: training
    "finetune": "hackkit.train", "plot_learning_curve": "hackkit.train",
    "train_embeddings": "hackkit.fewlabels", "train_zero_shot": "hackkit.fewlabels",
    "train_auto": "hackkit.fewlabels", "method_choice": "hackkit.fewlabels",
    "choose_method": "hackkit.embeddings", "read_label_descriptions": "hackkit.fewlabels",
    # 00: the labelling loop
    "LabelSession": "hackkit.label", "LabelPanel": "hackkit.label",
    "resolve_model": "hackkit.models", "resolve_for_task": "hackkit.models",
    "environment": "hackkit.device",
    "finetune_lora": "hackkit.lora", "average_weights": "hackkit.averaging",
    "average_best_checkpoints": "hackkit.averaging",
    "distill_run": "hackkit.distill", "DistillConfig": "hackkit.distill",
    "quantize_int8": "hackkit.quantize", "check_int8": "hackkit.compare",
    "compare_models": "hackkit.compare", "read_comparison": "hackkit.compare",
    "resolve_device": "hackkit.device",
    # 03: evaluation
    "predict_split": "hackkit.evaluate", "baseline_scores": "hackkit.evaluate",
    "score_predictions": "hackkit.evaluate", "compare_scores": "hackkit.evaluate",
    "per_class_table": "hackkit.evaluate", "plot_confusion": "hackkit.evaluate",
    "worst_errors": "hackkit.evaluate", "write_metrics": "hackkit.evaluate",
    "headline_scores": "hackkit.evaluate", "explain_run": "hackkit.evaluate",
    "extra_baselines": "hackkit.evaluate",
    # 04: demo, export, serving
    "Predictor": "hackkit.predict", "score_table": "hackkit.predict",
    "score_file": "hackkit.predict", "DemoApp": "hackkit.demo", "demo_examples": "hackkit.demo",
    "append_feedback": "hackkit.feedback", "read_feedback": "hackkit.feedback",
    "model_card": "hackkit.export", "write_model_card": "hackkit.export",
    "export_run": "hackkit.export", "export_onnx": "hackkit.export",
    "check_onnx": "hackkit.export", "create_app": "hackkit.serve",
    "serve_model": "hackkit.serve",
    # headless runs, sweeps, 05: comparison
    "run_pipeline": "hackkit.runs", "resume_run": "hackkit.runs",
    "load_sweep": "hackkit.sweep", "sweep_settings": "hackkit.sweep", "run_sweep": "hackkit.sweep",
    "sweep_dir": "hackkit.sweep",
    "load_search": "hackkit.search", "search_summary": "hackkit.search",
    "plot_search_history": "hackkit.search", "plot_search_importances": "hackkit.search",
    "plot_search_curves": "hackkit.search", "pruned_trials": "hackkit.search",
    "leaderboard": "hackkit.leaderboard", "leaderboard_view": "hackkit.leaderboard",
    "write_leaderboard": "hackkit.leaderboard", "pick_group": "hackkit.leaderboard",
    "chosen_runs": "hackkit.leaderboard", "varied_params": "hackkit.leaderboard",
    "plot_metric_vs_params": "hackkit.leaderboard", "plot_learning_curves": "hackkit.leaderboard",
    "best_run_command": "hackkit.leaderboard",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    """Load a public name's module (or a submodule, e.g. hk.tasks) on first use (PEP 562)."""
    if name not in _EXPORTS:
        if not name.startswith("_") and importlib.util.find_spec(f"hackkit.{name}") is not None:
            return importlib.import_module(f"hackkit.{name}")
        raise AttributeError(f"module 'hackkit' has no attribute {name!r}")
    value = getattr(importlib.import_module(_EXPORTS[name]), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


def _load_env() -> None:
    """Tokens (e.g. HF_TOKEN for gated hub models) live in .env, never in notebooks or git."""
    from hackkit.paths import load_env

    load_env()


_load_env()
