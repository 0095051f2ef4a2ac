"""Configuration: frozen dataclasses and the two named profiles.

Every default carries a short reason. Profiles are built with
``dataclasses.replace``, never by mutating a global.

``quick`` runs one training run (768 optimizer steps) in seconds on one CPU thread; ``full`` is
for a large GPU (H100/H200 class, bf16) and ``t4`` for a small one (T4 class, fp32).
:func:`get_profile` picks one from the ``RESMIX_PROFILE`` environment variable, else from the
device (``full`` on a GPU with bf16 tensor cores, ``t4`` on an older GPU, ``quick`` on a CPU).
"""
from __future__ import annotations

import dataclasses
import functools
import math
import numbers
import os
import re
import typing
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

RESIDUALS = ("leaky", "none")
INPUT_SCALES = ("rms", "raw")
RECON_KINDS = ("mse", "mrstft")
RECON_REFERENCES = ("target", "negated", "difference", "product", "allpass")
CORR_AXES = ("clip", "frame", "batch")
DECAY_TARGETS = ("all", "weights")
OPTIMIZERS = ("adamw", "adam")
NOVELTY_REDUCES = ("max", "mean")
NOVELTY_REFERENCES = ("input+output1", "input")
PROFILES = ("quick", "full", "t4")
DEVICES = ("auto", "cpu", "cuda", "cuda:N", "mps")  # what TrainConfig.device takes (N: a CUDA device index)
_DEVICE = re.compile(r"auto|cpu|mps|cuda(:[0-9]+)?")
SEED_LIMIT = 2 ** 63  # seeds must fit a signed 64-bit integer: torch.manual_seed and NumPy take them all
# Where DataConfig's clips come from; the real corpora live in resmix.data.corpora.
SOURCES = ("synthetic", "music", "chorales")


@functools.lru_cache(maxsize=None)
def _hints(cls: type) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def field_type(cfg: Any, name: str) -> Any:
    """The annotated type of a config field (``int``, ``float``, ``bool``, ``str``, ...)."""
    return _hints(type(cfg))[name]


def _check_types(cfg: Any) -> None:
    """Require every field of a config dataclass to hold a value of its annotated type.

    ``int`` fields take integers (not bools, not 2.0); ``float`` fields take any real
    number (ints stay ints, so keys of stored runs do not change); ``bool`` fields
    take True or False only. NumPy scalars are turned into Python ones.
    """
    hints = _hints(type(cfg))
    where = type(cfg).__name__
    for f in dataclasses.fields(cfg):
        kind, value = hints[f.name], getattr(cfg, f.name)
        got = f"{value!r} ({type(value).__name__})"
        if kind is bool:
            if not isinstance(value, (bool, np.bool_)):
                raise TypeError(f"{where}.{f.name} must be true or false (bool); got {got}")
            object.__setattr__(cfg, f.name, bool(value))
        elif kind is int:
            if isinstance(value, bool) or not isinstance(value, numbers.Integral):
                raise TypeError(f"{where}.{f.name} must be an integer; got {got}")
            object.__setattr__(cfg, f.name, int(value))
        elif kind is float:
            if isinstance(value, bool) or not isinstance(value, numbers.Real):
                raise TypeError(f"{where}.{f.name} must be a number; got {got}")
            if not isinstance(value, (int, float)):
                object.__setattr__(cfg, f.name, float(value))
        elif isinstance(kind, type) and not isinstance(value, kind):
            raise TypeError(f"{where}.{f.name} must be a {kind.__name__}; got {got}")


def _check_range(cfg: Any, name: str, low: float | None = None, high: float | None = None,
                 low_open: bool = False, high_open: bool = False) -> None:
    """Require a finite number within [low, high] (``*_open``: the bound is excluded)."""
    value = getattr(cfg, name)
    ok = isinstance(value, int) or math.isfinite(value)  # a huge int would overflow isfinite
    ok = ok and (low is None or (value > low if low_open else value >= low))
    ok = ok and (high is None or (value < high if high_open else value <= high))
    if not ok:
        lo = "" if low is None else f"{'>' if low_open else '>='} {low:g}"
        hi = "" if high is None else f"{'<' if high_open else '<='} {high:g}"
        allowed = " and ".join(b for b in (lo, hi) if b)
        noun = "an integer" if field_type(cfg, name) is int else "a finite number"
        raise ValueError(f"{type(cfg).__name__}.{name} must be {noun} {allowed}".rstrip() + f"; got {value!r}")


def _check_seed(cfg: Any) -> None:
    """A seed torch and NumPy both take: 2**64 passed the config and failed in ``train()`` with an overflow."""
    if not 0 <= cfg.seed < SEED_LIMIT:
        raise ValueError(f"{type(cfg).__name__}.seed must be an integer >= 0 and < 2**63; got {cfg.seed!r}")


def _check_device(name: str) -> None:
    if not _DEVICE.fullmatch(name):
        raise ValueError(f"TrainConfig.device must be one of {', '.join(repr(d) for d in DEVICES)} "
                         f"(N: a CUDA device index); got {name!r}")


class DeviceUnavailableError(RuntimeError):
    """The configured device is not there: a CPU-only torch asked for CUDA, a missing GPU index, no MPS."""


def resolve_device(name: str = "auto"):
    """The ``torch.device`` for ``TrainConfig.device``: ``"auto"`` is CUDA when available, else CPU.

    Raises :class:`DeviceUnavailableError` naming the fix when the device is not available here
    (torch's own message is an ``AssertionError`` from deep inside the first ``.to()``).
    """
    import torch
    _check_device(name)
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(name)
    fix = "set train.device='auto' (CUDA when available, else CPU) or 'cpu'"
    if device.type == "cuda":
        if torch.version.cuda is None:
            raise DeviceUnavailableError(
                f"train.device={name!r}, but this torch ({torch.__version__}) is a CPU-only build; {fix}, or "
                "install a CUDA build of torch (https://pytorch.org/get-started/locally/)")
        if not torch.cuda.is_available():
            raise DeviceUnavailableError(f"train.device={name!r}, but torch sees no CUDA device (no driver, or "
                                         f"CUDA_VISIBLE_DEVICES hides them); {fix}")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise DeviceUnavailableError(f"train.device={name!r}, but this machine has "
                                         f"{torch.cuda.device_count()} CUDA device(s), numbered from 0; {fix}")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise DeviceUnavailableError(f"train.device={name!r}, but MPS (Apple GPUs) is not available here; {fix}")
    return device


@dataclass(frozen=True)
class DataConfig:
    """The synthetic audio: clip length and rate, framing into ``[B, D, T]``, level, and how many pairs."""

    sample_rate: int = 8000  # 8 kHz keeps clips short while still sounding musical
    # An eighth of a second (1024 samples, 32 frames): short clips buy optimizer steps, which the
    # collapse and its remedies need, on a 2-core CPU (the first registration); the full profile plays 1.024 s.
    clip_seconds: float = 0.128
    frame_size: int = 32  # D: samples per frame, the model's feature dimension
    rms: float = 0.1  # every clip is normalised to this RMS (about -20 dBFS)
    n_train: int = 256  # training pairs: 32 steps per epoch at batch 8
    n_val: int = 32  # held-out pairs for per-epoch metrics
    seed: int = 1234  # data seed; the validation set uses seed + 1
    # Where the clips come from (resmix.data.corpora holds the rules; book/attribution.md the licenses):
    # "synthetic": make_pairs' generated tones, input and target independent by construction
    #   (every number of the book's first six chapters).
    # "music": the 5 real music recordings of Debian's asterisk-moh-opsound-wav (8 kHz, CC-BY-SA-3.0);
    #   input clip t, target clip t+1 of the same track: a continuation. Held out: one whole track.
    # "chorales": Bach chorales of the music21 corpus, each voice rendered alone by FluidSynth with
    #   the FluidR3 GM soundfont; input the soprano, target the bass, time-aligned; the tenor is
    #   the "real answer" (resmix.data.sources.answer_clips). Held out: every fifth chorale.
    # The data seed picks the windows of the training split (seed + 1: of the held-out split).
    source: str = "synthetic"

    def __post_init__(self) -> None:
        _check_types(self)
        if self.source not in SOURCES:
            raise ValueError(f"DataConfig.source must be one of {SOURCES}; got {self.source!r}")
        for name in ("sample_rate", "frame_size", "n_train"):
            _check_range(self, name, 1)
        _check_range(self, "n_val", 2)  # input dependence compares clips: at least two held-out pairs
        for name in ("clip_seconds", "rms"):
            _check_range(self, name, 0, low_open=True)
        _check_seed(self)  # NumPy's generators take seeds >= 0
        if self.n_samples < self.frame_size:
            raise ValueError(
                f"DataConfig.clip_seconds={self.clip_seconds} at {self.sample_rate} Hz gives "
                f"{self.n_samples} samples; expected at least one frame of frame_size={self.frame_size}")
        if self.n_samples % self.frame_size:
            raise ValueError(
                f"clip length {self.n_samples} samples must be a multiple of frame_size "
                f"{self.frame_size}")

    @property
    def n_samples(self) -> int:
        """Samples per clip, N."""
        return round(self.sample_rate * self.clip_seconds)

    @property
    def n_frames(self) -> int:
        """Frames per clip, T."""
        return self.n_samples // self.frame_size


@dataclass(frozen=True)
class ModelConfig:
    """The two-stage transformer: sizes, the residual design (``"leaky"`` or ``"none"``), and how inputs enter and outputs start."""

    dim: int = 32  # D, must equal DataConfig.frame_size
    d_model: int = 64  # transformer width; the pilot's size
    n_layers: int = 2  # encoder blocks per stage
    n_heads: int = 4  # attention heads (d_model must divide evenly)
    ff_mult: int = 4  # feed-forward width = ff_mult * d_model, as in Vaswani et al.
    dropout: float = 0.0  # off: the study wants deterministic, comparable runs
    residual: str = "leaky"  # "leaky": the seed's averages; "none": the fixed design
    zero_init_output: bool = False  # True: output projections start at zero ("zero learning")
    output_gain: float = 1.0  # scales the output projections' initial weights; 1 = PyTorch's default
    # A fixed, non-trainable factor on each stage's output branch (a buffer, not a parameter).
    # It sets the starting level without shrinking the trainable weights: output_gain also
    # shrinks them, so Adam's fixed-size steps become large relative to them and start level
    # and effective learning rate move together. 1 = no factor (the model of 0.2.0 exactly).
    output_scale: float = 1.0
    # How each stream enters the input projection. "rms": divided by its per-clip RMS, so audio
    # at any level meets the unit-amplitude position codes at about their level; "raw": as is
    # (the first book: 0.1-RMS audio sat well below the position codes; chapter 3 measures it). Chapter 3
    # measures both on the reconstruction task and picks the default from that.
    input_scale: str = "rms"

    def __post_init__(self) -> None:
        _check_types(self)
        if self.residual not in RESIDUALS:
            raise ValueError(f"residual must be one of {RESIDUALS}; got {self.residual!r}")
        if self.input_scale not in INPUT_SCALES:
            raise ValueError(f"input_scale must be one of {INPUT_SCALES}; got {self.input_scale!r}")
        for name in ("dim", "d_model", "n_heads", "ff_mult"):
            _check_range(self, name, 1)
        _check_range(self, "n_layers", 0)  # 0: no encoder blocks, a linear stage
        _check_range(self, "dropout", 0, 1, high_open=True)
        _check_range(self, "output_gain")
        _check_range(self, "output_scale", 0, low_open=True)  # 0 would cut every gradient to the branch
        if self.d_model % self.n_heads:
            raise ValueError(
                f"d_model ({self.d_model}) must be divisible by n_heads ({self.n_heads})")


@dataclass(frozen=True)
class LossConfig:
    """The loss: weights of the anti-correlation, novelty, reconstruction and variance terms, and their settings."""

    anti_correlation: float = 1.0  # weight of |Pearson(output, target)|
    novelty: float = 1.0  # weight of max |Pearson| with input and stage-1 output
    # How the novelty term combines its references' |rho|: "max" (not copying any of them, our
    # reading of the seed) or "mean"; and which references it has: the input and stage 1's output
    # ("input+output1") or the input alone. Chapter 4 stress-tests both readings.
    novelty_reduce: str = "max"
    novelty_refs: str = "input+output1"
    reconstruction: float = 0.0  # the seed's fixed design trained with zero reconstruction
    recon_kind: str = "mse"  # "mse" (waveform) or "mrstft" (multi-resolution STFT)
    # What the reconstruction term matches: "target", a task the leaky residual half-solves by
    # construction; "negated" (-target), where the residual is in the way; "difference" ((input -
    # target) / sqrt 2), linear but uncorrelated with the residual; or "product" (input * target at
    # the target's RMS), uncorrelated with both inputs; or "allpass": the target through a fixed
    # random-phase all-pass filter (its spectrum, none of its waveform at any small lag: chapter 5's
    # second positive control).
    recon_reference: str = "target"
    variance: float = 0.0  # weight of the VICReg-style variance hinge (off by default)
    variance_gamma: float = 1.0  # hinge floor, as a fraction of the target's standard deviation
    eps: float = 1e-8  # the epsilon in Pearson's denominator; see chapter 4
    # What one correlation of the anti-correlation and novelty losses is computed over:
    # "clip": each clip over D x T (the seed's and 0.2.0's definition); "frame": each frame over
    # its D samples, then averaged; "batch": one correlation pooled over the whole batch.
    # Chapter 4 crosses it with epsilon: the product of standard deviations that epsilon is
    # compared with differs per definition.
    corr_axes: str = "clip"
    # The penalties' correlations at lags up to this many seconds as well, the largest |rho| counting
    # (axes "clip" only): a penalty that a copy shifted by a few samples cannot dodge. 0: zero lag
    # only, the seed's reading. Chapter 5's trained positive control uses the score's 10 ms window.
    corr_lag_seconds: float = 0.0

    def __post_init__(self) -> None:
        _check_types(self)
        if self.recon_kind not in RECON_KINDS:
            raise ValueError(f"recon_kind must be one of {RECON_KINDS}; got {self.recon_kind!r}")
        if self.recon_reference not in RECON_REFERENCES:
            raise ValueError(f"recon_reference must be one of {RECON_REFERENCES}; got {self.recon_reference!r}")
        if self.novelty_reduce not in NOVELTY_REDUCES:
            raise ValueError(f"LossConfig.novelty_reduce must be one of {NOVELTY_REDUCES}; got {self.novelty_reduce!r}")
        if self.novelty_refs not in NOVELTY_REFERENCES:
            raise ValueError(f"LossConfig.novelty_refs must be one of {NOVELTY_REFERENCES}; got {self.novelty_refs!r}")
        if self.corr_axes not in CORR_AXES:
            raise ValueError(f"LossConfig.corr_axes must be one of {CORR_AXES}; got {self.corr_axes!r}")
        for name in ("anti_correlation", "novelty", "reconstruction", "variance", "variance_gamma", "eps",
                     "corr_lag_seconds"):
            _check_range(self, name, 0)
        if self.corr_lag_seconds > 0 and self.corr_axes != "clip":
            raise ValueError(f"LossConfig.corr_lag_seconds > 0 needs corr_axes='clip' (lags run along a clip's "
                             f"waveform); got corr_axes={self.corr_axes!r}")


@dataclass(frozen=True)
class TrainConfig:
    """The training run: epochs, batch, AdamW's settings, seed, threads, precision and device."""

    epochs: int = 24  # the seed's collapse is reported at epoch 21: step 672 of 768 at the quick size
    batch_size: int = 8  # small batches: a step costs about 13 ms on one CPU thread at the quick size
    lr: float = 1e-3  # AdamW, the pilot's rate
    weight_decay: float = 0.01  # torch's AdamW default; chapter 4 ablates it
    # Which parameters AdamW decays: "all" (torch's default, and 0.2.0's), or "weights": only the
    # weight matrices, not biases and LayerNorm gains and shifts (nanoGPT's and BERT's choice).
    # Decay pulls each decayed coordinate towards an RMS of about sqrt(lr / (2 weight_decay)).
    decay: str = "all"
    # "adamw": decoupled weight decay (torch's AdamW, the default); "adam": torch's Adam, whose
    # weight_decay is an L2 term added to the gradient, so Adam's normalisation rescales it.
    optimizer: str = "adamw"
    grad_clip: float = 1.0  # clip the global gradient norm; 0 turns clipping off
    seed: int = 0  # model initialisation and batch order
    amp: bool = False  # bf16 autocast on CUDA and CPU; full only: on CPU it speeds a full step, slows a quick one
    device: str = "auto"  # "auto": CUDA when available, else CPU; or "cpu", "cuda", "cuda:N", "mps"
    # CPU threads of the run. Part of the run's settings (and key) because the thread
    # count changes how float sums are split, and so the last digits of every number;
    # 1: a grid gives the same numbers serially or in worker processes side by side.
    threads: int = 1

    def __post_init__(self) -> None:
        _check_types(self)
        for name in ("epochs", "batch_size", "threads"):
            _check_range(self, name, 1)
        _check_range(self, "lr", 0, low_open=True)
        _check_range(self, "weight_decay", 0)
        if self.decay not in DECAY_TARGETS:
            raise ValueError(f"TrainConfig.decay must be one of {DECAY_TARGETS}; got {self.decay!r}")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"TrainConfig.optimizer must be one of {OPTIMIZERS}; got {self.optimizer!r}")
        _check_range(self, "grad_clip", 0)
        _check_seed(self)
        _check_device(self.device)  # checked here, so a typo fails at --list, not after the data is made


@dataclass(frozen=True)
class Experiment:
    """One run's full configuration: data, model, loss and training, under a name and a profile."""

    name: str = "experiment"
    profile: str = "quick"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    train: TrainConfig = field(default_factory=TrainConfig)

    def __post_init__(self) -> None:
        _check_types(self)
        if self.model.dim != self.data.frame_size:
            raise ValueError(
                f"model.dim ({self.model.dim}) must equal data.frame_size "
                f"({self.data.frame_size}): frames are the model's features")

    def with_(self, **sections: Any) -> "Experiment":
        """Replace fields inside sections: ``exp.with_(model={"residual": "none"})``."""
        changes: dict[str, Any] = {}
        for key, value in sections.items():
            if isinstance(value, dict):
                changes[key] = replace(getattr(self, key), **value)
            else:
                changes[key] = value
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Experiment":
        model = {"input_scale": "raw"} | d["model"]  # results stored by 0.1.0 ran raw inputs
        return cls(name=d["name"], profile=d["profile"], data=DataConfig(**d["data"]),
                   model=ModelConfig(**model), loss=LossConfig(**d["loss"]),
                   train=TrainConfig(**d["train"]))


def quick() -> Experiment:
    """CPU profile: small data and model, a run in seconds."""
    return Experiment(name="quick", profile="quick")


def full() -> Experiment:
    """A large GPU (H100/H200 class, bf16): 8x longer clips, twice the width and depth, 4x the steps of quick.

    Sized so that every chapter finishes within about 15 minutes on one such GPU with the cohort
    engine (:func:`resmix.study.schedule.expected_seconds` projects it): the compute goes to steps, clip
    length and data, not to width (0.3.0's full profile, 256 wide, took 9-11 hours for the book).
    """
    base = quick()
    return replace(
        base, name="full", profile="full",
        data=replace(base.data, clip_seconds=1.024, n_train=4096, n_val=64),
        model=replace(base.model, d_model=128, n_layers=4, n_heads=8),
        train=replace(base.train, epochs=24, batch_size=32, amp=True),
    )


def t4() -> Experiment:
    """A small GPU (T4 class, Colab's free tier: no bf16 tensor cores, so fp32): quick's model on
    clips twice as long, four times the data and twice the steps."""
    base = quick()
    return replace(
        base, name="t4", profile="t4",
        data=replace(base.data, clip_seconds=0.256, n_train=1024),
        train=replace(base.train, batch_size=16),
    )


def _default_profile() -> str:
    """``full`` on a CUDA GPU with bf16 tensor cores (compute capability 8 or newer), ``t4`` on an older
    one, ``quick`` without CUDA."""
    import torch
    if not torch.cuda.is_available():
        return "quick"
    return "full" if torch.cuda.get_device_capability()[0] >= 8 else "t4"


def get_profile(name: str | None = None) -> Experiment:
    """The named profile; with no name, ``RESMIX_PROFILE``, else the device's (``_default_profile()``).

    ``RESMIX_DEVICE`` (``cpu``, ``cuda:1``, ...) sets every run's ``train.device``.
    """
    if name is None:
        name = os.environ.get("RESMIX_PROFILE") or _default_profile()
    if name not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}; got {name!r}")
    exp = {"quick": quick, "full": full, "t4": t4}[name]()
    device = os.environ.get("RESMIX_DEVICE")
    return exp.with_(train={"device": device}) if device else exp
