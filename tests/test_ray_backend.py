"""resmix.ray_backend against a real Ray cluster started as its own process on 127.0.0.1."""
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import torch

from resmix import study

ray = pytest.importorskip("ray")
ROOT = Path(__file__).resolve().parents[1]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ray_address():
    """``ray start --head`` in its own process session; stopped by ending that session only.

    Not ``ray stop``: it ends every Ray process of the machine, other people's clusters too.
    """
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rr", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    env = os.environ | {"PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    log = open(Path(temp) / "head.log", "w")
    head = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block", "--node-ip-address", "127.0.0.1",
         "--port", str(port), "--num-cpus", "2", "--include-dashboard=false", "--disable-usage-stats",
         "--temp-dir", temp], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ray start failed: {(Path(temp) / 'head.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield address
    finally:
        ray.shutdown()
        try:
            os.killpg(head.pid, signal.SIGTERM)  # the session of our own `ray start`: its raylet and workers
            head.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(head.pid, signal.SIGKILL)
            head.wait()
        except ProcessLookupError:
            pass
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


def _strip(histories):
    return [[{k: v for k, v in r.items() if k != "seconds"} for r in h.records] for h in histories]


def test_ray_matches_local_skips_stored_and_resumes_a_killed_run(tiny, tmp_path, ray_address):
    exps = study.grid(tiny, {"loss.reconstruction": [0.0, 0.1]}, seeds=[0, 1])
    torch.set_num_threads(1)  # as each Ray task (one CPU, one thread)
    local = study.run_grid(exps, tmp_path / "local", progress=False)

    results, calls, marker = tmp_path / "ray", tmp_path / "calls", tmp_path / "killed_once"
    calls.mkdir()
    study.run_one(exps[0], results)  # already stored: must not be submitted
    victim = exps[1].name

    def flaky(exps, results):
        """The first attempt at ``victim``'s cohort dies after epoch 2, its checkpoints written; the retry resumes."""
        from resmix.cohort import train_cohort
        keys = [study.run_key(e) for e in exps]
        ckpts = [Path(results) / "ckpt" / f"{k}.pt" for k in keys]
        names = [e.name for e in exps]
        if victim in names and not marker.exists():
            marker.write_text("")
            (calls / f"{keys[names.index(victim)]}-killed").touch()
            train_cohort(exps, checkpoints=ckpts, progress=False,
                         callback=lambda i, record: record["epoch"] == 2 and os._exit(1))
        for e, k, ck in zip(exps, keys, ckpts):
            if e.name == victim:
                done = len(torch.load(ck, weights_only=True)["records"])
                (calls / f"{k}-resumed-after-{done}").touch()
            else:
                (calls / k).touch()
        return study.run_cohort(exps, results)

    t0 = time.perf_counter()
    remote = study.run_grid(exps, results, progress=False, backend="ray", address=ray_address,
                            ray_options={"num_cpus": 1, "max_retries": 2, "run": flaky})
    print(f"ray grid of {len(exps)} runs: {time.perf_counter() - t0:.1f} s")
    keys = [study.run_key(e) for e in exps]
    assert sorted(p.name for p in calls.iterdir()) == sorted(
        [f"{keys[1]}-killed", f"{keys[1]}-resumed-after-2", keys[2], keys[3]])
    assert _strip(remote) == _strip(local)
    assert len(list(results.glob("*.json"))) == 4 and not list((results / "ckpt").glob("*"))
    assert remote[1].meta["device"] == "cpu"


def test_cli_on_the_cluster(tmp_path, ray_address, capsys):
    tiny = ["data.clip_seconds=0.128", "data.n_train=16", "data.n_val=8", "model.d_model=16",
            "model.n_layers=1", "model.n_heads=2", "train.epochs=2", "train.batch_size=8"]
    argv = ["--profile", "quick", *[a for s in tiny for a in ("--set", s)], "--grid", "loss.eps=1e-8,1",
            "--seeds", "0", "--results", str(tmp_path), "--backend", "ray", "--address", ray_address]
    study.main(argv)
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert capsys.readouterr().out.count("rms ratio") == 2
