"""The demo widget: type a message and see the result as its task shows it; score a whole file."""

from __future__ import annotations

import base64
import html
import threading
from collections.abc import Callable
from pathlib import Path

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
    """Inputs to open the demo with: EXAMPLE for text, the first test-split images for images."""
    run = Run(run_dir)
    task = run.task()
    if task.input_kind == "text":
        return [example]
    return task.inputs_of(load_splits(run.path)[0]["test"])[:n]


class DemoApp:
    """ipywidgets demo: a text box (or an image upload and path) with prediction, and batch scoring."""

    def __init__(self, predictor: Predictor, out_dir: str | Path | None = None,
                 example: str = "", delay: float = 0.4,
                 feedback_path: str | Path | None = None) -> None:
        import ipywidgets as w

        self.predictor = predictor
        self.out_dir = Path(out_dir) if out_dir else Run(predictor.model_dir.parent).scored
        # Corrections go to the run folder's feedback file; 01's FEEDBACK merges them into a new run.
        self.feedback_path = (Path(feedback_path) if feedback_path
                              else Run(predictor.model_dir.parent).feedback)
        self.last: tuple[str, dict] | None = None
        self.text = w.Textarea(value=example, placeholder="Type a message ...",
                               layout=w.Layout(width="40em", height="5em"))
        self.button = w.Button(description="Predict", button_style="primary", icon="play")
        self.live = w.Checkbox(value=True, description="predict as you type", indent=False)
        self.result = w.HTML()
        self.path = w.Text(placeholder="data/new_messages.csv", description="File path")
        self.upload = w.FileUpload(accept=".csv,.tsv,.jsonl,.json,.parquet", multiple=False,
                                   description="Upload")
        self.column = w.Text(value=predictor.task.input_column,
                             description="Image column" if predictor.task.input_kind == "image"
                             else "Text column")
        self.score_button = w.Button(description="Score file", icon="table")
        self.file_result = w.HTML()
        for widget, name in [(self.text, "input"), (self.button, "predict"),
                             (self.result, "result"), (self.score_button, "score")]:
            widget.add_class(f"hackkit-demo-{name}")  # stable hooks for the browser test

        self._debounced = Debouncer(self.show, delay)
        self.button.on_click(lambda _: self.show_image() if predictor.task.input_kind == "image"
                             else self.show())
        self.text.observe(self.on_type, names="value")
        self.score_button.on_click(lambda _: self.score())
        self.right_label = w.Dropdown(options=list(predictor.labels), description="Right label")
        self.correct_button = w.Button(description="Save correction", icon="check")
        self.feedback_note = w.HTML()
        self.correct_button.on_click(lambda _: self.correct())
        self.correct_button.add_class("hackkit-demo-correct")
        wrong = w.VBox([w.HTML("<b>Wrong?</b> Pick the right label and save it: it is added to "
                               "the next run's training data (01, <code>FEEDBACK</code>)."),
                        w.HBox([self.right_label, self.correct_button]), self.feedback_note])
        self.image_upload = w.FileUpload(accept="image/*", multiple=False, description="Image")
        self.image_path = w.Text(placeholder="data/shapes/star/star_001.jpg", description="Image path",
                                 layout=w.Layout(width="36em"))
        self.preview = w.Image(width=224)
        if predictor.task.input_kind == "image":  # an upload or a path instead of the text box
            self.image_upload.add_class("hackkit-demo-image-upload")
            self.preview.add_class("hackkit-demo-preview")
            self.image_upload.observe(lambda _: self.show_image(), names="value")
            self.image_path.value = str(example or "")
            single = w.VBox([w.HBox([self.image_upload, self.image_path, self.button]),
                             w.HBox([self.preview, self.result])])
        else:
            shown = [self.text, w.HBox([self.button, self.live]), self.result]
            single = w.VBox(shown + ([wrong] if predictor.task.accepts_feedback else []))
        batch = w.VBox([w.HBox([self.upload, self.path]), w.HBox([self.column, self.score_button]),
                        self.file_result])
        one = "One image" if predictor.task.input_kind == "image" else "One message"
        self.ui = w.Tab(children=[single, batch], titles=[one, "Score a file"])
        if example and predictor.task.input_kind == "image":
            self.show_image()
        elif example:
            self.show(example)

    def _repr_mimebundle_(self, **kwargs):
        return self.ui._repr_mimebundle_(**kwargs)

    def show(self, text: str | None = None) -> dict | None:
        """Predict the text (default: the text box) and show the result; return it."""
        text = self.text.value if text is None else text
        if not text.strip():
            self.result.value = "<i>Type a message to see the prediction.</i>"
            return None
        result = self.predictor.predict([text])[0]
        self.result.value = self.predictor.task.result_html(result, text)
        self.last = (text, result)
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

    def show_image(self, image: bytes | str | Path | None = None) -> dict | None:
        """Predict an image (default: the upload, else the path box), show it and the result; return it."""
        if image is None:
            if self.image_upload.value:
                image = bytes(self.image_upload.value[0]["content"])
            elif self.image_path.value.strip():
                image = self.image_path.value.strip()
            else:
                self.result.value = "<i>Upload an image or type its path to see the prediction.</i>"
                return None
        try:
            result = self.predictor.predict([image])[0]
        except ValueError as e:
            self.result.value = f'<span style="color:#b91c1c">{html.escape(str(e))}</span>'
            return None
        data = image if isinstance(image, (bytes, bytearray)) else Path(image).read_bytes()
        self.preview.value = bytes(data)
        self.result.value = self.predictor.task.result_html(result, image)
        return result

    def on_type(self, change: dict) -> None:
        """Text box changed: predict once typing pauses, if live prediction is on."""
        if self.live.value:
            self._debounced(change["new"])

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
