"""Stored campaigns: stored as records with a manifest, served only whole and checked, and re-derived
exactly on the same machine (and to a stated, measured tolerance on another)."""
import json
import os
import shutil
import subprocess
import sys
from dataclasses import replace

import pytest
import torch

from resmix import study
from resmix.config import DataConfig, ModelConfig, quick
from resmix.study.campaigns import CampaignError, compare, load_campaign, rederive, run_campaign, store_campaign

TINY = quick().with_(data=DataConfig(clip_seconds=0.128, n_train=16, n_val=8),
                     model=ModelConfig(d_model=16, n_layers=1, n_heads=2), train={"epochs": 3, "batch_size": 8})


@pytest.fixture(scope="module")
def stored(tmp_path_factory):
    exps = study.grid(TINY, {"loss.reconstruction": [0, 0.1]})
    root = tmp_path_factory.mktemp("campaign")
    hs = run_campaign(exps, root / "scratch", progress=False)
    manifest = store_campaign("tiny", hs, root / "tiny", root, "a test, no commit", "pytest")
    return exps, hs, manifest, root / "tiny"


def test_a_campaign_is_stored_as_records_with_its_manifest(stored):
    exps, hs, manifest, folder = stored
    assert sorted(p.name for p in (folder / "runs").iterdir()) == sorted(f"{study.run_key(e)}.json" for e in exps)
    assert manifest["runs"] == 2 and manifest["run_steps"] == 2 * 3 * 2 and manifest["bytes"] > 0
    assert manifest["provenance"]["resmix"] and "cpu_matmul" in manifest["provenance"]
    assert json.loads((folder / "manifest.json").read_text()) == manifest
    again, loaded = load_campaign(folder)
    assert again == manifest and [h.records for h in loaded] == [h.records for h in sorted(hs, key=lambda h: study.run_key(h.experiment))]


def test_a_campaign_missing_a_run_or_holding_another_is_refused_by_name(stored, tmp_path):
    exps, hs, manifest, folder = stored
    copy = tmp_path / "c"
    shutil.copytree(folder, copy)
    first = sorted((copy / "runs").iterdir())[0]
    first.rename(tmp_path / first.name)
    with pytest.raises(CampaignError, match=rf"missing \['{first.stem}'\]"):
        load_campaign(copy)
    (tmp_path / first.name).rename(first)
    other = study.run_one(replace(exps[0], train=replace(exps[0].train, seed=7)), tmp_path / "other")
    shutil.copy(tmp_path / "other" / f"{study.run_key(other.experiment)}.json", copy / "runs")
    with pytest.raises(CampaignError, match=rf"extra \['{study.run_key(other.experiment)}'\]"):
        load_campaign(copy)
    (copy / "manifest.json").write_text("{")
    with pytest.raises(CampaignError, match="not a campaign's manifest"):
        load_campaign(copy)


def test_a_prefix_rederives_exactly_and_a_changed_record_is_caught(stored):
    exps, hs, manifest, folder = stored
    _, loaded = load_campaign(folder)
    for h in loaded:
        r = rederive(h, epochs=2)
        assert r.same_machine and r.exact and r.holds and r.max_rel_diff == 0
    # the positive control of the check: one stored value off by 1% fails, on this machine and across machines
    h = loaded[0]
    records = [dict(rec) for rec in h.records[:2]]
    records[1]["val_rms_ratio_db"] *= 1.01
    for same in (True, False):
        r = compare(h, records, same)
        assert not r.exact and not r.close and not r.holds and r.max_rel_diff == pytest.approx(0.01, rel=1e-6)
    with pytest.raises(ValueError, match="between 1 and the run's 3 stored epochs"):
        rederive(h, epochs=4)
    # nothing compared is no pass, and a NaN on one side fails rather than raising
    assert not compare(h, [], True).holds and not compare(h, [dict(r) for r in h.records] * 2, False).holds
    nan = [dict(rec) for rec in h.records[:1]]
    nan[0]["val_rms_ratio_db"] = float("nan")
    assert not compare(h, nan, True).holds and not compare(h, nan, False).holds


@pytest.mark.skipif(not (torch.backends.mkl.is_available() and sys.platform == "linux"), reason="needs torch's MKL")
def test_on_other_matmul_kernels_the_prefix_is_close_not_exact(stored, tmp_path):
    # Another machine, simulated: MKL's AVX2 kernels instead of the ones the stored run used.
    exps, hs, manifest, folder = stored
    code = (f"import resmix, json; from resmix.study.campaigns import load_campaign, rederive\n"
            f"_, hs = load_campaign({str(folder)!r})\n"
            f"print(json.dumps([vars(rederive(h, 2)) for h in hs]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "MKL_ENABLE_INSTRUCTIONS": "AVX2"})
    assert done.returncode == 0, done.stderr
    results = json.loads(done.stdout.strip().splitlines()[-1])
    if all(r["same_machine"] for r in results):
        pytest.skip("MKL_ENABLE_INSTRUCTIONS=AVX2 is this machine's own path already")
    assert all(r["close"] and r["holds"] for r in results), results
