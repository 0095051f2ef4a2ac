from pathlib import Path

import pytest

from resmix._io import DamagedFileWarning, atomic_path, set_aside, temp_leftovers


def test_failed_write_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "result.json"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            open(tmp, "w").write("half")
            raise RuntimeError("interrupted")
    assert target.read_text() == "old"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["result.json"]
    with atomic_path(target) as tmp:
        open(tmp, "w").write("new")
    assert target.read_text() == "new"


def test_temporary_files_are_named_after_their_target(tmp_path):
    target = tmp_path / "abc.json"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            assert Path(tmp).name.startswith("abc.json.") and tmp.endswith(".tmp")
            assert temp_leftovers(target) == [Path(tmp)]
            raise RuntimeError("interrupted")
    assert temp_leftovers(target) == []


def test_set_aside_renames_without_deleting(tmp_path):
    p = tmp_path / "r.json"
    for i in range(2):
        p.write_text("{cut")
        with pytest.warns(DamagedFileWarning, match=r"r\.json: bad; set aside as r\.json\.damaged"):
            aside = set_aside(p, "bad")
        assert not p.exists() and aside.read_text() == "{cut"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["r.json.damaged", "r.json.damaged1"]
