"""The text-generation task from its own definition: reading pairs and chat lines, the data
doctor's findings, supervised fine-tuning on the response tokens (LoRA, merged), generation, the
scores against several references, the baselines, the demo and the API (streaming too). A tiny
randomly initialised Llama stands in for the model: these tests are about plumbing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

import hackkit as hk
from helpers import GENERATION_SAMPLE
from hackkit.tasks.generation import IGNORE, encode_pair, generation_scores, load_tokenizer_for_generation

TASK = hk.get_task("text-generation")


def test_chat_lines_and_tables_read_into_prompt_response_pairs(tmp_path):
    lines = [json.dumps({"messages": [{"role": "user", "content": "hi"},
                                      {"role": "assistant", "content": "hello"}]}),
             "not json",
             json.dumps({"messages": [{"role": "system", "content": "Be brief."},
                                      {"role": "user", "content": "sum 2 and 2"},
                                      {"role": "assistant", "content": "4"}]}),
             json.dumps({"messages": [{"role": "user", "content": "only a question"}]})]
    chat = tmp_path / "chat.jsonl"
    chat.write_text("\n".join(lines))
    dataset = TASK.load(hk.DataConfig(task="text-generation", data_path=str(chat)))
    assert list(dataset.frame["text"]) == ["hi", "Be brief.\n\nsum 2 and 2"]
    assert list(dataset.frame["response"]) == ["hello", "4"]
    [warning] = dataset.warnings
    assert "2 malformed chat lines in chat.jsonl were skipped (line 2:" in warning
    assert "line 4: roles ['user']" in warning

    table = tmp_path / "pairs.csv"
    pd.DataFrame({"question": ["a?", "", "c?"], "answer": ["A", "B", ""],
                  "references": ["", "", "C1\nC2"]}).to_csv(table, index=False)
    data = hk.DataConfig(task="text-generation", data_path=str(table), text_column="question",
                         label_column="answer")
    frame = TASK.load(data).frame
    assert list(frame["text"]) == ["a?", "c?"] and list(frame["response"]) == ["A", "C1"]
    with pytest.raises(ValueError, match="TEXT_COLUMN='prompt' not found|'prompt'"):
        TASK.load(hk.DataConfig(task="text-generation", data_path=str(table), text_column="prompt"))


def test_the_doctor_names_seen_prompts_and_measures_pair_lengths(tmp_path, tiny_generator):
    frame = pd.read_csv(GENERATION_SAMPLE).head(60)
    frame["split"] = ["train"] * 40 + ["validation"] * 10 + ["test"] * 10
    frame.loc[59, "prompt"] = frame.loc[0, "prompt"]  # a test prompt that training has too
    frame.loc[59, "response"] = "Another answer."
    path = tmp_path / "pairs.csv"
    frame.to_csv(path, index=False)
    diagnosis = hk.diagnose(hk.DataConfig(task="text-generation", data_path=str(path),
                                          split_column="split", model=str(tiny_generator),
                                          max_length=40))
    messages = {p.check: p.message for p in diagnosis.problems}
    assert not diagnosis.errors
    assert messages["seen-prompts"].startswith("1 test prompts are also training prompts")
    assert "longer than MAX_LENGTH=40 tokens" in messages["long-texts"]
    assert len(diagnosis.lengths) == 60 and diagnosis.lengths.min() > 20


def test_the_loss_falls_on_response_tokens_only(tiny_generator):
    tokenizer = load_tokenizer_for_generation(str(tiny_generator))
    row = encode_pair(tokenizer, "brand[Lumio]", "The Lumio.", 256)
    answer = [t for t, label in zip(row["input_ids"], row["labels"]) if label != IGNORE]
    assert tokenizer.decode(answer) == "The Lumio.<|im_end|>\n"
    assert row["labels"][:3] == [IGNORE] * 3 and len(row["labels"]) == len(row["input_ids"])


def test_the_response_loss_is_the_models_own_loss_after_the_example_turns(tiny_generator):
    import torch
    from transformers import AutoModelForCausalLM

    from hackkit.tasks.generation import response_loss

    tokenizer = load_tokenizer_for_generation(str(tiny_generator))
    model = AutoModelForCausalLM.from_pretrained(tiny_generator).eval()
    frame = pd.DataFrame({"text": ["brand[Lumio]", "brand[Odra], colour[red]"],
                          "response": ["The Lumio.", "A red Odra, for less."]})
    shots = [[("brand[Kestrel]", "The Kestrel.")], []]
    got = response_loss(model, tokenizer, frame, shots, 256)
    losses, tokens = [], []
    for prompt, response, shown in zip(frame["text"], frame["response"], shots):
        row = encode_pair(tokenizer, prompt, response, 256, shown)
        assert tokenizer.decode(row["input_ids"]).count("<|im_start|>user") == 1 + len(shown)
        with torch.no_grad():
            out = model(**{k: torch.tensor([v]) for k, v in row.items()})
        count = sum(label != IGNORE for label in row["labels"][1:])
        losses.append(float(out.loss) * count)
        tokens.append(count)
    assert got == pytest.approx(sum(losses) / sum(tokens), rel=1e-4)
    assert tokenizer.padding_side == "left"  # restored for generation


@pytest.mark.parametrize("examples_win", [True, False])
def test_examples_in_the_prompt_are_kept_when_validation_prefers_them(
        tiny_generation_run, tmp_path, monkeypatch, examples_win):
    from hackkit.tasks import generation

    run_dir = tmp_path / "gen"
    shutil.copytree(tiny_generation_run, run_dir)
    model_dir = hk.Run(run_dir).model_dir
    splits, labels = hk.load_splits(run_dir)
    # The losses of a random tiny model say nothing: let the choice go the way this case needs.
    monkeypatch.setattr(generation, "response_loss", lambda model, tokenizer, frame, shots, *a, **k:
                        (1.0 if any(shots) else 2.0) if examples_win else (3.0 if any(shots) else 2.0))
    final = TASK.keep_the_better(model_dir, None, splits, labels)
    info = hk.read_model_info(model_dir)
    assert final["kind"] == ("model with examples" if examples_win else "model")
    assert (model_dir / generation.EXAMPLES_FILE).is_file() == examples_win
    assert info.tuned == ({"shots": generation.SHOTS} if examples_win else {})
    seen = []
    real = generation.generate_texts
    monkeypatch.setattr(generation, "generate_texts", lambda model, tokenizer, prompts, *a, **k:
                        seen.extend(prompts) or real(model, tokenizer, prompts, *a, **k))
    predictor = hk.Predictor(model_dir, device="cpu")
    [answer] = predictor.predict([splits["test"]["text"].iloc[0]])
    assert isinstance(answer["text"], str)
    turns = seen[0].count("<|im_start|>user")
    assert turns == (1 + min(generation.SHOTS, len(splits["train"])) if examples_win else 1)
    if examples_win:  # the examples are training pairs, each prompt with its own response
        train = splits["train"]
        shown = [p for p in train["text"] if p in seen[0]]
        assert len(shown) == generation.SHOTS
        assert all(train.loc[train["text"] == p, "response"].iloc[0] in seen[0] for p in shown)
        assert final["said"].startswith(f"the trained model answers with the {generation.SHOTS}")


def test_scores_take_every_reference():
    refs = [["the cat sat", "a cat was sitting"], ["dogs run fast"]]
    perfect = generation_scores(["a cat was sitting", "dogs run fast"], refs)
    assert perfect["bleu"] == pytest.approx(1.0) and perfect["exact_match"] == 1.0
    assert perfect["rougeL"] == pytest.approx(1.0) and perfect["chrf"] == pytest.approx(1.0)
    first_only = generation_scores(["a cat was sitting", "dogs run fast"], [["the cat sat"], ["dogs run fast"]])
    assert first_only["bleu"] < perfect["bleu"] and first_only["exact_match"] == 0.5


def test_the_task_defaults_give_lora_on_every_projection_unless_told_otherwise(tiny_generator):
    config = hk.TrainConfig(task="text-generation")
    assert (config.method, config.learning_rate, config.batch_size) == ("lora", 1e-3, 16)
    assert config.lora_targets == "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj"
    full = hk.TrainConfig(task="text-generation", method="finetune")
    assert full.method == "finetune" and full.lora_targets == "query,value"
    full.validate()  # the LoRA settings stay at their defaults, so finetune refuses none
    assert hk.TrainConfig().method == "finetune"  # classification keeps its own
    assert hk.DataConfig(task="text-generation").data_path == "data/product_descriptions.csv"
    assert hk.DataConfig().data_path == "data/support_intents.csv"


@pytest.fixture(scope="module")
def generation_run(tmp_path_factory, tiny_generator):
    """01's checks and splits, 02's LoRA training (merged) and 03's predictions on 48 pairs."""
    runs = tmp_path_factory.mktemp("generation-runs")
    frame = pd.read_csv(GENERATION_SAMPLE).head(48)
    path = runs / "pairs.csv"
    frame.to_csv(path, index=False)
    data = hk.DataConfig(task="text-generation", data_path=str(path), model=str(tiny_generator),
                         test_size=0.25, val_size=0.25, max_length=64)
    diagnosis = hk.diagnose(data)
    assert not diagnosis.errors
    run_dir = hk.start_run(str(runs / "gen"))
    hk.save_splits(diagnosis.splits, run_dir, diagnosis.task)
    hk.write_json(hk.Run(run_dir).data_report, hk.data_report(diagnosis, data))
    summary = hk.train_model(run_dir, hk.TrainConfig(
        task="text-generation", model=str(tiny_generator), epochs=2, batch_size=6, max_length=64,
        patience=0, device="cpu", time_budget_minutes=0, precision="fp32"))
    return run_dir, summary


@pytest.mark.slow  # 20-40 s with its fixture; test_generation_pipeline trains through 02 by default
def test_lora_fine_tuning_runs_in_the_one_session_and_saves_a_merged_model(generation_run):
    run_dir, summary = generation_run
    assert summary.method == "lora" and summary.main_metric == "token_accuracy"
    assert 0 <= summary.best_validation <= 1 and summary.steps == 8  # 24 pairs / 6, 2 epochs
    assert summary.details["lora"]["targets"][-1] == "down_proj"
    history = hk.read_json(hk.Run(run_dir).history)
    perplexities = [h["eval_perplexity"] for h in history if "eval_perplexity" in h]
    assert perplexities and min(perplexities) > 1
    run = hk.Run(run_dir)
    assert (run.adapter_dir / "adapter_config.json").is_file()
    assert hk.read_model_info(run.model_dir).task == "text-generation"


@pytest.mark.slow  # 25-40 s; test_generation_pipeline runs 03 on the sample by default
def test_evaluation_scores_generations_against_both_baselines(generation_run, tiny_generator):
    run_dir, _ = generation_run
    predictions = hk.predict_split(run_dir, "test", device="cpu")
    assert len(predictions) == 12 and predictions["predicted"].map(type).eq(str).all()
    scores = hk.score_predictions(run_dir, predictions)
    assert set(scores) >= {"bleu", "chrf", "rougeL", "exact_match", "per_class"}
    assert sum(g["support"] for g in scores["per_class"].values()) == 12
    baseline = hk.baseline_scores(run_dir, "test")
    assert 0 < baseline["chrf"] <= 1  # a neighbour's description shares words with the reference
    extra = hk.extra_baselines(run_dir, "test", str(tiny_generator))
    assert list(extra) == [TASK.prompted_baseline_name] and 0 <= extra[TASK.prompted_baseline_name]["bleu"] <= 1
    hk.write_metrics(run_dir, scores, baseline, predictions, extra=extra)
    metrics = hk.read_json(hk.Run(run_dir).metrics)
    assert metrics["main_metric"] == "bleu" and "verdict" in metrics
    assert metrics["gain_over_extra_baselines"][TASK.prompted_baseline_name] == pytest.approx(
        round(scores["bleu"] - extra[TASK.prompted_baseline_name]["bleu"], 4))
    worst = hk.worst_errors(run_dir, predictions, 3)
    assert list(worst.columns) == ["text", "predicted", "references", "chrf"]
    assert worst["chrf"].is_monotonic_increasing


def test_the_api_answers_streams_and_refuses_clearly(tiny_generation_run):
    from fastapi.testclient import TestClient

    run_dir = tiny_generation_run
    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    [expected] = predictor.predict(["brand[Lumio], product[laptop]"])
    with TestClient(hk.create_app(predictor)) as client:
        answer = client.post("/predict", json={"prompts": ["brand[Lumio], product[laptop]"]})
        streamed = client.post("/predict", json={"prompts": "brand[Lumio], product[laptop]",
                                                 "stream": True})
        too_long = client.post("/predict", json={"prompts": ["x" * 4001]})
        too_many_tokens = client.post("/predict", json={"prompts": ["hi"], "max_new_tokens": 999})
        two_streams = client.post("/predict", json={"prompts": ["a", "b"], "stream": True})
        health, page = client.get("/health").json(), client.get("/").text
    assert answer.status_code == 200 and answer.json()["predictions"][0] == expected
    assert streamed.status_code == 200 and streamed.text.strip() == expected["text"]
    assert too_long.status_code == 413 and "has 4001 characters; the limit is 4000" in too_long.json()["error"]
    assert too_many_tokens.status_code == 422 and "max_new_tokens" in too_many_tokens.json()["error"]
    assert two_streams.status_code == 422 and "stream answers one prompt" in two_streams.json()["error"]
    assert health["input"] == "prompt" and health["max_new_tokens"] == 256
    assert "getReader" in page  # the page reads the answer as it streams
    assert "curl -sN" in hk.serve_usage(run_dir)


def test_the_demo_generates_with_its_controls(tiny_generation_run, tmp_path):
    run_dir = tiny_generation_run
    predictor = hk.Predictor.from_run(run_dir, device="cpu")
    examples = hk.demo_examples(run_dir)
    app = hk.DemoApp(predictor, out_dir=tmp_path / "scored", example=examples[0])
    assert app.ui.titles[0] == "One prompt" and "hackkit-demo-answer" in app.result.value
    app.input.text.value = "brand[Kestrel], product[tablet]"
    app.input.temperature.value, app.input.max_new_tokens.value = 0.0, predictor.max_length
    app.button.click()
    assert app.last[0] == "brand[Kestrel], product[tablet]"
    assert app.last[1]["text"] == predictor.predict(["brand[Kestrel], product[tablet]"])[0]["text"]
    assert "hackkit-demo-answer" in app.result.value


def test_a_small_language_model_classifies_by_label_likelihood(run_with_splits, tiny_generator):
    from hackkit.train.lmclassifier import pick_shots

    splits, labels = hk.load_splits(run_with_splits)
    shots = pick_shots(splits["train"], labels, 1, seed=0)
    assert [label for _, label in shots] == labels  # one per label, in the labels' order
    config = hk.TrainConfig(method="lm-classifier", model=str(tiny_generator), device="cpu",
                            max_length=64)
    summary = hk.train_model(run_with_splits, config)
    assert summary.method == "lm-classifier" and summary.validation_examples == 40
    assert summary.details["lm_classifier"]["shots"] == 0
    assert 0 <= summary.best_validation <= 1
    predictor = hk.Predictor.from_run(run_with_splits, device="cpu")
    [result] = predictor.predict(["where is my parcel?"])
    assert result["label"] in predictor.labels
    assert sum(result["probabilities"].values()) == pytest.approx(1.0, abs=1e-4)
    assert hk.read_model_info(hk.Run(run_with_splits).model_dir).method == "lm-classifier"
    with pytest.raises(ValueError, match=r"LM_SHOTS=9 is out of range: use 0 \(zero-shot\) to 8"):
        hk.TrainConfig(method="lm-classifier", lm_shots=9).validate()
    with pytest.raises(ValueError, match="LM_SHOTS=2: METHOD='finetune'"):
        hk.TrainConfig(lm_shots=2).validate()


def test_the_default_model_loads_without_the_hub(monkeypatch):
    """MODEL left at its default: the packaged SmolLM2 (converted once into the user cache, about
    half a minute the first time on a machine), never the hub."""
    import huggingface_hub

    import hackkit.models.resolve as resolve

    def no_hub(*args, **kwargs):
        raise AssertionError(f"the hub was asked for {args or kwargs}")

    monkeypatch.setattr(resolve, "_check_hub", no_hub)
    monkeypatch.setattr(huggingface_hub, "hf_hub_download", no_hub)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    resolved = hk.resolve_for_task(TASK, hk.TrainConfig.model)
    assert (resolved.name, resolved.source) == ("HuggingFaceTB/SmolLM2-135M-Instruct", "packaged")
    tokenizer = load_tokenizer_for_generation(resolved.location)
    assert "<|im_start|>assistant" in tokenizer.apply_chat_template(
        [{"role": "user", "content": "hi"}], tokenize=False, add_generation_prompt=True)
    config = __import__("json").loads((Path(resolved.location) / "config.json").read_text())
    assert (config["num_hidden_layers"], config["hidden_size"], config["vocab_size"]) == (30, 576, 49152)
    assert "quantization_config" not in config  # the GGUF quantizer is gone: it trains and saves


@pytest.mark.slow  # about a minute: the real packaged model generates and trains one LoRA step
def test_the_packaged_model_generates_and_trains(tmp_path):
    from transformers import AutoModelForCausalLM

    from hackkit.tasks.generation import chat_prompt, generate_texts
    from hackkit.train.lora import LoraOptions, lora_model

    location = hk.resolve_for_task(TASK, hk.TrainConfig.model).location
    tokenizer = load_tokenizer_for_generation(location)
    model = AutoModelForCausalLM.from_pretrained(location)
    [answer] = generate_texts(model, tokenizer, [chat_prompt(tokenizer, "What is 2 + 2?")], 16)
    assert answer["new_tokens"] >= 1 and "4" in answer["text"]
    wrapped = lora_model(model, LoraOptions(rank=8, targets=tuple(
        "q_proj,k_proj,v_proj,o_proj,gate_proj,up_proj,down_proj".split(","))), new_head=False)
    trainable = sum(p.numel() for p in wrapped.parameters() if p.requires_grad)
    assert trainable == 2_442_240  # rank 8 on the seven projections of 30 layers: 1.8%
    row = encode_pair(tokenizer, "brand[Lumio]", "The Lumio.", 128)
    import torch

    batch = {k: torch.tensor([v]) for k, v in row.items()}
    loss = wrapped(**batch).loss
    loss.backward()
    assert torch.isfinite(loss)


@pytest.mark.gpu
def test_on_a_gpu_generation_trains_and_generates_in_bf16(tmp_path, tiny_generator):
    import torch

    from hackkit.device import resolve_precision

    precision = resolve_precision("cuda", "auto", TASK.cpu_precision)
    assert precision == ("bf16" if torch.cuda.is_bf16_supported() else "fp16")
    frame = pd.read_csv(GENERATION_SAMPLE).head(40)
    path = tmp_path / "pairs.csv"
    frame.to_csv(path, index=False)
    data = hk.DataConfig(task="text-generation", data_path=str(path), model=str(tiny_generator),
                         max_length=64)
    diagnosis = hk.diagnose(data)
    run_dir = hk.start_run(str(tmp_path / "gpu-run"))
    hk.save_splits(diagnosis.splits, run_dir, diagnosis.task)
    summary = hk.train_model(run_dir, hk.TrainConfig(
        task="text-generation", model=str(tiny_generator), epochs=1, max_length=64, patience=0,
        device="cuda", time_budget_minutes=0, batch_size=32))
    assert summary.device == "cuda" and summary.precision == precision
    predictor = hk.Predictor.from_run(run_dir, device="cuda")
    assert next(predictor.model.parameters()).dtype == {"bf16": torch.bfloat16,
                                                         "fp16": torch.float16}[precision]
    [answer] = predictor.predict(["brand[Lumio], product[laptop]"])
    assert isinstance(answer["text"], str) and 1 <= answer["new_tokens"] <= 64


def test_the_model_comparison_puts_quality_beside_generated_tokens_per_second(
        tiny_generation_run, tiny_generator, tmp_path):
    from hackkit.use.compare import compare_generators

    run_dir = tmp_path / "gen"
    shutil.copytree(tiny_generation_run, run_dir)
    # The tiny base model is a folder outside the project, which hackkit.json never names.
    alone = hk.compare_models(run_dir, latency_texts=2, write=False)
    assert list(alone["int8"]) == [False, True]
    table = compare_generators(hk.Run(run_dir), latency_prompts=2, base_model=str(tiny_generator))
    assert list(table["int8"]) == [False, True, False]
    assert "no training" in table["model"].iloc[2]
    for column in ("bleu", "rougeL", "chrf", "latency_ms_batch1", "tokens_per_s_batch1",
                   "tokens_per_s_batch8", "size_mb", "tokens_per_answer"):
        assert table[column].notna().all(), column
    assert (table["tokens_per_s_batch8"] > 0).all() and (table["latency_ms_batch1"] > 0).all()
    assert (table["size_mb"] > 0).all() and "bleu_kept" in table
    # The untrained row is the base model prompted with examples, as the prompted baseline is.
    splits = hk.load_splits(run_dir)[0]
    base = TASK.untrained_like(hk.Predictor(hk.Run(run_dir).model_dir, device="cpu"),
                               splits["train"], str(tiny_generator))
    assert base.info.tuned["shots"] == 3 and base.model.hackkit_examples is not None
    assert hk.read_comparison(run_dir).shape == table.shape
