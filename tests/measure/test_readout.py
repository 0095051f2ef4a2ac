import pytest
import torch

from resmix.config import DataConfig
from resmix.data.framing import frame
from resmix.data.sources import held_out
from resmix.measure.readout import max_lag_samples, measure


def _xy():
    x, y = held_out(DataConfig(clip_seconds=0.256, n_val=6))
    return frame(x, 32), frame(y, 32)


def test_measure_tells_a_copy_from_a_fixed_waveform_and_a_mix():
    x, y = _xy()
    fixed = torch.randn(1, *x.shape[1:], generator=torch.Generator().manual_seed(0)) * 0.1
    copy = measure(lambda i, t: t, x, y, 8000)
    ignore = measure(lambda i, t: i * 0 + fixed, x, y, 8000)
    mix = measure(lambda i, t: (i, 0.5 * (i + t)), x, y, 8000)
    assert copy["corr_target"] == pytest.approx(1.0, abs=1e-5) and copy["swap_input"] == 0
    assert copy["rms_ratio_db"] == pytest.approx(0.0, abs=1e-4) and copy["lag_corr_target_lag"] == 0
    assert copy["lag_corr_target"] > copy["lag_corr_chance"] + 0.5  # a copy stands far above chance
    assert ignore["common_share"] == pytest.approx(1.0, abs=1e-5)
    assert ignore["swap_input"] == 0 and ignore["swap_target"] == 0
    assert ignore["abs_corr_target"] < 0.2 and ignore["pred_abs_corr_target"] < 0.2
    assert mix["probe_a"] == pytest.approx(0.5, abs=1e-4) and mix["probe_b"] == pytest.approx(0.5, abs=1e-4)
    assert mix["swap_input"] > 0.3 and mix["swap_target"] > 0.3 and mix["common_share"] < 0.5


def test_lag_window_is_ten_ms():
    assert max_lag_samples(8000) == 80 and max_lag_samples(16000) == 160


def test_offset_share_and_the_near_constant_rule_on_known_signals():
    """Positive control: a constant offset plus a little noise is near-constant; negative ones are not:
    a zero-mean signal (the target itself), and an offset carrying under half the power."""
    from resmix.criteria import CONSTANCY
    x, y = _xy()
    g = torch.Generator().manual_seed(1)
    noise = lambda s: s * torch.randn(y.shape, generator=g)  # noqa: E731
    dc = measure(lambda i, t: 0.1 + noise(0.01), x, y, 8000)["offset_share"]  # power: 0.01 offset, 1e-4 varying
    weak = measure(lambda i, t: 0.05 + noise(0.1), x, y, 8000)["offset_share"]  # 0.0025 offset, 0.01 varying
    target = measure(lambda i, t: t, x, y, 8000)["offset_share"]
    assert dc == pytest.approx(0.01 / 0.0101, abs=0.01) and CONSTANCY.near_constant(dc)
    assert weak == pytest.approx(0.2, abs=0.03) and not CONSTANCY.near_constant(weak)
    assert target < 0.05 and not CONSTANCY.near_constant(target)
