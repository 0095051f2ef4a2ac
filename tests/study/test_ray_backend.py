"""resmix.study.ray_backend against a real Ray cluster started as its own process on 127.0.0.1.

The head runs as the README says (``ray start --head`` in its own process session), with its
own temporary home, once on a fresh home and once on a home that holds a Ray token (Ray 2.60's
``ray start --head`` then turns token authentication on); the driver (this process) sees the
same home. What the user's own home holds does not matter.
"""
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
from resmix.study import cli

ray = pytest.importorskip("ray")
from resmix.study.ray_backend import CONNECT_TIMEOUT_S, ClusterError, connect  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
RAY = str(Path(sys.executable).parent / "ray")
AUTH_ENV = ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN", "RAY_AUTH_TOKEN_PATH", "RAY_ADDRESS")
TINY = ["data.clip_seconds=0.128", "data.n_train=16", "data.n_val=8", "model.d_model=16",
        "model.n_layers=1", "model.n_heads=2", "train.epochs=2", "train.batch_size=8"]


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _reset_ray_auth() -> None:
    """Make this process read RAY_AUTH_MODE and the token afresh (connect() may have set token mode)."""
    try:
        from ray._raylet import AuthenticationTokenLoader, Config
    except ImportError:  # a Ray without token authentication
        return
    Config.initialize("")
    AuthenticationTokenLoader.instance().reset_cache()


@pytest.fixture(scope="module", params=["fresh home", "home with a token"])
def cluster(request):
    """``(address, home)``: ``ray start --head`` in its own process session, with its own home;
    stopped by ending that session only.

    Not ``ray stop``: it ends every Ray process of the machine, other people's clusters too.
    """
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="rr", dir="/tmp")  # short: Ray's socket paths must fit 107 bytes
    home = Path(temp) / "home"
    home.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in AUTH_ENV} | {
        "HOME": str(home), "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    if request.param == "home with a token":  # what `ray get-auth-token --generate` leaves behind
        subprocess.run([RAY, "get-auth-token", "--generate"], env=env, check=True, capture_output=True, timeout=120)
        assert (home / ".ray" / "auth_token").exists()
    log = open(Path(temp) / "head.log", "w")
    head = subprocess.Popen(
        [RAY, "start", "--head", "--block", "--node-ip-address", "127.0.0.1", "--port", str(port), "--num-cpus", "2",
         "--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp],
        env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    address = f"127.0.0.1:{port}"
    mp = pytest.MonkeyPatch()
    try:
        for k in AUTH_ENV:
            mp.delenv(k, raising=False)
        mp.setenv("HOME", str(home))  # the driver on the head's machine, as in the README
        _reset_ray_auth()
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if head.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"ray start failed: {(Path(temp) / 'head.log').read_text()[-2000:]}")
                time.sleep(0.5)
        if request.param == "home with a token":
            assert "Token authentication is enabled" in (Path(temp) / "head.log").read_text()
        yield address, home
    finally:
        ray.shutdown()
        mp.undo()
        _reset_ray_auth()
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


@pytest.mark.parametrize("cluster", ["home with a token"], indirect=True)
def test_ray_matches_local_skips_stored_and_resumes_a_killed_run(tiny, tmp_path, cluster):
    address, _ = cluster
    exps = study.grid(tiny, {"loss.reconstruction": [0.0, 0.1]}, seeds=[0, 1])
    torch.set_num_threads(1)  # as each Ray task (one CPU, one thread)
    local = study.run_grid(exps, tmp_path / "local", progress=False)

    results, calls, marker = tmp_path / "ray", tmp_path / "calls", tmp_path / "killed_once"
    calls.mkdir()
    study.run_one(exps[0], results)  # already stored: must not be submitted
    victim = exps[1].name

    def flaky(exps, results):
        """The first attempt at ``victim``'s cohort dies after epoch 2, its checkpoints written; the retry resumes."""
        from resmix.training.cohort import train_cohort
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
    remote = study.run_grid(exps, results, progress=False, backend="ray", address=address,
                            ray_options={"num_cpus": 1, "max_retries": 2, "run": flaky})
    print(f"ray grid of {len(exps)} runs: {time.perf_counter() - t0:.1f} s")
    keys = [study.run_key(e) for e in exps]
    assert sorted(p.name for p in calls.iterdir()) == sorted(
        [f"{keys[1]}-killed", f"{keys[1]}-resumed-after-2", keys[2], keys[3]])
    assert _strip(remote) == _strip(local)
    assert len(list(results.glob("*.json"))) == 4 and not list((results / "ckpt").glob("*"))
    assert remote[1].meta["device"] == "cpu"


def _cli(results, address, *more):
    return ["--profile", "quick", *[a for s in TINY for a in ("--set", s)], "--grid", "loss.eps=1e-8,1",
            "--seeds", "0", "--results", str(results), "--backend", "ray", "--address", address, *more]


def test_cli_on_the_cluster(tmp_path, cluster, capsys):
    """Regression (issue 20): where ~/.ray/auth_token existed, the head ran with token authentication and
    the driver attached without it ("InvalidAuthToken ... RAY_AUTH_MODE is currently 'disabled'")."""
    address, _ = cluster
    ray.shutdown()  # attach afresh, as a new `python -m resmix.study` process would
    _reset_ray_auth()
    cli.study_main(_cli(tmp_path, address))
    assert len(list(tmp_path.glob("*.json"))) == 2
    assert capsys.readouterr().out.count("rms ratio") == 2


@pytest.mark.parametrize("cluster", ["home with a token"], indirect=True)
def test_a_driver_without_the_token_is_told_how_to_get_it(tmp_path, cluster):
    address, home = cluster
    ray.shutdown()
    token = home / ".ray" / "auth_token"
    saved = token.read_bytes()
    try:
        token.unlink()
        os.environ.pop("RAY_AUTH_MODE", None)  # a fresh driver process
        _reset_ray_auth()
        with pytest.raises(ClusterError, match=r"uses token authentication and this machine has no token: copy the "
                                               r"head's token"):
            connect(address)
        os.environ["RAY_AUTH_MODE"] = "token"  # Ray's client would end this process (status 1, no message)
        _reset_ray_auth()
        with pytest.raises(ClusterError, match=r"RAY_AUTH_MODE=token here, but this machine has no Ray token"):
            connect(address)
        os.environ.pop("RAY_AUTH_MODE")
        token.write_text("0" * 64)
        _reset_ray_auth()
        with pytest.raises(ClusterError, match="refuses this machine's authentication token"):
            connect(address)
    finally:
        token.write_bytes(saved)
        os.environ.pop("RAY_AUTH_MODE", None)  # connect() set token mode for this process
        _reset_ray_auth()


@pytest.mark.parametrize("cluster", ["fresh home"], indirect=True)
def test_gpus_the_cluster_does_not_have_are_a_clear_error_not_a_wait(tmp_path, cluster):
    """Regression (issue 20): --gpus-per-run 1 on a CPU-only cluster waited forever, Ray's warning hidden."""
    address, _ = cluster
    t0 = time.monotonic()
    with pytest.raises(SystemExit, match=r"^python -m resmix.study: error: no node of the Ray cluster can run a task "
                                         r"that asks for 1 CPU, 1 GPU \(nodes: .*: 2 CPU, 0 GPU\); ask for less"):
        cli.study_main(_cli(tmp_path, address, "--gpus-per-run", "1"))
    assert time.monotonic() - t0 < 60 and not list(tmp_path.glob("*.json"))
    with pytest.raises(ClusterError, match=r"attached to the Ray cluster at .*; call ray.shutdown\(\) before"):
        connect(f"127.0.0.1:{_free_port()}")


def test_an_address_where_nothing_listens_is_a_clear_error_within_the_stated_time(tmp_path):
    """Regression (issue 20): --address at a port where nothing listens only logged GCS time-outs for minutes."""
    ray.shutdown()
    port = _free_port()
    t0 = time.monotonic()
    with pytest.raises(SystemExit, match=rf"error: no Ray cluster answers at 127.0.0.1:{port} \(Connection refused "
                                         rf"within {CONNECT_TIMEOUT_S:g} s\): start one there"):
        cli.study_main(_cli(tmp_path, f"127.0.0.1:{port}"))
    assert time.monotonic() - t0 < CONNECT_TIMEOUT_S + 5


def test_a_port_that_is_not_a_ray_cluster_is_a_clear_error_within_the_stated_time():
    ray.shutdown()
    with socket.socket() as server:  # listens, accepts, never answers
        server.bind(("127.0.0.1", 0))
        server.listen()
        address = "127.0.0.1:%d" % server.getsockname()[1]
        t0 = time.monotonic()
        with pytest.raises(ClusterError, match=rf"something listens at {address} but does not answer as a Ray cluster"):
            connect(address)
        assert time.monotonic() - t0 < 2 * CONNECT_TIMEOUT_S + 5
