"""The data layer: waveforms ``[B, N]`` from every source, framed into the model's ``[B, D, T]``.

- :mod:`~resmix.data.synthetic`: the seeded synthetic pairs (melody input, pluck target);
- :mod:`~resmix.data.recordings` and :mod:`~resmix.data.corpora`: the real recordings (installed from
  Debian and PyPI, cached and verified) and the clip pairs cut from them;
- :mod:`~resmix.data.sources`: the training, held-out and answer clips of a ``DataConfig``, whatever its source;
- :mod:`~resmix.data.framing`: ``[B, N] <-> [B, D, T]``; :mod:`~resmix.data.wav`: WAV files in and out.

Imports from: resmix.config, resmix.criteria (the foundation) and nothing else of resmix.
"""
from .framing import frame, unframe
from .sources import answer_clips, held_out, training_pairs
from .synthetic import make_pairs, mix_correlated
from .wav import ClippingWarning, WavPairFolder, WavWrite, load_wav, save_wav

__all__ = ["frame", "unframe", "answer_clips", "held_out", "training_pairs", "make_pairs", "mix_correlated",
           "ClippingWarning", "WavPairFolder", "WavWrite", "load_wav", "save_wav"]
