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


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full (Linux)")
def test_a_full_disk_is_reported_with_the_path_whichever_writer_failed(tmp_path):
    """Regression (issue 20): torch.save on a full disk raised "RuntimeError: [enforce fail at
    inline_container.cc:672] unexpected pos" with no path and no word of the disk.

    /dev/full fails every write with ENOSPC: the writers inside the block write there, as they
    would to a temporary file on a full disk.
    """
    import errno
    import json

    import torch

    from resmix._io import DiskFullError

    target = tmp_path / "run.model.pt"
    target.write_bytes(b"old")
    with pytest.raises(DiskFullError, match=r"could not write .*run\.model\.pt: disk full \(the write stopped short; "
                                              r".* MB free there\).*unexpected pos") as e:
        with atomic_path(target):
            torch.save({"w": torch.zeros(4096)}, "/dev/full")
    assert e.value.errno == errno.ENOSPC and target.read_bytes() == b"old"
    with pytest.raises(DiskFullError, match=r"run\.json: disk full \(no space left on the device or over quota"):
        with atomic_path(tmp_path / "run.json"), open("/dev/full", "w") as f:
            json.dump({"records": list(range(10000))}, f)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.model.pt"]  # no temporary file left
