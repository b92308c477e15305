"""Tagged-sentence reading: CoNLL (incl. CoNLL-2003's IOB1 layout) and JSON Lines, schemes, splits."""

from __future__ import annotations

import json

import pytest

import hackkit as hk
from hackkit.data.explore import class_balance
from hackkit.tasks.conll import detect_scheme, read_conll, scheme_problems, split_sentences, to_iob2
from helpers import NER

# The exact layout of CoNLL-2003 (word, POS, chunk, NER in IOB1), written for this test.
CONLL2003 = """-DOCSTART- -X- -X- O

EU NNP B-NP I-ORG
rejects VBZ B-VP O
German JJ B-NP I-MISC
call NN I-NP O
. . O O

Peter NNP B-NP I-PER
Blackburn NNP I-NP I-PER

-DOCSTART- -X- -X- O

Talks NNS B-NP O
in IN B-PP O
Paris NNP B-NP I-LOC
Lyon NNP B-NP B-LOC
ended VBD B-VP O
"""


@pytest.fixture
def conll2003(write):
    return write("eng.train", CONLL2003)


def test_conll2003_layout_is_read_as_iob1_and_converted_to_iob2(conll2003):
    dataset = hk.load_data(conll2003, text_column="text", label_column="label", task="token-classification")
    frame = dataset.frame
    assert list(frame["tokens"][0]) == ["EU", "rejects", "German", "call", "."]
    assert list(frame["tags"][0]) == ["B-ORG", "O", "B-MISC", "O", "O"]
    assert list(frame["tags"][1]) == ["B-PER", "I-PER"]
    # B- in IOB1 separates two adjacent entities of one type: Paris and Lyon stay two entities.
    assert list(frame["tags"][2]) == ["O", "O", "B-LOC", "B-LOC", "O"]
    assert list(frame["line"]) == [3, 9, 14]  # -DOCSTART- lines are not sentences
    assert frame["text"][1] == "Peter Blackburn"
    assert dataset.info == {"tag_scheme": "IOB1", "scheme_problems": []}
    assert dataset.warnings == ["tags follow the IOB1 scheme; converted to IOB2."]


def test_wrong_tag_column_names_the_parameter_and_the_column_that_holds_tags(conll2003):
    with pytest.raises(ValueError, match=r"^TAG_COLUMN=1: .*'NNP'.*try TAG_COLUMN=3") as err:
        read_conll(conll2003, tag_column=1)
    assert "sentence 1 (line 3), token 1" in str(err.value)


@pytest.mark.parametrize("column", [0, 4, -5])
def test_tag_column_outside_the_line_is_rejected(conll2003, column):
    with pytest.raises(ValueError, match=rf"^TAG_COLUMN={column}: line 3 of eng.train has 4 columns"):
        read_conll(conll2003, tag_column=column)


def test_a_line_with_only_one_column_is_reported_with_its_number(write):
    path = write("bad.conll", "Hello O\nworld\n")
    with pytest.raises(ValueError, match="line 2 has one column"):
        read_conll(path)


def test_tags_without_a_scheme_prefix_are_rejected(write):
    path = write("io.conll", "Anna PER\nsaid O\n")
    with pytest.raises(ValueError, match=r"1 tags in io.conll are not O or B-/I-/E-/S-.*'PER'"):
        read_conll(path)


def test_invalid_iob2_sequences_are_reported_with_sentence_line_and_position(write):
    text = "Anna B-PER\nBerg I-PER\n\nin O\nnew I-LOC\nyork I-LOC\nsaid O\nhi I-PER\n\nOslo B-LOC\n\nTom B-PER\n"
    dataset = hk.load_data(write("x.conll", text), task="token-classification")
    assert dataset.info["tag_scheme"] == "IOB2"
    assert dataset.info["scheme_problems"] == [
        "sentence 2 (line 4), token 2: I-LOC starts an entity after O (IOB2 needs B- first)",
        "sentence 2 (line 4), token 5: I-PER starts an entity after O (IOB2 needs B- first)",
    ]
    assert "2 invalid IOB2 tag sequences" in dataset.warnings[0]
    assert list(dataset.frame["tags"][1]) == ["O", "B-LOC", "I-LOC", "O", "B-PER"]


def test_bioes_is_detected_checked_and_converted():
    tags = [["S-PER", "O", "B-LOC", "I-LOC", "E-LOC"], ["B-ORG", "O", "B-LOC"]]
    assert detect_scheme(tags) == "BIOES"
    assert to_iob2(tags[0]) == ["B-PER", "O", "B-LOC", "I-LOC", "I-LOC"]
    problems = [str(p) for p in scheme_problems(tags, "BIOES")]
    assert problems == [
        "sentence 2, token 2: O follows B-ORG, which is never closed by E-ORG",
        "sentence 2, token 3: B-LOC ends the sentence without E-LOC",
    ]


def test_detect_scheme_prefers_the_scheme_with_fewer_violations():
    assert detect_scheme([["B-PER", "I-PER", "O"]]) == "IOB2"
    assert detect_scheme([["I-PER", "I-PER", "O", "I-LOC"]]) == "IOB1"
    with pytest.raises(ValueError, match="scheme='IOB3'"):
        scheme_problems([["O"]], "IOB3")


def test_json_lines_with_token_and_tag_lists_and_a_split_field(write):
    rows = [{"words": ["Ship", "to", "Oslo"], "ner": ["O", "O", "B-LOC"], "part": "train"},
            {"words": ["Hi", "Ann"], "ner": ["O", "B-PER"], "part": "dev"},
            {"words": ["Bye"], "ner": ["O"], "part": "test"}]
    path = write("t.jsonl", "\n".join(json.dumps(r) for r in rows))
    dataset = hk.load_data(path, text_column="words", label_column="ner", split_column="part", task="token-classification")
    assert list(dataset.frame["split"]) == ["train", "validation", "test"]
    splits = hk.make_splits(dataset.frame, 0.2, 0.1, 0, NER)
    assert [len(f) for f in splits.values()] == [1, 1, 1]
    assert list(splits["validation"]["tokens"][0]) == ["Hi", "Ann"]

    with pytest.raises(ValueError, match=r"^LABEL_COLUMN='tags': line 1 of t.jsonl has no such field"):
        hk.load_data(path, text_column="words", label_column="tags", task="token-classification")


def test_json_lines_with_lists_of_different_length_are_rejected(write):
    path = write("t.jsonl", json.dumps({"tokens": ["a", "b"], "tags": ["O"]}))
    with pytest.raises(ValueError, match="line 1: 'tokens' and 'tags' must be lists of equal length"):
        hk.load_data(path, text_column="tokens", label_column="tags", task="token-classification")


def test_random_sentence_split_is_deterministic_and_sized(write):
    text = "\n\n".join(f"word{i} O\nAnna B-PER" for i in range(50))
    frame = hk.load_data(write("s.conll", text), task="token-classification").frame
    splits = split_sentences(frame, 0.2, 0.1, seed=3)
    assert {k: len(v) for k, v in splits.items()} == {"train": 35, "validation": 5, "test": 10}
    again = split_sentences(frame, 0.2, 0.1, seed=3)
    assert list(again["test"]["text"]) == list(splits["test"]["text"])
    with pytest.raises(ValueError, match="3 sentences cannot give at least one"):
        split_sentences(frame.head(3), 0.2, 0.1, seed=3)


def test_tagged_splits_round_trip_through_the_run_folder(tmp_path, conll2003):
    frame = hk.load_data(conll2003, task="token-classification").frame
    splits = {"train": frame.head(1), "validation": frame[1:2], "test": frame[2:]}
    labels = hk.save_splits(splits, tmp_path, NER)
    assert labels == ["O", "B-LOC", "I-LOC", "B-MISC", "I-MISC", "B-ORG", "I-ORG", "B-PER", "I-PER"]
    loaded, loaded_labels = hk.load_splits(tmp_path)
    assert loaded_labels == labels and hk.Run(tmp_path).task_name() == "token-classification"
    assert list(loaded["test"]["tags"][0]) == ["O", "O", "B-LOC", "B-LOC", "O"]
    table = class_balance(loaded, NER)
    assert table.loc["LOC"].to_dict() == {"train": 0, "validation": 0, "test": 2, "total": 2}


@pytest.mark.parametrize("args, message", [
    (["-p", "TAG_COLUMN", "3"], "TAG_COLUMN=3: line 1 of support_entities.conll has 2 columns"),
    (["-p", "DATA_PATH", "data/support_intents.csv"],
     "support_intents.csv is a .csv file, which TASK='token-classification' does not read; it looks "
     "like data for TASK='text-classification'"),
    (["-p", "TEST_SIZE", "0.85"], "TEST_SIZE + VAL_SIZE = 0.95 leaves under 10% for training"),
])
def test_bad_ner_input_stops_the_run_command_before_any_run_folder(tmp_path, monkeypatch, capsys,
                                                                   args, message):
    from hackkit.cli import main

    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(tmp_path / "runs"))
    base = ["-p", "TASK", "token-classification", "-p", "DATA_PATH", "data/support_entities.conll"]
    assert main(["run", *base, *args]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "runs").exists()


def test_a_folder_of_conll2003_files_keeps_its_own_splits(tmp_path):
    folder = tmp_path / "conll2003"
    folder.mkdir()
    for name in ("eng.train", "eng.testa", "eng.testb"):
        (folder / name).write_text(CONLL2003)
    (folder / "README").write_text("not a split")
    dataset = hk.load_data(folder, task="token-classification")
    assert dataset.info["tag_scheme"] == "IOB1"
    splits = hk.make_splits(dataset.frame, 0.2, 0.1, 0, NER)
    assert {k: len(v) for k, v in splits.items()} == {"train": 3, "validation": 3, "test": 3}
    assert list(splits["test"]["tags"][1]) == ["B-PER", "I-PER"]

    (folder / "eng.testb").unlink()
    with pytest.raises(ValueError, match=r"has no file for \['test'\].*eng.testa, eng.testb"):
        hk.load_data(folder, task="token-classification")


def test_a_file_whose_tags_are_all_o_is_refused_before_any_work(tmp_path, write, monkeypatch, capsys):
    from hackkit.cli import main

    sentences = [f"word{i} O\nother{i % 7} O\nthing{i % 5} O\n" for i in range(40)]
    path = write("all_o.conll", "\n".join(sentences))
    message = (f"DATA_PATH: every tag in {path} is 'O' (40 sentences, 120 words): it marks no entity, "
               "so a model has nothing to learn.")
    report = hk.diagnose(path, task="token-classification", lengths=False)
    assert [p.check for p in report.problems if p.level == "error"] == ["load"]
    assert message in report.errors[0]
    monkeypatch.setenv("HACKKIT_RUNS_DIR", str(tmp_path / "runs"))
    assert main(["run", "-p", "TASK", "token-classification", "-p", "DATA_PATH", str(path)]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "runs").exists()


def test_entities_only_outside_the_training_split_block_and_the_plot_says_so(write):
    rows = [{"tokens": [f"word{i}", "Paris"], "tags": ["O", "B-LOC" if i >= 30 else "O"],
             "split": "train" if i < 30 else "test" if i < 35 else "validation"} for i in range(40)]
    report = hk.diagnose(write("late.jsonl", "\n".join(json.dumps(r) for r in rows)),
                         task="token-classification", text_column="tokens", label_column="tags",
                         split_column="split", lengths=False)
    [error] = [p for p in report.problems if p.check == "no-labels" and p.level == "error"]
    assert "hold no entity types at all (tagged data: every tag is O)" in error.message
    only_o = {k: v for k, v in report.splits.items() if k == "train"}
    fig = hk.plot_class_balance(only_o, report.task)  # was an IndexError
    assert fig.axes[0].texts[0].get_text() == "no entity types in the data: nothing to plot"
