"""The frozen config of a training run, validated on construction, and its cache key (App. A.1, A.4, A.6).

A :class:`TrainConfig` says everything that determines a trained model: the data (a
:class:`~gdlib.datasets.DatasetConfig`), the UNet's size, the diffusion schedule, the optimisation and what is
kept and measured along the way. Its :meth:`TrainConfig.key` names the run folder that caches the model
(:mod:`gdlib.runs`); :mod:`gdlib.training` trains it.

Choices where the paper is silent (App. A.6 says AdamW with weight decay and "a learning rate
scheduler from PyTorch"): lr 3e-4 (dome272), weight decay 0.01 (AdamW's default), linear warm-up
then cosine decay to 0 per step, EMA 0.995 (dome272), batch 64.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields, replace

from gdlib import diffusion
from gdlib.checks import check_choice, check_int, check_range
from gdlib.datasets import DatasetConfig
from gdlib.keys import coerce_floats, config_key
from gdlib.model import ALL_ATTENTION, UNet, check_image_size, check_unet

#: Fields that change what is logged along the way, not the trained weights: kept out of the cache key.
LOGGING_ONLY = ("log_every", "sample_batch_size", "eval_epochs", "eval_layers")
#: Fields added after runs were cached under keys without them: they enter the key only when set (not at their
#: default), so a run cached before the field existed keeps its key and is not trained again.
KEYED_WHEN_SET = {"checkpoint_steps": ()}
#: How the trained model is sampled for evaluation (App. A.3), not how it is trained: kept out of the cache key,
#: they key its evaluations instead (:class:`SampleConfig`, :func:`gdlib.runs.eval_path`).
EVALUATION_ONLY = ("sampler", "sample_steps", "eta")


@dataclass(frozen=True)
class SampleConfig:
    """How a trained model is sampled for its evaluation (App. A.3): "ddpm" (ancestral, all T steps; ``steps``
    and ``eta`` unused) or "ddim" with ``steps`` and ``eta``. The sample count is not a setting: an evaluation
    samples the N*N evaluation centres (:func:`gdlib.regions.evaluation_grid`) or the labels it is given, and
    keeps them beside its samples. :meth:`tag` names the evaluation files of a run folder."""

    sampler: str = "ddpm"
    steps: int = 50
    eta: float = 1.0

    def __post_init__(self) -> None:
        coerce_floats(self)
        check_choice("sampler", self.sampler, ("ddpm", "ddim"))
        check_int("sample_steps", self.steps, 1)
        check_range("eta", self.eta, 0, 1)

    def tag(self) -> str:
        """``ddpm``, or ``ddim50-eta1``: what tells two evaluations of one checkpoint apart."""
        return "ddpm" if self.sampler == "ddpm" else f"ddim{self.steps}-eta{self.eta:g}"


def _default_data() -> DatasetConfig:
    return DatasetConfig(family="bump", n=32, sigma=1.0, d=0.1, periodic=True)


@dataclass(frozen=True)
class TrainConfig:
    """Everything that determines a trained model; validated on construction, hashed to its cache key.

    Length of training: ``epochs`` passes over the data, or ``steps`` optimizer steps when
    ``steps > 0`` (then epochs only name checkpoints: epoch k ends after k * steps_per_epoch steps).
    Evaluation (App. A.3): N*N samples on the integer centres 1..N (:func:`gdlib.regions.evaluation_grid`)
    drawn with ``sampler`` ("ddpm" ancestral, or "ddim" with ``sample_steps`` and ``eta``) from the
    weights that sample (EMA when on), at ``eval_epochs`` and at the end.

    The cache key (:meth:`key`) hashes every field but the :data:`LOGGING_ONLY` ones: how often the
    loss is logged, the sampling batch (the sampler's noise does not depend on it,
    :func:`gdlib.diffusion.sample`) and the epochs evaluated on the way; nor the :data:`EVALUATION_ONLY` ones
    (:attr:`sampling`): sampling is not training, so another sampler re-samples a cached model (its evaluations
    are keyed by :meth:`SampleConfig.tag`) and never retrains it. The ``metrics.csv`` accuracies along the way
    are those of the sampler of the config that trained the run (its ``config.json``). A finished run found under the
    key is not evaluated again at other ``eval_epochs``: :func:`evaluate` samples any saved checkpoint.
    Ints given to float fields are stored as floats, and the key hashes numbers by value (6 == 6.0).

    ``threads``: the intra-op CPU thread count training and evaluation run with, in every executor
    (in this process, worker processes, Slurm jobs), whatever the machine's load or ``GDLIB_THREADS``:
    on the CPU the count changes the float rounding, so it is part of the key and the same key always
    gives the same weights on the same kind of device. It does not change CUDA numerics (but is still
    in the key). One thread is the default: sweeps run one model per core; on an otherwise idle
    multi-core machine a single model trains faster with more.
    """

    data: DatasetConfig = field(default_factory=_default_data)
    # model (App. A.1)
    width: int = 64
    attention_resolutions: tuple[int, ...] = ALL_ATTENTION
    heads: int = 4
    enc_dim: int = 64
    # diffusion (App. A.4; dome272's schedule)
    T: int = 1000
    beta_start: float = 1e-4
    beta_end: float = 0.02
    # optimisation (App. A.6)
    epochs: int = 200
    steps: int = 0
    batch_size: int = 64
    lr: float = 3e-4
    weight_decay: float = 0.01
    warmup_steps: int = 0
    lr_schedule: str = "cosine"
    ema_decay: float = 0.995
    grad_clip: float = 0.0
    seed: int = 0
    threads: int = 1  # intra-op CPU threads for training and evaluation (see the class docstring)
    # what is kept and measured along the way
    checkpoint_epochs: tuple[int, ...] = ()
    checkpoint_steps: tuple[int, ...] = ()  # weights saved after these optimiser steps (learning curves)
    eval_epochs: tuple[int, ...] = ()
    #: layers whose activations training's evaluations keep (issue 21: only where a notebook reads them; at the full
    #: profile layer 4 of 1,024 samples is 67 MB per evaluation file); :func:`gdlib.runs.evaluate` samples again when
    #: a reader asks for a layer that was not kept
    eval_layers: tuple[str, ...] = ("layer4",)
    sampler: str = "ddpm"
    sample_steps: int = 50
    eta: float = 1.0
    sample_batch_size: int = 0  # samples per network call; 0: from the free memory (gdlib.memory.sample_batch_size)
    log_every: int = 50

    def __post_init__(self) -> None:
        coerce_floats(self)
        object.__setattr__(self, "attention_resolutions", tuple(sorted(set(self.attention_resolutions))))
        object.__setattr__(self, "checkpoint_epochs", tuple(sorted(set(self.checkpoint_epochs))))
        object.__setattr__(self, "eval_epochs", tuple(sorted(set(self.eval_epochs))))
        object.__setattr__(self, "eval_layers", tuple(self.eval_layers))
        object.__setattr__(self, "checkpoint_steps", tuple(sorted(set(self.checkpoint_steps))))
        if not isinstance(self.data, DatasetConfig):
            raise ValueError(f"data = {self.data!r} is not allowed: must be a DatasetConfig")
        check_image_size("data.n", self.data.n)  # the UNet and the schedule own their rules
        check_unet(self.width, self.heads, self.attention_resolutions, self.enc_dim)
        diffusion.check_schedule(self.T, self.beta_start, self.beta_end)
        check_int("epochs", self.epochs, 1)
        check_int("steps", self.steps, 0)
        check_int("batch_size", self.batch_size, 1)
        check_range("lr", self.lr, 0, 1, low_open=True)
        check_range("weight_decay", self.weight_decay, 0, 10)
        check_int("warmup_steps", self.warmup_steps, 0)
        check_choice("lr_schedule", self.lr_schedule, ("cosine", "constant"))
        check_range("ema_decay", self.ema_decay, 0, 1, high_open=True)
        check_range("grad_clip", self.grad_clip, 0)
        check_int("seed", self.seed, 0)
        check_int("threads", self.threads, 1, 1024)
        for e in self.checkpoint_epochs:
            check_int("checkpoint_epochs", e, 0, self.total_epochs_bound)
        for e in self.eval_epochs:
            check_int("eval_epochs", e, 0, self.total_epochs_bound)
        for s in self.checkpoint_steps:
            check_int("checkpoint_steps", s, 1, self.steps if self.steps > 0 else 10**12)
        check_choice("sampler", self.sampler, ("ddpm", "ddim"))
        check_int("sample_steps", self.sample_steps, 1, self.T)
        check_range("eta", self.eta, 0, 1)
        check_int("sample_batch_size", self.sample_batch_size, 0)
        for layer in self.eval_layers:
            if not isinstance(layer, str):
                raise ValueError(f"eval_layers = {self.eval_layers!r} is not allowed: must be layer names (text)")
        check_int("log_every", self.log_every, 1)

    @property
    def total_epochs_bound(self) -> int:
        """Largest epoch number a checkpoint may name (``epochs``, or any when training by steps)."""
        return self.epochs if self.steps == 0 else 10**9

    # identity -------------------------------------------------------------------------------------
    def to_dict(self) -> dict:
        out = {f.name: getattr(self, f.name) for f in fields(self)}
        out["data"] = self.data.to_dict()
        for k, v in out.items():
            if isinstance(v, tuple):
                out[k] = list(v)
        return out

    @classmethod
    def from_dict(cls, d: dict) -> TrainConfig:
        """Inverse of :meth:`to_dict` (as stored in a run's ``config.json``)."""
        d = dict(d)
        data = dict(d.pop("data"))
        holdout = data.pop("holdout", None)
        if holdout is not None:
            from gdlib import regions

            holdout = dict(holdout)
            holdout = getattr(regions, holdout.pop("kind"))(**holdout)
        data = DatasetConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in data.items()},
                             holdout=holdout)
        return cls(data=data, **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})

    def key(self) -> str:
        """The cache folder name: :func:`gdlib.keys.config_key` of every field but :data:`LOGGING_ONLY`,
        :data:`EVALUATION_ONLY` and the :data:`KEYED_WHEN_SET` ones left at their default."""
        unset = {k for k, default in KEYED_WHEN_SET.items() if getattr(self, k) == default}
        return config_key({k: v for k, v in self.to_dict().items()
                           if k not in LOGGING_ONLY + EVALUATION_ONLY and k not in unset})

    @property
    def sampling(self) -> SampleConfig:
        """The evaluation settings of this config (:class:`SampleConfig`)."""
        return SampleConfig(self.sampler, self.sample_steps, self.eta)

    # what the config builds -----------------------------------------------------------------------
    def make_model(self) -> UNet:
        return UNet(width=self.width, attention_resolutions=self.attention_resolutions, heads=self.heads,
                    enc_dim=self.enc_dim)

    def schedule(self) -> diffusion.Schedule:
        return diffusion.linear_schedule(self.T, self.beta_start, self.beta_end)

    def steps_per_epoch(self, n_images: int) -> int:
        return max(1, math.ceil(n_images / self.batch_size))

    def total_steps(self, n_images: int) -> int:
        return self.steps if self.steps > 0 else self.epochs * self.steps_per_epoch(n_images)


def equal_batches_epochs(n_images: int, reference_images: int, reference_epochs: int, batch_size: int) -> int:
    """Epochs for a training set of ``n_images`` so that it sees as many batches as the reference run
    (``reference_epochs`` over ``reference_images``): App. A.6 / Sec. 3.3, "an inversely proportional
    amount of training time as a function of the size of the dataset". Rounded up."""
    check_int("n_images", n_images, 1)
    check_int("reference_images", reference_images, 1)
    ref_batches = reference_epochs * math.ceil(reference_images / batch_size)
    return max(1, math.ceil(ref_batches / math.ceil(n_images / batch_size)))


def with_equal_batches(cfg: TrainConfig, n_images: int, reference_images: int,
                       reference_epochs: int | None = None) -> TrainConfig:
    """``cfg`` with ``epochs`` set by :func:`equal_batches_epochs` (reference epochs default ``cfg.epochs``);
    checkpoint and evaluation epochs are scaled by the same factor."""
    ref = cfg.epochs if reference_epochs is None else reference_epochs
    epochs = equal_batches_epochs(n_images, reference_images, ref, cfg.batch_size)
    scale = epochs / ref
    rescale = lambda es: tuple(sorted({min(epochs, round(e * scale)) for e in es}))
    return replace(cfg, epochs=epochs, steps=0, checkpoint_epochs=rescale(cfg.checkpoint_epochs),
                   eval_epochs=rescale(cfg.eval_epochs))


def describe(cfg: TrainConfig, n_images: int | None = None) -> str:
    """One line for notebooks: model size, data size, steps."""
    from gdlib.datasets import training_labels

    params = sum(p.numel() for p in cfg.make_model().parameters())
    m = n_images if n_images is not None else len(training_labels(cfg.data))
    attention = ", ".join(f"N/{f}" if f > 1 else "N" for f in cfg.attention_resolutions) or "none"
    return (f"UNet width {cfg.width} ({params / 1e6:.2f} M parameters; attention at {attention}; "
            f"{cfg.heads} heads), {m} images, batch {cfg.batch_size}, {cfg.total_steps(m)} steps "
            f"({cfg.steps_per_epoch(m)} per epoch), {cfg.sampler} sampling; cache key {cfg.key()}")


__all__ = ["LOGGING_ONLY", "KEYED_WHEN_SET", "EVALUATION_ONLY", "SampleConfig", "TrainConfig", "equal_batches_epochs",
           "with_equal_batches", "describe"]
