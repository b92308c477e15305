"""Make a run's model folder self-contained: a model card, and an ONNX copy checked against PyTorch."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from hackkit.models import load_saved
from hackkit.paths import read_json, write_json
from hackkit.predict import model_task

ONNX_TOLERANCE = 1e-4  # max |logit difference| accepted between ONNX Runtime and PyTorch (fp32)


def _optional_json(path: Path) -> dict:
    """The JSON file's contents, or {} when it does not exist (yet)."""
    return read_json(path) if path.is_file() else {}


def _table(rows: dict, header: tuple[str, str] = ("setting", "value")) -> str:
    """A two-column Markdown table."""
    lines = [f"| {header[0]} | {header[1]} |", "|---|---|"]
    lines += [f"| {k} | {v} |" for k, v in rows.items()]
    return "\n".join(lines)


def model_card(run_dir: str | Path, front_matter: bool = True) -> str:
    """The model card (Markdown) of a run: data, training parameters, metrics and usage.

    The YAML front matter is the Hugging Face hub's metadata; leave it out to display the card.
    """
    run_dir = Path(run_dir)
    model_dir = run_dir / "model"
    task = model_task(model_dir)
    config = read_json(model_dir / "config.json")
    labels = [config["id2label"][str(i)] for i in range(len(config["id2label"]))]
    data = _optional_json(run_dir / "data_report.json")
    train = _optional_json(run_dir / "train_summary.json")
    metrics = _optional_json(run_dir / "metrics.json")
    base = train.get("model", "unknown")
    lines = ["---", "library_name: transformers", f"pipeline_tag: {task}", f"base_model: {base}",
             "tags: [hackkit]", "---", ""] if front_matter else []
    lines += [
        f"# {run_dir.name}: {task}",
        "",
        f"`{base}` fine-tuned by hackkit on `{Path(data.get('data_path', '?')).name}` to predict "
        f"{len(labels)} labels: {', '.join(f'`{x}`' for x in labels)}.",
        "", "## Data", "",
    ]
    if data:
        params = data.get("params", {})
        lines.append(_table({
            "file": data["data_path"],
            "text / label column": f"{params.get('TEXT_COLUMN')} / {params.get('LABEL_COLUMN')}",
            "rows used": f"{data['rows_used']} of {data['rows_loaded']} loaded",
            "dropped": ", ".join(f"{k}: {v}" for k, v in data["dropped"].items()),
            **{f"{k} split": v for k, v in data["split_sizes"].items()},
        }, ("", "")))
        lines += [f"- {w}" for w in data.get("warnings", [])]
    else:
        lines.append("No data_report.json in the run folder.")
    lines += ["", "## Training", ""]
    if train:
        lines.append(_table({**{k: v for k, v in train["config"].items()},
                             "trained on": f"{train['train_examples']} examples, "
                                           f"{train['epochs_completed']} epochs, "
                                           f"{train['train_seconds']} s on {train['device']} "
                                           f"({train['precision']})",
                             **{f"best validation {k[16:].replace('_', ' ')}": v
                                for k, v in train.items() if k.startswith("best_validation_")}}))
    else:
        lines.append("No train_summary.json in the run folder.")
    lines += ["", "## Test metrics", ""]
    if metrics:
        fine, baseline = metrics["finetuned"], metrics["baseline"]
        ner = task == "token-classification"
        columns = [("accuracy", "accuracy"), ("macro_f1", "macro-F1"), ("weighted_f1", "weighted-F1")]
        if ner:  # entity-level scores (seqeval); accuracy is per word
            columns = [("f1", "entity micro-F1"), ("macro_f1", "entity macro-F1"),
                       ("accuracy", "word accuracy")]
        lines.append("| model | " + " | ".join(c[1] for c in columns) + " |\n|---" * 1
                     + "|---" * len(columns) + "|")
        base_name = ("baseline (most frequent tag per word)" if ner
                     else "baseline (TF-IDF + logistic regression)")
        for name, m in (("fine-tuned", fine), (base_name, baseline)):
            lines.append(f"| {name} | " + " | ".join(f"{m[k]:.4f}" for k, _ in columns) + " |")
        unit, per = ("sentences", "entity type") if ner else ("examples", "class")
        lines += ["", f"On {metrics['test_examples']} held-out test {unit}. Per {per}:", "",
                  "| label | precision | recall | F1 | support |", "|---|---|---|---|---|"]
        lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['f1-score']:.3f} | "
                  f"{int(v['support'])} |" for k, v in fine["per_class"].items()]
    else:
        lines.append("Not evaluated yet: run 03_evaluate to add the test metrics.")
    lines += [
        "", "## Use it", "", "```python", "import hackkit as hk", "",
        f'predictor = hk.Predictor.from_run("{run_dir}")',
        'predictor.predict(["a new message"])  # per text: label and probabilities (NER: entity spans)',
        "```", "",
        f"Or over HTTP: `python -m hackkit serve {run_dir}`, then POST `{{\"texts\": [...]}}` "
        "to `/predict`. The folder is self-contained: `model.safetensors`, `config.json` "
        "(with the label names), the tokenizer files and `labels.json`; plain transformers "
        "loads it with `AutoModelFor"
        + ("TokenClassification" if task == "token-classification" else "SequenceClassification")
        + ".from_pretrained(folder)`.", "",
    ]
    return "\n".join(lines)


def write_model_card(run_dir: str | Path) -> Path:
    """Write the model card as model/README.md (rewritten as later notebooks add results)."""
    path = Path(run_dir) / "model" / "README.md"
    path.write_text(model_card(run_dir), encoding="utf-8")
    return path


def _onnx_inputs(tokenizer, texts: Sequence[str], max_length: int, kind: str) -> dict:
    """Tokenize for the exported graph: the tokenizer's own input names, int64."""
    enc = tokenizer(list(texts), truncation=True, max_length=max_length, padding=True,
                    return_tensors=kind)
    return {name: enc[name] for name in tokenizer.model_input_names}


def export_onnx(model_dir: str | Path, out_path: str | Path | None = None,
                opset: int = 18) -> Path:
    """Export a text classifier to ONNX (logits; batch and sequence length dynamic)."""
    import torch

    model_dir = Path(model_dir)
    if model_task(model_dir) != "text-classification":
        raise ValueError(f"{model_dir}: ONNX export covers text classification models only.")
    out = Path(out_path) if out_path else model_dir / "model.onnx"
    if out.exists():
        raise FileExistsError(f"{out} already exists; delete it to export again, or pass "
                              "another out_path.")
    tokenizer, model = load_saved(model_dir)
    names = list(tokenizer.model_input_names)

    class Logits(torch.nn.Module):
        """Named tensor inputs, logits out: a plain graph signature for ONNX."""

        def __init__(self) -> None:
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask=None, token_type_ids=None):
            given = {"input_ids": input_ids, "attention_mask": attention_mask,
                     "token_type_ids": token_type_ids}
            return self.model(**{k: v for k, v in given.items() if v is not None}).logits

    unknown = set(names) - {"input_ids", "attention_mask", "token_type_ids"}
    if unknown:
        raise ValueError(f"{model_dir}: the tokenizer produces inputs {sorted(unknown)} that the "
                         "ONNX export does not handle; it supports BERT-style models.")
    example = _onnx_inputs(tokenizer, ["an example", "a slightly longer example text"], 32, "pt")
    batch, sequence = torch.export.Dim("batch"), torch.export.Dim("sequence", max=512)
    torch.onnx.export(
        Logits().eval(), (), str(out), kwargs=example, output_names=["logits"],
        opset_version=opset, dynamo=True, verbose=False,
        dynamic_shapes={name: {0: batch, 1: sequence} for name in example},
    )
    return out


def check_onnx(model_dir: str | Path, onnx_path: str | Path, texts: Sequence[str],
               max_length: int = 128, batch_size: int = 32,
               tolerance: float = ONNX_TOLERANCE) -> dict:
    """Compare ONNX Runtime with PyTorch on texts: logit difference, same labels, texts/s."""
    import onnxruntime as ort
    import torch

    model_dir = Path(model_dir)
    if not texts:
        raise ValueError("texts: give at least one text to compare ONNX and PyTorch on.")
    tokenizer, model = load_saved(model_dir)
    model.eval()
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    batches = [list(texts[i:i + batch_size]) for i in range(0, len(texts), batch_size)]
    torch_out, onnx_out, seconds = [], [], {"pytorch": 0.0, "onnxruntime": 0.0}
    for batch in batches:
        started = time.perf_counter()
        with torch.inference_mode():
            torch_out.append(model(**_onnx_inputs(tokenizer, batch, max_length, "pt")).logits.numpy())
        seconds["pytorch"] += time.perf_counter() - started
        started = time.perf_counter()
        feed = {k: v.astype(np.int64) for k, v in _onnx_inputs(tokenizer, batch, max_length, "np").items()}
        onnx_out.append(session.run(["logits"], feed)[0])
        seconds["onnxruntime"] += time.perf_counter() - started
    ref, got = np.concatenate(torch_out), np.concatenate(onnx_out)
    diff = float(np.abs(ref - got).max())
    result = {
        "texts": len(texts),
        "max_abs_logit_difference": diff,
        "tolerance": tolerance,
        "within_tolerance": diff <= tolerance,
        "same_predicted_labels": bool((ref.argmax(1) == got.argmax(1)).all()),
        "texts_per_second": {k: round(len(texts) / max(s, 1e-9), 1) for k, s in seconds.items()},
    }
    write_json(Path(onnx_path).with_name("onnx_check.json"), result)
    return result


def export_run(run_dir: str | Path, onnx: bool = False, check_texts: int = 256) -> dict:
    """Write the model card; with onnx, export model.onnx (once) and check it on test texts."""
    from hackkit.data import load_splits

    run_dir = Path(run_dir)
    result: dict = {"model_card": write_model_card(run_dir)}
    if onnx:
        onnx_path = run_dir / "model" / "model.onnx"
        if not onnx_path.exists():  # an earlier export is checked again, never overwritten
            export_onnx(run_dir / "model", onnx_path)
        texts = list(load_splits(run_dir)[0]["test"]["text"][:check_texts])
        summary = _optional_json(run_dir / "train_summary.json")
        max_length = summary.get("config", {}).get("max_length", 128)
        result.update(onnx=onnx_path, check=check_onnx(run_dir / "model", onnx_path, texts,
                                                       max_length=max_length))
    return result
