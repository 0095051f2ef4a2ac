
import os
import stat

import numpy as np
import pytest
import soundfile as sf
import torch

from resmix.config import DataConfig
from resmix.data.framing import frame, unframe
from resmix.data.synthetic import make_pairs, mix_correlated
from resmix.data.wav import ClippingWarning, WavPairFolder, load_wav, save_wav
from resmix.measure.metrics import pearson, rms


def test_make_pairs_is_deterministic_normalised_and_independent():
    cfg = DataConfig()
    x1, y1 = make_pairs(8, cfg, seed=11)
    x2, y2 = make_pairs(8, cfg, seed=11)
    assert torch.equal(x1, x2) and torch.equal(y1, y2)
    assert x1.shape == (8, cfg.n_samples) and x1.dtype == torch.float32
    assert torch.allclose(rms(x1), torch.full((8,), cfg.rms), rtol=1e-4)
    assert torch.allclose(rms(y1), torch.full((8,), cfg.rms), rtol=1e-4)
    assert pearson(x1, y1).abs().mean() < 0.1
    assert not torch.equal(make_pairs(8, cfg, seed=12)[0], x1)


def test_mix_correlated_sets_the_correlation():
    x, y = make_pairs(32, seed=1)
    y2 = mix_correlated(x, y, 0.6)
    assert abs(float(pearson(x, y2).mean()) - 0.6) < 0.05
    assert torch.allclose(rms(y2), rms(y), rtol=0.1)


def test_frame_unframe_round_trip():
    x, _ = make_pairs(3, seed=0)
    f = frame(x, 32)
    assert f.shape == (3, 32, x.shape[1] // 32)
    assert torch.equal(f[:, :, 1], x[:, 32:64])  # frame t holds samples t*D .. (t+1)*D - 1
    assert torch.equal(unframe(f), x)


def test_frame_rejects_bad_lengths_and_ranks():
    with pytest.raises(ValueError, match="multiple of frame_size"):
        frame(torch.zeros(2, 100), 32)
    with pytest.raises(ValueError, match=r"\[B, N\]"):
        frame(torch.zeros(100), 32)
    with pytest.raises(ValueError, match="NaN"):
        frame(torch.full((1, 64), float("nan")), 32)


def test_wav_round_trip(tmp_path):
    x, _ = make_pairs(1, seed=0)
    info = save_wav(tmp_path / "a.wav", x[0], 8000)
    assert info.n_clipped == 0 and not list(tmp_path.glob("*.tmp*"))
    back, sr = load_wav(tmp_path / "a.wav", 8000)
    assert sr == 8000 and torch.allclose(back, x[0], atol=1 / 2 ** 15)


def test_clipping_is_reported(tmp_path):
    with pytest.warns(ClippingWarning, match="2 of 4 samples"):
        info = save_wav(tmp_path / "c.wav", np.array([0.0, 1.5, -2.0, 0.5]), 8000)
    assert info.n_clipped == 2


def test_wav_errors(tmp_path):
    sf.write(tmp_path / "st.wav", np.zeros((10, 2)), 8000)
    with pytest.raises(ValueError, match="mono"):
        load_wav(tmp_path / "st.wav")
    sf.write(tmp_path / "m.wav", np.zeros(10), 16000)
    with pytest.raises(ValueError, match="expected sample rate 8000 Hz; got 16000"):
        load_wav(tmp_path / "m.wav", 8000)
    with pytest.raises(ValueError, match="mono waveform"):
        save_wav(tmp_path / "x.wav", np.zeros((2, 3)), 8000)


def _folder(tmp_path, lengths=(800, 800), rate=8000):
    for sub in ("input", "target"):
        (tmp_path / sub).mkdir(parents=True)
    for i, n in enumerate(lengths):
        sf.write(tmp_path / "input" / f"{i}.wav", np.zeros(n), 8000)
        sf.write(tmp_path / "target" / f"{i}.wav", np.zeros(n), rate)
    return tmp_path


def test_wav_pair_folder(tmp_path):
    ds = WavPairFolder(_folder(tmp_path), 8000)
    x, y = ds.tensors()
    assert len(ds) == 2 and x.shape == (2, 800) and y.shape == (2, 800)


def test_wav_pair_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="input/ and target/"):
        WavPairFolder(tmp_path, 8000)
    root = _folder(tmp_path / "a", lengths=(800, 700))
    with pytest.raises(ValueError, match="different lengths"):
        WavPairFolder(root, 8000)
    assert WavPairFolder(root, 8000, n_samples=640).tensors()[0].shape == (2, 640)
    with pytest.raises(ValueError, match="sample rate"):
        WavPairFolder(_folder(tmp_path / "b", rate=16000), 8000)
    root = _folder(tmp_path / "c")
    (root / "target" / "1.wav").unlink()
    with pytest.raises(ValueError, match="unmatched"):
        WavPairFolder(root, 8000)


def test_load_wav_refuses_truncated_nan_and_out_of_range_files(tmp_path):
    sf.write(tmp_path / "full.wav", np.full(4000, 0.1), 8000, subtype="PCM_16")
    data = (tmp_path / "full.wav").read_bytes()
    (tmp_path / "cut.wav").write_bytes(data[:len(data) // 2])  # a copy cut short
    with pytest.raises(ValueError, match=r"cut\.wav: truncated: the header declares 4000 samples, the file holds 1989"):
        load_wav(tmp_path / "cut.wav")
    assert load_wav(tmp_path / "full.wav")[0].shape == (4000,)
    sf.write(tmp_path / "nan.wav", np.array([0.5, np.nan, 0.1, 0.0]), 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"nan\.wav: 1 samples are NaN"):
        load_wav(tmp_path / "nan.wav")
    sf.write(tmp_path / "loud.wav", np.array([0.5, 1.5, -0.2, 0.0]), 8000, subtype="FLOAT")
    with pytest.raises(ValueError, match=r"loud\.wav: samples reach 1\.5; expected \[-1, 1\]"):
        load_wav(tmp_path / "loud.wav")


def test_save_wav_casts_bf16_and_checks_the_rate(tmp_path):
    info = save_wav(tmp_path / "b.wav", torch.full((64,), 0.25, dtype=torch.bfloat16), 8000)
    assert torch.allclose(load_wav(info.path)[0], torch.full((64,), 0.25))
    for rate in (0, -8000, 8000.0, None):
        with pytest.raises(ValueError, match="sample_rate must be a positive integer"):
            save_wav(tmp_path / "z.wav", np.zeros(8), rate)


def test_written_files_respect_the_umask(tmp_path):
    old = os.umask(0o027)
    try:
        save_wav(tmp_path / "m.wav", np.zeros(8), 8000)
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "m.wav").stat().st_mode) == 0o640  # mkstemp alone gives 0o600


def test_wav_pair_folder_checks_n_samples_and_mixed_rates(tmp_path):
    root = _folder(tmp_path / "a")
    for n in (-5, 0, 2.5):
        with pytest.raises(ValueError, match="n_samples must be a positive integer"):
            WavPairFolder(root, 8000, n_samples=n)
    mixed = _folder(tmp_path / "b", rate=16000)
    with pytest.raises(ValueError, match="expected sample rate 8000 Hz; got 16000"):
        WavPairFolder(mixed, None)  # the first file's rate binds the rest
    ds = WavPairFolder(root, None)
    assert ds.sample_rate == 8000 and len(ds) == 2


def test_wav_pair_folder_takes_wav_in_any_case_and_hints_at_case(tmp_path):
    """Regression (issue 20): b.WAV was silently left out (or reported "unmatched" with no hint of the case)."""
    root = _folder(tmp_path / "a")
    (root / "input" / "1.wav").rename(root / "input" / "1.WAV")
    sf.write(root / "input" / "2.Wav", np.zeros(800), 8000)
    sf.write(root / "target" / "2.wav", np.zeros(800), 8000)
    ds = WavPairFolder(root, 8000)
    assert ds.names == ["0.wav", "1.WAV", "2.Wav"] and ds.tensors()[0].shape == (3, 800)
    root = _folder(tmp_path / "b")
    (root / "target" / "1.wav").rename(root / "target" / "X.wav")
    (root / "input" / "1.wav").rename(root / "input" / "x.wav")
    with pytest.raises(ValueError, match=r"unmatched: \['X.wav', 'x.wav'\]; these differ only in case"):
        WavPairFolder(root, 8000)
    sf.write(root / "target" / "X.WAV", np.zeros(800), 8000)
    with pytest.raises(ValueError, match=r"X.WAV and X.wav differ only in the case of their suffix"):
        WavPairFolder(root, 8000)
    root = tmp_path / "c"
    for sub in ("input", "target"):
        (root / sub).mkdir(parents=True)
        sf.write(root / sub / "a.flac", np.zeros(800), 8000)
    with pytest.raises(ValueError, match=r"holds no .wav files \(it holds 1 other files, e.g. a.flac: convert them"):
        WavPairFolder(root, 8000)


def test_load_wav_names_a_missing_or_unreadable_file_and_checks_the_rate(tmp_path):
    """Regression (issue 20): a missing WAV gave "LibsndfileError ... System error."; sample_rate="8000"
    said "expected 8000 Hz; got 8000 Hz"."""
    with pytest.raises(FileNotFoundError, match=r"nope\.wav"):
        load_wav(tmp_path / "nope.wav")
    (tmp_path / "text.wav").write_text("not audio")
    with pytest.raises(ValueError, match=r"text\.wav: not a readable audio file .*; expected a mono WAV"):
        load_wav(tmp_path / "text.wav")
    sf.write(tmp_path / "m.wav", np.zeros(10), 8000)
    for rate in ("8000", 8000.0, 0, True):
        with pytest.raises(ValueError, match=r"sample_rate must be a positive integer \(Hz\); got"):
            load_wav(tmp_path / "m.wav", rate)
    assert load_wav(tmp_path / "m.wav", np.int64(8000))[1] == 8000


def test_synthetic_source_serves_make_pairs_bit_for_bit():
    from resmix.data.sources import held_out, training_pairs
    cfg = DataConfig(n_train=6, n_val=4, seed=77)
    assert cfg.source == "synthetic"
    assert all(torch.equal(a, b) for a, b in zip(training_pairs(cfg), make_pairs(6, cfg, seed=77)))
    assert all(torch.equal(a, b) for a, b in zip(held_out(cfg), make_pairs(4, cfg, seed=78)))


def test_mix_correlated_refuses_silent_clips_and_counts_are_integers():
    """Probe (issue 20): a silent input or target gave NaN clips without a word; make_pairs(True) made one
    pair, frame(w, True) frames of one sample."""
    x, y = make_pairs(3)
    with pytest.raises(ValueError, match=r"input clips \[1\] are silent"):
        mix_correlated(torch.cat([x[:1], torch.zeros_like(x[:1]), x[2:]]), y, 0.5)
    for n in (True, 2.5, 0):
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            make_pairs(n)
    with pytest.raises(ValueError, match="positive multiple of frame_size=True"):
        frame(x, True)
