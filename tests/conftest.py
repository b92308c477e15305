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
