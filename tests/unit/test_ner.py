"""NER: sub-word alignment, truncation warning, tag baseline, entity metrics, training and spans."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import hackkit as hk
from hackkit.models.resolve import load_tokenizer
from hackkit.runfolder import read_model_info
from hackkit.tasks import ner
from hackkit.tasks.ner import IGNORE
from helpers import NER

MINILM = "sentence-transformers/all-MiniLM-L6-v2"
LABELS = ["O", "B-LOC", "I-LOC", "B-PER", "I-PER"]


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(MINILM)


def test_align_labels_puts_the_tag_on_the_first_sub_token_only():
    assert ner.align_labels([None, 0, 0, 0, 1, None], [3, 1]) == [IGNORE, 3, IGNORE, IGNORE, 1, IGNORE]


def test_multi_sub_token_words_get_one_label_each(tokenizer):
    words = ["Okonkwo", "flew", "to", "Thandiwe"]
    assert len(tokenizer.tokenize("Okonkwo")) > 1 and len(tokenizer.tokenize("Thandiwe")) > 1
    ds, truncated = ner.encode_sentences([words], [["B-PER", "O", "O", "B-LOC"]], tokenizer, LABELS, 64)
    labels, ids = ds[0]["labels"], ds[0]["input_ids"]
    assert truncated == 0 and len(labels) == len(ids)
    kept = [(tokenizer.convert_ids_to_tokens(i), label) for i, label in zip(ids, labels) if label != IGNORE]
    assert kept == [("ok", 3), ("flew", 0), ("to", 0), ("than", 1)]
    assert labels[0] == IGNORE and labels[-1] == IGNORE  # [CLS] and [SEP]


def test_truncated_sentences_are_counted_in_a_warning(tokenizer):
    long = ["word"] * 30
    sentences = [long, ["short"], long]
    tags = [["O"] * len(s) for s in sentences]
    with pytest.warns(UserWarning, match=r"2 of 3 sentences are longer than MAX_LENGTH=16 .*Raise MAX_LENGTH"):
        ds, truncated = ner.encode_sentences(sentences, tags, tokenizer, LABELS, 16)
    assert truncated == 2 and max(len(r) for r in ds["input_ids"]) == 16


def test_unknown_tags_are_rejected(tokenizer):
    with pytest.raises(ValueError, match=r"tags \['B-ORG'\] are not in the label list"):
        ner.encode_sentences([["EU"]], [["B-ORG"]], tokenizer, LABELS, 16)


def test_tag_baseline_uses_the_most_frequent_tag_of_each_lower_cased_word():
    baseline = ner.TagBaseline(
        [["May", "called"], ["may", "I"], ["may", "we"], ["Paris", "is", "nice"]],
        [["B-PER", "O"], ["O", "O"], ["O", "O"], ["B-LOC", "O", "O"]],
    )
    assert baseline.predict([["MAY", "visit", "paris"]]) == [["O", "O", "B-LOC"]]


def test_entity_metrics_per_type_and_overall():
    gold = [["B-PER", "I-PER", "O", "B-LOC"], ["B-LOC", "O"]]
    pred = [["B-PER", "I-PER", "O", "O"], ["B-PER", "O"]]
    m = ner.entity_metrics(gold, pred, LABELS)
    assert m["per_class"]["PER"] == {"precision": 0.5, "recall": 1.0, "f1-score": pytest.approx(2 / 3), "support": 1}
    assert m["per_class"]["LOC"]["recall"] == 0.0 and m["per_class"]["LOC"]["support"] == 2
    assert (m["entity_precision"], m["entity_recall"]) == (0.5, pytest.approx(1 / 3))
    assert m["entity_f1"] == pytest.approx(0.4) and m["accuracy"] == pytest.approx(4 / 6)
    assert m["entities"] == 3
    json.dumps(m)  # plain Python numbers, ready for metrics.json


def test_entity_confusion_counts_wrong_types_misses_and_spurious_spans():
    gold = [["B-PER", "I-PER", "O", "B-LOC", "O"], ["O", "B-LOC"]]
    pred = [["B-PER", "O", "O", "B-PER", "B-LOC"], ["O", "B-LOC"]]
    table = ner.entity_confusion(gold, pred)
    assert table.loc["PER", "PER"] == 1  # overlapping span, boundary wrong
    assert table.loc["LOC", "PER"] == 1 and table.loc["LOC", "LOC"] == 1
    assert table.loc["O", "LOC"] == 1  # predicted where there is none
    assert int(table.to_numpy().sum()) == 4


def test_worst_sentences_come_first():
    frame = pd.DataFrame({"text": ["a b", "c d"], "tokens": [["a", "b"], ["c", "d"]],
                          "tags": [["B-PER", "O"], ["B-LOC", "B-PER"]]})
    table = ner.predictions_table(frame, [["B-PER", "O"], ["O", "O"]])
    assert list(table["errors"]) == [0, 2]
    worst = ner.worst_sentences(table, 5)
    assert worst.to_dict("records") == [{"text": "c d", "gold": "LOC: c | PER: d", "predicted": "", "errors": 2}]


def test_entity_spans_give_character_offsets_into_the_raw_text():
    text = "Hi Ann  Lee, order #VC-12 ships to St. Ives"
    words = ner.words_of(text)
    assert [m.group() for m in words] == ["Hi", "Ann", "Lee", ",", "order", "#VC-12", "ships", "to",
                                           "St", ".", "Ives"]
    tags = ["O", "B-PER", "I-PER", "O", "O", "B-ORDER_ID", "O", "O", "B-LOC", "I-LOC", "I-LOC"]
    scores = [0.9, 0.8, 0.6, 0.9, 0.9, 0.7, 0.9, 0.9, 0.5, 0.5, 0.5]
    entities = ner.entity_spans(text, words, tags, scores)
    assert [(e["label"], e["text"], e["score"]) for e in entities] == [
        ("PER", "Ann  Lee", 0.7), ("ORDER_ID", "#VC-12", 0.7), ("LOC", "St. Ives", 0.5)]
    assert all(text[e["start"]:e["end"]] == e["text"] for e in entities)


@pytest.fixture
def ner_run(tmp_path, write):
    rows = ["Ship order 1234 to Oslo .", "Anna Berg called about order 99 .", "Send it to Lyon please .",
            "Tom lives in New York ."]
    tags = [["O", "O", "B-ORDER_ID", "O", "B-LOC", "O"], ["B-PER", "I-PER", "O", "O", "O", "B-ORDER_ID", "O"],
            ["O", "O", "O", "B-LOC", "O"], ["B-PER", "O", "O", "B-LOC", "I-LOC", "O"]]
    text = "\n\n".join("\n".join(f"{w} {t}" for w, t in zip(r.split(), tg)) for r, tg in zip(rows * 6, tags * 6))
    dataset = hk.load_data(write("s.conll", text), task="token-classification")
    frame = dataset.frame.assign(text=[f"{t} {i}" for i, t in enumerate(dataset.frame["text"])])
    run_dir = tmp_path / "run"
    hk.save_splits(hk.make_splits(frame, 0.25, 0.25, 0, NER), run_dir, NER)
    return run_dir


def test_finetune_token_classification_saves_a_token_model(ner_run, tiny_model):
    config = hk.TrainConfig(task="token-classification", model=str(tiny_model), epochs=1.0,
                            max_length=32, batch_size=4, device="cpu", patience=0)
    summary = hk.finetune(ner_run, config)
    saved = json.loads((ner_run / "model" / "config.json").read_text())
    labels = hk.read_json(ner_run / "splits" / "labels.json")
    assert saved["architectures"] == ["HackkitShapeTaggerForTokenClassification"]
    assert saved["num_shapes"] == len(ner.SHAPES) and saved["encoder"]["model_type"] == "bert"
    assert [saved["id2label"][str(i)] for i in range(len(labels))] == labels
    assert summary.task == "token-classification" and 0 <= summary.best_validation <= 1
    assert summary.details["truncated_sentences"] == {"train": 0, "validation": 0}
    assert hk.plot_learning_curve(ner_run).axes[1].lines

    predictions = hk.predict_split(ner_run, "test", device="cpu")
    assert len(predictions) == 6 and all(len(p) == len(t) for p, t in zip(predictions["predicted_tags"], predictions["tokens"]))
    assert set(hk.score_predictions(ner_run, predictions)["per_class"]) == {"LOC", "ORDER_ID", "PER"}
    assert read_model_info(ner_run / "model").task == "token-classification"
    predictor = hk.Predictor(ner_run / "model", device="cpu")
    found = predictor.predict(["Anna Berg ships order 12 to Oslo.", ""])
    assert len(found) == 2 and found[1]["entities"] == []
    assert all({"start", "end", "label", "text", "score"} == set(e) for e in found[0]["entities"])

    # The shape vectors start at zero and the loss reaches them (which of three tiny evaluations is
    # kept decides whether the saved ones moved, so the gradient is checked on the saved model); and
    # the predictor feeds them: with vectors set, the same sentence in lower case gets other tags,
    # which an uncased encoder alone cannot give.
    import torch

    model = predictor.model.train()
    words = "Anna Berg ships to Oslo".split()
    batch = predictor.processor([words], is_split_into_words=True, return_tensors="pt")
    batch["shape_ids"] = torch.tensor([ner.shape_ids(batch.word_ids(0), words)])
    model(**batch, labels=torch.zeros_like(batch["input_ids"])).loss.backward()
    assert model.shapes.weight.grad.abs().sum() > 0
    model.eval().zero_grad()
    with torch.no_grad():
        model.shapes.weight.normal_(0, 1.0, generator=torch.Generator().manual_seed(0))
    tagged = [ner.predict_tags(predictor, [s.split()])[1][0]
              for s in ("Anna Berg ships to Oslo", "anna berg ships to oslo")]
    assert tagged[0] != tagged[1]


def test_word_shapes_see_what_an_uncased_tokenizer_drops(tokenizer):
    words = ["Germany", "germany", "UN", "iPhone", "1996", "B2B", "@anna_b", "#tbt", ",", "I"]
    assert [ner.SHAPES[ner.word_shape(w)] for w in words] == [
        "capitalised", "lower", "upper", "mixed", "digits", "letters+digits", "tag", "tag",
        "punctuation", "capitalised"]
    encoded = tokenizer(["Kallax", "shelves", "UN"], is_split_into_words=True)
    ids = ner.shape_ids(encoded.word_ids(), ["Kallax", "shelves", "UN"])
    assert ids[0] == ids[-1] == 0  # [CLS], [SEP]
    assert len(set(ids[1:-2])) >= 2 and ids[-2] == ner.SHAPES.index("upper")
    # The collator pads the shape ids with 0 to the padded token width.
    dataset, _ = ner.encode_sentences([["Oslo"], ["Anna", "Berg", "called", "Tom"]],
                                      [["B-LOC"], ["B-PER", "I-PER", "O", "B-PER"]], tokenizer,
                                      ["O", "B-LOC", "B-PER", "I-PER"], 32, shapes=True)
    batch = ner.ShapeCollator(tokenizer)([dataset[0], dataset[1]])
    assert batch["shape_ids"].shape == batch["input_ids"].shape == batch["labels"].shape
    assert batch["shape_ids"][0].tolist()[len(dataset[0]["input_ids"]):] == [0] * (
        batch["input_ids"].shape[1] - len(dataset[0]["input_ids"]))


def test_token_task_is_validated():
    with pytest.raises(ValueError, match=r"^TASK='ner'"):
        hk.TrainConfig(task="ner").validate()


def test_a_model_folder_without_hackkit_json_is_read_from_its_architecture(tmp_path):
    config = {"architectures": ["BertForSequenceClassification"], "id2label": {"0": "a", "1": "b"}}
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert read_model_info(tmp_path).task == "text-classification"
    assert read_model_info(tmp_path).labels == ["a", "b"]
    config["architectures"] = ["DebertaV2ForTokenClassification"]
    (tmp_path / "config.json").write_text(json.dumps(config))
    assert read_model_info(tmp_path).task == "token-classification"
    with pytest.raises(FileNotFoundError, match="holds no saved model"):
        read_model_info(tmp_path / "nothing")
