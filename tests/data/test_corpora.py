"""The real corpora: shapes, the data seed, the split, the silence rule, alignment, the cache.

Tests that need a corpus skip, with the install command, where it is absent; they share the
machine's cache (``RESMIX_CACHE``, else ``~/.cache/resmix``): the first run builds it (music ~1 s,
chorales about a minute), later runs read it. The cache and error tests use a temporary one.
"""
import dataclasses
import json
import sys
import warnings

import numpy as np
import pytest
import torch
from scipy.signal import correlate, stft

from resmix._io import DamagedFileWarning
from resmix.config import DataConfig
from resmix.criteria import SILENCE
from resmix.data import corpora, recordings
from resmix.data.recordings import VOICES, CorpusMissingError
from resmix.data.sources import answer_clips, held_out, training_pairs
from resmix.data.wav import load_wav
from resmix.measure.metrics import pearson, rms


def _available(source):
    try:
        recordings.load(source, 8000)
    except CorpusMissingError as e:
        pytest.skip(str(e))
    return DataConfig(source=source)


@pytest.fixture(scope="module")
def music():
    return _available("music")


@pytest.fixture(scope="module")
def chorales():
    return _available("chorales")


@pytest.fixture(params=["music", "chorales"])
def real(request):
    return _available(request.param)


def _split_recordings(cfg, split):
    return corpora._split(cfg.source, recordings.load(cfg.source, cfg.sample_rate)[0], split)


def test_shapes_dtype_and_rms(real):
    x, y = training_pairs(real)
    vx, vy = held_out(real)
    N = real.n_samples
    assert x.shape == y.shape == (real.n_train, N) and vx.shape == vy.shape == (real.n_val, N)
    for clips in (x, y, vx, vy):
        assert clips.dtype == torch.float32
        assert torch.allclose(rms(clips), torch.full((len(clips),), real.rms), rtol=1e-4)
        assert clips.mean(1).abs().max() < 1e-6


def test_clip_length_follows_the_config(music):
    cfg = dataclasses.replace(music, clip_seconds=0.512, n_train=4, n_val=4)
    assert training_pairs(cfg)[0].shape == (4, 4096) and held_out(cfg)[1].shape == (4, 4096)


def test_the_data_seed_chooses_the_windows(real):
    a, b = corpora.windows(real, "train"), corpora.windows(real, "train")
    assert np.array_equal(a.start, b.start) and np.array_equal(a.piece, b.piece)
    assert all(torch.equal(p, q) for p, q in zip(training_pairs(real), training_pairs(real)))
    other = corpora.windows(dataclasses.replace(real, seed=real.seed + 7), "train")
    same = {(p, s) for p, s in zip(a.piece, a.start)} & {(p, s) for p, s in zip(other.piece, other.start)}
    assert len(same) < real.n_train // 4  # mostly other windows
    assert not torch.equal(training_pairs(dataclasses.replace(real, seed=real.seed + 7))[0], training_pairs(real)[0])
    # held out: seed + 1, so the held-out draw of seed s is not the training draw of seed s + 1
    assert not np.array_equal(corpora.windows(real, "held_out").start, a.start[:real.n_val])


def test_no_recording_on_both_sides(real):
    train, held = (corpora.describe(real, s).pieces for s in corpora.SPLITS)
    everything = [r.name for r in recordings.load(real.source, 8000)[0]]
    assert not set(train) & set(held) and sorted(train + held) == sorted(everything)
    assert set(corpora.windows(real, "held_out").pieces) == set(held)
    if real.source == "music":
        assert held == (corpora.HELD_OUT_TRACK,)
    else:
        assert list(held) == sorted(everything)[corpora.HOLD_OUT_EVERY - 1::corpora.HOLD_OUT_EVERY]


def test_no_clip_below_the_silence_floor(real):
    floor = SILENCE.music_floor_db if real.source == "music" else SILENCE.voice_floor_db
    for split in corpora.SPLITS:
        recs, w = _split_recordings(real, split), corpora.windows(real, split)
        levels = [corpora.window_levels(real.source, r, real.n_samples) for r in recs]  # [K, C] each
        span = 2 * real.n_samples if real.source == "music" else real.n_samples
        assert all((levels[p][s // span] >= floor).all() for p, s in zip(w.piece, w.start))
        info = corpora.describe(real, split)
        assert 0 < info.valid < info.candidates  # the rule drops real silences, and keeps most
    # a window that is silent for one clip or voice is dropped (the rule reads every one)
    quiet = recordings.Recording("x", np.ones((4, 4 * real.n_samples), np.float32))
    quiet.audio[VOICES.index("Tenor") if real.source == "chorales" else 0, real.n_samples:2 * real.n_samples] = 0
    levels = corpora.window_levels(real.source, quiet, real.n_samples)
    assert (levels >= floor).all(1).tolist() == ([False, True] if real.source == "music" else [True, False, True, True])


def test_music_pairs_are_continuations(music):
    recs, w = _split_recordings(music, "held_out"), corpora.windows(music, "held_out")
    x, y = held_out(music)
    N = music.n_samples
    for i in range(4):
        raw = recs[w.piece[i]].audio[0, w.start[i]:w.start[i] + 2 * N]
        joined = torch.from_numpy(raw.copy())[None]
        assert pearson(joined[:, :N], x[i:i + 1]) > 0.9999 and pearson(joined[:, N:], y[i:i + 1]) > 0.9999


def test_music_pairs_are_not_independent(music):
    # Unlike the synthetic pairs, a clip and its continuation correlate: about twice as much in
    # |rho| as clips paired with another window's continuation (measured 0.17 against 0.08).
    x, y = held_out(dataclasses.replace(music, n_val=256))
    assert pearson(x, y).abs().mean() > 1.5 * pearson(x, y.roll(1, 0)).abs().mean()


def test_music_cache_holds_the_installed_recordings(music):
    recs, manifest = recordings.load("music", 8000)
    wave, _ = load_wav(recordings.music_dir() / f"{recs[0].name}.wav", 8000)
    cached = torch.from_numpy(recs[0].audio[0])
    assert len(cached) == len(wave) and pearson(cached[None], wave[None]) > 0.9999
    assert manifest["pieces"][0]["frames"] == len(wave)


def _onset_strength(x):
    """Spectral flux per 8 ms frame: where notes start."""
    _, _, Z = stft(x, nperseg=256, noverlap=192)
    m = np.log1p(100 * np.abs(Z))
    d = np.maximum(np.diff(m, axis=1), 0).sum(0)
    return d - d.mean()


def _onset_lag(wave, name, voice, max_lag=25):
    """Frames (8 ms) by which a rendered voice's onset strength trails its own score's note starts."""
    music21 = pytest.importorskip("music21")  # noqa: F841  (the score is read again)
    parts = recordings._satb(next(p for p in recordings._chorale_paths() if p.stem == name))
    flux = _onset_strength(wave)
    starts = np.zeros(len(flux))
    for note in parts[VOICES.index(voice)].stripTies().flatten().notes:
        k = round(float(note.offset) * recordings.SECONDS_PER_QUARTER * 8000 / 64)
        starts[min(k, len(starts) - 1)] = 1
    c = correlate(flux, starts - starts.mean(), mode="full")
    mid = len(starts) - 1
    return int(np.argmax(c[mid - max_lag:mid + max_lag + 1])) - max_lag


def test_chorale_voices_are_time_aligned(chorales):
    # Each rendered voice follows its own score's note starts, the one clock of all four: by 0 to
    # 100 ms (the instruments' attacks: measured -1 frame for the clarinet, 7-10 for the cello's
    # bow), never before them by more than 2 frames. A bass played 50 ms late moves its lag by ~6.
    for rec in _split_recordings(chorales, "held_out")[:3]:
        assert len({len(v) for v in rec.audio}) == 1
        lags = {v: _onset_lag(rec.audio[i], rec.name, v) for i, v in enumerate(VOICES)}
        assert all(-2 <= lag <= 12 for lag in lags.values()), (rec.name, lags)
        late = _onset_lag(np.roll(rec.audio[VOICES.index("Bass")], 400), rec.name, "Bass")
        assert 5 <= late - lags["Bass"] <= 8, (rec.name, lags, late)


def test_the_tenor_is_a_real_answer(chorales):
    cfg = dataclasses.replace(chorales, n_val=256)
    x, y = held_out(cfg)
    a = answer_clips(cfg)
    assert a.shape == x.shape and torch.allclose(rms(a), torch.full((len(a),), cfg.rms), rtol=1e-4)
    # uncorrelated with both voices it is conditioned on (input, target vs. each other: about as small)
    assert pearson(a, x).abs().mean() < 0.05 and pearson(a, y).abs().mean() < 0.05
    assert pearson(a, x).abs().max() < 0.5 and pearson(a, y).abs().max() < 0.5
    # not quiet: every raw tenor window sounds (at most voice_floor_db below the tenor's RMS)
    recs, w = _split_recordings(cfg, "held_out"), corpora.windows(cfg, "held_out")
    levels = [corpora.window_levels("chorales", recs[p], cfg.n_samples)[s // cfg.n_samples, 2]
              for p, s in zip(w.piece, w.start)]
    assert min(levels) >= SILENCE.voice_floor_db
    # aligned with held_out: the same windows, another voice
    t = recs[w.piece[0]].audio[VOICES.index("Tenor"), w.start[0]:w.start[0] + cfg.n_samples]
    assert pearson(torch.from_numpy(t.copy())[None], a[:1]) > 0.9999


def test_sources_without_an_answer_say_so(music):
    for cfg in (music, DataConfig()):
        with pytest.raises(ValueError, match=r"no third voice .* answer clips exist for \('chorales',\)"):
            answer_clips(cfg)


def test_asking_for_more_windows_than_a_split_holds_fails_with_the_count(music):
    cfg = dataclasses.replace(music, n_val=100_000)
    with pytest.raises(ValueError, match=r"the held_out split holds \d+ windows of 1024 samples .* asked for 100000"):
        held_out(cfg)


def test_unknown_split_is_refused(music):
    with pytest.raises(ValueError, match=r"split must be one of \('train', 'held_out'\); got 'val'"):
        corpora.pairs(music, "val")


# --- without the corpus; the cache -----------------------------------------------------------------

@pytest.fixture
def empty_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("RESMIX_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_music_missing_says_what_to_install(empty_cache, tmp_path, monkeypatch):
    monkeypatch.setenv("RESMIX_MUSIC_DIR", str(tmp_path / "nothing"))
    with pytest.raises(CorpusMissingError, match=r"Install it with: sudo apt-get install asterisk-moh-opsound-wav"):
        training_pairs(DataConfig(source="music"))
    assert not list((empty_cache / "music-1").glob("*Hz"))  # no cache, no other data in its place


def test_chorales_missing_say_what_to_install(empty_cache, tmp_path, monkeypatch):
    hint = r"sudo apt-get install libfluidsynth3 fluid-soundfont-gm && .*pip install music21 pretty-midi pyfluidsynth"
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "music21", None)  # as if not installed
        with pytest.raises(CorpusMissingError, match=r"needs music21, pretty-midi and pyfluidsynth .*" + hint):
            held_out(DataConfig(source="chorales"))
    pytest.importorskip("music21"), pytest.importorskip("pretty_midi"), pytest.importorskip("fluidsynth")
    monkeypatch.setenv("RESMIX_SOUNDFONT", str(tmp_path / "none.sf2"))
    with pytest.raises(CorpusMissingError, match=r"the soundfont .*none\.sf2 \(Debian package fluid-soundfont-gm\).*" + hint):
        held_out(DataConfig(source="chorales"))


def test_a_damaged_cache_file_is_set_aside_and_rebuilt(empty_cache):
    if not recordings.music_dir().joinpath(f"{recordings.MUSIC_TRACKS[0]}.wav").is_file():
        pytest.skip(f"needs the music corpus: {recordings.INSTALL['music']}")
    before = held_out(DataConfig(source="music"))
    folder = recordings.cache_dir("music", 8000)
    manifest = json.loads((folder / "manifest.json").read_text())
    victim = folder / manifest["pieces"][-1]["file"]  # the held-out track
    data = bytearray(victim.read_bytes())
    data[len(data) // 2:len(data) // 2 + 64] = bytes(64)
    victim.write_bytes(bytes(data))
    with pytest.warns(DamagedFileWarning, match="fails its SHA-256 check; set aside"):
        after = held_out(DataConfig(source="music"))
    assert (folder / f"{victim.name}.damaged").exists()
    assert recordings._sha256(victim) == manifest["pieces"][-1]["sha256"]  # rebuilt, bit for bit
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    # a damaged manifest: the whole folder is set aside and built again
    (folder / "manifest.json").write_text("{not json")
    with pytest.warns(DamagedFileWarning, match="cache manifest unreadable"):
        again = held_out(DataConfig(source="music"))
    assert folder.with_name(folder.name + ".damaged").is_dir()
    assert all(torch.equal(a, b) for a, b in zip(before, again))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a sound cache loads without a word
        held_out(DataConfig(source="music"))
