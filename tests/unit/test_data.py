"""Loading, validating, de-duplicating and splitting tables."""

from __future__ import annotations

import pandas as pd
import pytest

import hackkit as hk
from hackkit.tables import check_classes
from helpers import TEXT


@pytest.mark.parametrize("name", ["d.csv", "d.tsv", "d.jsonl", "d.parquet"])
def test_every_format_loads_the_same_rows(write, small_frame, name):
    dataset = hk.load_data(write(name, small_frame), text_column="text", label_column="label")
    pd.testing.assert_frame_equal(dataset.frame, small_frame)
    assert dataset.warnings == []


def test_json_array_file_loads(write, small_frame):
    path = write("d.json", small_frame.to_json(orient="records"))
    assert len(hk.load_data(path, text_column="text", label_column="label").frame) == 30


def test_missing_file_names_the_parameter_and_the_shipped_files():
    with pytest.raises(FileNotFoundError, match=r"DATA_PATH.*nope\.csv.*support_intents\.csv"):
        hk.read_table("data/nope.csv")


def test_unsupported_suffix_says_what_to_use(write):
    with pytest.raises(ValueError, match=r"unsupported type '\.xlsx'.*save your spreadsheet as CSV"):
        hk.read_table(write("d.xlsx", "a,b\n"))


def test_empty_and_header_only_files(write):
    with pytest.raises(ValueError, match="is empty"):
        hk.read_table(write("e.csv", ""))
    with pytest.raises(ValueError, match="no rows"):
        hk.read_table(write("h.csv", "text,label\n"))


def test_non_utf8_file_reports_the_byte_offset(write):
    with pytest.raises(ValueError, match=r"not valid UTF-8 \(first bad byte at offset 22, line 2\)"):
        hk.read_table(write("latin.csv", "text,label\nbonjour caf\xe9,a\n".encode("latin-1")))


def test_misspelled_column_suggests_the_closest_name(write, small_frame):
    path = write("d.csv", small_frame)
    with pytest.raises(ValueError, match=r"TEXT_COLUMN='txt'.*Did you mean 'text'"):
        hk.load_data(path, text_column="txt", label_column="label")
    with pytest.raises(ValueError, match=r"LABEL_COLUMN='intent'.*columns are \['text', 'label'\]"):
        hk.load_data(path, text_column="text", label_column="intent")


def test_all_empty_texts_stop_and_some_empty_are_dropped(write, small_frame):
    blank = small_frame.assign(text="   ")
    with pytest.raises(ValueError, match="every text .* is empty"):
        hk.load_data(write("b.csv", blank), text_column="text", label_column="label")
    some = small_frame.copy()
    some.loc[[0, 1], "text"] = ""
    dataset = hk.load_data(write("s.csv", some), text_column="text", label_column="label")
    assert len(dataset.frame) == 28 and dataset.dropped == {"empty_text": 2}
    assert "2 rows with empty text were dropped" in dataset.warnings[0]


def test_missing_labels_stop_or_are_dropped(write, small_frame):
    with pytest.raises(ValueError, match=r"LABEL_COLUMN='label': every label .* is missing"):
        hk.load_data(write("n.csv", small_frame.assign(label=None)))
    some = small_frame.copy()
    some.loc[[3], "label"] = None
    dataset = hk.load_data(write("m.csv", some), text_column="text", label_column="label")
    assert dataset.dropped == {"missing_label": 1} and len(dataset.frame) == 29


def test_numeric_labels_become_clean_strings(write, small_frame):
    frame = small_frame.assign(label=[1.0, 2.0, None] * 10)
    dataset = hk.load_data(write("num.csv", frame), text_column="text", label_column="label")
    assert sorted(dataset.frame["label"].unique()) == ["1", "2"]


def test_single_class_and_tiny_class_are_rejected(small_frame):
    with pytest.raises(ValueError, match="single class"):
        check_classes(small_frame.assign(label="x")["label"])
    labels = pd.concat([small_frame["label"], pd.Series(["rare", "rare"])])
    with pytest.raises(ValueError, match=r"'rare' \(2\).*at least 3 examples"):
        check_classes(labels)


def test_stratified_split_is_disjoint_sized_and_reproducible(sample_splits):
    sizes = {k: len(v) for k, v in sample_splits.items()}
    total = sum(sizes.values())
    assert sizes["test"] == pytest.approx(0.2 * total, abs=2)
    assert sizes["validation"] == pytest.approx(0.1 * total, abs=2)
    texts = [set(f["text"]) for f in sample_splits.values()]
    assert not (texts[0] & texts[1] or texts[0] & texts[2] or texts[1] & texts[2])
    share = sample_splits["test"]["label"].value_counts(normalize=True)
    overall = sample_splits["train"]["label"].value_counts(normalize=True)
    assert (share - overall).abs().max() < 0.02  # stratified: every class keeps its share


def test_split_is_the_same_for_the_same_seed(small_frame):
    a = hk.make_splits(small_frame, 0.2, 0.2, 1, TEXT)
    b = hk.make_splits(small_frame, 0.2, 0.2, 1, TEXT)
    assert all(a[k].equals(b[k]) for k in a)


def test_split_column_is_used_and_validation_carved_from_train(write, small_frame):
    frame = small_frame.assign(split=["train"] * 7 + ["TEST"] * 3 + ["train"] * 7 + ["test"] * 3
                               + ["training"] * 7 + ["test"] * 3)
    dataset = hk.load_data(write("s.csv", frame), text_column="text", label_column="label", split_column="split")
    splits = hk.make_splits(dataset.frame, 0.2, 0.3, 0, TEXT)
    assert len(splits["test"]) == 9
    assert len(splits["train"]) + len(splits["validation"]) == 21
    assert splits["validation"]["label"].nunique() == 3


def test_unknown_split_values_are_listed(write, small_frame):
    frame = small_frame.assign(split=["train", "holdout", "test"] * 10)
    with pytest.raises(ValueError, match=r"unknown split values \['holdout'\]"):
        hk.load_data(write("s.csv", frame), text_column="text", label_column="label", split_column="split")


def test_split_sizes_too_small_for_the_classes(small_frame):
    with pytest.raises(ValueError, match="TEST_SIZE=0.05"):
        hk.make_splits(small_frame, 0.05, 0.2, 0, TEXT)
    with pytest.raises(ValueError, match="TEST_SIZE=1.5"):
        hk.make_splits(small_frame, 1.5, 0.2, 0, TEXT)


def test_deduplicate_counts_repeats_and_label_conflicts():
    frame = pd.DataFrame({"text": ["Hello  there", "hello there", "other", "other", "x"],
                          "label": ["a", "a", "a", "b", "c"]})
    clean, dropped, conflicts = hk.deduplicate(frame, TEXT)
    assert list(clean["text"]) == ["Hello  there", "other", "x"]
    assert (dropped, conflicts) == (2, 1)


def test_subsample_is_stratified(sample_splits):
    small = TEXT.subsample(sample_splits["train"], 80, seed=0)
    assert len(small) == 80 and small["label"].nunique() == sample_splits["train"]["label"].nunique()
    assert TEXT.subsample(sample_splits["train"], 0, seed=0) is sample_splits["train"]
    with pytest.raises(ValueError, match="MAX_TRAIN_EXAMPLES=3"):
        TEXT.subsample(sample_splits["train"], 3, seed=0)


def test_saved_splits_round_trip_and_are_never_overwritten(tmp_path, small_frame):
    splits = hk.make_splits(small_frame, 0.2, 0.2, 0, TEXT)
    labels = hk.save_splits(splits, tmp_path, TEXT)
    loaded, loaded_labels = hk.load_splits(tmp_path)
    assert labels == loaded_labels == ["login", "refund", "ship"]
    assert loaded["test"].equals(splits["test"])
    assert hk.save_splits(splits, tmp_path, TEXT) == labels  # the same data again (a resumed 01): no-op
    other = hk.make_splits(small_frame, 0.2, 0.2, 1, TEXT)
    with pytest.raises(FileExistsError, match="already exists with different data"):
        hk.save_splits(other, tmp_path, TEXT)
    assert hk.load_splits(tmp_path)[0]["test"].equals(splits["test"])


def test_a_failed_split_write_leaves_no_half_written_folder(tmp_path, small_frame, monkeypatch):
    def crash(*args):
        raise KeyboardInterrupt("killed while writing")

    monkeypatch.setattr(hk.runfolder, "write_json", crash)  # labels.json is written last
    with pytest.raises(KeyboardInterrupt):
        hk.save_splits(hk.make_splits(small_frame, 0.2, 0.2, 0, TEXT), tmp_path, TEXT)
    assert list(tmp_path.iterdir()) == []


def test_ambiguous_split_name_eval_is_not_guessed(write, small_frame):
    frame = small_frame.assign(split=["train", "eval", "test"] * 10)
    with pytest.raises(ValueError, match=r"unknown split values \['eval'\].*train / validation / test"):
        hk.load_data(write("s.csv", frame), text_column="text", label_column="label", split_column="split")


def test_a_folder_of_split_files_is_read_with_its_splits(tmp_path, small_frame):
    folder = tmp_path / "intents"
    folder.mkdir()
    small_frame.iloc[::2].to_csv(folder / "train.csv", index=False)
    small_frame.iloc[1::4].to_parquet(folder / "test.parquet")  # any supported type
    small_frame.iloc[3::4].to_json(folder / "dev.jsonl", orient="records", lines=True)
    (folder / "README.md").write_text("not a split")
    dataset = hk.load_data(folder)
    assert dataset.frame["split"].value_counts().to_dict() == {
        "train": len(small_frame.iloc[::2]), "test": len(small_frame.iloc[1::4]),
        "validation": len(small_frame.iloc[3::4])}
    splits = hk.make_splits(dataset.frame, 0.2, 0.1, 42, TEXT)
    assert list(splits["test"]["text"]) == list(small_frame.iloc[1::4]["text"])


def test_a_folder_without_train_and_test_files_says_what_it_needs(tmp_path, small_frame):
    folder = tmp_path / "half"
    folder.mkdir()
    small_frame.to_csv(folder / "train.csv", index=False)
    (folder / "notes.txt").write_text("x")
    with pytest.raises(ValueError, match=r"DATA_PATH: the folder .*half has no test file \(it holds "
                                         r"\['notes.txt', 'train.csv'\]\).*needs train.csv and test.csv"):
        hk.load_data(folder)
    with pytest.raises(ValueError, match="SPLIT_COLUMN='split': DATA_PATH .* is a folder"):
        hk.load_data(folder, split_column="split")
