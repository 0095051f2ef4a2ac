"""The store serves a stored result only after checking its bytes, its shape and its key; anything else
is set aside and recomputed, never raised (issue 20)."""
import json
import shutil
import warnings

import pytest

from resmix import study
from resmix._io import DamagedFileWarning
from resmix.study import cli
from resmix.study.keys import settings_key
from resmix.study.store import read_result


def _numbers(h):
    return [{k: v for k, v in r.items() if k != "seconds"} for r in h.records]


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    """Two stored runs of 2 epochs (reconstruction 0 and 0.1) in a template folder."""
    from resmix.config import DataConfig, ModelConfig, quick
    tiny = quick().with_(data=DataConfig(clip_seconds=0.128, n_train=16, n_val=8),
                         model=ModelConfig(d_model=16, n_layers=1, n_heads=2), train={"epochs": 2, "batch_size": 8})
    exps = study.grid(tiny, {"loss.reconstruction": [0, 0.1]})
    folder = tmp_path_factory.mktemp("template")
    hs = study.run_grid(exps, folder, progress=False)
    return exps, hs, folder


@pytest.fixture
def results(stored, tmp_path):
    exps, hs, folder = stored
    shutil.copytree(folder, tmp_path / "r")
    return exps, hs, tmp_path / "r"


def _paths(exp, folder):
    key = study.run_key(exp)
    return folder / f"{key}.json", folder / f"{key}.model.pt"


def test_a_result_copied_over_another_runs_key_is_set_aside_and_that_run_recomputed(results, monkeypatch):
    """Regression (issue 20): a result (and model) copied over another run's key was served as that run."""
    exps, hs, folder = results
    (a_json, a_pt), (b_json, b_pt) = _paths(exps[0], folder), _paths(exps[1], folder)
    shutil.copy(a_json, b_json)
    shutil.copy(a_pt, b_pt)
    with pytest.warns(DamagedFileWarning, match=rf"{b_json.name}: it holds the run of key {a_json.stem} .*not of "
                                                rf"{b_json.stem}: a copied, merged or swapped file"):
        again = study.run_one(exps[1], folder)
    assert again.experiment.loss.reconstruction == 0.1 and _numbers(again) == _numbers(hs[1])
    assert (folder / f"{b_json.name}.damaged").exists() and (folder / f"{b_pt.name}.damaged").exists()
    assert json.loads(b_json.read_text())["experiment"]["loss"]["reconstruction"] == 0.1
    shutil.copy(a_json, b_json)  # a folder scan sets it aside too
    with pytest.warns(DamagedFileWarning, match="it holds the run of key"):
        assert [h.experiment.loss.reconstruction for h in study.load_results(folder)] == [0]


def test_the_cli_prints_each_point_with_its_own_history(results, capsys):
    """Regression (issue 20): --grid loss.reconstruction=0,0.1 printed the 0.1 point with the other run's history."""
    exps, hs, folder = results
    (a_json, a_pt), (b_json, b_pt) = _paths(exps[0], folder), _paths(exps[1], folder)
    shutil.copy(a_json, b_json)
    shutil.copy(a_pt, b_pt)
    tiny = ["data.clip_seconds=0.128", "data.n_train=16", "data.n_val=8", "model.d_model=16", "model.n_layers=1",
            "model.n_heads=2", "train.epochs=2", "train.batch_size=8"]
    with pytest.warns(DamagedFileWarning, match="it holds the run of key"):
        cli.study_main(["--profile", "quick", *[a for s in tiny for a in ("--set", s)],
                    "--grid", "loss.reconstruction=0,0.1", "--seeds", "0", "--results", str(folder)])
    lines = capsys.readouterr().out.strip().splitlines()
    assert [line.split(":")[0] for line in lines] == [e.name for e in exps]
    assert lines[1] == (f"{exps[1].name}: rms ratio {hs[1].last['val_rms_ratio_db']:+.1f} dB, corr target "
                        f"{hs[1].last['val_corr_target']:+.3f}, corr input {hs[1].last['val_corr_input']:+.3f}")


def _edit(d, change):
    change(d)
    return d


def _setitem(path, value):
    def change(d):
        *head, last = path
        for k in head:
            d = d[k]
        d[last] = value
    return change


def _delitem(*path):
    def change(d):
        *head, last = path
        for k in head:
            d = d[k]
        del d[last]
    return change


BAD_CONTENTS = {
    "a missing section": (_delitem("experiment", "loss"), r"its experiment is not valid \(KeyError"),
    "an unknown field": (_setitem(("experiment", "train", "momentum"), 0.9), r"its experiment is not valid \(TypeError"),
    "an out-of-range value": (_setitem(("experiment", "train", "lr"), -1.0), r"TrainConfig.lr must be a finite number > 0"),
    "a wrongly typed value": (_setitem(("experiment", "model", "d_model"), "16"), r"ModelConfig.d_model must be an integer"),
    "a section that is not an object": (_setitem(("experiment", "model"), 3), r"its experiment is not valid"),
    "empty records": (_setitem(("records",), []), r"no records"),
    "a string metric": (_setitem(("records", 1, "val_rms_ratio_db"), "-3.2"), r"record 2: 'val_rms_ratio_db' is '-3.2'; expected a number"),
    "a null metric": (_setitem(("records", 0, "val_corr_target"), None), r"record 1: 'val_corr_target' is None"),
    "a record that is not an object": (_setitem(("records", 0), [1, 2]), r"record 1 is a list"),
    "a missing metric": (_delitem("records", 0, "val_corr_input"), r"record 1 lacks \['val_corr_input'\]"),
    "records out of order": (lambda d: d["records"].reverse(), r"record 1 says epoch 2.0; expected 1"),
    "more records than epochs": (lambda d: d["records"].append(dict(d["records"][-1], epoch=3.0)), r"3 records for a run of 2 epochs"),
    "another seed in the provenance": (_setitem(("meta", "seed"), 7), r"meta.seed 7 differs"),
    "a value changed within range": (_setitem(("experiment", "train", "lr"), 0.5), r"it holds the run of key"),
    "a list": (lambda d: d.clear() or d.update({"x": 1}), r"not a stored run"),
}


@pytest.mark.parametrize("case", list(BAD_CONTENTS))
def test_json_of_the_right_shape_and_wrong_content_is_set_aside(results, case):
    """Regression (issue 20): missing sections, unknown fields, out-of-range values, empty records or a
    string metric raised KeyError/TypeError/IndexError on every rerun and were never set aside."""
    exps, hs, folder = results
    path, _ = _paths(exps[0], folder)
    change, why = BAD_CONTENTS[case]
    path.write_text(json.dumps(_edit(json.loads(path.read_text()), change)))
    with pytest.warns(DamagedFileWarning, match=rf"{path.name}: .*{why}.*it will be recomputed; set aside as"):
        assert [h.experiment.loss.reconstruction for h in study.load_results(folder)] == [0.1]
    assert not path.exists() and (folder / f"{path.name}.damaged").exists()


@pytest.mark.parametrize("case", ["an unknown field", "a string metric", "empty records"])
def test_a_run_with_wrong_content_is_recomputed(results, case):
    exps, hs, folder = results
    path, _ = _paths(exps[0], folder)
    path.write_text(json.dumps(_edit(json.loads(path.read_text()), BAD_CONTENTS[case][0])))
    with pytest.warns(DamagedFileWarning, match="it will be recomputed"):
        assert _numbers(study.run_one(exps[0], folder)) == _numbers(hs[0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert len(study.load_results(folder)) == 2


@pytest.mark.parametrize("content", [b"\xff\xfe{\x00\"\x00", "{\"experiment\": \"caf\u00e9\"}".encode("latin-1"),
                                     b"[" * 100000])
def test_bytes_that_are_not_utf8_json_are_set_aside_in_a_rerun_and_a_scan(results, content):
    """Regression (issue 20): a result of non-UTF-8 bytes raised UnicodeDecodeError on every rerun and in
    load_results (read_text sat outside the handler). JSON nested too deep raised RecursionError."""
    exps, hs, folder = results
    path, _ = _paths(exps[0], folder)
    path.write_bytes(content)
    with pytest.warns(DamagedFileWarning, match=rf"{path.name}: damaged result \((UnicodeDecodeError|RecursionError)"):
        assert len(study.load_results(folder)) == 1
    path.write_bytes(content)
    with pytest.warns(DamagedFileWarning, match=r"damaged result"):
        assert _numbers(study.run_one(exps[0], folder)) == _numbers(hs[0])
    assert sorted(p.name for p in folder.glob(f"{path.name}.damaged*")) == [f"{path.name}.damaged", f"{path.name}.damaged1"]


def test_a_directory_in_place_of_a_result_is_set_aside(results):
    exps, hs, folder = results
    path, _ = _paths(exps[0], folder)
    path.unlink()
    path.mkdir()
    (path / "inside.txt").write_text("kept")
    with pytest.warns(DamagedFileWarning, match=r"unreadable \(IsADirectoryError"):
        assert _numbers(study.run_one(exps[0], folder)) == _numbers(hs[0])
    assert (folder / f"{path.name}.damaged" / "inside.txt").read_text() == "kept"


def test_stray_files_are_never_renamed_whatever_they_hold(results):
    exps, hs, folder = results
    path, _ = _paths(exps[0], folder)
    copy = folder / "backup.json"
    shutil.copy(path, copy)
    (folder / "notes.json").write_bytes(b"\xff not json")
    with pytest.warns(DamagedFileWarning) as w:
        assert len(study.load_results(folder)) == 2
    messages = sorted(str(m.message) for m in w)
    assert "backup.json: a run not stored under its key (that is " f"{path.name}); skipped and left untouched" in messages[0]
    assert "notes.json: damaged result (UnicodeDecodeError" in messages[1] and "left untouched" in messages[1]
    assert copy.exists() and (folder / "notes.json").exists()


def test_the_key_check_uses_the_version_that_wrote_the_file(results):
    """A result of an older release sits under the key of that release: it is still served by a folder scan."""
    exps, hs, folder = results
    path, _ = _paths(exps[0], folder)
    d = json.loads(path.read_text())
    d["meta"]["resmix"] = "0.2.0"
    old = folder / f"{settings_key(d['experiment'], '0.2.0')}.json"
    old.write_text(json.dumps(d))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_result(old) is not None and len(study.load_results(folder)) == 3


def test_the_key_check_uses_the_arithmetic_revision_that_made_the_file(results):
    """A result records the revision of the arithmetic that made it (``NUMERICS``), and the store recomputes
    its key with that revision: a later bump retrains the run under a new key and never calls the older
    file damaged. A file without the field was made at revision 2, the first that was part of the key."""
    from resmix._version import NUMERICS
    from resmix.study.keys import UNRECORDED_NUMERICS
    exps, hs, folder = results
    path, _ = _paths(exps[0], folder)
    d = json.loads(path.read_text())
    assert d["meta"]["numerics"] == NUMERICS and hs[0].meta["numerics"] == NUMERICS
    older = dict(d, meta=dict(d["meta"], numerics=NUMERICS - 1))
    older_path = folder / f"{settings_key(d['experiment'], numerics=NUMERICS - 1)}.json"
    assert older_path != path
    older_path.write_text(json.dumps(older))
    unrecorded = dict(d, meta={k: v for k, v in d["meta"].items() if k != "numerics"})
    unrecorded_path = folder / f"{settings_key(d['experiment'], numerics=UNRECORDED_NUMERICS)}.json"
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert read_result(older_path) is not None and len(study.load_results(folder)) == 3
        if unrecorded_path == path:  # NUMERICS is still the unrecorded revision: the same key
            path.write_text(json.dumps(unrecorded))
        assert read_result(unrecorded_path) is not None
    bad = folder / "bad" / path.name
    bad.parent.mkdir()
    bad.write_text(json.dumps(dict(d, meta=dict(d["meta"], numerics="2"))))
    with pytest.warns(DamagedFileWarning, match="meta.numerics is '2'; expected an integer revision"):
        assert read_result(bad) is None
    # the negative control: the same file claiming another revision no longer matches its key
    path.write_text(json.dumps(older))
    with pytest.warns(DamagedFileWarning, match="it holds the run of key"):
        assert read_result(path) is None


def test_files_in_place_of_the_stores_folders_are_set_aside_not_raised(stored, tmp_path):
    """Probe (issue 20): a file named locks or ckpt, or a folder named like a run's lock, failed every run
    with FileExistsError / IsADirectoryError until someone deleted it."""
    exps, hs, _ = stored
    for i, make in enumerate((lambda r: (r / "locks").write_text("x"), lambda r: (r / "ckpt").write_text("x"),
                              lambda r: (r / "locks" / f"{study.run_key(exps[0])}.lock").mkdir(parents=True))):
        folder = tmp_path / str(i)
        folder.mkdir()
        make(folder)
        with pytest.warns(DamagedFileWarning, match="set aside as"):
            assert _numbers(study.run_one(exps[0], folder)) == _numbers(hs[0])
        assert list(folder.rglob("*.damaged"))
