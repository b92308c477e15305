"""The one prediction path: load a saved model once, predict in batches on CPU or GPU.

03 (test split), 04 (widget), `serve`, export and the tests all use Predictor. The model folder
says its task, labels and MAX_LENGTH; the task turns inputs into batches and outputs into results.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from hackkit.device import resolve_device, resolve_precision
from hackkit.paths import find_input
from hackkit.registry import get_task
from hackkit.runfolder import MODEL_INFO, Run, find_run, read_model_info
from hackkit.tables import check_column, read_table
from hackkit.use.export import _as_feed
from hackkit.use.quantize import onnx_int8_file, onnx_session, quantize_int8


class Predictor:
    """A trained model loaded once; `predict(inputs)` returns one JSON-ready result per input."""

    def __init__(self, model_dir: str | Path, device: str = "auto", batch_size: int = 32,
                 max_length: int | None = None, int8: bool = False) -> None:
        self.model_dir = Path(model_dir).resolve()
        info = read_model_info(self.model_dir)
        self.task = get_task(info.task)
        self.labels = list(info.labels)
        self.max_length = max_length or info.max_length  # what the model was trained with
        self.method = info.method
        self.info = info  # the whole self-description, e.g. its tuned decision thresholds
        self.batch_size = batch_size
        self.device = resolve_device("cpu" if int8 else device)  # int8 kernels are CPU-only
        # bf16/fp16 on a GPU; bf16 on a CPU with native bf16 for tasks that gain from it
        self.precision = "fp32" if int8 else resolve_precision(self.device, "auto",
                                                                self.task.cpu_precision)
        self.int8 = int8
        self.session = None  # ONNX Runtime's int8 graph, for tasks that export to ONNX
        self.processor, model = self.task.load_trained(self.model_dir)
        if int8 and self.task.onnx_export:
            self.session = onnx_session(onnx_int8_file(self.model_dir))
            self._feeds = {i.name for i in self.session.get_inputs()}
        elif int8:
            model = quantize_int8(model)
        self.model = self.task.inference_model(model.to(self.device).eval(), self.precision)

    @classmethod
    def from_run(cls, run_dir: str | Path = "", device: str = "auto",
                 batch_size: int = 32, int8: bool = False) -> Predictor:
        """Load from a run folder (empty: the latest with a model) or a model folder itself."""
        path = find_input(run_dir) if run_dir else None
        if path is not None and ((path / MODEL_INFO).is_file() or (path / "config.json").is_file()):
            return cls(path, device=device, batch_size=batch_size, int8=int8)
        return cls(Run(find_run(run_dir or "", needs="model")).model_dir, device=device,
                   batch_size=batch_size, int8=int8)

    def __repr__(self) -> str:
        return (f"Predictor({self.model_dir}, task={self.task.name}, device={self.device}, "
                f"precision={self.precision}{self._engine()}, "
                f"max_length={self.max_length}, labels={self.labels})")

    def _engine(self) -> str:
        """", int8 (ONNX Runtime)", ", int8 (PyTorch)" or nothing."""
        if not self.int8:
            return ""
        return ", int8 (ONNX Runtime)" if self.session is not None else ", int8 (PyTorch)"

    def outputs(self, batch) -> np.ndarray:
        """The model's raw outputs (logits; a regression model's scores) for one encoded batch,
        as float32 (autocast on a GPU)."""
        import torch

        if self.session is not None:
            feed = _as_feed({k: np.asarray(v) for k, v in batch.items() if k in self._feeds})
            return np.asarray(self.session.run(["logits"], feed)[0], dtype=np.float32)
        dtype = {"bf16": torch.bfloat16, "fp16": torch.float16}.get(self.precision)
        with torch.inference_mode(), torch.autocast(self.device, dtype=dtype,
                                                    enabled=dtype is not None):
            # A tokenizer's BatchEncoding or a plain dict of tensors (e.g. pixel_values)
            inputs = {name: value.to(self.device) for name, value in batch.items()}
            return self.model(**inputs).logits.float().cpu().numpy()

    def probabilities(self, batch) -> np.ndarray:
        """Softmax over the model's logits for one encoded batch."""
        import torch

        return torch.softmax(torch.from_numpy(self.outputs(batch)), dim=-1).numpy()

    def check(self, inputs: Any) -> list:
        """The inputs as a list the task accepts; a clear error otherwise."""
        return self.task.check_inputs(inputs)

    def predict(self, inputs: Any) -> list[dict]:
        """Per input: label, score and probabilities (NER: entity spans with character offsets)."""
        return self.task.predict(self, self.check(inputs))

    def predict_proba(self, inputs: Any) -> np.ndarray:
        """Class probabilities, one row per input, for tasks with one label per input."""
        try:
            return self.task.predict_proba(self, self.check(inputs))
        except NotImplementedError:
            raise ValueError(f"predict_proba gives one label per input; {self.model_dir} is a "
                             f"{self.task.name} model: use predict().") from None

    def table(self, inputs: Any) -> pd.DataFrame:
        """Predictions as a table: the input and the task's result columns."""
        items = self.check(inputs)
        columns = self.task.result_columns(self.predict(items), self.labels)
        shown = {k: v for k, v in columns.items() if not k.startswith("p_")}
        return pd.DataFrame({self.task.input_column: [self.task.show_input(i) for i in items],
                             **shown})


def score_table(predictor: Predictor, frame: pd.DataFrame, text_column: str = "text",
                source: str | Path = "the table") -> pd.DataFrame:
    """The table with the task's result columns appended (label, confidence, p_<label>...)."""
    check_column(frame, text_column, "TEXT_COLUMN", Path(str(source)))
    inputs = frame[text_column].fillna("").astype(str).tolist()
    out = frame.copy()
    for name, values in predictor.task.result_columns(predictor.predict(inputs),
                                                      predictor.labels).items():
        out[name] = values
    return out


def unique_path(path: Path) -> Path:
    """`path`, or `name-1.ext`, `name-2.ext`, ... if it exists: nothing saved is overwritten."""
    candidate, i = path, 0
    while candidate.exists():
        i += 1
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
    return candidate


def score_file(predictor: Predictor, path: str | Path, text_column: str = "text",
               out_dir: str | Path | None = None) -> Path:
    """Score every row of a CSV/TSV/JSONL/Parquet file; write `<name>_scored.csv`, return it."""
    frame = read_table(path)
    scored = score_table(predictor, frame, text_column, source=path)
    folder = Path(out_dir) if out_dir else Path(path).resolve().parent
    folder.mkdir(parents=True, exist_ok=True)
    out = unique_path(folder / f"{Path(path).stem}_scored.csv")
    scored.to_csv(out, index=False)
    return out
