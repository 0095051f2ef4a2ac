"""The real recordings, read or rendered once into a verified cache: ``[V, L]`` audio per piece.

Two corpora (their licenses: ``book/attribution.md``):

- ``music``: the five tracks of Debian's ``asterisk-moh-opsound-wav`` (8 kHz mono PCM16 WAV),
  read with :func:`resmix.data.wav.load_wav`; ``V = 1``.
- ``chorales``: the first ``N_CHORALES`` Bach chorales of the music21 corpus (sorted by file
  name) that have parts named Soprano, Alto, Tenor and Bass. Each voice is rendered alone by
  FluidSynth (through pretty-midi, a fresh synthesizer per voice, so that no reverb tail or
  synthesizer state leaks from one voice into the next) at ``RENDER_RATE`` with the FluidR3
  General-MIDI soundfont; ``V = 4`` in the order of ``VOICES``, time-aligned sample for sample.

Both are resampled to the requested rate with ``scipy.signal.resample_poly`` and stored as
16-bit FLAC (each channel at peak 0.99) under ``cache_dir(source, sample_rate)``, with a
manifest of SHA-256 sums written last. A build runs in a temporary folder renamed into place when
complete, under a file lock (grid workers may ask at once). Each load checks every file against the
manifest: a damaged file is set aside (``resmix._io.set_aside``) and rebuilt; a damaged
manifest sets the whole folder aside. Nothing falls back to other data: a missing corpus or tool
raises :class:`CorpusMissingError` naming the apt and pip commands that install it.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from math import gcd
from pathlib import Path
from typing import Iterator

import numpy as np
import soundfile as sf
from filelock import FileLock
from scipy.signal import resample_poly

from resmix._io import atomic_path, set_aside

# Bump a source's version whenever what its cache holds would change (files, rendering, voicing).
#: each source's cache version, part of every run key that uses it
VERSIONS = {"music": "1", "chorales": "1"}
MUSIC_RATE = 8000  # the package's files are 8 kHz mono
MUSIC_TRACKS = ("macroform-cold_day", "macroform-robot_dity", "macroform-the_simplicity",
                "manolo_camp-morning_coffee", "reno_project-system")
VOICES = ("Soprano", "Alto", "Tenor", "Bass")
# General-MIDI instruments, one timbre per voice so that a listener tells the parts apart: a wind
# trio over a cello (the voicing research-notes section 12 checked); each is in range for its voice.
PROGRAMS = {"Soprano": "Flute", "Alto": "Oboe", "Tenor": "Clarinet", "Bass": "Cello"}
N_CHORALES = 64  # the first 64 four-voice chorales: ~40 min of music, built in ~1 min, a cache of ~0.1 GB
SECONDS_PER_QUARTER = 60 / 96  # 96 BPM: the tempo most encodings that mark one give (31 of 69)
VELOCITY = 80  # one MIDI velocity for every note: the encodings carry no dynamics
# FluidSynth renders at 32 kHz and resample_poly brings it down: rendering at 8 kHz directly
# differs by 15-16 dB SNR (research notes, section 12), FluidSynth's own interpolation aliasing.
RENDER_RATE = 32000

INSTALL = {
    "music": "sudo apt-get install asterisk-moh-opsound-wav",
    "chorales": ("sudo apt-get install libfluidsynth3 fluid-soundfont-gm && "
                 ".venv/bin/pip install music21 pretty-midi pyfluidsynth  (or: pip install 'resmix[audio]')"),
}


class CorpusMissingError(RuntimeError):
    """A real corpus, or a tool that renders it, is not installed; the message says how to install it."""


@dataclass(frozen=True)
class Recording:
    """One piece or track of a corpus.

    ``audio``: ``[V, L]`` float32 at the cache's sample rate, ``V`` = 1 (music) or 4 (``VOICES``).
    """

    name: str
    audio: np.ndarray


def music_dir() -> Path:
    """Where the music WAVs are installed (``RESMIX_MUSIC_DIR`` overrides Debian's path)."""
    return Path(os.environ.get("RESMIX_MUSIC_DIR", "/usr/share/asterisk/moh"))


def soundfont() -> Path:
    """The General-MIDI soundfont (``RESMIX_SOUNDFONT`` overrides Debian's FluidR3_GM.sf2)."""
    return Path(os.environ.get("RESMIX_SOUNDFONT", "/usr/share/sounds/sf2/FluidR3_GM.sf2"))


def cache_dir(source: str, sample_rate: int) -> Path:
    """``$RESMIX_CACHE/<source>-<version>/<rate>Hz`` (default root: ``~/.cache/resmix``)."""
    root = os.environ.get("RESMIX_CACHE") or Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "resmix"
    return Path(root) / f"{source}-{VERSIONS[source]}" / f"{sample_rate}Hz"


def _missing(source: str, what: str) -> CorpusMissingError:
    return CorpusMissingError(f"DataConfig.source={source!r} needs {what}, which is not installed. "
                              f"Install it with: {INSTALL[source]}")


def _resample(audio: np.ndarray, rate: int, to: int) -> np.ndarray:
    """``[V, L]`` from ``rate`` to ``to`` Hz with scipy's polyphase resampler (Kaiser-windowed FIR)."""
    g = gcd(rate, to)
    return audio if rate == to else resample_poly(audio, to // g, rate // g, axis=-1)


# --- the two corpora: which pieces, and how one is built ---------------------------------------

def _music_files() -> dict[str, Path]:
    files = {name: music_dir() / f"{name}.wav" for name in MUSIC_TRACKS}
    absent = [str(p) for p in files.values() if not p.is_file()]
    if absent:
        raise _missing("music", f"the Debian package asterisk-moh-opsound-wav ({', '.join(absent)} not found)")
    return files


def _build_music(name: str, sample_rate: int) -> np.ndarray:
    from .wav import load_wav  # data imports this module lazily; keep the cycle out of import time
    wave, _ = load_wav(_music_files()[name], MUSIC_RATE)
    return _resample(wave.numpy()[None].astype(np.float64), MUSIC_RATE, sample_rate)  # (1, L)


def _chorale_tools():
    """music21, pretty_midi and a FluidSynth able to load the soundfont, or the install hint."""
    try:
        import fluidsynth  # noqa: F401  (pyfluidsynth; fails without the libfluidsynth library)
        import music21
        import pretty_midi
    except (ImportError, OSError) as e:
        raise _missing("chorales", f"music21, pretty-midi and pyfluidsynth on libfluidsynth ({e})") from e
    if not soundfont().is_file():
        raise _missing("chorales", f"the soundfont {soundfont()} (Debian package fluid-soundfont-gm)")
    return music21, pretty_midi


def _chorale_paths() -> list[Path]:
    music21, _ = _chorale_tools()
    return sorted((Path(music21.__file__).parent / "corpus" / "bach").glob("*.mxl"))


def _satb(path: Path):
    """The four vocal parts of a chorale, or ``None`` when it lacks one (instrumental parts are ignored)."""
    music21, _ = _chorale_tools()
    parts = {p.partName: p for p in music21.converter.parse(str(path)).parts}
    return [parts[v] for v in VOICES] if all(v in parts for v in VOICES) else None


def _render_voice(part, pretty_midi, program: str) -> np.ndarray:
    import fluidsynth
    inst = pretty_midi.Instrument(program=pretty_midi.instrument_name_to_program(program))
    for note in part.stripTies().flatten().notes:
        start = float(note.offset) * SECONDS_PER_QUARTER
        end = start + float(note.quarterLength) * SECONDS_PER_QUARTER
        inst.notes += [pretty_midi.Note(VELOCITY, p.midi, start, end) for p in note.pitches]
    synth = fluidsynth.Synth(samplerate=float(RENDER_RATE))
    synth.setting("synth.dynamic-sample-loading", 1)  # loads only this instrument's samples: fast
    try:
        sfid = synth.sfload(str(soundfont()))
        return inst.fluidsynth(fs=RENDER_RATE, synthesizer=synth, sfid=sfid) / 32768.0  # int16 scale -> [-1, 1]
    finally:
        synth.delete()


def _render_chorale(parts, sample_rate: int) -> np.ndarray:
    _, pretty_midi = _chorale_tools()
    waves = [_render_voice(part, pretty_midi, PROGRAMS[v]) for v, part in zip(VOICES, parts)]
    audio = np.stack([np.pad(w, (0, max(map(len, waves)) - len(w))) for w in waves])  # (4, L): aligned at 0
    return _resample(audio, RENDER_RATE, sample_rate)


def _build_chorale(name: str, sample_rate: int) -> np.ndarray:
    return _render_chorale(_satb(next(p for p in _chorale_paths() if p.stem == name)), sample_rate)


def _all_chorales(sample_rate: int) -> Iterator[tuple[str, np.ndarray]]:
    """The first ``N_CHORALES`` chorales with four vocal parts, in file-name order, rendered."""
    found = 0
    for path in _chorale_paths():
        if found == N_CHORALES:
            break
        parts = _satb(path)
        if parts is not None:
            found += 1
            yield path.stem, _render_chorale(parts, sample_rate)


# source -> (every piece, built in order; one piece by name, for a repair)
BUILD = {"music": (lambda rate: ((n, _build_music(n, rate)) for n in MUSIC_TRACKS), _build_music),
         "chorales": (_all_chorales, _build_chorale)}


def _provenance(source: str) -> dict:
    if source == "music":
        return {"files": str(music_dir()), "debian_package": "asterisk-moh-opsound-wav"}
    from importlib.metadata import version
    _chorale_tools()
    return {name: version(name) for name in ("music21", "pretty_midi", "pyfluidsynth")} | {"soundfont": str(soundfont()),
            "soundfont_bytes": soundfont().stat().st_size, "programs": PROGRAMS, "render_rate": RENDER_RATE,
            "seconds_per_quarter": SECONDS_PER_QUARTER, "velocity": VELOCITY, "n_chorales": N_CHORALES}


# --- the cache ---------------------------------------------------------------------------------

def _sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()  # a piece is a few MB


def _write_piece(path: Path, audio: np.ndarray, sample_rate: int) -> dict:
    # Each channel peaks at 0.99: levels are relative everywhere downstream (the silence rule reads a
    # window against its own recording, every clip is normalised), and 16 bits then resolve the quiet
    # voices too. FLAC: lossless and a third of the raw size.
    audio = 0.99 * audio / np.abs(audio).max(-1, keepdims=True)
    with atomic_path(path, suffix=".flac") as tmp:
        sf.write(tmp, audio.T.astype(np.float32), sample_rate, format="FLAC", subtype="PCM_16")
    return {"file": path.name, "sha256": _sha256(path), "channels": audio.shape[0], "frames": audio.shape[1]}


def _write_manifest(folder: Path, manifest: dict) -> None:
    with atomic_path(folder / "manifest.json", suffix=".tmp") as tmp:
        Path(tmp).write_text(json.dumps(manifest, indent=1))


def _read_manifest(folder: Path, source: str, sample_rate: int) -> dict | None:
    """The folder's manifest, or ``None`` when it is absent; a damaged one sets the folder aside."""
    path = folder / "manifest.json"
    if not path.exists():
        return None
    try:
        m = json.loads(path.read_text())
        ok = (m["source"], m["version"], m["sample_rate"]) == (source, VERSIONS[source], sample_rate)
        ok = ok and all({"name", "file", "sha256", "channels", "frames"} <= set(p) for p in m["pieces"])
    except (ValueError, KeyError, TypeError) as e:
        ok, m = False, e
    if not ok:
        set_aside(folder, f"cache manifest unreadable or of another corpus ({m if isinstance(m, Exception) else 'fields differ'})")
        return None
    return m


def _build_all(folder: Path, source: str, sample_rate: int) -> dict:
    start = time.perf_counter()
    tmp = Path(tempfile.mkdtemp(prefix=f"{folder.name}.", suffix=".tmp", dir=folder.parent))
    try:
        pieces = [{"name": n, **_write_piece(tmp / f"{n}.flac", audio, sample_rate)}
                  for n, audio in BUILD[source][0](sample_rate)]
        manifest = {"source": source, "version": VERSIONS[source], "sample_rate": sample_rate, "pieces": pieces,
                    "provenance": _provenance(source), "build_seconds": round(time.perf_counter() - start, 1)}
        _write_manifest(tmp, manifest)
        os.replace(tmp, folder)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # our own half-built folder (gone once renamed)
    return manifest


def _repair(folder: Path, manifest: dict, sample_rate: int) -> bool:
    """Set aside every piece file that fails its checksum and rebuild it; True when any was."""
    bad = [p for p in manifest["pieces"]
           if not (folder / p["file"]).is_file() or _sha256(folder / p["file"]) != p["sha256"]]
    for p in bad:
        if (folder / p["file"]).exists():
            set_aside(folder / p["file"], "cache file fails its SHA-256 check")
        p.update(_write_piece(folder / p["file"], BUILD[manifest["source"]][1](p["name"], sample_rate), sample_rate))
    if bad:
        _write_manifest(folder, manifest)
    return bool(bad)


def _stamp(folder: Path) -> tuple:
    return tuple((p.name, p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.iterdir()) if p.is_file())


_MEMO: dict[Path, tuple[tuple, list[Recording], dict]] = {}


def load(source: str, sample_rate: int) -> tuple[list[Recording], dict]:
    """Every recording of ``source`` at ``sample_rate``, built into the cache on first use, and the manifest.

    Verified against the manifest's checksums on every call in which a cache file changed on disk
    (unchanged files are remembered per process). Raises :class:`CorpusMissingError` when the cache
    needs building (or repairing) and the corpus or a tool is not installed.
    """
    if source not in VERSIONS:
        raise ValueError(f"unknown corpus {source!r}; expected one of {tuple(VERSIONS)}")
    folder = cache_dir(source, sample_rate)
    if folder in _MEMO and folder.is_dir() and _MEMO[folder][0] == _stamp(folder):
        return _MEMO[folder][1], _MEMO[folder][2]
    folder.parent.mkdir(parents=True, exist_ok=True)
    with FileLock(str(folder) + ".lock"):
        manifest = _read_manifest(folder, source, sample_rate) if folder.is_dir() else None
        if manifest is None:
            if folder.exists():  # a folder without a manifest: not ours to trust
                set_aside(folder, "cache folder without a manifest")
            manifest = _build_all(folder, source, sample_rate)
        else:
            _repair(folder, manifest, sample_rate)
        recordings = [Recording(p["name"], sf.read(folder / p["file"], dtype="float32", always_2d=True)[0].T.copy())
                      for p in manifest["pieces"]]
        _MEMO[folder] = (_stamp(folder), recordings, manifest)
    return recordings, manifest
