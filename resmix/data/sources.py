"""The data interface over every source: the training, held-out and answer clips of a ``DataConfig``.

:func:`training_pairs`, :func:`held_out` and :func:`answer_clips` serve ``DataConfig.source``: the
synthetic pairs (:mod:`resmix.data.synthetic`, procedural and seeded) or a real corpus installed on
the machine (:mod:`resmix.data.corpora`). Nothing is downloaded. Shape: waveforms ``[n, N]``.
"""
from __future__ import annotations

from torch import Tensor

from resmix.config import DataConfig

from .synthetic import make_pairs


def training_pairs(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    """The training pairs of ``cfg.source``: ``cfg.n_train`` pairs drawn with the data seed ``cfg.seed``.

    ``"synthetic"``: ``make_pairs(cfg.n_train, cfg, seed=cfg.seed)``, bit for bit; a real corpus:
    :func:`resmix.data.corpora.pairs` on its training split (built into the cache on first use; raises
    :class:`resmix.data.recordings.CorpusMissingError`, naming what to install, when it is absent).

    Shape: ``(input, target)``, each ``[n_train, N]`` float32 at RMS ``cfg.rms``.
    """
    if cfg.source == "synthetic":
        return make_pairs(cfg.n_train, cfg, seed=cfg.seed)
    from . import corpora  # imported on use: scipy and filelock load only for a real corpus
    return corpora.pairs(cfg, "train")


def held_out(cfg: DataConfig) -> tuple[Tensor, Tensor]:
    """The held-out pairs every chapter and every run's evaluation use: ``cfg.n_val`` pairs, seed ``cfg.seed + 1``.

    ``"synthetic"``: ``make_pairs(cfg.n_val, cfg, seed=cfg.seed + 1)``; a real corpus: its held-out
    split (pieces never seen in training), see :mod:`resmix.data.corpora`.

    Shape: ``(input, target)``, each ``[n_val, N]``.
    """
    if cfg.source == "synthetic":
        return make_pairs(cfg.n_val, cfg, seed=cfg.seed + 1)
    from . import corpora
    return corpora.pairs(cfg, "held_out")


def answer_clips(cfg: DataConfig, split: str = "held_out") -> Tensor:
    """A real answer for a split's pairs: the chorales' tenor on the windows of ``held_out(cfg)`` (or of
    ``training_pairs(cfg)`` with ``split="train"``).

    Raises ``ValueError`` for a source without a third voice (``"synthetic"``, ``"music"``).

    Shape: ``[n_val, N]`` (``[n_train, N]`` for ``"train"``), aligned clip for clip with the split's pairs.
    """
    if split not in ("held_out", "train"):
        raise ValueError(f"split must be 'held_out' or 'train'; got {split!r}")
    from . import corpora
    return corpora.answer(cfg, split)

