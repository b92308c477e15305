"""Shared fixtures for every tier: small tables, shipped-data splits, tiny models and runs, a runs
root per test, free ports and servers stopped by their own PID. Session fixtures are never
modified by a test: tests that write into a run copy it first (`copy_run`)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk
from helpers import GENERATION_SAMPLE, MODEL, SAMPLE, TEXT, make_image_folder


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


@pytest.fixture
def runs_dir(tmp_path: Path, monkeypatch) -> Path:
    """An empty runs root for this test (kernels and servers it starts inherit the variable)."""
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(tmp_path / "runs"))
    return tmp_path / "runs"


@pytest.fixture(scope="session")
def sample_splits() -> dict[str, pd.DataFrame]:
    """Stratified splits of the shipped sample data (read-only: copy before changing)."""
    dataset = hk.load_data(SAMPLE)
    return hk.make_splits(hk.deduplicate(dataset.frame, TEXT)[0], 0.2, 0.1, 42, TEXT)


def _small_splits(sample_splits: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """A stratified slice of the sample splits: 96 train, 40 validation, 40 test."""
    return {"train": TEXT.subsample(sample_splits["train"], 96, seed=0),
            "validation": TEXT.subsample(sample_splits["validation"], 40, seed=0),
            "test": TEXT.subsample(sample_splits["test"], 40, seed=0)}


@pytest.fixture
def run_with_splits(tmp_path: Path, sample_splits) -> Path:
    """A run folder holding a small stratified slice of the sample splits (as 01 writes them)."""
    run_dir = tmp_path / "run"
    hk.save_splits(_small_splits(sample_splits), run_dir, TEXT)
    return run_dir


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer BERT with the packaged tokenizer: trains in seconds.

    For tests about plumbing (sweeps, resume, serving, widgets), where accuracy does not matter.
    """
    from transformers import AutoTokenizer, BertConfig, BertModel

    folder = tmp_path_factory.mktemp("tiny-model")
    tokenizer = AutoTokenizer.from_pretrained(hk.resolve_model(MODEL).location)
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=2,
                        num_attention_heads=2, intermediate_size=64, max_position_embeddings=512)
    BertModel(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


# A ChatML template like SmolLM2's, without its default system message (shorter test sequences).
CHAT_TEMPLATE = ("{% for m in messages %}{{ '<|im_start|>' + m['role'] + '\\n' + m['content'] + "
                 "'<|im_end|>\\n' }}{% endfor %}{% if add_generation_prompt %}"
                 "{{ '<|im_start|>assistant\\n' }}{% endif %}")


@pytest.fixture(scope="session")
def tiny_generator(tmp_path_factory) -> Path:
    """A randomly initialised 2-layer Llama with a 600-token byte-level BPE tokenizer trained on
    the generation sample and a chat template: the text-generation task's plumbing in seconds."""
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    folder = tmp_path_factory.mktemp("tiny-generator")
    frame = pd.read_csv(GENERATION_SAMPLE)
    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    bpe.decoder = decoders.ByteLevel()
    specials = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
    bpe.train_from_iterator(list(frame["prompt"]) + list(frame["response"]) + ["user assistant"],
                            trainers.BpeTrainer(vocab_size=600, special_tokens=specials,
                                                initial_alphabet=pre_tokenizers.ByteLevel.alphabet()))
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>",
                                        pad_token="<|endoftext|>", bos_token="<|im_start|>")
    tokenizer.chat_template = CHAT_TEMPLATE
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128,
                         num_hidden_layers=2, num_attention_heads=4, num_key_value_heads=2,
                         max_position_embeddings=512, tie_word_embeddings=True,
                         eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
                         bos_token_id=tokenizer.bos_token_id)
    torch.manual_seed(0)  # the same tiny model in every session
    LlamaForCausalLM(config).save_pretrained(folder, safe_serialization=True)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="session")
def tiny_generation_run(tmp_path_factory, tiny_generator) -> Path:
    """A text-generation run folder whose model/ is the untrained tiny generator (no training: for
    the API, demo and browser tests, which are about plumbing), with the sample's first 12 pairs
    as splits. Read-only."""
    from hackkit.runfolder import ModelInfo, write_model_info

    frame = pd.read_csv(GENERATION_SAMPLE).head(12).rename(columns={"prompt": "text"})
    frame["references"] = ""
    run_dir = tmp_path_factory.mktemp("generation-runs") / "gen"
    hk.save_splits({"train": frame[:6], "validation": frame[6:9], "test": frame[9:]}, run_dir,
                   hk.get_task("text-generation"))
    shutil.copytree(tiny_generator, hk.Run(run_dir).model_dir)
    write_model_info(hk.Run(run_dir).model_dir, ModelInfo(
        task="text-generation", labels=[], max_length=48, method="lora", base_model=""))
    return run_dir


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, tiny_model, sample_splits) -> Path:
    """A run folder (alone under its own runs root) with splits and a model trained from tiny_model.

    Trains in a few seconds; for the predictor, export, API and demo tests. Read-only.
    """
    run_dir = tmp_path_factory.mktemp("tiny-runs") / "tiny"
    hk.save_splits(_small_splits(sample_splits), run_dir, TEXT)
    # The network alone (no TF-IDF share mixed in): these tests compare it with its exports and
    # plain transformers; the mix is tested where it is made (test_train).
    hk.finetune(run_dir, hk.TrainConfig(model=str(tiny_model), epochs=1, batch_size=16,
                                        learning_rate=1e-3, patience=0, device="cpu",
                                        time_budget_minutes=0, baseline_blend=False))
    return run_dir


@pytest.fixture(scope="session")
def image_run(tmp_path_factory) -> Path:
    """An image run (alone under its own runs root) trained through hk.finetune on 24 generated
    images at 64 px, one epoch: circle, star, triangle. Seconds; read-only."""
    root = tmp_path_factory.mktemp("image-run")
    folder = make_image_folder(root / "shapes")
    diagnosis = hk.diagnose(hk.DataConfig(task="image-classification", data_path=str(folder),
                                          test_size=0.25, val_size=0.25, max_length=64))
    diagnosis.raise_for_errors()
    run_dir = root / "runs" / "img"
    task = hk.get_task("image-classification")
    hk.save_splits(diagnosis.splits, run_dir, task)
    hk.finetune(run_dir, hk.TrainConfig(task=task.name, epochs=1, batch_size=8, max_length=64,
                                        patience=0, device="cpu", time_budget_minutes=0))
    return run_dir


@pytest.fixture
def copy_run(tmp_path: Path):
    """Copy a (session) run folder into this test's temp folder, so the test may write into it."""
    def _copy(run_dir: Path, name: str = "") -> Path:
        target = tmp_path / (name or run_dir.name)
        shutil.copytree(run_dir, target)
        return target
    return _copy
