import pytest

from resmix.config import DataConfig, Experiment, LossConfig, ModelConfig, TrainConfig, full, get_profile, quick


def test_profiles(monkeypatch):
    monkeypatch.setenv("RESMIX_PROFILE", "full")
    assert get_profile().profile == "full"
    monkeypatch.setenv("RESMIX_PROFILE", "quick")
    assert get_profile() == quick()
    with pytest.raises(ValueError, match="profile must be one of"):
        get_profile("medium")
    assert full().model.d_model > quick().model.d_model


def test_round_trip_and_with():
    e = quick().with_(model={"residual": "none"}, name="x")
    assert e.model.residual == "none" and e.name == "x"
    assert Experiment.from_dict(e.to_dict()) == e


def test_inconsistent_config():
    with pytest.raises(ValueError, match="must equal data.frame_size"):
        Experiment(data=DataConfig(frame_size=16), model=ModelConfig(dim=32))
    with pytest.raises(ValueError, match="multiple of frame_size"):
        DataConfig(clip_seconds=0.1, frame_size=48)


@pytest.mark.parametrize("cls, changes, message", [
    (ModelConfig, {"n_heads": 0}, r"ModelConfig.n_heads must be an integer >= 1; got 0"),
    (ModelConfig, {"n_heads": -4}, r"ModelConfig.n_heads must be an integer >= 1"),
    (ModelConfig, {"d_model": 0}, r"ModelConfig.d_model must be an integer >= 1"),
    (ModelConfig, {"n_layers": -1}, r"ModelConfig.n_layers must be an integer >= 0"),
    (ModelConfig, {"dropout": 2}, r"ModelConfig.dropout must be a finite number >= 0 and < 1; got 2"),
    (ModelConfig, {"d_model": "64"}, r"ModelConfig.d_model must be an integer; got '64' \(str\)"),
    (DataConfig, {"frame_size": 0}, r"DataConfig.frame_size must be an integer >= 1"),
    (DataConfig, {"clip_seconds": 1e-5}, r"gives 0 samples; expected at least one frame of frame_size=32"),
    (DataConfig, {"n_train": 0}, r"DataConfig.n_train must be an integer >= 1"),
    (DataConfig, {"source": "speech"},
     r"DataConfig.source must be one of \('synthetic', 'music', 'chorales'\); got 'speech'"),
    (DataConfig, {"source": 3}, r"DataConfig.source must be a str; got 3 \(int\)"),
    (TrainConfig, {"lr": float("inf")}, r"TrainConfig.lr must be a finite number > 0; got inf"),
    (TrainConfig, {"epochs": 2.5}, r"TrainConfig.epochs must be an integer; got 2.5 \(float\)"),
    (TrainConfig, {"epochs": True}, r"TrainConfig.epochs must be an integer"),
    (TrainConfig, {"weight_decay": -1}, r"TrainConfig.weight_decay must be a finite number >= 0; got -1"),
    (TrainConfig, {"amp": "yes"}, r"TrainConfig.amp must be true or false \(bool\); got 'yes'"),
    (TrainConfig, {"threads": 0}, r"TrainConfig.threads must be an integer >= 1"),
    (LossConfig, {"eps": float("nan")}, r"LossConfig.eps must be a finite number >= 0; got nan"),
    (LossConfig, {"variance_gamma": -1}, r"LossConfig.variance_gamma must be a finite number >= 0"),
    (LossConfig, {"novelty": "1"}, r"LossConfig.novelty must be a number"),
])
def test_bad_values_name_the_field_and_the_allowed_range(cls, changes, message):
    with pytest.raises((TypeError, ValueError), match=message):
        cls(**changes)


def test_sections_must_be_configs_and_numpy_scalars_become_python_ones():
    with pytest.raises(TypeError, match="Experiment.data must be a DataConfig; got 3"):
        Experiment(data=3)
    import numpy as np
    t = TrainConfig(epochs=np.int64(3), lr=np.float32(0.5), amp=np.bool_(False))
    assert type(t.epochs) is int and type(t.lr) is float and type(t.amp) is bool
    assert ModelConfig(n_layers=0).n_layers == 0  # a linear stage is a valid ablation
    assert LossConfig(reconstruction=0).reconstruction == 0  # ints stay ints: run keys do not change


def test_new_options_default_to_the_old_behaviour_and_are_validated():
    assert ModelConfig().output_scale == 1.0 and LossConfig().corr_axes == "clip" and TrainConfig().decay == "all"
    with pytest.raises(ValueError, match=r"ModelConfig.output_scale must be a finite number > 0; got 0"):
        ModelConfig(output_scale=0)
    with pytest.raises(ValueError, match=r"TrainConfig.decay must be one of \('all', 'weights'\); got 'bias'"):
        TrainConfig(decay="bias")
    with pytest.raises(ValueError, match=r"LossConfig.corr_axes must be one of \('clip', 'frame', 'batch'\)"):
        LossConfig(corr_axes="time")
    assert Experiment.from_dict(quick().with_(train={"decay": "weights"}).to_dict()).train.decay == "weights"


def test_results_of_0_1_read_as_raw_input_and_one_held_out_pair_is_refused():
    import pytest as _pytest

    from resmix.config import DataConfig, Experiment, quick
    old = quick().to_dict()
    del old["model"]["input_scale"]  # what 0.1.0 stored
    assert Experiment.from_dict(old).model.input_scale == "raw"
    assert Experiment.from_dict(quick().to_dict()).model.input_scale == "rms"
    with _pytest.raises(ValueError, match="n_val"):
        DataConfig(n_val=1)


@pytest.mark.parametrize("device", ["banana", "cuda0", "cuda:", "cuda:-1", "gpu", "", "CPU", "meta"])
def test_a_device_that_torch_cannot_train_on_is_refused_when_the_config_is_made(device):
    """Regression (issue 20): train.device=banana passed the config (and --list), failing at train time."""
    with pytest.raises(ValueError, match=r"TrainConfig.device must be one of 'auto', 'cpu', 'cuda', 'cuda:N', 'mps'"):
        TrainConfig(device=device)
    for ok in ("auto", "cpu", "cuda", "cuda:1", "mps"):
        assert TrainConfig(device=ok).device == ok


def test_an_unavailable_device_is_a_clear_error_naming_the_fix(tiny):
    """Regression (issue 20): device="cuda" on a CPU-only torch raised AssertionError from the first .to()."""
    import torch

    from resmix.config import DeviceUnavailableError, resolve_device
    from resmix.training.single import train
    missing = "cuda:99" if torch.cuda.is_available() else "cuda"
    with pytest.raises(DeviceUnavailableError, match=r"train.device='cuda(:99)?', but .*; set train.device='auto'"):
        resolve_device(missing)
    with pytest.raises(DeviceUnavailableError, match="set train.device='auto'"):
        train(tiny.with_(train={"device": missing}), progress=False)
    assert resolve_device("cpu") == torch.device("cpu") and resolve_device("auto").type in ("cpu", "cuda")


@pytest.mark.parametrize("cls", [TrainConfig, DataConfig])
def test_seeds_are_bounded_to_what_torch_and_numpy_take(cls):
    """Regression (issue 20): TrainConfig(seed=2**64) passed the config and overflowed inside train()."""
    assert cls(seed=2 ** 63 - 1).seed == 2 ** 63 - 1
    for bad in (2 ** 63, 2 ** 64, -1):
        with pytest.raises(ValueError, match=rf"{cls.__name__}.seed must be an integer >= 0 and < 2\*\*63; got {bad}"):
            cls(seed=bad)


def test_running_page_profile_table_matches_the_profiles():
    """book/running.md's profile table states each profile's clip length, pairs, width, depth, batch and steps."""
    from pathlib import Path

    from resmix.config import PROFILES, get_profile
    text = (Path(__file__).resolve().parents[1] / "book" / "running.md").read_text()
    for name in PROFILES:
        row = next(line for line in text.splitlines() if line.startswith(f"| `{name}` |"))
        e = get_profile(name)
        steps = e.train.epochs * (e.data.n_train // e.train.batch_size)
        for fact in (f"{e.data.clip_seconds:g} s clips", f"{e.data.n_train} training pairs", f"{e.model.d_model}-wide",
                     f"{e.model.n_layers}-layer", f"batch {e.train.batch_size}", f"{e.train.epochs} epochs = {steps} ",
                     "bf16 autocast" if e.train.amp else "fp32"):
            assert fact in row, f"running.md's {name} row lacks {fact!r}: {row}"
