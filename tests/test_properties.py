"""Property tests (Hypothesis) of the pure functions: framing, Pearson, metrics at the edges, configs."""
import dataclasses
import math
import warnings

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from resmix.config import DataConfig, LossConfig, ModelConfig, TrainConfig
from resmix.data.framing import frame, unframe
from resmix.measure import metrics as M

FAST = settings(max_examples=25, deadline=None)
seeds = st.integers(0, 2 ** 32 - 1)


def _randn(seed, *shape):
    return torch.from_numpy(np.random.default_rng(seed).standard_normal(shape).astype(np.float32))


@FAST
@given(B=st.integers(1, 3), D=st.integers(1, 8), T=st.integers(1, 8), seed=seeds)
def test_frame_and_unframe_are_inverse(B, D, T, seed):
    w = _randn(seed, B, D * T)
    f = frame(w, D)
    assert f.shape == (B, D, T) and torch.equal(unframe(f), w)
    assert torch.equal(frame(unframe(f), D), f)


@FAST
@given(B=st.integers(1, 3), M_=st.integers(3, 60), seed=seeds, log_sa=st.floats(-3, 3), log_sb=st.floats(-3, 3),
       mix=st.floats(-2, 2), offset=st.floats(-10, 10))
def test_pearson_matches_numpy_at_any_scale(B, M_, seed, log_sa, log_sb, mix, offset):
    a = _randn(seed, B, M_)
    b = mix * a + _randn(seed + 1, B, M_)
    a, b = a * 10 ** log_sa + offset * 10 ** log_sa, b * 10 ** log_sb
    ref = [np.corrcoef(a[i].double().numpy(), b[i].double().numpy())[0, 1] for i in range(B)]
    np.testing.assert_allclose(M.pearson(a, b).numpy(), ref, atol=2e-4)
    assert (M.pearson(a, b).abs() <= 1 + 1e-5).all()


@FAST
@given(value=st.floats(-1, 1), n=st.integers(256, 1024))
def test_metrics_of_silence_and_constants(value, n):
    c = torch.full((2, n), value)
    assert torch.allclose(M.rms(c), torch.full((2,), abs(value)))
    flat = M.spectral_flatness(c)
    assert ((flat >= 0) & (flat < 0.05)).all()  # silence and DC are 0, not "white"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        probe = M.leak_probe(c, _randn(0, 2, n), _randn(1, 2, n))
    assert torch.isnan(probe.r2).all() and any(w.category is M.DegenerateFitWarning for w in caught)


@FAST
@given(seed=seeds, log_scale=st.floats(-42, 3))
def test_flatness_ignores_level_down_to_denormals(seed, log_scale):
    w = _randn(seed, 1, 1024)
    quiet = w * 10 ** log_scale  # below ~1e-38 the samples are float32 denormals, or zero
    flat = M.spectral_flatness(quiet)
    assert ((flat >= 0) & (flat <= 1)).all()
    if quiet.abs().max() > 1e-36:  # enough mantissa left to hold the same signal
        assert torch.allclose(flat, M.spectral_flatness(w), atol=1e-3)


INT_LOWER = [(DataConfig, "sample_rate", 1), (DataConfig, "frame_size", 1), (DataConfig, "n_train", 1),
             (ModelConfig, "d_model", 1), (ModelConfig, "n_heads", 1), (ModelConfig, "n_layers", 0),
             (TrainConfig, "epochs", 1), (TrainConfig, "batch_size", 1), (TrainConfig, "threads", 1)]
FLOAT_LOWER = [(TrainConfig, "lr", 0.0, True), (TrainConfig, "weight_decay", 0.0, False),
               (LossConfig, "eps", 0.0, False), (LossConfig, "variance_gamma", 0.0, False),
               (ModelConfig, "dropout", 0.0, False)]


@FAST
@given(case=st.sampled_from(INT_LOWER), below=st.integers(1, 10 ** 6))
def test_int_fields_below_their_range_name_field_and_range(case, below):
    cls, name, low = case
    with pytest.raises(ValueError, match=rf"{cls.__name__}\.{name} must be an integer >= {low}"):
        cls(**{name: low - below})


@FAST
@given(case=st.sampled_from(INT_LOWER), value=st.one_of(st.floats(), st.text(max_size=3), st.booleans()))
def test_int_fields_refuse_other_types(case, value):
    cls, name, _ = case
    with pytest.raises(TypeError, match=rf"{cls.__name__}\.{name} must be an integer"):
        cls(**{name: value})


@FAST
@given(case=st.sampled_from(FLOAT_LOWER), value=st.floats(allow_nan=True, allow_infinity=True))
def test_float_fields_accept_exactly_their_range(case, value):
    cls, name, low, open_ = case
    ok = math.isfinite(value) and (value > low if open_ else value >= low)
    if name == "dropout":
        ok = ok and value < 1
    if ok:
        assert getattr(cls(**{name: value}), name) == value
    else:
        with pytest.raises(ValueError, match=rf"{cls.__name__}\.{name} must be a finite number"):
            cls(**{name: value})


@FAST
@given(d_model=st.integers(1, 64), n_heads=st.integers(1, 16))
def test_heads_must_divide_the_width(d_model, n_heads):
    if d_model % n_heads:
        with pytest.raises(ValueError, match="divisible"):
            ModelConfig(d_model=d_model, n_heads=n_heads)
    else:
        cfg = ModelConfig(d_model=d_model, n_heads=n_heads)
        assert dataclasses.replace(cfg) == cfg
