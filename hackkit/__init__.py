"""hackkit: the helpers behind the numbered notebooks (explore, fine-tune, evaluate, demo)."""

from types import ModuleType as _ModuleType

from hackkit.baseline import fit_baseline
from hackkit.conll import (detect_scheme, load_tagged, read_conll, read_token_jsonl, scheme_problems,
                           tag_labels, to_iob2)
from hackkit.data import (check_classes, deduplicate, load_dataset, load_splits, make_splits,
                          read_table, save_splits, subsample)
from hackkit.demo import (DemoApp, Debouncer, highlight_spans_html, probability_bars_html,
                          result_html)
from hackkit.doctor import Diagnosis, Problem, data_report, diagnose
from hackkit.device import environment, resolve_device, resolve_precision
from hackkit.evaluate import (classification_metrics, compare, confident_mistakes, headline,
                              per_class_table, plot_confusion_matrix, predict_proba,
                              predictions_table, write_metrics)
from hackkit.export import check_onnx, export_onnx, export_run, model_card, write_model_card
from hackkit.explore import (class_balance, leakage, near_duplicates, plot_class_balance,
                             plot_lengths, token_lengths)
from hackkit.leaderboard import (best_run_command, chosen_runs, collect_runs, leaderboard,
                                 pick_group, plot_learning_curves, plot_metric_vs_params,
                                 varied_params, view, write_leaderboard)
from hackkit.models import check_task, load_for_classification, load_tokenizer, resolve_model
from hackkit.ner import (TagBaseline, align_labels, encode_sentences, entity_confusion,
                         entity_metrics, predict_entities, predict_tags, worst_sentences)
from hackkit.paths import (find_input, latest_run_dir, load_env, new_run_dir, read_json,
                           run_dir_for, runs_root, start_run, write_json)
from hackkit.predict import Predictor, model_task, score_file, score_table
from hackkit.runs import load_params, notebook_parameters, resume_run, run_pipeline, run_status
from hackkit.serve import create_app, serve_model
from hackkit.sweep import Trial, checked_plan, load_sweep, plan, run_sweep, sweep_dir
from hackkit.tasks import (baseline_scores, plot_confusion, predict_split, run_task, score_predictions,
                           worst_errors)
from hackkit.train import TrainConfig, finetune, plot_learning_curve

__version__ = "0.1.0"
# Tokens (e.g. HF_TOKEN for gated or private hub models) live in .env, never in notebooks or git.
load_env()
__all__ = [n for n, v in globals().items() if not n.startswith("_") and not isinstance(v, _ModuleType)]
