"""hackkit: the helpers behind the numbered notebooks (explore, train, evaluate, demo, compare).

`import hackkit as hk` is light: each name below loads its module (and torch, transformers ...)
on first use. The package is grouped by stage: the shared vocabulary at the root (registry,
params, runfolder, summary, paths, device, tables), then models/, tasks/, data/ (01), train/ (02),
use/ (03, 04) and runs/ (headless runs, 05); imports point one way, from runs/ down to the root.
"""

from __future__ import annotations

import importlib
import importlib.util
from typing import Any

from hackkit.paths import load_env

__version__ = "0.1.0"

# Public name -> the module that defines it: everything a notebook or a user's script needs,
# grouped by the folder that holds it (hackkit/<folder>/ for each stage, the vocabulary at the root).
_EXPORTS: dict[str, str] = {
    # the shared vocabulary: tasks, methods, parameters, the run folder, paths, device
    "get_task": "hackkit.registry", "task_names": "hackkit.registry",
    "method_names": "hackkit.registry",
    "DataConfig": "hackkit.params", "TrainConfig": "hackkit.params",
    "notebook_parameters": "hackkit.params", "load_params": "hackkit.params",
    "Run": "hackkit.runfolder", "start_run": "hackkit.runfolder", "find_run": "hackkit.runfolder",
    "latest_run": "hackkit.runfolder", "new_run_dir": "hackkit.runfolder",
    "save_splits": "hackkit.runfolder", "load_splits": "hackkit.runfolder",
    "read_model_info": "hackkit.runfolder", "run_status": "hackkit.runfolder",
    "TrainSummary": "hackkit.summary",
    "runs_root": "hackkit.paths", "read_json": "hackkit.paths", "write_json": "hackkit.paths",
    "environment": "hackkit.device", "resolve_device": "hackkit.device",
    "read_table": "hackkit.tables", "deduplicate": "hackkit.tables", "make_splits": "hackkit.tables",
    # models/: finding and loading networks
    "resolve_model": "hackkit.models.resolve", "resolve_for_task": "hackkit.models.resolve",
    # data/ (01, 00): the doctor, exploration, feedback, labelling
    "load_data": "hackkit.data.doctor", "diagnose": "hackkit.data.doctor",
    "data_report": "hackkit.data.doctor", "Diagnosis": "hackkit.data.doctor",
    "class_balance": "hackkit.data.explore", "plot_class_balance": "hackkit.data.explore",
    "plot_lengths": "hackkit.data.explore", "leakage": "hackkit.data.explore",
    "near_duplicates": "hackkit.data.explore", "plot_examples": "hackkit.data.explore",
    "prepare_features": "hackkit.data.explore",
    "plot_input_sizes": "hackkit.data.explore",
    "append_feedback": "hackkit.data.feedback", "read_feedback": "hackkit.data.feedback",
    "LabelSession": "hackkit.data.label", "LabelPanel": "hackkit.data.label",
    # train/ (02): methods, the training session, plan, averaging
    "train_model": "hackkit.train.methods", "method_choice": "hackkit.train.methods",
    "choose_method": "hackkit.train.methods", "train_auto": "hackkit.train.methods",
    "finetune": "hackkit.train.finetune", "finetune_lora": "hackkit.train.lora",
    "train_embeddings": "hackkit.train.fewlabels", "train_zero_shot": "hackkit.train.fewlabels",
    "read_label_descriptions": "hackkit.train.fewlabels",
    "plot_learning_curve": "hackkit.train.curves",
    "average_weights": "hackkit.train.averaging",
    "average_best_checkpoints": "hackkit.train.averaging",
    "DistillConfig": "hackkit.train.distillation",
    # use/ (03, 04): prediction, evaluation, demo, serving, export
    "predict_split": "hackkit.use.evaluate", "baseline_scores": "hackkit.use.evaluate",
    "score_predictions": "hackkit.use.evaluate", "compare_scores": "hackkit.use.evaluate",
    "per_class_table": "hackkit.use.evaluate", "plot_confusion": "hackkit.use.evaluate",
    "worst_errors": "hackkit.use.evaluate", "plot_worst_errors": "hackkit.use.evaluate",
    "write_metrics": "hackkit.use.evaluate", "headline_scores": "hackkit.use.evaluate",
    "explain_run": "hackkit.use.evaluate", "extra_baselines": "hackkit.use.evaluate",
    "Predictor": "hackkit.use.predict", "score_table": "hackkit.use.predict",
    "score_file": "hackkit.use.predict",
    "DemoApp": "hackkit.use.demo", "demo_examples": "hackkit.use.demo",
    "model_card": "hackkit.use.card", "write_model_card": "hackkit.use.card",
    "export_run": "hackkit.use.export", "export_onnx": "hackkit.use.export",
    "check_onnx": "hackkit.use.export",
    "create_app": "hackkit.use.serve", "serve_model": "hackkit.use.serve",
    "serve_usage": "hackkit.use.serve",
    "quantize_int8": "hackkit.use.quantize", "check_int8": "hackkit.use.compare",
    "compare_models": "hackkit.use.compare", "read_comparison": "hackkit.use.compare",
    # runs/ (headless, 05): the pipeline, sweeps, search, leaderboard, the distill command
    "run_pipeline": "hackkit.runs.pipeline", "resume_run": "hackkit.runs.pipeline",
    "load_sweep": "hackkit.runs.sweep", "sweep_settings": "hackkit.runs.sweep",
    "run_sweep": "hackkit.runs.sweep", "sweep_dir": "hackkit.runs.sweep",
    "load_search": "hackkit.runs.search",
    "search_summary": "hackkit.runs.search_views",
    "plot_search_history": "hackkit.runs.search_views",
    "plot_search_importances": "hackkit.runs.search_views",
    "plot_search_curves": "hackkit.runs.search_views",
    "pruned_trials": "hackkit.runs.search_views",
    "leaderboard": "hackkit.runs.leaderboard", "leaderboard_view": "hackkit.runs.leaderboard",
    "write_leaderboard": "hackkit.runs.leaderboard", "pick_group": "hackkit.runs.leaderboard",
    "chosen_runs": "hackkit.runs.leaderboard", "varied_params": "hackkit.runs.leaderboard",
    "plot_metric_vs_params": "hackkit.runs.leaderboard",
    "plot_learning_curves": "hackkit.runs.leaderboard",
    "best_run_command": "hackkit.runs.leaderboard",
    "distill_run": "hackkit.runs.distill",
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


load_env()  # tokens (e.g. HF_TOKEN for gated hub models) live in .env, never in notebooks or git
