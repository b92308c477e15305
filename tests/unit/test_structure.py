"""The structure the kit grows by: a task is one module, the run folder and the parameters have one
owner each, there are no import circles, and `import hackkit` stays light."""

from __future__ import annotations

import ast
import html
import json
import re
import subprocess
import sys
from dataclasses import fields
from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk
from hackkit.base import Dataset, TrainParts
from hackkit.params import NOTEBOOKS, notebook_parameters
from hackkit.registry import register_task, unregister_task
from hackkit.tasks.textinput import TextInput

PACKAGE = Path(hk.__file__).parent


class SentencePolarity(TextInput):
    """A throwaway task defined here and nowhere else: JSON Lines of sentences and a polarity,
    accuracy as its metric and the majority class as its baseline. Its input is one text, so it
    takes the text box, the API's {"texts": [...]} and the text checks from TextInput."""

    name = "sentence-polarity"
    main_metric = "accuracy"
    metric_names = {"accuracy": "accuracy"}
    split_suffix = ".jsonl"
    unit = "sentences"

    def load(self, data):
        frame = pd.read_json(data.data_path, lines=True)
        frame = frame.rename(columns={data.text_column: "text", data.label_column: "label"})
        return Dataset(frame=frame[["text", "label"]].astype(str), path=Path(data.data_path))

    def split(self, frame, test_size, val_size, seed):
        shuffled = frame.sample(frac=1.0, random_state=seed).reset_index(drop=True)
        n_test, n_val = round(test_size * len(frame)), round(val_size * len(frame))
        return {"test": shuffled[:n_test], "validation": shuffled[n_test:n_test + n_val],
                "train": shuffled[n_test + n_val:]}

    def labels(self, splits):
        return sorted(splits["train"]["label"].unique())

    def write_split(self, frame, path):
        frame.to_json(path, orient="records", lines=True)

    def read_split(self, path):
        return pd.read_json(path, orient="records", lines=True, dtype={"label": str})

    def load_processor(self, location):
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(location)

    def new_model(self, location, labels):
        from transformers import AutoModelForSequenceClassification

        return AutoModelForSequenceClassification.from_pretrained(
            location, num_labels=len(labels), id2label=dict(enumerate(labels)),
            label2id={x: i for i, x in enumerate(labels)})

    def train_parts(self, train, validation, labels, location, max_length):
        from datasets import Dataset as HFDataset
        from transformers import DataCollatorWithPadding

        tokenizer = self.load_processor(location)

        def encode(frame):
            ds = HFDataset.from_dict({"text": list(frame["text"]),
                                      "label": [labels.index(x) for x in frame["label"]]})
            return ds.map(lambda b: tokenizer(b["text"], truncation=True, max_length=max_length),
                          batched=True, remove_columns=["text"])

        def accuracy(eval_pred):
            logits, gold = eval_pred
            return {"accuracy": float((logits.argmax(-1) == gold).mean())}

        return TrainParts(model=self.new_model(location, labels), processor=tokenizer,
                          train_ds=encode(train), val_ds=encode(validation),
                          collator=DataCollatorWithPadding(tokenizer), compute_metrics=accuracy)

    def load_trained(self, model_dir):
        from transformers import AutoModelForSequenceClassification

        return (self.load_processor(str(model_dir)),
                AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True))

    def check_inputs(self, inputs):
        return [inputs] if isinstance(inputs, str) else list(inputs)

    def predict(self, predictor, inputs):
        batch = predictor.processor(inputs, truncation=True, padding=True,
                                    max_length=predictor.max_length, return_tensors="pt")
        proba = predictor.probabilities(batch)
        return [{"label": predictor.labels[int(p.argmax())], "score": float(p.max())} for p in proba]

    def predictions_table(self, frame, results):
        predicted = [r["label"] for r in results]
        return pd.DataFrame({"text": list(frame["text"]), "label": list(frame["label"]),
                             "predicted": predicted,
                             "correct": [p == g for p, g in zip(predicted, frame["label"])]})

    def result_columns(self, results, labels):
        return {"predicted": [r["label"] for r in results]}

    def result_html(self, result, item):
        return f"<b>{html.escape(result['label'])}</b>"

    def baseline_scores(self, splits, labels, split, seed=42):
        majority = splits["train"]["label"].mode()[0]
        return {"accuracy": float((splits[split]["label"] == majority).mean()), "per_class": {}}

    def score(self, predictions, labels):
        return {"accuracy": float(predictions["correct"].mean()), "per_class": {}}

    def confusion_figure(self, predictions, labels):
        import matplotlib.pyplot as plt

        fig, ax = plt.subplots()
        pd.crosstab(predictions["label"], predictions["predicted"]).plot.bar(ax=ax)
        return fig

    def worst_errors(self, predictions, k=10):
        return predictions[~predictions["correct"]].head(k)


@pytest.fixture
def polarity(tmp_path):
    """The throwaway task registered for one test, and a JSON Lines file of its data."""
    register_task(SentencePolarity())
    words = {"pos": ["great", "lovely", "superb", "happy"], "neg": ["awful", "broken", "sad", "slow"]}
    rows = [{"sentence": f"the order was {w} number {i}", "polarity": label}
            for label, ws in words.items() for i in range(30) for w in ws[i % 4:i % 4 + 1]]
    path = tmp_path / "polarity.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows))
    yield path
    unregister_task("sentence-polarity")


def test_a_task_defined_in_one_place_runs_through_train_evaluate_and_predict(
        polarity, tiny_model, tmp_path, runs_dir):
    data = hk.DataConfig(task="sentence-polarity", data_path=str(polarity), text_column="sentence",
                         label_column="polarity", model=str(tiny_model), test_size=0.25, val_size=0.25)
    diagnosis = hk.diagnose(data)
    assert not diagnosis.errors and diagnosis.task.name == "sentence-polarity"
    run_dir = hk.start_run(str(runs_dir / "polarity"))
    hk.save_splits(diagnosis.splits, run_dir, diagnosis.task)
    hk.write_json(hk.Run(run_dir).data_report, hk.data_report(diagnosis, data))
    assert sorted(p.name for p in hk.Run(run_dir).splits_dir.glob("*.jsonl")) == \
        ["test.jsonl", "train.jsonl", "validation.jsonl"]

    config = hk.TrainConfig(task="sentence-polarity", model=str(tiny_model), epochs=2,
                            learning_rate=1e-3, batch_size=8, max_length=16, patience=0, device="cpu")
    summary = hk.train_model(run_dir, config)
    assert summary.main_metric == "accuracy" and summary.best_validation is not None
    assert hk.read_model_info(hk.Run(run_dir).model_dir).task == "sentence-polarity"

    predictions = hk.predict_split(run_dir, "test", device="cpu")
    scores = hk.score_predictions(run_dir, predictions)
    baseline = hk.baseline_scores(run_dir, "test")
    hk.write_metrics(run_dir, scores, baseline, predictions)
    majority = diagnosis.splits["train"]["label"].mode()[0]
    expected = float((diagnosis.splits["test"]["label"] == majority).mean())
    assert len(predictions) == 15 and 0 <= scores["accuracy"] <= 1 and baseline["accuracy"] == expected
    assert hk.headline_scores(run_dir) == {"accuracy": scores["accuracy"],
                                           "baseline_accuracy": expected}
    assert hk.plot_confusion(run_dir, predictions).axes and hk.plot_learning_curve(run_dir).axes

    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    assert predictor.max_length == 16 and predictor.predict("a lovely order")[0]["label"] in ("neg", "pos")
    scored = hk.score_table(predictor, pd.DataFrame({"text": ["sad", "superb"]}))
    assert list(scored.columns) == ["text", "predicted"]
    app = hk.DemoApp(predictor, out_dir=tmp_path / "scored", example="superb")
    assert app.result.value.startswith("<b>")
    board = hk.leaderboard()
    assert board.loc[0, "ranked_by"] == "accuracy" and board.loc[0, "task"] == "sentence-polarity"
    assert "sentence-polarity" in hk.model_card(run_dir)

    from fastapi.testclient import TestClient

    with TestClient(hk.create_app(predictor)) as client:
        answer = client.post("/predict", json={"texts": ["slow order"]}).json()
    assert answer["predictions"][0]["label"] in ("neg", "pos")


def test_an_unknown_task_lists_the_valid_ones():
    with pytest.raises(ValueError, match=r"TASK='images': unknown task. Supported tasks: "
                                         r"text-classification, token-classification"):
        hk.get_task("images")


def _imports(path: Path) -> set[str]:
    """The hackkit modules a file imports, at the top or inside functions."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("hackkit"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("hackkit")}
    return found


def _module(path: Path) -> str:
    parts = path.relative_to(PACKAGE.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def test_there_are_no_import_circles():
    graph = {_module(p): _imports(p) - {_module(p)} for p in PACKAGE.rglob("*.py")}
    graph = {m: {d for d in deps if d in graph} for m, deps in graph.items()}
    assert graph["hackkit.base"] == set() and graph["hackkit.paths"] == set()  # the leaves

    def visit(module, trail):
        if module in trail:
            cycle = trail[trail.index(module):] + [module]
            pytest.fail(f"import circle: {' -> '.join(cycle)}")
        for dep in graph[module]:
            visit(dep, trail + [module])

    for module in graph:
        visit(module, [])


# The package's groups, bottom to top: a module imports only from its own group or those below
# (at the top of the file or inside a function). The entry points sit above everything.
LAYERS = ("root", "models", "tasks", "data", "train", "use", "runs", "entry")
ENTRY_POINTS = {"hackkit", "hackkit.__main__", "hackkit.cli"}


def _group(module: str) -> str:
    """The group a module belongs to: its folder under hackkit/, root, or entry."""
    if module in ENTRY_POINTS:
        return "entry"
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and (PACKAGE / parts[1]).is_dir() else "root"


def test_every_module_belongs_to_a_known_group():
    folders = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").is_file()}
    assert folders == set(LAYERS) - {"root", "entry"}


def test_imports_point_one_way_between_groups():
    upward = []
    for path in PACKAGE.rglob("*.py"):
        module = _module(path)
        for imported in _imports(path):
            if LAYERS.index(_group(imported)) > LAYERS.index(_group(module)):
                upward.append(f"{module} ({_group(module)}) imports {imported} ({_group(imported)})")
    assert upward == []


def test_the_training_summary_is_written_in_one_place():
    # Every writer goes through TrainSummary.write; no module builds the file's JSON itself.
    offenders = [f"{p.relative_to(PACKAGE)}:{i}" for p in PACKAGE.rglob("*.py") if p.name != "summary.py"
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if "write_json(" in line and "train_summary" in line
                 or "best_validation_" in line and not line.strip().startswith(("#", '"'))]
    assert offenders == []


TASK_NAMES = ("text-classification", "token-classification")
# Ways a module could tell tasks apart instead of asking the task object.
BRANCH = re.compile(r"""(==|!=|\bin)\s*\(?["'](text|token)-classification["']|"""
                    r"""["'](tags|label)["']\s+in\s+\w+|\.startswith\(["'](ner|text)""")


def test_no_generic_module_branches_on_a_task_name():
    offenders = [f"{p.relative_to(PACKAGE)}:{i}: {line.strip()}"
                 for p in PACKAGE.rglob("*.py") if "tasks" not in p.parts
                 for i, line in enumerate(p.read_text().splitlines(), 1) if BRANCH.search(line)]
    assert offenders == []


RUN_FILES = ("run.json", "data_report.json", "labels.json", "hackkit.json", "train_summary.json",
             "training_history.json", "learning_curve.png", "metrics.json", "predictions_test.csv",
             "confusion_matrix.png", "hackkit_config.json", "onnx_check.json", "model.onnx",
             "model.int8.onnx",
             "progress.jsonl", "info.json", "feedback.csv", "model_comparison.csv", "pruned.json",
             "train_config.json", "distributed.log")
RUN_FOLDERS = ("checkpoints", "scored", "tensorboard", ".embedding_cache",
               "lora_adapter")  # "splits"/"model" also name stages


def _strings(source: str) -> list[str]:
    """The string literals of Python code, docstrings left out."""
    tree = ast.parse(source)
    docstrings = {id(n.body[0].value) for n in ast.walk(tree)
                  if isinstance(n, (ast.Module, ast.ClassDef, ast.FunctionDef)) and n.body
                  and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    return [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)
            and isinstance(n.value, str) and id(n) not in docstrings]


def test_run_folder_file_names_live_in_their_owner_only():
    sources = {p.name: p.read_text() for p in PACKAGE.rglob("*.py") if p.name != "runfolder.py"}
    for notebook in (PACKAGE.parent / "notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        sources[notebook.name] = "\n".join("".join(c["source"]) for c in cells
                                           if c["cell_type"] == "code")
    offenders = [f"{name}: {text!r}" for name, source in sources.items() for text in _strings(source)
                 if any(f in text for f in RUN_FILES) or text.strip("/") in RUN_FOLDERS]
    assert offenders == []


@pytest.mark.parametrize("config, notebook", [(hk.DataConfig, "01_explore.ipynb"),
                                              (hk.TrainConfig, "02_finetune.ipynb")])
def test_typed_configs_and_notebooks_agree_on_every_default(config, notebook):
    declared = notebook_parameters((notebook,))[notebook]
    for f in fields(config):
        assert f.name.upper() in declared, f"{notebook} has no parameter {f.name.upper()}"
        assert declared[f.name.upper()]["default"] == f.default, f"{f.name.upper()} differs"


def test_notebooks_share_one_vocabulary_of_parameters():
    declared = notebook_parameters(NOTEBOOKS)
    seen: dict[str, object] = {}
    for params in declared.values():
        for name, p in params.items():
            if name != "RUN_DIR":  # each notebook's own input
                assert seen.setdefault(name, p["default"]) == p["default"], name


def test_importing_hackkit_loads_no_training_stack():
    code = ("import sys, hackkit as hk; hk.get_task('text-classification'); hk.DataConfig(); "
            "print(sorted(m for m in ('torch', 'transformers', 'sklearn', 'matplotlib', 'papermill') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_every_public_name_resolves():
    missing = [name for name in hk.__all__ if getattr(hk, name, None) is None]
    assert missing == []
    assert not hasattr(hk, "load_dataset")  # Hugging Face's datasets.load_dataset keeps its name
