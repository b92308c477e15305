"""The shared vocabulary: split names, the Task interface every task module implements, the
pieces a training method receives, and how a task's inputs reach the demo and the API. A leaf
module: it imports nothing else from hackkit."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

SPLITS = ("train", "validation", "test")
SPLIT_ALIASES = {
    "train": "train", "training": "train",
    "validation": "validation", "valid": "validation", "val": "validation", "dev": "validation",
    "test": "test", "testing": "test",
}


@dataclass
class Dataset:
    """A loaded, validated data set in the task's own columns (e.g. text+label, or tokens+tags)."""

    frame: pd.DataFrame
    path: Path
    warnings: list[str] = field(default_factory=list)
    dropped: dict[str, int] = field(default_factory=dict)
    info: dict = field(default_factory=dict)  # task-specific findings for the data report


@dataclass
class TrainParts:
    """What a task hands to Trainer: model, encoded splits, collator, metrics; `extra` is recorded."""

    model: Any
    processor: Any  # tokenizer (or image processor): saved with the model
    train_ds: Any
    val_ds: Any
    collator: Any
    compute_metrics: Callable
    extra: dict = field(default_factory=dict)
    training_args: dict = field(default_factory=dict)  # merged into TrainingArguments (e.g. images')
    # The model already predicts (its head is a fitted probe): training evaluates it at step 0 and
    # keeps it when no checkpoint beats it on validation.
    warm_start: bool = False
    # The warm start's validation scores when the task already knows them (the probe's own, as
    # Trainer names them: eval_loss, eval_<metric>): they stand for the step-0 evaluation.
    start_scores: dict | None = None
    # Trainer's preprocess_logits_for_metrics: shrinks each evaluation batch's logits before they
    # are gathered (a language model's span the whole vocabulary per token).
    preprocess_logits: Callable | None = None
    # Training batches drawn from this many batches' worth of examples sorted by length, windows
    # in a random order (hackkit.train.session.NearLengthSampler): less padding where lengths vary
    # a lot and every token costs (a language model); 0 keeps plain shuffled batches.
    length_window: int = 0
    # Evaluations planned in a budgeted run (0: the plan's own, MIN_EVALS in hackkit.train.plan);
    # fewer leave more of the budget to training where an evaluation is dear and the last
    # checkpoint is nearly always the best (a language model's few hundred steps).
    evaluations: int = 0


class DemoInput:
    """The demo's widgets for one input of a task (04): the task builds them; hackkit.use.demo puts
    the Predict button, the result and the file scoring around them."""

    title: str = "One input"  # the demo's first tab
    prompt: str = "Give an input to see the prediction."  # shown while read() finds none
    live: bool = False  # typed in: the demo predicts when typing pauses (a tick box turns it off)
    widget: Any = None  # the ipywidget (or box of them) that holds the input

    def read(self) -> Any:
        """The input in the widgets now, or None when there is none yet."""
        raise NotImplementedError

    def observe(self, callback: Callable[[], None]) -> None:
        """Call `callback` when the input changes; by default the demo predicts on the button only."""

    def arrange(self, controls: Any, result: Any) -> Any:
        """The tab: the input's widgets, the controls (Predict button) and the result, stacked."""
        import ipywidgets as w

        return w.VBox([self.widget, controls, result])

    def shown(self, item: Any) -> None:
        """Show the input beside its result (e.g. an image's preview); nothing by default."""

    def answer(self, predictor: Any, item: Any, partial: Callable[[str], None]) -> dict:
        """The prediction for `item`; an input whose answer is written over time (generated text)
        shows each part through `partial` (HTML) as it comes. By default one predict call."""
        return predictor.predict([item])[0]


class RequestRejected(Exception):
    """A request that POST /predict refuses: the HTTP status and a message saying what to send."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass
class PredictRoute:
    """POST /predict as a task serves it (hackkit.use.serve mounts it).

    FastAPI reads the endpoint's typed parameters, so the request model (or `openapi_extra` for a
    body it cannot infer, e.g. multipart uploads) is the contract /openapi.json states. The endpoint
    returns {"run": <run name>, "predictions": [<result_model>, ...]} and raises RequestRejected
    for a request it refuses.
    """

    endpoint: Callable
    result_model: Any  # pydantic model of one prediction (None: any JSON object)
    input: str  # what one input is, for GET /health: text, image, pair of texts
    limits: dict[str, int]  # what GET /health reports, e.g. max_texts and max_chars
    body_limit: int  # bytes: a longer request body is refused with 413 before it is read
    page: str  # the test page at /: HTML with {title} and {labels} to fill in (braces doubled)
    hint: str = ""  # what a valid request looks like, appended to a 422 answer
    openapi_extra: dict = field(default_factory=dict)


class Task:
    """Everything that differs between tasks. Generic modules call these; none compares task names.

    A new task subclasses this in one module and adds one line to hackkit.registry.TASKS.
    """

    name: str = ""
    main_metric: str = ""  # the score runs are selected, ranked and judged by (e.g. macro_f1)
    # What Trainer's validation reports and checkpoints are chosen by, higher is better; "" means
    # main_metric (a generation task's main metric needs generated text, too slow mid-training).
    training_metric: str = ""
    # 02's settings this task uses where the parameter is left at its notebook default, by
    # TrainConfig field name (e.g. {"method": "lora"}): what suits its model, as default_model does.
    train_defaults: dict[str, Any] = {}
    # PRECISION auto on a CPU: "bf16" where the CPU computes bf16 natively (hackkit.device).
    cpu_precision: str = "fp32"
    sample_data: str = ""  # DATA_PATH used when it is left at the default (the classification sample)
    new_head: bool = True  # the model gets a fresh head (LoRA trains it fully); False: it has its own
    metric_names: dict[str, str] = {}  # metric key -> readable name, in display order
    split_suffix: str = ".csv"  # how splits/<name><suffix> files are written
    unit: str = "examples"  # what one row is, for messages: examples, sentences, images
    label_unit: str = "label"  # what label_counts counts: label, entity type
    architecture_suffix: str = ""  # end of config.json's architectures name for this task
    baseline_name: str = "baseline"
    unseen_labels_block: bool = True  # labels only in validation/test: error (True) or warning
    data_hint: str = ""  # shown when a data file does not suit the task
    file_suffixes: tuple[str, ...] = ()  # data file types the task reads (empty: not checked)
    onnx_export: bool = False  # whether hackkit.use.export can export and check its models
    # METHOD embeddings / zero-shot / auto (one label per text, sentence embeddings) and demo
    # corrections merged by 01 (FEEDBACK): only for tasks whose rows are a text and one label.
    embedding_methods: bool = False
    accepts_feedback: bool = False
    input_column: str = "input"  # the input's column in Predictor.table and in a file to score
    default_model: str = ""  # MODEL used when MODEL is left at the (text) parameter default
    distillable: bool = False  # whether the distill command can train a student (one label per text)
    result_model: Any = None  # pydantic model of one prediction, for the API's schema
    python_example: str = "inputs"  # the argument of predictor.predict(...) in the model card
    processor_files: str = "the tokenizer files"  # what model/ holds to turn an input into tensors

    def data_columns(self, params: dict, data_path: str) -> str:
        """Where the inputs and labels were read from, for the model card (default: the columns)."""
        return f"{params.get('TEXT_COLUMN')} / {params.get('LABEL_COLUMN')}"

    # Whether training ends by tuning settings on the validation split (tune()) that are saved with
    # the model (model/hackkit.json's "tuned"), e.g. multi-label decision thresholds.
    tunes_on_validation: bool = False

    def checkpoint_metric(self) -> str:
        """The validation metric training selects and stops by (training_metric or main_metric)."""
        return self.training_metric or self.main_metric

    def _undefined(self, method: str) -> NotImplementedError:
        """The error for an input method this task leaves out, with where a text task finds one."""
        return NotImplementedError(
            f"{type(self).__name__} ({self.name}) does not define {method}(): a task says how its "
            "inputs are read, shown and sent; one whose input is a single text inherits all of it "
            "from hackkit.tasks.textinput.TextInput.")

    # --- data (01, doctor) -------------------------------------------------------------
    def load(self, data) -> Dataset:
        """Read and check DATA_PATH (a DataConfig) into the task's columns."""
        raise NotImplementedError

    def split(self, frame: pd.DataFrame, test_size: float, val_size: float,
              seed: int) -> dict[str, pd.DataFrame]:
        """Train/validation/test frames, keeping any split the data came with."""
        raise NotImplementedError

    def labels(self, splits: dict[str, pd.DataFrame]) -> list[str]:
        """The label list the model predicts, in a stable order."""
        raise NotImplementedError

    def label_counts(self, frame: pd.DataFrame) -> pd.Series:
        """Examples per label (or entities per type) of one split."""
        return frame["label"].value_counts()

    def dedupe_key(self, frame: pd.DataFrame) -> pd.Series:
        """The string a repeated input is recognised by (after normalising case and spaces)."""
        raise self._undefined("dedupe_key")

    def label_key(self, frame: pd.DataFrame) -> pd.Series:
        """One string per row whose disagreement between duplicates is a label conflict."""
        return frame["label"].astype(str)

    def subsample(self, frame: pd.DataFrame, n: int, seed: int) -> pd.DataFrame:
        """At most n training rows (all when n is 0)."""
        if n <= 0 or n >= len(frame):
            return frame
        return frame.sample(n=n, random_state=seed).reset_index(drop=True)

    def write_split(self, frame: pd.DataFrame, path: Path) -> None:
        """Write one split file."""
        frame.to_csv(path, index=False)

    def read_split(self, path: Path) -> pd.DataFrame:
        """Read one split file written by write_split."""
        return pd.read_csv(path, dtype={"label": str}, keep_default_na=False)

    def lengths(self, frame: pd.DataFrame, model: str) -> Any:
        """Model input length per row (MODEL's tokens), or None when inputs have no token length."""
        return None

    def describe(self, frame: pd.DataFrame) -> dict:
        """Task-specific figures for the data report."""
        return {}

    def plot_examples(self, splits: dict[str, pd.DataFrame]):
        """A figure of examples or sizes for 01, or None."""
        return None

    def plot_sizes(self, splits: dict[str, pd.DataFrame]):
        """A figure of input sizes for 01 when they are not token lengths, or None."""
        return None

    def near_duplicates(self, splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
        """Inputs that nearly repeat others (e.g. a test text a training text, a resized picture)."""
        raise self._undefined("near_duplicates")

    def extra_checks(self, dataset: Dataset, splits: dict[str, pd.DataFrame],
                     near: pd.DataFrame) -> list[tuple[str, str, str]]:
        """The task's own data-doctor findings as (level, check, message), given near_duplicates'
        table; [] when it has none."""
        return []

    # --- training (02) -----------------------------------------------------------------
    def resolve_model(self, name: str):
        """Where MODEL points (name, source, location), or None for the generic text resolver."""
        return None

    def load_processor(self, location: str):
        """The tokenizer (or image processor) of a base model."""
        raise NotImplementedError

    def new_model(self, location: str, labels: Sequence[str]):
        """The base model with a fresh head for `labels`."""
        raise NotImplementedError

    def train_parts(self, train: pd.DataFrame, validation: pd.DataFrame, labels: list[str],
                    location: str, max_length: int) -> TrainParts:
        """Model, encoded splits, collator and compute_metrics for Trainer."""
        raise NotImplementedError

    def warm_start(self, parts: TrainParts, train: pd.DataFrame, validation: pd.DataFrame,
                   labels: list[str], location: str, max_length: int, cache_dir: Path,
                   device: str = "cpu", seed: int = 42) -> TrainParts:
        """Parts whose head starts as a linear probe on frozen features (HEAD_INIT probe); as is by default."""
        return parts

    def tune(self, logits: Any, gold: Any, labels: list[str]) -> dict:
        """Settings fitted on the validation split's logits and gold labels after training, saved
        with the model (ModelInfo.tuned) and read back by prediction; {} by default."""
        return {}

    # --- prediction (03, 04, serve, export) --------------------------------------------
    def decisions(self, logits: Any, info: Any) -> Any:
        """What the model (its ModelInfo `info`) decides from a batch of logits: the export check
        compares them. The most probable label per input by default."""
        import numpy as np

        return np.asarray(logits).argmax(axis=-1)

    def inference_model(self, model: Any, precision: str) -> Any:
        """The loaded model as prediction runs it at `precision` (as is by default: a GPU's
        autocast is applied per batch; a generator takes bf16 weights instead)."""
        return model

    def load_trained(self, model_dir: Path):
        """(processor, model) of a saved model folder: safetensors only, never remote code."""
        raise NotImplementedError

    def check_inputs(self, inputs: Any) -> list:
        """One input or a list of them as a list; an error names the bad item."""
        raise NotImplementedError

    def predict(self, predictor, inputs: list) -> list[dict]:
        """Per input a JSON-ready result (label and probabilities, or entity spans)."""
        raise NotImplementedError

    def predict_proba(self, predictor, inputs: list) -> Any:
        """Class probabilities per input, for tasks with one label per input."""
        raise NotImplementedError(f"{self.name} has no single label per input; use predict().")

    def inputs_of(self, frame: pd.DataFrame) -> list:
        """The model inputs of a split frame."""
        raise self._undefined("inputs_of")

    onnx_dynamic_axes: dict[int, str] = {0: "batch"}  # of every exported input (text: + sequence)

    def onnx_examples(self, max_length: int) -> list:
        """Two example inputs to trace the ONNX export with (max_length: the model's MAX_LENGTH)."""
        raise NotImplementedError(f"{self.name} has no ONNX export.")

    def onnx_inputs(self, processor, items: list, max_length: int, kind: str) -> dict:
        """The encoded inputs of the exported graph, as "pt" tensors or "np" arrays."""
        raise NotImplementedError(f"{self.name} has no ONNX export.")

    def show_input(self, item: Any) -> str:
        """One input as a short string for tables."""
        return str(item)

    def predictions_table(self, frame: pd.DataFrame, results: list[dict]) -> pd.DataFrame:
        """One row per example of a split: gold, predicted and whether it is right."""
        raise NotImplementedError

    def result_columns(self, results: list[dict], labels: list[str]) -> dict[str, list]:
        """Columns appended to a user's table when it is scored."""
        raise NotImplementedError

    def result_html(self, result: dict, item: Any) -> str:
        """One prediction as HTML for the demo."""
        raise NotImplementedError

    # --- one input in the demo and the API (04, serve) ----------------------------------
    def demo_input(self, example: Any = None) -> DemoInput:
        """The demo's widgets for one input, holding `example` when given."""
        raise self._undefined("demo_input")

    def demo_examples(self, example: str, test: pd.DataFrame, n: int = 3) -> list:
        """Inputs the demo opens with: by default the first n of the test split (text: EXAMPLE)."""
        return self.inputs_of(test)[:n]

    def predict_route(self, predictor, run: str, **limits: int) -> PredictRoute:
        """POST /predict for this task's inputs, answering for `run`; `limits` overrides its defaults."""
        raise self._undefined("predict_route")

    def api_example(self, url: str) -> str:
        """A shell command that sends one example input to POST /predict at `url`."""
        raise self._undefined("api_example")

    # --- evaluation (02, 03) -------------------------------------------------------------
    def baseline_scores(self, splits: dict[str, pd.DataFrame], labels: list[str], split: str,
                        seed: int = 42) -> dict:
        """Fit the task's quick baseline on train and score it on `split`."""
        raise NotImplementedError

    def extra_baselines(self, splits: dict[str, pd.DataFrame], labels: list[str], split: str,
                        model_location: str, max_length: int, cache_dir: Path,
                        seed: int = 42) -> dict[str, dict]:
        """More reference scores on `split` by name (text: embeddings + linear); {} when none apply."""
        return {}

    def probabilities(self, outputs) -> np.ndarray:
        """The model's probabilities from its raw validation outputs (Trainer.predict's
        predictions): a softmax over the classes."""
        logits = np.asarray(outputs[0] if isinstance(outputs, tuple) else outputs, dtype=np.float64)
        exp = np.exp(logits - logits.max(axis=-1, keepdims=True))
        return exp / exp.sum(axis=-1, keepdims=True)

    def prepare_features(self, splits: dict[str, pd.DataFrame], model_location: str,
                         max_length: int, cache_dir: Path, device: str = "cpu") -> int:
        """Compute, once in 01, what 02's warm start and baselines read (cached in `cache_dir`,
        beside the run folders), so 02's time budget goes to training; the number of inputs
        prepared (0: this task has nothing to prepare)."""
        return 0

    def keep_the_better(self, model_dir: Path, validation_proba, splits: dict[str, pd.DataFrame],
                        labels: list[str], seed: int = 42) -> dict:
        """After training: make model/ predict as the better of the model and the task's baseline on
        validation (text: a mix of their probabilities); what was chosen, or {} when not applicable.
        `validation_proba()` gives the trained model's validation probabilities."""
        return {}

    def score(self, predictions: pd.DataFrame, labels: list[str]) -> dict:
        """Metrics of a predictions table; includes main_metric and per_class."""
        raise NotImplementedError

    def confusion_figure(self, predictions: pd.DataFrame, labels: list[str]):
        """The confusion view of a predictions table."""
        raise NotImplementedError

    def worst_errors(self, predictions: pd.DataFrame, k: int = 10) -> pd.DataFrame:
        """The k mistakes most worth reading."""
        raise NotImplementedError

    def errors_figure(self, predictions: pd.DataFrame, k: int = 10):
        """A picture of the worst mistakes (e.g. image thumbnails), or None."""
        return None

    def __repr__(self) -> str:
        return f"<task {self.name}: judged by {self.main_metric}>"
