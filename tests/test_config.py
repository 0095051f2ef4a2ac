import pytest

from resmix.config import DataConfig, Experiment, ModelConfig, full, get_profile, quick


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
