"""The stored campaigns are the registered runs, served whole, and today's code still makes them: CI
re-derives the first two epochs of one run of every configuration and compares the records, exactly on
a machine with the stored runs' matmul path, to the stated tolerance elsewhere (resmix.study.campaigns)."""
import pytest

from resmix._version import NUMERICS
from resmix.book.campaigns import CAMPAIGNS, load
from resmix.config import get_profile
from resmix.registrations import third
from resmix.study.campaigns import rederive
from resmix.study.keys import run_key

QUICK = get_profile("quick")


@pytest.fixture(scope="module")
def fixes():
    manifest, histories = load("third-fixes")
    return manifest, third.group(histories, QUICK)


@pytest.fixture(scope="module")
def stored_cpu(fixes):
    return fixes[0]["cpu"]


def test_the_stored_fix_campaign_is_the_registered_runs_with_their_provenance(fixes):
    manifest, cells = fixes
    assert manifest["runs"] == 150 == sum(map(len, cells.values()))
    assert sorted(manifest["keys"]) == sorted(run_key(e) for e in CAMPAIGNS["third-fixes"].runs())
    assert manifest["registration"] == CAMPAIGNS["third-fixes"].registration and not manifest["code_dirty"]
    for hs in cells.values():
        for h in hs:
            assert len(h.records) == h.experiment.train.epochs and h.meta["numerics"] == NUMERICS and h.meta["cpu_matmul"]


@pytest.mark.parametrize("cell", list(third.fix_configs(QUICK)), ids=lambda c: " | ".join(c))
def test_one_run_of_every_configuration_rederives(fixes, stored_cpu, cell):
    _, cells = fixes
    h = cells[cell][0]
    r = rederive(h, epochs=2, stored_cpu=stored_cpu)
    if not r.same_machine and h.experiment.loss.recon_kind == "mrstft" and h.experiment.loss.reconstruction > 0:
        # Measured: on MKL's AVX2 kernels (MKL_ENABLE_INSTRUCTIONS=AVX2) instead of the AVX-512 ones that stored
        # them, the MR-STFT runs' first epoch already differs by up to 3x in near-zero correlations (the other
        # runs by at most 8.5e-5 relative): their trajectories are chaotic across kernels, so they are
        # compared, exactly, only on the CPU that stored them. Their verdicts rest on 10 seed pairs.
        pytest.skip(f"MR-STFT runs re-derive exactly only on the storing CPU ({stored_cpu}); "
                    f"here they differ by {r.max_rel_diff:.2g} relative")
    assert r.holds, r


def test_the_stored_records_are_package_data_so_an_installed_copy_serves_them():
    import fnmatch
    import tomllib
    from pathlib import Path

    from resmix.book import campaigns
    patterns = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())["tool"]["setuptools"][
        "package-data"]["resmix.book"]
    files = [p.relative_to(campaigns.ROOT.parent).as_posix() for p in campaigns.ROOT.rglob("*") if p.is_file()]
    assert files and all(any(fnmatch.fnmatch(f, pat) for pat in patterns) for f in files), files
