"""Training runs: one frozen config per run, a cache of trained models, checkpoints and resume.

``get_or_train(cfg, name="torus")`` returns the trained model of ``cfg``: from
``outputs/models/<name>/<cfg.key()>/final.pt`` when that run finished before, else it trains
(resuming from ``last.pt`` when a previous attempt was killed). A run folder holds

- ``config.json``: the :class:`TrainConfig` (its SHA-256 prefix is the folder name);
- ``metrics.csv``: step, epoch, training loss (mean since the previous row), lr, and the accuracy
  (joint, x, y; App. A.3) at the evaluation epochs;
- ``ckpt_epochNNNN.pt`` at the checkpoint epochs (epoch 0 = untrained) and ``final.pt``: the
  weights that sample (the EMA weights when EMA is on), for the representation over training (Fig. 2);
- ``eval_epochNNNN.npz``: the samples of each evaluation (uint8 images, labels, estimated centres
  and the layer-4 activations at the last denoising step), reused by notebooks 02-04;
- ``last.pt`` while training: model, EMA, optimizer, lr scheduler, step, epoch permutation, metric
  rows and the generator state, written atomically, and ``last.prev.pt``, the state saved before it
  (training resumes from it when ``last.pt`` cannot be read); both deleted once ``final.pt`` exists.

A cache file that cannot be read (truncated, corrupted) is never used silently: an unreadable resume
state or evaluation is moved aside with a warning and recomputed (resumed from the state before, or
sampled again); an unreadable checkpoint raises :class:`~gdlib.paths.CorruptFileError` naming the file
and what to do, since only training writes it.

The whole dataset lives on the device as one uint8 tensor; each batch is indexed from a permutation
drawn by a seeded ``torch.Generator`` (which also draws t and the noise) and mapped to [-1, 1] there.
On the CPU a resumed run ends with exactly the weights of an uninterrupted one (tests check it).

Choices where the paper is silent (App. A.6 says AdamW with weight decay and "a learning rate
scheduler from PyTorch"): lr 3e-4 (dome272), weight decay 0.01 (AdamW's default), linear warm-up
then cosine decay to 0 per step, EMA 0.995 (dome272), batch 64.
"""

from __future__ import annotations

import copy
import csv
import io
import json
import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

import numpy as np
import torch

from gdlib import device as _device
from gdlib import diffusion
from gdlib import progress as _progress
from gdlib.accuracy import accuracy, classify_shape, estimate_centres, strict
from gdlib.checks import check_choice, check_int, check_range
from gdlib.claims import Outcome, Part
from gdlib.datasets import DatasetConfig, make_dataset
from gdlib.keys import coerce_floats, config_key
from gdlib.locks import RunLock
from gdlib.model import ALL_ATTENTION, UNet, check_image_size, check_unet
from gdlib.paths import (
    CorruptFileError,
    CorruptFileWarning,
    atomic_write_bytes,
    atomic_write_json,
    atomic_write_text,
    describe_error,
    move_aside,
    outputs_dir,
)
from gdlib.regions import evaluation_grid

METRIC_COLUMNS = ("step", "epoch", "loss", "lr", "accuracy", "accuracy_x", "accuracy_y", "wall_s")
#: Fields that change what is logged along the way, not the trained weights: kept out of the cache key.
LOGGING_ONLY = ("log_every", "sample_batch_size", "eval_epochs")


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
    :func:`gdlib.diffusion.sample`) and the epochs evaluated on the way. A finished run found under the
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
    eval_epochs: tuple[int, ...] = ()
    sampler: str = "ddpm"
    sample_steps: int = 50
    eta: float = 1.0
    sample_batch_size: int = 256
    log_every: int = 50

    def __post_init__(self) -> None:
        coerce_floats(self)
        object.__setattr__(self, "attention_resolutions", tuple(sorted(set(self.attention_resolutions))))
        object.__setattr__(self, "checkpoint_epochs", tuple(sorted(set(self.checkpoint_epochs))))
        object.__setattr__(self, "eval_epochs", tuple(sorted(set(self.eval_epochs))))
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
        check_choice("sampler", self.sampler, ("ddpm", "ddim"))
        check_int("sample_steps", self.sample_steps, 1, self.T)
        check_range("eta", self.eta, 0, 1)
        check_int("sample_batch_size", self.sample_batch_size, 1)
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
        """The cache folder name: :func:`gdlib.keys.config_key` of every field but :data:`LOGGING_ONLY`."""
        return config_key({k: v for k, v in self.to_dict().items() if k not in LOGGING_ONLY})

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


# the run folder ------------------------------------------------------------------------------------
def run_dir(cfg: TrainConfig, name: str) -> Path:
    """``outputs/models/<name>/<cfg.key()>``."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name = {name!r} is not allowed: must be a plain folder name")
    return outputs_dir() / "models" / name / cfg.key()


def checkpoint_path(cfg: TrainConfig, name: str, epoch: int | str) -> Path:
    """``final.pt`` for ``epoch="final"``, else ``ckpt_epochNNNN.pt``."""
    base = run_dir(cfg, name)
    return base / "final.pt" if epoch == "final" else base / f"ckpt_epoch{int(epoch):04d}.pt"


def finished_runs(name: str) -> list[TrainConfig]:
    """Configs of the finished runs under ``outputs/models/<name>/``, most recently finished last
    (notebooks 03/04 find notebook 02's model this way when they are not given its parameters)."""
    found = []
    for cfg_file in (outputs_dir() / "models" / name).glob("*/config.json"):
        final = cfg_file.parent / "final.pt"
        if final.exists():
            try:
                cfg = TrainConfig.from_dict(json.loads(cfg_file.read_text())["config"])
            except Exception as err:  # damaged, or written by a version with other fields
                warnings.warn(f"{cfg_file} could not be read ({describe_error(err)}); that run is skipped",
                              CorruptFileWarning, stacklevel=2)
                continue
            found.append((final.stat().st_mtime, cfg))
    return [cfg for _, cfg in sorted(found, key=lambda item: item[0])]


def is_trained(cfg: TrainConfig, name: str) -> bool:
    return checkpoint_path(cfg, name, "final").exists()


def saved_epochs(cfg: TrainConfig, name: str) -> list[int]:
    """Epochs with a saved checkpoint, ascending."""
    return sorted(int(p.stem[len("ckpt_epoch"):]) for p in run_dir(cfg, name).glob("ckpt_epoch*.pt"))


def _torch_bytes(obj) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf)
    return buf.getvalue()


def load_checkpoint(cfg: TrainConfig, name: str, epoch: int | str = "final",
                    device: torch.device | str | None = None) -> UNet:
    """The sampling weights (EMA when on) saved at ``epoch`` (an int, or ``"final"``), in eval mode."""
    path = checkpoint_path(cfg, name, epoch)
    if not path.exists():
        have = saved_epochs(cfg, name)
        raise FileNotFoundError(f"no checkpoint {path.name} in {path.parent} (saved epochs: {have}; "
                                f"final: {is_trained(cfg, name)})")
    device = _device.get_device(device)
    model = _device.prepare_model(cfg.make_model(), device)
    try:
        model.load_state_dict(torch.load(path, map_location=device, weights_only=True)["model"])
    except Exception as err:  # a truncated zip, a damaged pickle, missing or mis-shaped tensors
        if epoch == "final":
            remedy = (f"move it aside to train the run again (the same config trains to the same weights on this "
                      f"kind of device): mv '{path}' '{path}.corrupt'")
        else:
            remedy = (f"only training writes it: restore it from a copy, or move the run folder aside to train "
                      f"the run again: mv '{path.parent}' '{path.parent}.corrupt'")
        raise CorruptFileError(f"{path} cannot be read ({describe_error(err)}): the file is truncated or "
                               f"corrupted; {remedy}") from err
    return model.eval()


def load_metrics(cfg: TrainConfig, name: str) -> dict[str, np.ndarray]:
    """``metrics.csv`` as float columns (NaN where a row has no value, e.g. accuracy between evaluations)."""
    path = run_dir(cfg, name) / "metrics.csv"
    with path.open() as fh:
        rows = list(csv.DictReader(fh))
    return {c: np.array([float(r[c]) if r.get(c) not in (None, "") else np.nan for r in rows])
            for c in METRIC_COLUMNS}


def _write_metrics(path: Path, rows: list[dict]) -> None:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=METRIC_COLUMNS)
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in METRIC_COLUMNS})
    atomic_write_text(path, buf.getvalue())


# evaluation ----------------------------------------------------------------------------------------
@dataclass
class Evaluation:
    """N*N generated samples of one checkpoint, their estimated centres, accuracy and activations."""

    epoch: int | str
    images: np.ndarray  # uint8 (M, N, N)
    labels: np.ndarray  # float32 (M, 2)
    centres: np.ndarray  # float64 (M, 2)
    accuracy: float
    accuracy_x: float
    accuracy_y: float
    activations: dict[str, np.ndarray] = field(default_factory=dict)  # layer -> float32 (M, C, H, W)
    method: np.ndarray | None = None  # int8 (M,): how each centre was found (gdlib.accuracy.DARKEST, ...)
    shapes: np.ndarray | None = None  # int8 (M,): what each image shows (gdlib.accuracy.BUMP, ...)
    n: int = 0  # canvas size N and boundary of the data, for the distances of Eq. 1
    periodic: bool = False

    @property
    def strict_accuracy(self) -> float:
        """Joint accuracy with every centroid fallback counted wrong (gdlib.accuracy's strict accuracy)."""
        return accuracy(self.labels, self.centres, self.n, self.periodic, valid=strict(self.method)).joint


def generates_requested(ev: Evaluation, minimum: float) -> Outcome:
    """T1's criterion: the samples put the bump at the requested centre, strict joint accuracy >= ``minimum``."""
    return Outcome((Part(f"strict joint accuracy {100 * ev.strict_accuracy:.1f}% >= {100 * minimum:.0f}%",
                         bool(ev.strict_accuracy >= minimum)),),
                   f"strict joint {100 * ev.strict_accuracy:.1f}% (App. A.3: joint {100 * ev.accuracy:.1f}%, "
                   f"x {100 * ev.accuracy_x:.1f}%, y {100 * ev.accuracy_y:.1f}%) on {len(ev.labels)} samples")


def _eval_path(cfg: TrainConfig, name: str, epoch: int | str) -> Path:
    tag = "final" if epoch == "final" else f"epoch{int(epoch):04d}"
    return run_dir(cfg, name) / f"eval_{tag}.npz"


def sample_and_score(model: torch.nn.Module, cfg: TrainConfig, epoch: int | str = "final",
                     layers: tuple[str, ...] = ("layer4",), progress: bool | None = False) -> Evaluation:
    """App. A.3: sample the N*N integer centres with the config's sampler, estimate centres, score,
    and keep ``layers``' activations at the last denoising step. The seed depends on the config's seed
    only, so every checkpoint is sampled from the same noise."""
    n = cfg.data.n
    labels = evaluation_grid(n)
    out = diffusion.sample(model, cfg.schedule(), labels, n, method=cfg.sampler, steps=cfg.sample_steps,
                           eta=cfg.eta, seed=cfg.seed + 12345, batch_size=cfg.sample_batch_size,
                           capture=layers, progress=progress)
    return scored(cfg, epoch, out.uint8(), labels,
                  {k: v.numpy().astype(np.float32) for k, v in out.activations.items()})


def scored(cfg: TrainConfig, epoch: int | str, images: np.ndarray, labels: np.ndarray,
           activations: dict[str, np.ndarray]) -> Evaluation:
    """The :class:`Evaluation` of generated ``images`` at ``labels``: centres estimated (App. A.3) for the
    config's family, then Eq. 1."""
    n, periodic = cfg.data.n, cfg.data.periodic
    centres, method = estimate_centres(images, periodic, return_method=True, family=cfg.data.family)
    acc = accuracy(labels, centres, n, periodic)
    return Evaluation(epoch, images, labels, centres, acc.joint, acc.x, acc.y, activations, method,
                      classify_shape(images, periodic), n, periodic)


def _save_evaluation(path: Path, ev: Evaluation) -> None:
    buf = io.BytesIO()
    np.savez(buf, images=ev.images, labels=ev.labels, centres=ev.centres,
             accuracy=np.array([ev.accuracy, ev.accuracy_x, ev.accuracy_y]),
             **{f"act_{k}": v for k, v in ev.activations.items()})
    atomic_write_bytes(path, buf.getvalue())


def _load_evaluation(path: Path, cfg: TrainConfig, epoch: int | str) -> Evaluation:
    # Centres and accuracy are recomputed from the stored samples (milliseconds), so a cached evaluation
    # always follows the current centre estimator (App. A.3) rather than the one it was sampled under.
    with np.load(path) as z:
        acts = {k[4:]: z[k] for k in z.files if k.startswith("act_")}
        return scored(cfg, epoch, z["images"], z["labels"], acts)


def _cached_evaluation(path: Path, cfg: TrainConfig, epoch: int | str) -> Evaluation | None:
    """The evaluation stored in ``path``, or None (after moving it aside, with a warning) when unreadable."""
    try:
        return _load_evaluation(path, cfg, epoch)
    except Exception as err:  # a truncated or damaged npz, a missing array
        move_aside(path, err, "the checkpoint is sampled again")
        return None


def evaluate(cfg: TrainConfig, name: str, epoch: int | str = "final", layers: tuple[str, ...] = ("layer4",),
             cache: bool = True, progress: bool | None = False) -> Evaluation:
    """The :class:`Evaluation` of a saved checkpoint (``epoch`` int or ``"final"``): read from
    ``eval_*.npz`` when cached with the requested layers, else sampled (and cached)."""
    path = _eval_path(cfg, name, epoch)
    if cache and path.exists():
        ev = _cached_evaluation(path, cfg, epoch)
        if ev is not None and all(layer in ev.activations for layer in layers):
            return ev
    with _device.threads(cfg.threads):
        ev = sample_and_score(load_checkpoint(cfg, name, epoch), cfg, epoch, layers, progress)
    if cache:
        _save_evaluation(path, ev)
    return ev


def layer_activations(cfg: TrainConfig, name: str, epoch: int | str = "final", layer: str = "layer4",
                      flatten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N*N, 2), activations) of ``layer`` at the last denoising step for the N*N evaluation
    centres (App. A.3), for any saved checkpoint; ``flatten`` gives (N*N, C*H*W)."""
    ev = evaluate(cfg, name, epoch, layers=(layer,))
    acts = ev.activations[layer]
    return ev.labels, acts.reshape(len(acts), -1) if flatten else acts


# training ------------------------------------------------------------------------------------------
def _lr_factor(cfg: TrainConfig, total: int) -> Callable[[int], float]:
    def factor(step: int) -> float:
        warm = min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else 1.0
        if cfg.lr_schedule == "constant":
            return warm
        progress = min(1.0, max(0.0, (step - cfg.warmup_steps) / max(1, total - cfg.warmup_steps)))
        return warm * 0.5 * (1 + math.cos(math.pi * progress))

    return factor


class NonFiniteLoss(FloatingPointError):
    """The training loss became NaN or infinite."""


def lock_path(cfg: TrainConfig, name: str) -> Path:
    """The lock file of a run, beside its folder (``<name>/<key>.lock``, :class:`gdlib.locks.RunLock`)."""
    folder = run_dir(cfg, name)
    return folder.with_name(folder.name + ".lock")


def ensure_trained(cfg: TrainConfig, name: str, progress: bool | None = None,
                   device: torch.device | str | None = None, save_every: int | None = None,
                   save_interval_s: float = 120.0, on_step: Callable[[int, float], None] | None = None) -> bool:
    """Train ``cfg`` unless its run finished before; True when this call trained it.

    Only one process trains a given run at a time (a :class:`~gdlib.locks.RunLock` that says who
    holds it and is taken over when its holder is gone); one that waited finds the run finished.
    """
    if is_trained(cfg, name):
        return False
    with RunLock(lock_path(cfg, name), what=f"model {name}/{cfg.key()}"):
        if is_trained(cfg, name):  # another process finished it while we waited
            return False
        train(cfg, name, progress, device, save_every, save_interval_s, on_step)
        return True


def get_or_train(cfg: TrainConfig, name: str, progress: bool | None = None,
                 device: torch.device | str | None = None, save_every: int | None = None,
                 save_interval_s: float = 120.0, on_step: Callable[[int, float], None] | None = None) -> UNet:
    """The trained model of ``cfg`` (sampling weights, eval mode): loaded from the cache, or trained.

    ``progress``: tqdm bar (None = tqdm's default: shown on a terminal). Resumable state is written
    every ``save_every`` steps when given, and at epoch ends once ``save_interval_s`` seconds have
    passed since the last save. ``on_step(step, loss)`` is called after every optimizer step (the
    tests inject a crash with it). Only one process trains a given run at a time (:func:`ensure_trained`).
    """
    ensure_trained(cfg, name, progress, device, save_every, save_interval_s, on_step)
    return load_checkpoint(cfg, name, "final", device)


def _fresh_state(cfg: TrainConfig, total: int, device: torch.device) -> tuple:
    """(model, EMA or None, optimizer, lr scheduler, generator) at step 0."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = _device.prepare_model(cfg.make_model(), device)
    ema = copy.deepcopy(model).requires_grad_(False) if cfg.ema_decay > 0 else None
    optimizer = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay,
                                  fused=device.type in ("cpu", "cuda"))
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_factor(cfg, total))
    generator = torch.Generator(device=device).manual_seed(cfg.seed)
    return model, ema, optimizer, scheduler, generator


def _resume(folder: Path, cfg: TrainConfig, total: int, device: torch.device) -> tuple[tuple, dict | None]:
    """The training objects and the saved state they were loaded from: ``last.pt``, else ``last.prev.pt``,
    else a fresh start (state None). An unreadable state file is moved aside with a warning."""
    candidates = [folder / "last.pt", folder / "last.prev.pt"]
    for i, path in enumerate(candidates):
        if not path.exists():
            continue
        objects = _fresh_state(cfg, total, device)
        model, ema, optimizer, scheduler, generator = objects
        try:
            state = torch.load(path, map_location=device, weights_only=False)
            model.load_state_dict(state["model"])
            if ema is not None:
                ema.load_state_dict(state["ema"])
            optimizer.load_state_dict(state["optimizer"])
            scheduler.load_state_dict(state["scheduler"])
            generator.set_state(state["generator"].cpu())
            _ = state["step"], state["perm"], state["rows"], state["loss_sum"], state["n_in_sum"]
            return objects, state
        except Exception as err:  # a truncated or damaged file, or one missing a part
            later = [c for c in candidates[i + 1:] if c.exists()]
            move_aside(path, err, f"resuming from {later[0].name}, the state saved before it" if later else
                       "training starts again from step 0 (the same config trains to the same weights)")
    return _fresh_state(cfg, total, device), None


def train(cfg: TrainConfig, name: str, progress: bool | None = None,
          device: torch.device | str | None = None, save_every: int | None = None,
          save_interval_s: float = 120.0, on_step: Callable[[int, float], None] | None = None) -> Path:
    """Train ``cfg`` into its run folder (resuming from ``last.pt``) with ``cfg.threads`` CPU threads;
    returns the folder. Prefer :func:`get_or_train`, which also takes the lock and skips finished runs."""
    with _device.threads(cfg.threads):
        return _train(cfg, name, progress, device, save_every, save_interval_s, on_step)


def _train(cfg: TrainConfig, name: str, progress: bool | None, device: torch.device | str | None,
           save_every: int | None, save_interval_s: float,
           on_step: Callable[[int, float], None] | None) -> Path:
    device = _device.get_device(device)
    folder = run_dir(cfg, name)
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_json(folder / "config.json", {"name": name, "key": cfg.key(), "config": cfg.to_dict()})

    data = make_dataset(cfg.data)
    images = torch.from_numpy(np.ascontiguousarray(data.images)).to(device).unsqueeze(1)  # uint8 (M, 1, N, N)
    labels = torch.from_numpy(np.ascontiguousarray(data.labels, dtype=np.float32)).to(device)
    m = len(images)
    if m == 0:
        raise ValueError(f"data = {cfg.data} is not allowed: the training set is empty")
    spe, total = cfg.steps_per_epoch(m), cfg.total_steps(m)
    schedule = cfg.schedule()

    (model, ema, optimizer, scheduler, generator), state = _resume(folder, cfg, total, device)
    sampling_model = ema if ema is not None else model
    step, perm, rows, resumed_loss = 0, None, [], (0.0, 0)
    if state is not None:
        step, perm, rows = state["step"], state["perm"], state["rows"]
        perm = perm.to(device) if perm is not None else None
        resumed_loss = (state["loss_sum"], state["n_in_sum"])
    last, previous = folder / "last.pt", folder / "last.prev.pt"

    def save_resumable() -> None:
        if last.exists():  # keep the state before it: the fallback should this one ever be unreadable
            os.replace(last, previous)
        atomic_write_bytes(last, _torch_bytes({
            "model": model.state_dict(), "ema": ema.state_dict() if ema is not None else None,
            "optimizer": optimizer.state_dict(), "scheduler": scheduler.state_dict(),
            "generator": generator.get_state(), "step": step, "perm": perm, "rows": rows,
            "loss_sum": float(loss_sum), "n_in_sum": n_in_sum, "config": cfg.to_dict(),
        }))

    def save_weights(path: Path, epoch: int | str) -> None:
        atomic_write_bytes(path, _torch_bytes({"model": sampling_model.state_dict(), "epoch": epoch,
                                               "step": step, "config": cfg.to_dict()}))

    def at_epoch_end(epoch: int, loss_mean: float | None) -> None:
        row = {"step": step, "epoch": epoch, "loss": loss_mean, "lr": optimizer.param_groups[0]["lr"]}
        if epoch in cfg.checkpoint_epochs:
            save_weights(checkpoint_path(cfg, name, epoch), epoch)
        if epoch in cfg.eval_epochs:
            ev = sample_and_score(sampling_model, cfg, epoch)
            _save_evaluation(_eval_path(cfg, name, epoch), ev)
            row.update(accuracy=ev.accuracy, accuracy_x=ev.accuracy_x, accuracy_y=ev.accuracy_y)
        row["wall_s"] = round(time.perf_counter() - t_start + wall_before, 2)  # evaluation included
        if loss_mean is not None or "accuracy" in row:
            rows.append(row)
        # metrics.csv is a progress view (last.pt holds the rows for resuming): rewriting it at every epoch
        # end costs ~20 ms with fsync, which dominates tiny datasets whose epochs are one or two steps.
        if "accuracy" in row or epoch in cfg.checkpoint_epochs or time.perf_counter() - metrics_written[0] > 30:
            _write_metrics(folder / "metrics.csv", rows)
            metrics_written[0] = time.perf_counter()

    t_start = time.perf_counter()
    metrics_written = [t_start]
    wall_before = rows[-1]["wall_s"] if rows else 0.0
    if step == 0 and perm is None:
        at_epoch_end(0, None)

    # shown as progress says; mirrored to ./run_all.sh's terminal whatever it says (gdlib.progress)
    bar = _progress.bar(total, f"training {name}/{cfg.key()}", visible=progress, initial=step)
    loss_sum = torch.full((), resumed_loss[0], device=device)  # training loss summed since the last row
    bad_step = torch.full((), -1, dtype=torch.long, device=device)
    n_in_sum, last_save = resumed_loss[1], time.perf_counter()

    def check_finite() -> None:
        bad = int(bad_step)
        if bad >= 0:
            raise NonFiniteLoss(f"the training loss became NaN or infinite at step {bad} "
                                f"(epoch {math.ceil(bad / spe)}) of run {name}/{cfg.key()}")

    model.train()
    try:
        while step < total:
            i = step % spe
            if i == 0 or perm is None:
                perm = torch.randperm(m, device=device, generator=generator)
            idx = perm[i * cfg.batch_size:(i + 1) * cfg.batch_size]
            x0 = images[idx].float().div_(127.5).sub_(1.0)
            loss = diffusion.loss(model, schedule, x0, labels[idx], generator)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if cfg.grad_clip > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            optimizer.step()
            scheduler.step()
            if ema is not None:
                with torch.no_grad():
                    ema_p, p = list(ema.parameters()), list(model.parameters())
                    torch._foreach_lerp_(ema_p, p, 1.0 - cfg.ema_decay)
            loss = loss.detach()
            step += 1  # steps are counted from 1, as in metrics.csv and on_step
            bad_step = torch.where((bad_step < 0) & ~torch.isfinite(loss), step, bad_step)
            loss_sum += loss
            n_in_sum += 1
            bar.update(1)
            if on_step is not None:
                on_step(step, float(loss))
            epoch_done = step % spe == 0 or step == total
            if step % cfg.log_every == 0 or epoch_done:
                check_finite()
                loss_mean = float(loss_sum) / n_in_sum
                loss_sum.zero_()
                n_in_sum = 0
                bar.set_postfix(loss=f"{loss_mean:.4f}")
                if epoch_done:
                    at_epoch_end(math.ceil(step / spe), loss_mean)
                else:
                    rows.append({"step": step, "epoch": round(step / spe, 3), "loss": loss_mean,
                                 "lr": optimizer.param_groups[0]["lr"],
                                 "wall_s": round(time.perf_counter() - t_start + wall_before, 2)})
                if (save_every and step % save_every == 0) or (
                        epoch_done and time.perf_counter() - last_save > save_interval_s):
                    save_resumable()
                    last_save = time.perf_counter()
            elif save_every and step % save_every == 0:
                check_finite()
                save_resumable()
                last_save = time.perf_counter()
    finally:
        bar.close()
    check_finite()
    final_epoch = math.ceil(step / spe)
    if final_epoch not in cfg.eval_epochs:  # the final accuracy is always measured
        ev = sample_and_score(sampling_model, cfg, "final")
        rows.append({"step": step, "epoch": final_epoch, "lr": optimizer.param_groups[0]["lr"],
                     "accuracy": ev.accuracy, "accuracy_x": ev.accuracy_x, "accuracy_y": ev.accuracy_y,
                     "wall_s": round(time.perf_counter() - t_start + wall_before, 2)})
        _write_metrics(folder / "metrics.csv", rows)
    else:
        ev = _cached_evaluation(_eval_path(cfg, name, final_epoch), cfg, "final") \
            or sample_and_score(sampling_model, cfg, "final")
    _save_evaluation(_eval_path(cfg, name, "final"), ev)
    save_weights(checkpoint_path(cfg, name, "final"), "final")
    last.unlink(missing_ok=True)
    previous.unlink(missing_ok=True)
    return folder


def final_state(cfg: TrainConfig, name: str) -> dict[str, torch.Tensor]:
    """The state dict saved in ``final.pt`` (for exact comparisons)."""
    return torch.load(checkpoint_path(cfg, name, "final"), map_location="cpu", weights_only=True)["model"]


def describe(cfg: TrainConfig, n_images: int | None = None) -> str:
    """One line for notebooks: model size, data size, steps."""
    params = sum(p.numel() for p in cfg.make_model().parameters())
    m = n_images if n_images is not None else len(make_dataset(cfg.data).labels)
    attention = ", ".join(f"N/{f}" if f > 1 else "N" for f in cfg.attention_resolutions) or "none"
    return (f"UNet width {cfg.width} ({params / 1e6:.2f} M parameters; attention at {attention}; "
            f"{cfg.heads} heads), {m} images, batch {cfg.batch_size}, {cfg.total_steps(m)} steps "
            f"({cfg.steps_per_epoch(m)} per epoch), {cfg.sampler} sampling; cache key {cfg.key()}")


__all__ = [
    "TrainConfig", "Evaluation", "NonFiniteLoss", "get_or_train", "ensure_trained", "lock_path", "train",
    "load_checkpoint", "load_metrics", "evaluate", "sample_and_score", "scored", "layer_activations", "saved_epochs",
    "run_dir", "checkpoint_path", "is_trained", "equal_batches_epochs", "with_equal_batches", "final_state",
    "describe", "finished_runs", "generates_requested",
]
