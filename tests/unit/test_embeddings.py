"""Embeddings, the linear probe, zero-shot and choose_method, on the real packaged MiniLM and a few texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import hackkit as hk
from hackkit.models import embeddings as em
from hackkit.train import methods

SAMPLE = Path(__file__).resolve().parents[2] / "data" / "support_intents.csv"


@pytest.fixture(scope="session")
def minilm() -> str:
    """Folder of the packaged all-MiniLM-L6-v2."""
    return hk.resolve_model("sentence-transformers/all-MiniLM-L6-v2").location


@pytest.fixture(scope="session")
def few_intents() -> pd.DataFrame:
    """Six texts per class of the sample intents (48 rows), fixed seed."""
    frame = pd.read_csv(SAMPLE)
    return frame.groupby("label", group_keys=False).sample(n=6, random_state=0).reset_index(drop=True)


@pytest.fixture(scope="session")
def few_embedded(few_intents, minilm) -> np.ndarray:
    """Embeddings of few_intents (computed once; never modified)."""
    vectors = em.embed(list(few_intents["text"]), minilm, progress=False, precision="fp32")
    vectors.setflags(write=False)
    return vectors


def test_mean_pooling_matches_hand_computation_with_padding(minilm):
    import torch
    from transformers import AutoModel, AutoTokenizer

    texts = ["Where is my parcel?", "I was charged twice for the same order and want my money back today."]
    tokenizer = AutoTokenizer.from_pretrained(minilm)
    model = AutoModel.from_pretrained(minilm).eval()
    expected = []
    for text in texts:  # one text at a time: no padding at all
        with torch.no_grad():
            hidden = model(**tokenizer(text, return_tensors="pt")).last_hidden_state[0]
        vector = hidden.mean(dim=0).numpy()
        expected.append(vector / np.linalg.norm(vector))
    got = em.embed(texts, minilm, batch_size=2, progress=False,  # one padded batch of two
                   precision="fp32")
    assert got.dtype == np.float32 and got.shape == (2, 384)
    assert len(tokenizer(texts[0])["input_ids"]) < len(tokenizer(texts[1])["input_ids"])  # padding happened
    np.testing.assert_allclose(got, np.stack(expected), atol=1e-5)
    np.testing.assert_allclose(np.linalg.norm(got, axis=1), 1.0, atol=1e-5)


def test_order_restored_after_length_sorting(minilm, few_intents, few_embedded):
    texts = list(few_intents["text"][:12])
    one_by_one = np.stack([em.embed([t], minilm, progress=False, precision="fp32")[0]
                           for t in texts[::-1]])[::-1]
    batched = em.embed(texts, minilm, batch_size=4, progress=False,  # sorted by length internally
                       precision="fp32")
    np.testing.assert_allclose(batched, one_by_one, atol=1e-5)
    np.testing.assert_allclose(batched, few_embedded[:12], atol=1e-5)


def test_bf16_where_the_cpu_has_it_close_to_fp32_and_cached_apart(minilm, few_intents,
                                                                    few_embedded, tmp_path,
                                                                    monkeypatch):
    import hackkit.device

    texts = list(few_intents["text"][:16])
    monkeypatch.setattr(hackkit.device, "cpu_has_bf16", lambda: True)
    assert em.embedding_precision("cpu") == "bf16" and em.embedding_precision("cpu", "fp32") == "fp32"
    fast = em.cached_embeddings(texts, minilm, 128, tmp_path, name="train", progress=False)
    assert fast.dtype == np.float32
    cosine = (fast * few_embedded[:16]).sum(axis=1)
    assert cosine.min() > 0.999 and not np.array_equal(fast, few_embedded[:16])  # bf16 did run
    monkeypatch.setattr(hackkit.device, "cpu_has_bf16", lambda: False)  # emulated: full precision
    assert em.embedding_precision("cpu") == "fp32"
    exact = em.cached_embeddings(texts, minilm, 128, tmp_path, name="train", progress=False)
    np.testing.assert_allclose(exact, few_embedded[:16], atol=1e-5)
    assert len(list(tmp_path.glob("train-*.safetensors"))) == 2  # one entry per precision
    with pytest.raises(ValueError, match="precision='int8'.*'auto'"):
        em.embed(texts, minilm, precision="int8")


def test_embed_rejects_non_strings_naming_the_position(minilm):
    with pytest.raises(TypeError, match=r"texts\[1\] is float"):
        em.embed(["fine", float("nan")], minilm, progress=False)


def test_cache_hit_then_invalidation_by_changed_text(minilm, tmp_path, monkeypatch):
    texts = ["refund please", "reset my password", "where is my order"]
    first = em.cached_embeddings(texts, minilm, 64, tmp_path, name="train", progress=False)
    files = list(tmp_path.glob("train-*.safetensors"))
    assert len(files) == 1 and not list(tmp_path.glob("*.pkl")) and not list(tmp_path.glob("*.npy"))

    def fail(*args, **kwargs):
        raise AssertionError("embed() was called although the cache should have answered")

    real_embed = em.embed
    monkeypatch.setattr(em, "embed", fail)
    again = em.cached_embeddings(texts, minilm, 64, tmp_path, name="train", progress=False)
    np.testing.assert_array_equal(first, again)
    with pytest.raises(AssertionError, match="cache should have answered"):  # one changed text
        em.cached_embeddings(texts[:2] + ["where is my order!"], minilm, 64, tmp_path, name="train")
    with pytest.raises(AssertionError, match="cache should have answered"):  # another max_length
        em.cached_embeddings(texts, minilm, 32, tmp_path, name="train")
    monkeypatch.setattr(em, "embed", real_embed)
    changed = em.cached_embeddings(texts[:2] + ["where is my order!"], minilm, 64, tmp_path, name="train",
                                   progress=False)
    np.testing.assert_array_equal(changed[:2], first[:2])
    assert not np.allclose(changed[2], first[2])
    names = sorted(f.name for f in tmp_path.glob("train-*.safetensors"))
    assert len(names) == 2 and files[0].name in names  # both kept: another run may use the first


def test_the_cache_deletes_the_least_recently_used_entries_beyond_its_limits(tmp_path):
    import os

    for i, name in enumerate(["a-1", "b-2", "c-3", "d-4"]):  # 1 MB each, a oldest
        path = tmp_path / f"{name}.safetensors"
        path.write_bytes(b"0" * 2**20)
        os.utime(path, (1000 + i, 1000 + i))
    for i in range(4):
        probe = tmp_path / f"probe-{i}"
        probe.mkdir()
        os.utime(probe, (1000 + i, 1000 + i))
    (tmp_path / "probe-9.tmp123").mkdir()  # another process writing a probe: left alone
    deleted = em.evict(tmp_path, keep=tmp_path / "a-1.safetensors", limit_mb=2.5, probes=2)
    assert sorted(deleted) == ["b-2.safetensors", "probe-0", "probe-1"]  # a-1 was just written
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "a-1.safetensors", "c-3.safetensors", "d-4.safetensors", "probe-2", "probe-3", "probe-9.tmp123"]
    assert em.evict(tmp_path, limit_mb=2.5, probes=2) == ["a-1.safetensors"]  # now the oldest goes


def test_classifier_beats_chance_and_round_trips_without_pickle(few_intents, few_embedded, tmp_path):
    train = few_intents.index % 3 != 0  # 4 per class to train, 2 per class held out
    probe = em.EmbeddingClassifier(min_validation_per_class=2,  # exercise the C search on 2 per class
                                   embedding={"model": "all-MiniLM-L6-v2", "max_length": 128})
    probe.fit(few_embedded[train], few_intents["label"][train], few_embedded[~train],
              few_intents["label"][~train], seed=0)
    assert probe.labels == sorted(few_intents["label"].unique())
    assert probe.c in em.C_GRID and "validation" in probe.c_source and len(probe.validation_scores) == 4
    proba = probe.predict_proba(few_embedded[~train])
    assert proba.shape == (int((~train).sum()), 8)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-5)
    accuracy = np.mean(np.array(probe.labels)[proba.argmax(1)] == few_intents["label"][~train].to_numpy())
    assert accuracy > 0.5  # chance is 1/8

    probe.save(tmp_path / "probe")
    written = sorted(p.name for p in (tmp_path / "probe").iterdir())
    assert written == [em.PROBE_SETTINGS, em.PROBE_WEIGHTS]
    loaded = em.EmbeddingClassifier.load(tmp_path / "probe")
    np.testing.assert_array_equal(loaded.predict_proba(few_embedded[~train]), proba)
    assert loaded.labels == probe.labels and loaded.c == probe.c and loaded.embedding["max_length"] == 128


def test_probe_matches_sklearn_and_head_weights_give_the_logits(few_intents, few_embedded):
    from sklearn.linear_model import LogisticRegression

    binary = few_intents["label"].isin(["refund_request", "order_status"]).to_numpy()
    x, y = few_embedded[binary], few_intents["label"][binary]
    probe = em.EmbeddingClassifier().fit(x, y)  # no validation: the default C
    assert probe.c == em.DEFAULT_C and "default" in probe.c_source
    reference = LogisticRegression(C=em.DEFAULT_C, class_weight="balanced", max_iter=2000,
                                   random_state=42).fit(x, y)
    np.testing.assert_allclose(probe.predict_proba(x), reference.predict_proba(x), atol=1e-4)
    weight, bias = probe.head_weights()
    assert weight.dtype == np.float32 and weight.shape == (2, 384) and bias.shape == (2,)
    np.testing.assert_allclose(em._softmax(x @ weight.T + bias), probe.predict_proba(x), atol=1e-6)


def test_small_validation_keeps_the_default_c(few_intents, few_embedded):
    train = few_intents.index % 3 != 0
    probe = em.EmbeddingClassifier().fit(few_embedded[train], few_intents["label"][train],
                                         few_embedded[~train], few_intents["label"][~train])
    assert probe.c == em.DEFAULT_C and probe.validation_scores == {}
    assert "validation under 10 rows per class" in probe.c_source


def test_classifier_errors_name_the_parameter(few_embedded, tmp_path):
    with pytest.raises(ValueError, match="train_labels has 3 entries but train_emb has 48 rows"):
        em.EmbeddingClassifier().fit(few_embedded, ["a", "b", "c"])
    with pytest.raises(RuntimeError, match="not fitted"):
        em.EmbeddingClassifier().predict_proba(few_embedded)
    with pytest.raises(FileNotFoundError, match="probe.safetensors"):
        em.EmbeddingClassifier.load(tmp_path)


def test_zero_shot_refund_nearer_refund_than_password(minilm):
    texts = em.embed(["refund my money", "I forgot my password and cannot log in"], minilm, progress=False)
    proba = em.zero_shot_proba(texts, ["refund", "password login"], minilm)
    assert proba.shape == (2, 2)
    assert proba[0, 0] > 0.5 and proba[1, 1] > 0.5
    described = em.label_texts(["refund_request", "login"], {"login": "cannot sign in"})
    assert described == ["refund request", "login: cannot sign in"]


def test_zero_shot_refuses_unnormalised_embeddings(minilm):
    with pytest.raises(ValueError, match="text_emb rows are not unit length"):
        em.zero_shot_proba(np.ones((2, 384), dtype=np.float32), ["a", "b"], minilm)


def test_choose_method_zero_shot_without_labels():
    method, reason = methods.choose_method({"refund": 0, "login": 0, "shipping": 0}, time_budget_minutes=30)
    assert method == "zero-shot"
    assert "0 labelled" in reason


def test_choose_method_zero_shot_when_a_class_has_no_examples():
    method, reason = methods.choose_method({"refund": 40, "login": 0}, time_budget_minutes=30)
    assert method == "zero-shot" and "login" in reason


def test_choose_method_embeddings_with_few_labels():
    counts = pd.Series({f"intent{i}": 8 for i in range(10)})
    method, reason = methods.choose_method(counts, time_budget_minutes=60)
    assert method == "embeddings"
    assert "8" in reason and str(methods.FINETUNE_MIN_PER_CLASS) in reason


def test_choose_method_contrastive_with_few_labels_of_many_classes():
    counts = {f"intent{i}": 10 for i in range(150)}
    method, reason = methods.choose_method(counts, time_budget_minutes=1)
    assert method == "contrastive" and "10 labelled" in reason and "150 classes" in reason
    # Too few classes for its in-batch negatives, or too short a budget: the frozen probe.
    assert methods.choose_method(dict(list(counts.items())[:5]), 1)[0] == "embeddings"
    assert methods.choose_method(counts, time_budget_minutes=0.2)[0] == "embeddings"


def test_choose_method_embeddings_when_budget_too_short():
    counts = {f"intent{i}": 500 for i in range(10)}
    method, reason = methods.choose_method(counts, time_budget_minutes=1)
    assert method == "embeddings" and "5000" in reason and "1 min" in reason


def test_choose_method_finetune_with_many_labels_and_time():
    counts = {f"intent{i}": 200 for i in range(8)}
    method, reason = methods.choose_method(counts, time_budget_minutes=60)
    assert method == "finetune"
    assert "200" in reason and "1600" in reason


def test_choose_method_rejects_bad_input():
    with pytest.raises(ValueError, match="time_budget_minutes"):
        methods.choose_method({"a": 5, "b": 5}, time_budget_minutes=-1)
    with pytest.raises(ValueError, match="examples_per_class"):
        methods.choose_method({"a": 5}, time_budget_minutes=10)
