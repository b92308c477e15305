"""Shared fixtures: small tables written in every supported format, and shipped-data splits."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk

SAMPLE = Path(__file__).resolve().parent.parent / "data" / "support_intents.csv"


@pytest.fixture
def small_frame() -> pd.DataFrame:
    """Thirty short texts in three classes, ten each."""
    rows = []
    for label, words in {"refund": "money back", "login": "password reset", "ship": "parcel late"}.items():
        rows += [{"text": f"message {i} about {words} number {i}", "label": label} for i in range(10)]
    return pd.DataFrame(rows)


@pytest.fixture
def write(tmp_path: Path):
    """Write a frame (or raw text) to tmp_path/name and return the path."""
    def _write(name: str, content) -> Path:
        path = tmp_path / name
        if isinstance(content, (str, bytes)):
            path.write_bytes(content.encode() if isinstance(content, str) else content)
        elif name.endswith(".tsv"):
            content.to_csv(path, sep="\t", index=False)
        elif name.endswith(".jsonl"):
            content.to_json(path, orient="records", lines=True)
        elif name.endswith(".parquet"):
            content.to_parquet(path)
        else:
            content.to_csv(path, index=False)
        return path
    return _write


@pytest.fixture(scope="session")
def sample_splits() -> dict[str, pd.DataFrame]:
    """Stratified splits of the shipped sample data."""
    dataset = hk.load_dataset(SAMPLE, "text", "label")
    return hk.make_splits(hk.deduplicate(dataset.frame)[0], 0.2, 0.1, seed=42)


@pytest.fixture
def run_with_splits(tmp_path: Path, sample_splits) -> Path:
    """A run folder holding a small stratified slice of the sample splits (as 01 writes them)."""
    run_dir = tmp_path / "run"
    small = {
        "train": hk.subsample(sample_splits["train"], 96, seed=0),
        "validation": hk.subsample(sample_splits["validation"], 40, seed=0),
        "test": hk.subsample(sample_splits["test"], 40, seed=0),
    }
    hk.save_splits(small, run_dir)
    return run_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT with the packaged tokenizer: trains in seconds.

    For tests about plumbing (sweeps, resume, serving, widgets), where accuracy does not matter.
    """
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-model")
    tokenizer = AutoTokenizer.from_pretrained(hk.resolve_model("sentence-transformers/all-MiniLM-L6-v2").location)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model, sample_splits) -> Path:
    """A run folder (alone under its own runs root) with splits and a model trained from tiny_model.

    Trains in a few seconds; for the predictor, export, API and demo tests.
    """
    run_dir = tmp_path_factory.mktemp("tiny-runs") / "tiny"
    small = {
        "train": hk.subsample(sample_splits["train"], 96, seed=0),
        "validation": hk.subsample(sample_splits["validation"], 40, seed=0),
        "test": hk.subsample(sample_splits["test"], 40, seed=0),
    }
    hk.save_splits(small, run_dir)
    hk.finetune(run_dir, hk.TrainConfig(model=str(tiny_model), epochs=1, batch_size=16,
                                        learning_rate=1e-3, patience=0, device="cpu"))
    return run_dir
