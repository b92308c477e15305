"""Distillation, int8, LoRA, checkpoint averaging and the model comparison, on tiny models (seconds).

Each derived model goes through 03 (predict_split + metrics), the Predictor and serve's app."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

import hackkit as hk
from hackkit.runfolder import Run
from hackkit.train import distillation
from hackkit.train.averaging import average_weights, choose_average
from helpers import NER


def _serves(model_dir, int8: bool = False) -> dict:
    """04's widget shows a label, and POST /predict to serve's app answers; the JSON answer."""
    predictor = hk.Predictor(model_dir, device="cpu", int8=int8)
    app = hk.DemoApp(predictor, example="where is my parcel", delay=0.05)
    assert "hackkit-demo-label" in app.result.value
    with TestClient(hk.create_app(predictor)) as client:
        health = client.get("/health").json()
        answer = client.post("/predict", json={"texts": ["I forgot my password", "refund"]})
    assert answer.status_code == 200 and health["int8"] == int8
    return answer.json()


def _evaluates(run_dir) -> dict:
    """03's path on the run: predictions on test, task scores, metrics.json."""
    predictions = hk.predict_split(run_dir, "test", device="cpu")
    scores = hk.score_predictions(run_dir, predictions)
    hk.write_metrics(run_dir, scores, hk.baseline_scores(run_dir, "test"), predictions)
    return scores


def _teacher(tiny_run, copy_run):
    """A writable copy of tiny_run with the data report 01 would write (the leaderboard lists it)."""
    teacher = copy_run(tiny_run, "teacher")
    hk.write_json(Run(teacher).data_report, {
        "task": "text-classification", "data_path": "data/support_intents.csv", "rows_used": 176,
        "rows_loaded": 176, "dropped": {}, "warnings": [],
        "split_sizes": {"train": 96, "validation": 40, "test": 40},
        "params": {"TASK": "text-classification", "DATA_PATH": "data/support_intents.csv"}})
    return teacher


def _tiny_config(tiny_model, **changes) -> hk.TrainConfig:
    return hk.TrainConfig(**{"model": str(tiny_model), "epochs": 1.0, "batch_size": 16,
                             "learning_rate": 1e-3, "patience": 0, "device": "cpu",
                             "time_budget_minutes": 0.0, "max_train_examples": 32,
                             "max_length": 32, **changes})


def test_distilled_student_is_a_run_with_half_the_layers(tiny_run, copy_run, write, tmp_path):
    teacher = _teacher(tiny_run, copy_run)
    extra = write("extra.csv", pd.DataFrame({"text": ["where is my parcel", "reset my login"]}))
    summary = hk.distill_run(teacher, hk.DistillConfig(temperature=3.0, alpha=0.7,
                                                       unlabelled=str(extra)), device="cpu")
    student = Run(summary["run_dir"])
    assert student.path.parent == teacher.parent and student.path != teacher
    info = hk.read_model_info(student.model_dir)
    assert info.method == "distill" and info.labels == hk.read_model_info(Run(teacher).model_dir).labels
    assert summary["teacher_run"] == "teacher" and summary["distillation"]["layers_kept"] == [1]
    assert summary["distillation"]["unlabelled_texts"] == 2
    assert hk.read_json(student.train_summary)["teacher"] == str(teacher)
    loaded = hk.Predictor(student.model_dir, device="cpu").model
    assert loaded.config.num_hidden_layers == 1
    [stack] = [m for name, m in loaded.named_modules() if name.endswith("encoder.layer")]
    assert len(stack) == 1  # the saved encoder itself has one layer, not only its config
    assert student.metrics.is_file() and student.model_card.is_file()
    assert (student.splits_dir / "test.csv").read_text() == \
        (Run(teacher).splits_dir / "test.csv").read_text()
    assert 0 <= _evaluates(student.path)["macro_f1"] <= 1
    assert len(_serves(student.model_dir)["predictions"]) == 2
    board = hk.leaderboard(root=teacher.parent)
    assert set(board["run"]) == {"teacher", student.name}
    assert board.set_index("run").loc[student.name, "METHOD"] == "distill"


def test_distillation_says_ner_is_not_supported_and_checks_its_options(tiny_run, copy_run,
                                                                        monkeypatch):
    with pytest.raises(ValueError, match="--alpha"):
        hk.DistillConfig(alpha=1.5).validate()
    with pytest.raises(FileNotFoundError, match="--unlabelled"):
        hk.DistillConfig(unlabelled="no/such/file.csv").validate()
    assert NER.distillable is False
    teacher = copy_run(tiny_run, "teacher")
    monkeypatch.setattr(type(hk.get_task("text-classification")), "distillable", False)
    with pytest.raises(ValueError, match="one label per text"):
        hk.distill_run(teacher, device="cpu")


def test_teacher_targets_give_the_teachers_outputs_and_head_inputs_in_the_texts_order(tiny_run):
    import numpy as np

    from hackkit.train.distillation import head_inputs, teacher_targets

    texts = ["my parcel never arrived and nobody answers the phone at all", "refund",
             "reset my password please", "hi"]
    teacher = hk.Predictor(Run(tiny_run).model_dir, device="cpu", batch_size=2)
    logits, features = teacher_targets(teacher, texts)  # batched by length
    logits = torch.from_numpy(logits)
    captured = []
    with torch.inference_mode(), head_inputs(teacher.model, captured):  # one text at a time
        direct = torch.cat([teacher.model(**teacher.processor([t], return_tensors="pt")).logits
                            for t in texts])
    for temperature in (1.0, 2.0):  # what the distillation loss uses from them
        np.testing.assert_allclose(torch.softmax(logits / temperature, -1),
                                   torch.softmax(direct / temperature, -1), atol=1e-5)
    assert len(captured) == len(texts) and features.shape == (len(texts), captured[0].shape[1])
    np.testing.assert_allclose(features, torch.cat(captured).numpy(), atol=1e-5)
    assert teacher_targets(teacher, texts, embeddings=False)[1] is None


def test_a_student_matching_the_teachers_embeddings_ends_closer_to_them(tiny_run, copy_run):
    from hackkit.train.distillation import embedding_loss, head_inputs, teacher_targets

    teacher = _teacher(tiny_run, copy_run)
    texts = pd.read_csv(Run(teacher).splits_dir / "train.csv")["text"].tolist()
    _, targets = teacher_targets(hk.Predictor(Run(teacher).model_dir, device="cpu"), texts)
    distances = {}
    for weight in (0.0, 20.0):
        summary = hk.distill_run(teacher, hk.DistillConfig(embedding_weight=weight, epochs=3.0),
                                 device="cpu")
        assert summary["distillation"]["embeddings_matched"] is (weight > 0)
        student = hk.Predictor(Path(summary["run_dir"]) / "model", device="cpu")
        captured = []
        with torch.inference_mode(), head_inputs(student.model, captured):
            for text in texts:
                student.model(**student.processor([text], return_tensors="pt"))
        distances[weight] = float(embedding_loss(torch.cat(captured), torch.from_numpy(targets)))
    assert distances[20.0] < 0.8 * distances[0.0], distances
    assert float(embedding_loss(torch.from_numpy(targets), torch.from_numpy(targets))) < 1e-6
    with pytest.raises(ValueError, match="--embedding-weight"):
        hk.DistillConfig(embedding_weight=-1).validate()


def test_students_keep_evenly_spaced_layers_with_the_top_one():
    from hackkit.train.distillation import kept_layers

    assert kept_layers(6) == [1, 3, 5] and kept_layers(2) == [1]  # every other one by default
    assert kept_layers(6, 2) == [2, 5] and kept_layers(6, 1) == [5] and kept_layers(12, 4) == [2, 5, 8, 11]
    with pytest.raises(ValueError, match="--layers 6: the teacher has 6 layers"):
        kept_layers(6, 6)
    with pytest.raises(ValueError, match="--layers -1"):
        hk.DistillConfig(layers=-1).validate()
    with pytest.raises(ValueError, match="--layers 2 applies to the default student"):
        hk.DistillConfig(layers=2, student="some/model").validate()


def test_a_narrower_student_keeps_the_strongest_feed_forward_units(tiny_run, copy_run):
    import torch
    from safetensors.torch import load_file

    teacher = _teacher(tiny_run, copy_run)
    summary = hk.distill_run(teacher, hk.DistillConfig(ffn=16, epochs=1.0), device="cpu")
    assert summary["distillation"]["ffn"] == 16 and "16 feed-forward units" in summary["model"]
    loaded = hk.Predictor(Path(summary["run_dir"]) / "model", device="cpu").model
    [layer] = [m for name, m in loaded.named_modules() if name.endswith("encoder.layer")][0]
    assert (layer.intermediate.dense.weight.shape, layer.output.dense.weight.shape) == (
        (16, 32), (32, 16))
    assert distillation.teacher_depth(Path(summary["run_dir"]) / "model") == 1
    assert distillation._encoder_config(Path(summary["run_dir"]) / "model").intermediate_size == 16
    # Before training: the 16 units of the teacher's top layer with the largest weights, in order.
    weights = load_file(Path(teacher) / "model" / "model.safetensors")
    up = next(v for k, v in weights.items() if k.endswith("layer.1.intermediate.dense.weight"))
    down = next(v for k, v in weights.items() if k.endswith("layer.1.output.dense.weight"))
    model = hk.get_task("text-classification").load_trained(Path(teacher) / "model")[1]
    distillation.narrow_ffn(model, 16)
    distillation.shallow_copy(model)
    [narrow] = [m for name, m in model.named_modules() if name.endswith("encoder.layer")][0]
    keep = (up.norm(dim=1) * down.norm(dim=0)).topk(16).indices.sort().values
    assert torch.equal(narrow.intermediate.dense.weight, up[keep])
    assert torch.equal(narrow.output.dense.weight, down[:, keep])
    with pytest.raises(ValueError, match="--ffn 64: the teacher's layers have 64 feed-forward "
                                         "units; a student keeps fewer"):
        hk.distill_run(teacher, hk.DistillConfig(ffn=64), device="cpu")
    with pytest.raises(ValueError, match="--ffn -1"):
        hk.DistillConfig(ffn=-1).validate()
    with pytest.raises(ValueError, match="--ffn 8 applies to the default student"):
        hk.DistillConfig(ffn=8, student="some/model").validate()


def test_too_many_layers_are_refused_before_a_student_run_is_made(tiny_run, copy_run):
    teacher = _teacher(tiny_run, copy_run)
    with pytest.raises(ValueError, match="--layers 2: the teacher has 2 layers"):
        hk.distill_run(teacher, hk.DistillConfig(layers=2), device="cpu")
    assert [p.name for p in teacher.parent.iterdir()] == ["teacher"]


def test_distillation_loss_mixes_gold_and_soft_labels():
    from hackkit.train.distillation import distillation_loss

    student, teacher = torch.tensor([[2.0, 0.0]]), torch.tensor([[0.0, 2.0]])
    gold = torch.tensor(0.3)
    assert distillation_loss(student, teacher, gold, 2.0, 0.0) == pytest.approx(0.3)
    same = distillation_loss(student, student.clone(), gold, 2.0, 1.0)
    assert float(same) == pytest.approx(0.0, abs=1e-6)  # the teacher agrees: no soft loss
    assert float(distillation_loss(student, teacher, gold, 2.0, 1.0)) > 0.1


def test_int8_predictor_runs_onnx_runtimes_int8_graph_and_agrees_with_fp32(tiny_run, copy_run):
    import onnx

    run_dir = copy_run(tiny_run)
    predictor = hk.Predictor(Run(run_dir).model_dir, device="cpu", int8=True)
    assert predictor.session is not None and "int8 (ONNX Runtime)" in repr(predictor)
    graph = onnx.load(Run(run_dir).model_dir / "model.int8.onnx").graph
    ops = {node.op_type for node in graph.node}
    assert {"DynamicQuantizeLinear", "MatMulInteger"} <= ops  # int8 weights, activations on the fly
    assert "MatMul" not in ops or sum(n.op_type == "MatMulInteger" for n in graph.node) >= 2 * 6 + 1
    per_channel = [t for t in graph.initializer if t.name.endswith("_scale") and list(t.dims) > [1]]
    assert len(per_channel) >= 2 * 6  # the layers' weights: one scale per output channel
    assert predictor.session.get_session_options().get_session_config_entry(
        "session.intra_op.allow_spinning") == "0"
    made = (Run(run_dir).model_dir / "model.int8.onnx").stat().st_mtime_ns
    hk.Predictor(Run(run_dir).model_dir, device="cpu", int8=True)  # made once, then reused
    assert (Run(run_dir).model_dir / "model.int8.onnx").stat().st_mtime_ns == made
    check = hk.check_int8(run_dir)
    assert check["examples"] == 40 and 0.5 <= check["agreement"] <= 1.0
    assert abs(check["fp32_accuracy"] - check["int8_accuracy"]) <= 1 - check["agreement"] + 1e-9
    assert len(_serves(Run(run_dir).model_dir, int8=True)["predictions"]) == 2


def test_pytorch_int8_quantises_every_linear_layer(tiny_run):
    from hackkit.use.quantize import quantize_int8

    model = hk.Predictor(Run(tiny_run).model_dir, device="cpu").model
    modules = list(quantize_int8(model).modules())
    # 6 per layer, the encoder's pooler and the classifier
    assert sum(isinstance(m, torch.ao.nn.quantized.dynamic.Linear) for m in modules) == 2 * 6 + 2
    assert not any(type(m) is torch.nn.Linear for m in modules)  # every Linear was replaced
    assert any(type(m) is torch.nn.Linear for m in model.modules())  # on a copy


def test_lora_trains_only_adapters_and_head_and_its_merged_model_serves_and_exports(
        run_with_splits, tiny_model):
    config = _tiny_config(tiny_model, method="lora", lora_rank=4, lora_alpha=8,
                          lora_targets="query,value")
    summary = hk.train_model(run_with_splits, config)
    run = Run(run_with_splits)
    # BERT-tiny: 2 layers x (query, value) x (A: 32x4 + B: 4x32) + classifier 32x7 + 7.
    labels = len(hk.read_model_info(run.model_dir).labels)
    expected = 2 * 2 * (32 * 4 + 4 * 32) + 32 * labels + labels
    assert summary.details["trainable_parameters"] == expected
    assert summary.details["total_parameters"] > 20 * expected
    assert (run.adapter_dir / "adapter_config.json").is_file()
    model_files = sorted(p.name for p in run.model_dir.iterdir())
    assert "adapter_config.json" not in model_files and "model.safetensors" in model_files
    predictor = hk.Predictor(run.model_dir, device="cpu")
    assert not any("lora" in name for name, _ in predictor.model.named_parameters())
    assert predictor.method == "lora"
    assert 0 <= _evaluates(run.path)["accuracy"] <= 1
    assert len(_serves(run.model_dir)["predictions"]) == 2
    check = hk.export_run(run.path, onnx=True, check_texts=16)["check"]
    assert check["within_tolerance"] and check["same_predicted_labels"]


def test_lora_names_a_target_the_model_lacks(run_with_splits, tiny_model):
    with pytest.raises(ValueError, match="LORA_TARGETS='q_lin'.*query"):
        hk.train_model(run_with_splits, _tiny_config(tiny_model, method="lora",
                                                     lora_targets="q_lin"))


def test_averaged_weights_are_exactly_the_mean_of_the_chosen_checkpoints(tmp_path):
    from safetensors.torch import save_file

    torch.manual_seed(0)
    sds = [{"w": torch.randn(4, 3), "b": torch.randn(3), "ids": torch.arange(5)} for _ in range(3)]
    avg = average_weights(sds)
    assert torch.equal(avg["w"], torch.stack([sd["w"] for sd in sds]).mean(0))
    assert torch.allclose(avg["b"], (sds[0]["b"] + sds[1]["b"] + sds[2]["b"]) / 3, atol=1e-7)
    assert torch.equal(avg["ids"], sds[0]["ids"])
    with pytest.raises(ValueError, match="other weights"):
        average_weights([sds[0], {"w": sds[1]["w"]}])
    folders = []
    for i, sd in enumerate(sds):
        folder = tmp_path / f"checkpoint-{i + 1}"
        folder.mkdir()
        save_file(sd, str(folder / "model.safetensors"))
        folders.append(folder)
    # Greedy: checkpoint-2 helps (score from the weights), checkpoint-3 does not.
    scores = {2: 0.9}

    def evaluate(weights):
        chosen = [i for i, sd in enumerate(sds) if torch.equal(weights["w"], average_weights(
            [sds[0], sd])["w"])]
        return scores.get(len(chosen) and chosen[0] + 1, 0.5) if chosen else 0.1

    result = choose_average([(0.8, folders[0]), (0.7, folders[1]), (0.6, folders[2])], evaluate)
    assert result["kept"] and result["chosen"] == ["checkpoint-1", "checkpoint-2"]
    assert torch.equal(result["weights"]["w"], average_weights(sds[:2])["w"])
    uniform = choose_average([(0.8, folders[0]), (0.7, folders[1])], lambda w: 0.1, "uniform")
    assert not uniform["kept"] and uniform["weights"] is None  # worse than the best: not kept


def test_training_with_checkpoint_averaging_records_what_it_tried(run_with_splits, tiny_model):
    summary = hk.train_model(run_with_splits, _tiny_config(
        tiny_model, epochs=3.0, average_checkpoints=3, average_mode="uniform"))
    record = summary.details["checkpoint_averaging"]
    assert record["mode"] == "uniform" and len(record["tried"]) == 1
    assert len(record["tried"][0]["chosen"]) == 3
    assert record["kept"] == (record["validation"] > record["best_single"]["validation"])
    assert not Run(run_with_splits).checkpoints.exists()
    assert len(_serves(Run(run_with_splits).model_dir)["predictions"]) == 2


def test_compare_models_measures_the_run_its_student_and_int8_copies(tiny_run, copy_run):
    teacher = _teacher(tiny_run, copy_run)
    student = Run(hk.distill_run(teacher, device="cpu")["run_dir"])
    table = hk.compare_models(teacher, latency_texts=5, throughput_texts=64)
    assert list(table["run"]) == ["teacher", "teacher", student.name, student.name]
    assert list(table["int8"]) == [False, True, False, True]
    assert table["agreement_with_run"].iloc[0] == 1.0
    assert (table["latency_ms_batch1"] > 0).all() and (table["texts_per_s_batch32"] > 0).all()
    assert table["parameters_m"].iloc[2] < table["parameters_m"].iloc[0]
    assert table["size_mb"].iloc[1] <= table["size_mb"].iloc[0] + 0.1
    assert hk.read_comparison(teacher).shape == table.shape
    board = hk.leaderboard(root=teacher.parent).set_index("run")
    assert board.loc[student.name, "latency_ms_batch1"] == pytest.approx(
        table["latency_ms_batch1"].iloc[2])


def test_speeds_are_timed_in_rounds_that_every_model_runs_in_turn():
    from hackkit.use.compare import interleaved_speed

    calls = []

    class Fake:
        batch_size = 1

        def __init__(self, name):
            self.name = name

        def predict(self, texts):
            calls.append((self.name, len(texts)))
            return [{}] * len(texts)

    texts = [f"text {i}" for i in range(10)]
    speeds = interleaved_speed([Fake("a"), Fake("b")], texts, latency_texts=8,
                               throughput_texts=64, rounds=4)
    assert len(speeds) == 2 and all(ms >= 0 and per_s > 0 for ms, per_s in speeds)
    timed = calls[4:]  # after each model's two warm-up calls
    single = [name for name, n in timed if n == 1]
    assert single == ["a", "a", "b", "b"] * 4  # 8 texts each, in 4 rounds of 2, taking turns
    batched = [(name, n) for name, n in timed if n > 1]
    assert batched == [("a", 16), ("b", 16)] * 4  # the 64 texts in 4 rounds, taking turns


def test_distill_command_rejects_a_bad_option_before_any_work(tiny_run, capsys):
    from hackkit.cli import main

    assert main(["distill", str(tiny_run), "--temperature", "0"]) == 2
    assert "--temperature 0.0: use a positive number" in capsys.readouterr().err
    assert main(["distill", str(tiny_run), "--minutes", "-3"]) == 2
    assert "--minutes -3.0: use -1 (the teacher's budget), 0 (no limit)" in capsys.readouterr().err
    cache = hk.Run(tiny_run).embeddings  # the embedding cache beside the runs is not a run
    assert sorted(p.name for p in tiny_run.parent.iterdir() if p != cache) == [tiny_run.name]
