"""All-or-nothing writes: a crash mid-write leaves the previous file (or none), never half a file."""

from __future__ import annotations

import pytest

import hackkit as hk


def test_atomic_file_keeps_the_old_content_when_the_write_dies(tmp_path):
    target = tmp_path / "predictions.csv"
    target.write_text("old,complete\n")
    with pytest.raises(KeyboardInterrupt):
        with hk.paths.atomic_file(target) as tmp:
            tmp.write_text("new,half")
            raise KeyboardInterrupt
    assert target.read_text() == "old,complete\n" and [p.name for p in tmp_path.iterdir()] == [target.name]
    with hk.paths.atomic_file(target) as tmp:
        tmp.write_text("new,complete\n")
    assert target.read_text() == "new,complete\n" and len(list(tmp_path.iterdir())) == 1


def test_atomic_folder_appears_whole_or_not_at_all_and_never_replaces(tmp_path):
    target = tmp_path / "model"
    with pytest.raises(RuntimeError):
        with hk.paths.atomic_folder(target) as tmp:
            (tmp / "weights").write_text("half")
            raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []
    with hk.paths.atomic_folder(target) as tmp:
        (tmp / "weights").write_text("whole")
    assert (target / "weights").read_text() == "whole"
    with pytest.raises(FileExistsError, match="refusing to overwrite"):
        with hk.paths.atomic_folder(target):
            pass
