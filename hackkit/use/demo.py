"""The demo widget: one input as its task takes it (a text box, an image upload, ...) and the
result as its task shows it; score a whole file."""

from __future__ import annotations

import base64
import html
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from hackkit.data.feedback import append_feedback
from hackkit.runfolder import Run, load_splits
from hackkit.use.predict import Predictor, score_file, unique_path

DOWNLOAD_LIMIT_BYTES = 20_000_000  # bigger results are only saved: a data: link that size stalls the browser


def download_link_html(path: Path, limit: int = DOWNLOAD_LIMIT_BYTES) -> str:
    """A link that downloads the file from the notebook page (a data: URL), if small enough."""
    size = path.stat().st_size
    if size > limit:
        return f"{path.name} is {size / 1e6:.0f} MB: too big to download here; find it at {path}."
    data = base64.b64encode(path.read_bytes()).decode()
    return (f'<a download="{html.escape(path.name)}" href="data:text/csv;base64,{data}">'
            f"Download {html.escape(path.name)}</a>")


class Debouncer:
    """Call `fn` once calls have paused for `delay` seconds, with the last call's arguments."""

    def __init__(self, fn: Callable, delay: float) -> None:
        self.fn, self.delay = fn, delay
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()

    def __call__(self, *args) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.delay, self.fn, args)
            self._timer.daemon = True
            self._timer.start()


def demo_examples(run_dir: str | Path, example: str = "", n: int = 3) -> list:
    """Inputs to open the demo with, as the run's task picks them (text: EXAMPLE; images: test images)."""
    run = Run(run_dir)
    return run.task().demo_examples(example, load_splits(run.path)[0]["test"], n)


class DemoApp:
    """ipywidgets demo: one input (as its task takes it, e.g. a text box or an image upload) with
    its prediction, corrections where the task takes them, and batch scoring of a file."""

    def __init__(self, predictor: Predictor, out_dir: str | Path | None = None,
                 example: Any = "", delay: float = 0.4,
                 feedback_path: str | Path | None = None) -> None:
        import ipywidgets as w

        task = predictor.task
        self.predictor = predictor
        self.out_dir = Path(out_dir) if out_dir else Run(predictor.model_dir.parent).scored
        # Corrections go to the run folder's feedback file; 01's FEEDBACK merges them into a new run.
        self.feedback_path = (Path(feedback_path) if feedback_path
                              else Run(predictor.model_dir.parent).feedback)
        self.last: tuple[Any, dict] | None = None
        self.input = task.demo_input(example or None)
        self.button = w.Button(description="Predict", button_style="primary", icon="play")
        self.live = w.Checkbox(value=True, description="predict as you type", indent=False)
        self.result = w.HTML()
        self.path = w.Text(placeholder="data/new_messages.csv", description="File path")
        self.upload = w.FileUpload(accept=".csv,.tsv,.jsonl,.json,.parquet", multiple=False,
                                   description="Upload")
        self.column = w.Text(value=task.input_column,
                             description=f"{task.input_column.capitalize()} column")
        self.score_button = w.Button(description="Score file", icon="table")
        self.file_result = w.HTML()
        for widget, name in [(self.button, "predict"), (self.result, "result"),
                             (self.score_button, "score")]:
            widget.add_class(f"hackkit-demo-{name}")  # stable hooks for the browser test

        self._debounced = Debouncer(self.show, delay)
        self.button.on_click(lambda _: self.show())
        self.input.observe(self.on_change)
        self.score_button.on_click(lambda _: self.score())
        self.right_label = w.Dropdown(options=list(predictor.labels), description="Right label")
        self.correct_button = w.Button(description="Save correction", icon="check")
        self.feedback_note = w.HTML()
        self.correct_button.on_click(lambda _: self.correct())
        self.correct_button.add_class("hackkit-demo-correct")
        wrong = w.VBox([w.HTML("<b>Wrong?</b> Pick the right label and save it: it is added to "
                               "the next run's training data (01, <code>FEEDBACK</code>)."),
                        w.HBox([self.right_label, self.correct_button]), self.feedback_note])
        controls = w.HBox([self.button, self.live]) if self.input.live else self.button
        single = self.input.arrange(controls, self.result)
        if task.accepts_feedback:
            single = w.VBox([single, wrong])
        batch = w.VBox([w.HBox([self.upload, self.path]), w.HBox([self.column, self.score_button]),
                        self.file_result])
        self.ui = w.Tab(children=[single, batch], titles=[self.input.title, "Score a file"])
        if self.input.read() is not None:
            self.show()

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)

    def show(self, item: Any = None) -> dict | None:
        """Predict the input (default: the one in the widgets), show it and the result; return it."""
        item = self.input.read() if item is None else item
        if item is None:
            self.result.value = f"<i>{html.escape(self.input.prompt)}</i>"
            return None
        try:
            result = self.input.answer(self.predictor, item,
                                       lambda part: setattr(self.result, "value", part))
        except ValueError as e:  # e.g. an upload that is no image: say so where the result goes
            self.result.value = f'<span style="color:#b91c1c">{html.escape(str(e))}</span>'
            return None
        self.input.shown(item)
        self.result.value = self.predictor.task.result_html(result, item)
        self.last = (item, result)
        return result

    def correct(self, label: str | None = None) -> Path | None:
        """Append the shown text, its prediction and the right label to the feedback file."""
        if self.last is None:
            self.feedback_note.value = "<i>Predict a message first, then correct it.</i>"
            return None
        text, result = self.last
        label = label or self.right_label.value
        path = append_feedback(self.feedback_path, text, result.get("label", ""), label,
                               str(self.predictor.model_dir))
        verdict = "a correction" if label != result.get("label") else "a confirmation"
        self.feedback_note.value = (f"Saved {verdict} ({html.escape(label)}) to "
                                    f"{html.escape(str(path))}.")
        return path

    def on_change(self) -> None:
        """The input changed: predict, once typing pauses for typed inputs (if live prediction is on)."""
        if not self.input.live:
            self.show()
        elif self.live.value:
            self._debounced()

    def _source(self) -> Path:
        """The file to score: the uploaded one (saved into out_dir first), else the path box."""
        if self.upload.value:
            item = self.upload.value[0]
            self.out_dir.mkdir(parents=True, exist_ok=True)
            saved = unique_path(self.out_dir / Path(item["name"]).name)
            saved.write_bytes(bytes(item["content"]))
            return saved
        if not self.path.value.strip():
            raise ValueError("Upload a file or type its path into 'File path' first.")
        return Path(self.path.value.strip())

    def score(self) -> Path | None:
        """Score the chosen file, show a summary and a download link; return the output path."""
        try:
            out = score_file(self.predictor, self._source(), self.column.value.strip(),
                             self.out_dir)
        except (ValueError, FileNotFoundError) as e:
            self.file_result.value = f'<span style="color:#b91c1c">{html.escape(str(e))}</span>'
            return None
        import pandas as pd

        scored = pd.read_csv(out)
        counts = scored["predicted"].value_counts().to_frame(self.predictor.task.unit) if "predicted" in scored \
            else scored.head(5)
        self.file_result.value = (f"Scored {len(scored)} rows into {html.escape(str(out))}. "
                                  f"{download_link_html(out)}{counts.to_html()}")
        return out
