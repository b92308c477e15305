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

import numpy as np
import pandas as pd
import pytest
from pydantic import BaseModel, Field

import hackkit as hk
from hackkit.base import Dataset, DemoInput, PredictRoute, RequestRejected, TrainParts
from hackkit.params import NOTEBOOKS, notebook_parameters
from hackkit.registry import register_task, unregister_task
from hackkit.tasks.batches import in_batches
from hackkit.tasks.labels import LabelTask, classification_metrics, compute_metrics
from hackkit.tasks.textinput import TextInput, near_duplicate_texts

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


class Pair(BaseModel):
    """Two messages to compare."""

    first: str = Field(min_length=1, description="the first message")
    second: str = Field(min_length=1, description="the second message")


class PairsRequest(BaseModel):
    """The pairs to predict."""

    pairs: list[Pair] = Field(min_length=1, description="one or more pairs of messages")


PAIR_PAGE = """<!doctype html><html><head><meta charset="utf-8"><title>{title}</title></head>
<body><h2>{title}</h2><p>Labels: {labels}</p>
<textarea id="a"></textarea><textarea id="b"></textarea><button id="go">Predict</button><pre id="r"></pre>
<script>
document.getElementById("go").onclick = async () => {{
  const pair = {{first: document.getElementById("a").value, second: document.getElementById("b").value}};
  const r = await fetch("predict", {{method: "POST", headers: {{"Content-Type": "application/json"}},
    body: JSON.stringify({{pairs: [pair]}})}});
  document.getElementById("r").textContent = JSON.stringify(await r.json(), null, 2);
}};
</script></body></html>"""


class PairBoxes(DemoInput):
    """Two text boxes; the pair is predicted on the button."""

    title = "One pair"
    prompt = "Type both messages to see whether they ask the same thing."

    def __init__(self, example=None) -> None:
        import ipywidgets as w

        first, second = example or ("", "")
        self.first = w.Textarea(value=first, description="First")
        self.second = w.Textarea(value=second, description="Second")
        self.widget = w.HBox([self.first, self.second])

    def read(self):
        pair = (self.first.value, self.second.value)
        return pair if all(text.strip() for text in pair) else None


class SameQuestion(LabelTask):
    """A throwaway task whose input is not one text, defined here and nowhere else: do two support
    messages ask the same thing? A CSV of first, second and label; the tokenizer reads each pair as
    a sequence pair; the demo has two boxes, the API takes {"pairs": [{"first", "second"}]}."""

    name = "same-question"
    unit = "pairs"
    input_column = "pair"
    python_example = '[("where is my parcel?", "my order has not arrived")]'
    max_pairs = 8

    def load(self, data):
        frame = pd.read_csv(data.data_path, dtype=str, keep_default_na=False)
        return Dataset(frame=frame[["first", "second", "label"]], path=Path(data.data_path))

    def dedupe_key(self, frame):
        return frame["first"] + " | " + frame["second"]

    def near_duplicates(self, splits):
        return near_duplicate_texts(splits, self.dedupe_key)

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
            ds = HFDataset.from_dict({"first": list(frame["first"]), "second": list(frame["second"]),
                                      "label": [labels.index(x) for x in frame["label"]]})
            return ds.map(lambda b: tokenizer(b["first"], b["second"], truncation=True,
                                              max_length=max_length),
                          batched=True, remove_columns=["first", "second"])

        return TrainParts(model=self.new_model(location, labels), processor=tokenizer,
                          train_ds=encode(train), val_ds=encode(validation),
                          collator=DataCollatorWithPadding(tokenizer), compute_metrics=compute_metrics)

    def load_trained(self, model_dir):
        from transformers import AutoModelForSequenceClassification

        return (self.load_processor(str(model_dir)),
                AutoModelForSequenceClassification.from_pretrained(model_dir, use_safetensors=True))

    def inputs_of(self, frame):
        return list(zip(frame["first"], frame["second"]))

    def check_inputs(self, inputs):
        items = [inputs] if isinstance(inputs, tuple) else list(inputs)
        for i, item in enumerate(items):
            if not (isinstance(item, (tuple, list)) and len(item) == 2
                    and all(isinstance(t, str) for t in item)):
                raise ValueError(f"pairs: item {i} is {item!r}; give (first, second) pairs of texts.")
        return [tuple(item) for item in items]

    def predict_proba(self, predictor, inputs):
        pairs = self.check_inputs(inputs)

        def run(indices):
            return predictor.probabilities(predictor.processor(
                [pairs[i][0] for i in indices], [pairs[i][1] for i in indices], truncation=True,
                max_length=predictor.max_length, padding=True, return_tensors="pt"))

        rows = in_batches(pairs, predictor.batch_size, run, length=lambda p: len(p[0]) + len(p[1]))
        return np.array(rows, dtype=np.float32).reshape(len(pairs), len(predictor.labels))

    def show_input(self, item):
        return f"{item[0]} | {item[1]}"

    def baseline_scores(self, splits, labels, split, seed=42):
        majority = splits["train"]["label"].mode()[0]
        target = splits[split]["label"]
        return classification_metrics(target, [majority] * len(target), labels)

    def demo_input(self, example=None):
        return PairBoxes(example)

    def demo_examples(self, example, test, n=3):
        return self.inputs_of(test)[:n]

    def predict_route(self, predictor, run, max_pairs=max_pairs):
        def predict(request: PairsRequest):
            if len(request.pairs) > max_pairs:
                raise RequestRejected(413, f"{len(request.pairs)} pairs; the limit is {max_pairs}.")
            pairs = [(p.first, p.second) for p in request.pairs]
            return {"run": run, "predictions": predictor.predict(pairs)}

        return PredictRoute(endpoint=predict, result_model=self.result_model, input="pair of texts",
                            limits={"max_pairs": max_pairs}, body_limit=max_pairs * 20_000 + 1024,
                            page=PAIR_PAGE, hint='Send JSON like {"pairs": [{"first": "...", '
                                                 '"second": "..."}]}.')

    def api_example(self, url):
        body = json.dumps({"pairs": [{"first": "where is my parcel?",
                                      "second": "my order has not arrived"}]})
        return f"curl -s {url}/predict -H 'Content-Type: application/json' -d '{body}'"


@pytest.fixture
def same_question(tmp_path):
    """The pair task registered for one test, and a CSV of its data."""
    register_task(SameQuestion())
    things = ["parcel", "password", "refund", "invoice", "address", "screen"]
    rows = []
    for i in range(36):
        a, b = things[i % 6], things[(i + 1) % 6]
        rows.append({"first": f"question {i} about my {a}", "second": f"the {a} issue {i} again",
                     "label": "same"})
        rows.append({"first": f"question {i} about my {a}", "second": f"now the {b} thing {i}",
                     "label": "different"})
    path = tmp_path / "pairs.csv"
    pd.DataFrame(rows).to_csv(path, index=False)
    yield path
    unregister_task("same-question")


def test_a_task_whose_input_is_a_pair_of_texts_runs_end_to_end_from_its_own_definition(
        same_question, tiny_model, tmp_path, runs_dir):
    from fastapi.testclient import TestClient

    data = hk.DataConfig(task="same-question", data_path=str(same_question), model=str(tiny_model),
                         test_size=0.25, val_size=0.25)
    diagnosis = hk.diagnose(data)
    assert not diagnosis.errors and diagnosis.lengths is None  # it measures no token lengths
    run_dir = hk.start_run(str(runs_dir / "pairs"))
    hk.save_splits(diagnosis.splits, run_dir, diagnosis.task)
    hk.write_json(hk.Run(run_dir).data_report, hk.data_report(diagnosis, data))
    summary = hk.train_model(run_dir, hk.TrainConfig(
        task="same-question", model=str(tiny_model), epochs=1, learning_rate=1e-3, batch_size=8,
        max_length=32, patience=0, device="cpu"))
    assert summary.main_metric == "macro_f1" and summary.best_validation is not None

    predictions = hk.predict_split(run_dir, "test", device="cpu")
    scores = hk.score_predictions(run_dir, predictions)
    baseline = hk.baseline_scores(run_dir, "test")
    hk.write_metrics(run_dir, scores, baseline, predictions)
    assert len(predictions) == 18 and set(predictions["predicted"]) <= {"same", "different"}
    assert baseline["accuracy"] == 0.5  # the majority label is right on half the balanced pairs

    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    pair = ("where is my parcel?", "my parcel has not arrived")
    [expected] = predictor.predict([pair])
    assert predictor.table([pair])["pair"].tolist() == ["where is my parcel? | my parcel has not arrived"]
    with pytest.raises(ValueError, match="pairs: item 0 is 'one text'"):
        predictor.predict(["one text"])

    # The demo: two boxes, read and predicted through the task's own widgets.
    examples = hk.demo_examples(run_dir)
    assert examples == diagnosis.task.inputs_of(hk.load_splits(run_dir)[0]["test"])[:3]
    app = hk.DemoApp(predictor, out_dir=tmp_path / "scored", example=examples[0])
    assert app.ui.titles == ("One pair", "Score a file") and "hackkit-demo-label" in app.result.value
    app.input.first.value, app.input.second.value = pair
    app.button.click()
    assert app.last == (pair, expected)
    assert f'<b class="hackkit-demo-label">{expected["label"]}</b>' in app.result.value
    app.input.second.value = "  "
    app.button.click()
    assert "Type both messages" in app.result.value

    # The API: the task's request model is the contract /openapi.json states.
    with TestClient(hk.create_app(predictor)) as client:
        answer = client.post("/predict", json={"pairs": [{"first": pair[0], "second": pair[1]}]})
        schema = client.get("/openapi.json").json()
        missing = client.post("/predict", json={"texts": ["one text"]})
        too_many = client.post("/predict", json={"pairs": [{"first": "a", "second": "b"}] * 9})
        health, page = client.get("/health").json(), client.get("/").text
    assert answer.status_code == 200 and answer.json()["run"] == hk.Run(run_dir).name
    got = answer.json()["predictions"][0]
    assert got["label"] == expected["label"] and got["score"] == pytest.approx(expected["score"], abs=1e-5)
    body = schema["paths"]["/predict"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/PairsRequest"}
    assert schema["components"]["schemas"]["Pair"]["required"] == ["first", "second"]
    assert missing.status_code == 422 and 'missing "pairs"' in missing.json()["error"]
    assert '{"pairs": [{"first"' in missing.json()["error"]
    assert too_many.status_code == 413 and "9 pairs; the limit is 8" in too_many.json()["error"]
    assert health["input"] == "pair of texts" and health["max_pairs"] == 8
    assert page.count("<textarea") == 2

    card = hk.model_card(run_dir)
    assert "same-question" in card and SameQuestion.python_example in card
    assert '"pairs": [{"first": "where is my parcel?"' in card
    assert hk.serve_usage(run_dir).splitlines()[1] == SameQuestion().api_example("localhost:8000")


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


TASK_NAMES = ("text-classification", "token-classification", "text-regression")
# Ways a module could tell tasks apart instead of asking the task object.
BRANCH = re.compile(r"""(==|!=|\bin)\s*\(?["']((text|token)-classification|text-regression)["']|"""
                    r"""["'](tags|label)["']\s+in\s+\w+|\.startswith\(["'](ner|text)""")


def test_no_generic_module_branches_on_a_task_name():
    assert all(BRANCH.search(f"if task.name == {name!r}:") for name in TASK_NAMES)
    offenders = [f"{p.relative_to(PACKAGE)}:{i}: {line.strip()}"
                 for p in PACKAGE.rglob("*.py") if "tasks" not in p.parts
                 for i, line in enumerate(p.read_text().splitlines(), 1) if BRANCH.search(line)]
    assert offenders == []


# Ways a module could ask what kind of input a task takes (text, image, a pair) instead of
# asking the task for its widgets, its request model or its examples.
INPUT_KIND = re.compile(r"""input_kind|(==|!=)\s*["'](text|image|pair)s?["']|\bPIL\b|"""
                        r"""isinstance\([^)]*\b(bytes|Image)\b""")


def test_only_tasks_know_what_kind_of_input_they_take():
    assert INPUT_KIND.search('if task.input_kind == "image":')  # the branch this test keeps out
    sources = {str(p.relative_to(PACKAGE.parent)): p.read_text() for p in PACKAGE.rglob("*.py")
               if "tasks" not in p.relative_to(PACKAGE).parts}
    for notebook in (PACKAGE.parent / "notebooks").glob("*.ipynb"):
        cells = json.loads(notebook.read_text())["cells"]
        sources[notebook.name] = "\n".join("".join(c["source"]) for c in cells
                                           if c["cell_type"] == "code")
    offenders = [f"{name}:{i}: {line.strip()}" for name, source in sources.items()
                 for i, line in enumerate(source.splitlines(), 1) if INPUT_KIND.search(line)]
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


def test_the_multi_label_task_is_its_module_and_one_registry_line():
    # Every other module reaches it through get_task and the Task attributes it sets
    # (tunes_on_validation, decisions, ...), never by its name or its module.
    assert hk.registry.TASKS["multi-label-classification"] == \
        "hackkit.tasks.multilabel:MultiLabelClassification"
    offenders = [f"{p.relative_to(PACKAGE)}:{i}: {line.strip()}" for p in PACKAGE.rglob("*.py")
                 if p.relative_to(PACKAGE).as_posix() not in ("tasks/multilabel.py", "registry.py")
                 for i, line in enumerate(p.read_text().splitlines(), 1)
                 if "multi-label-classification" in line or "tasks.multilabel" in line]
    assert offenders == []
