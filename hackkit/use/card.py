"""The model card: model/README.md records the data, the training parameters, the test metrics and
how to call the model, next to the weights."""

from __future__ import annotations

from pathlib import Path

from hackkit.registry import get_task
from hackkit.runfolder import MODEL_INFO, Run, read_model_info



def per_class_lines(per_class: dict) -> list[str]:
    """The per-label (or per-group) table of the card: precision, recall, F1 and support for
    classes, or the task's own columns in its order (a regression's errors per range of the true
    score, text generation's scores by length)."""
    if not per_class:
        return ["(none)"]
    first = next(iter(per_class.values()))
    if {"precision", "recall", "f1-score"} <= set(first):
        keys, names = ["precision", "recall", "f1-score", "support"], ["precision", "recall", "F1",
                                                                       "support"]
    else:
        keys = names = [k for k in first]
    lines = ["| label | " + " | ".join(names) + " |", "|---" * (len(keys) + 1) + "|"]
    return lines + [f"| {k} | " + " | ".join(str(int(v[c])) if c == "support" else f"{v[c]:.3f}"
                                             for c in keys) + " |"
                    for k, v in per_class.items()]


def _table(rows: dict, header: tuple[str, str] = ("setting", "value")) -> str:
    """A two-column Markdown table."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


def _final_model_row(final: dict) -> dict:
    """The card's row for what model/ predicts with, when 02 mixed in the baseline (or chose
    another way to predict, which it describes in `said`)."""
    if final.get("said") and final.get("kind") != "model":
        return {"final model": final["said"]}
    if final.get("kind") not in ("blend", "baseline"):
        return {}
    share = final["model_share"]
    return {"final model": f"{share:.0%} this model + {1 - share:.0%} the TF-IDF baseline's "
                           f"probabilities (validation {final['metric']} {final['validation']:.4f}; model "
                           f"alone {final['model_alone']:.4f}, baseline alone "
                           f"{final['baseline_alone']:.4f}); stored in baseline_blend.*, applied by "
                           "hk.Predictor and serve; plain transformers and ONNX give the network alone"}


def model_card(run_dir: str | Path, front_matter: bool = True) -> str:
    """The model card (Markdown) of a run: data, training parameters, metrics and usage.

    The YAML front matter is the Hugging Face hub's metadata; leave it out to display the card.
    """
    run = Run(run_dir)
    info = read_model_info(run.model_dir)
    task, labels = get_task(info.task), info.labels
    data = run.read(run.data_report, {})
    train = run.summary()
    metrics = run.read(run.metrics, {})
    base = (train.model if train else "") or info.base_model or "unknown"
    lines = ["---", "library_name: transformers", f"pipeline_tag: {task.name}",
             f"base_model: {base}", "tags: [hackkit]", "---", ""] if front_matter else []
    shown = labels if len(labels) <= 30 else labels[:30] + [f"... ({len(labels) - 30} more)"]
    lines += [
        f"# {run.name}: {task.name}",
        "",
        f"`{base}` trained by hackkit ({info.method}, MAX_LENGTH {info.max_length}) on "
        f"`{Path(data.get('data_path', '?')).name}` to predict {len(labels)} labels: "
        f"{', '.join(f'`{x}`' for x in shown)}.",
        "", "## Data", "",
    ]
    if data:
        params = data.get("params", {})
        lines.append(_table({
            "file": data["data_path"],
            "input / label column": task.data_columns(params, data["data_path"]),
            "rows used": f"{data['rows_used']} of {data['rows_loaded']} loaded",
            "dropped": ", ".join(f"{k}: {v}" for k, v in data["dropped"].items()),
            **{f"{k} split": v for k, v in data["split_sizes"].items()},
        }, ("", "")))
        lines += [f"- {w}" for w in data.get("warnings", [])]
    else:
        lines.append(f"No {run.data_report.name} in the run folder.")
    lines += ["", "## Training", ""]
    if train:
        epochs = (f"{train.epochs_completed} epochs" if train.epochs_completed is not None
                  else f"no epochs ({train.method})")
        lines.append(_table({
            # What the method read; MODEL as trained (left at the text default, an image run
            # trains EfficientNet).
            **{k.upper(): (base if k == "model" else v) for k, v in train.config.items()},
            "trained on": f"{train.train_examples} {task.unit}, {epochs}, {train.train_seconds} s "
                          f"on {train.device} ({train.precision})",
            f"best validation {train.main_metric.replace('_', ' ')}": train.best_validation,
            **_final_model_row(train.details.get("final_model") or {})}))
    else:
        lines.append(f"No {run.train_summary.name} in the run folder.")
    lines += ["", "## Test metrics", ""]
    if metrics:
        model, baseline = metrics["model"], metrics["baseline"]
        columns = [(k, name) for k, name in task.metric_names.items() if k in model]
        lines.append("| model | " + " | ".join(c[1] for c in columns) + " |\n|---"
                     + "|---" * len(columns) + "|")
        for name, m in (("this model", model), (task.baseline_name, baseline),
                        *metrics.get("extra_baselines", {}).items()):
            lines.append(f"| {name} | " + " | ".join(f"{m[k]:.4f}" for k, _ in columns) + " |")
        lines += ["", f"On {metrics['test_examples']} held-out test {task.unit}. "
                      f"Per {task.label_unit}:", "",
                  ]
        lines += per_class_lines(model["per_class"])
    else:
        lines.append("Not evaluated yet: run 03_evaluate to add the test metrics.")
    lines += [
        "", "## Use it", "", "```python", "import hackkit as hk", "",
        f'predictor = hk.Predictor.from_run("{run.path}")',
        f"predictor.predict({task.python_example})  # one result per input",
        "```", "",
        f"Or over HTTP: `python -m hackkit serve {run.path}`, then "
        f"`{task.api_example('localhost:8000')}` (the request and answer are described at "
        "`/docs`). The folder is self-contained: `model.safetensors`, `config.json` "
        f"(with the label names), {task.processor_files} and `{MODEL_INFO}` (task, labels, "
        "MAX_LENGTH). Plain transformers loads it after `import hackkit.models.auto` (which "
        "registers the kit's model classes with transformers' Auto classes): "
        f"`AutoModel{task.architecture_suffix}.from_pretrained(folder)`.", "",
    ]
    return "\n".join(lines)


def write_model_card(run_dir: str | Path) -> Path:
    """Write the model card as model/README.md (rewritten as later notebooks add results)."""
    path = Run(run_dir).model_card
    path.write_text(model_card(run_dir), encoding="utf-8")
    return path
