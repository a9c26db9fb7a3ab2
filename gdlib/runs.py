"""The run folder of a trained model: checkpoints, metrics, and the evaluations of App. A.3.

``outputs/models/<name>/<cfg.key()>/`` (:func:`run_dir`) holds

- ``config.json``: the :class:`~gdlib.config.TrainConfig` (its key is the folder name);
- ``metrics.csv``: step, epoch, training loss (mean since the previous row), lr, and the accuracy
  (joint, x, y; App. A.3) at the evaluation epochs;
- ``ckpt_epochNNNN.pt`` at the checkpoint epochs (epoch 0 = untrained), ``ckpt_stepNNNNNNN.pt`` after the
  checkpoint steps (learning curves, :mod:`gdlib.curves`) and ``final.pt``: the
  weights that sample (the EMA weights when EMA is on), for the representation over training (Fig. 2);
- ``eval_epochNNNN_<sampling>.npz`` and ``eval_final_<sampling>.npz``: the samples of each evaluation (uint8
  images, labels, estimated centres and the layer-4 activations at the last denoising step), reused by notebooks
  02-04, one file per evaluation setting (:meth:`gdlib.config.SampleConfig.tag`, e.g. ``ddim50-eta1``): sampling
  is not training, so the run folder (keyed without the sampler) holds the evaluations of every sampler;
- while training, ``last.pt`` and ``last.prev.pt``: the resumable state (:mod:`gdlib.training`); after a
  constant-schedule run, ``end.pt``: that state at its last step, which a longer run continues
  (:mod:`gdlib.continuation`).

A cache file that cannot be read (truncated, corrupted) is never used silently: an unreadable
evaluation is moved aside with a warning and sampled again; an unreadable checkpoint raises
:class:`~gdlib.paths.CorruptFileError` naming the file and what to do, since only training writes it.
"""

from __future__ import annotations

import csv
import io
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from gdlib import device as _device
from gdlib import diffusion
from gdlib.accuracy import accuracy, classify_shape, estimate_centres, strict
from gdlib.claims import Outcome, Part
from gdlib.config import TrainConfig
from gdlib.model import UNet
from gdlib.paths import (
    CorruptFileError,
    CorruptFileWarning,
    atomic_write_bytes,
    atomic_write_text,
    describe_error,
    move_aside,
    outputs_dir,
)
from gdlib.regions import evaluation_grid

METRIC_COLUMNS = ("step", "epoch", "loss", "lr", "accuracy", "accuracy_x", "accuracy_y", "wall_s")


def run_dir(cfg: TrainConfig, name: str) -> Path:
    """``outputs/models/<name>/<cfg.key()>``."""
    if not name or "/" in name or name.startswith("."):
        raise ValueError(f"name = {name!r} is not allowed: must be a plain folder name")
    return outputs_dir() / "models" / name / cfg.key()


def step_point(step: int) -> str:
    """The name of the checkpoint saved after ``step`` optimiser steps (``TrainConfig.checkpoint_steps``), to pass
    wherever an epoch is asked for (:func:`checkpoint_path`, :func:`load_checkpoint`, :func:`evaluate`)."""
    return f"step{int(step):07d}"


def point_tag(epoch: int | str) -> str:
    """``final``, ``stepNNNNNNN`` (:func:`step_point`) or ``epochNNNN``: how files of one checkpoint are named."""
    if epoch == "final" or (isinstance(epoch, str) and epoch.startswith("step")):
        return str(epoch)
    return f"epoch{int(epoch):04d}"


def checkpoint_path(cfg: TrainConfig, name: str, epoch: int | str) -> Path:
    """``final.pt`` for ``epoch="final"``, ``ckpt_stepNNNNNNN.pt`` for a :func:`step_point`, else
    ``ckpt_epochNNNN.pt``."""
    base = run_dir(cfg, name)
    return base / "final.pt" if epoch == "final" else base / f"ckpt_{point_tag(epoch)}.pt"


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


def torch_bytes(obj) -> bytes:
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


def write_metrics(path: Path, rows: list[dict]) -> None:
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


def eval_path(cfg: TrainConfig, name: str, epoch: int | str) -> Path:
    """``eval_<final|epochNNNN>_<sampling tag>.npz``: an evaluation is keyed by its checkpoint and by the
    evaluation settings (:class:`~gdlib.config.SampleConfig`), so another sampler gives new samples."""
    return run_dir(cfg, name) / f"eval_{point_tag(epoch)}_{cfg.sampling.tag()}.npz"


def sample_and_score(model: torch.nn.Module, cfg: TrainConfig, epoch: int | str = "final",
                     layers: tuple[str, ...] = ("layer4",), progress: bool | None = False,
                     labels: np.ndarray | None = None) -> Evaluation:
    """App. A.3: sample the N*N integer centres (or ``labels``) with the config's sampler, estimate centres,
    score, and keep ``layers``' activations at the last denoising step. The seed depends on the config's seed
    only, so every checkpoint is sampled from the same noise."""
    n = cfg.data.n
    labels = evaluation_grid(n) if labels is None else np.asarray(labels, dtype=np.float32)
    how = cfg.sampling
    out = diffusion.sample(model, cfg.schedule(), labels, n, method=how.sampler, steps=how.steps,
                           eta=how.eta, seed=cfg.seed + 12345, batch_size=cfg.sample_batch_size,
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


def save_evaluation(path: Path, ev: Evaluation) -> None:
    buf = io.BytesIO()
    np.savez(buf, images=ev.images, labels=ev.labels, centres=ev.centres,
             accuracy=np.array([ev.accuracy, ev.accuracy_x, ev.accuracy_y]),
             **{f"act_{k}": v for k, v in ev.activations.items()})
    atomic_write_bytes(path, buf.getvalue())


def load_evaluation(path: Path, cfg: TrainConfig, epoch: int | str) -> Evaluation:
    # Centres and accuracy are recomputed from the stored samples (milliseconds), so a cached evaluation
    # always follows the current centre estimator (App. A.3) rather than the one it was sampled under.
    with np.load(path) as z:
        acts = {k[4:]: z[k] for k in z.files if k.startswith("act_")}
        return scored(cfg, epoch, z["images"], z["labels"], acts)


def cached_evaluation(path: Path, cfg: TrainConfig, epoch: int | str) -> Evaluation | None:
    """The evaluation stored in ``path``, or None (after moving it aside, with a warning) when unreadable."""
    try:
        return load_evaluation(path, cfg, epoch)
    except Exception as err:  # a truncated or damaged npz, a missing array
        move_aside(path, err, "the checkpoint is sampled again")
        return None


def evaluate(cfg: TrainConfig, name: str, epoch: int | str = "final", layers: tuple[str, ...] = ("layer4",),
             cache: bool = True, progress: bool | None = False) -> Evaluation:
    """The :class:`Evaluation` of a saved checkpoint (``epoch`` int or ``"final"``): read from
    ``eval_*.npz`` when cached with the requested layers, else sampled (and cached)."""
    path = eval_path(cfg, name, epoch)
    if cache and path.exists():
        ev = cached_evaluation(path, cfg, epoch)
        if ev is not None and all(layer in ev.activations for layer in layers):
            return ev
    with _device.threads(cfg.threads):
        ev = sample_and_score(load_checkpoint(cfg, name, epoch), cfg, epoch, layers, progress)
    if cache:
        save_evaluation(path, ev)
    return ev


def layer_activations(cfg: TrainConfig, name: str, epoch: int | str = "final", layer: str = "layer4",
                      flatten: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """(labels (N*N, 2), activations) of ``layer`` at the last denoising step for the N*N evaluation
    centres (App. A.3), for any saved checkpoint; ``flatten`` gives (N*N, C*H*W)."""
    ev = evaluate(cfg, name, epoch, layers=(layer,))
    acts = ev.activations[layer]
    return ev.labels, acts.reshape(len(acts), -1) if flatten else acts


def lock_path(cfg: TrainConfig, name: str) -> Path:
    """The lock file of a run, beside its folder (``<name>/<key>.lock``, :class:`gdlib.locks.RunLock`)."""
    folder = run_dir(cfg, name)
    return folder.with_name(folder.name + ".lock")


def final_state(cfg: TrainConfig, name: str) -> dict[str, torch.Tensor]:
    """The state dict saved in ``final.pt`` (for exact comparisons)."""
    return torch.load(checkpoint_path(cfg, name, "final"), map_location="cpu", weights_only=True)["model"]


__all__ = [
    "METRIC_COLUMNS", "run_dir", "step_point", "point_tag", "checkpoint_path", "lock_path", "finished_runs",
    "is_trained", "saved_epochs",
    "load_checkpoint", "load_metrics", "write_metrics", "Evaluation", "generates_requested", "eval_path",
    "sample_and_score", "scored", "save_evaluation", "cached_evaluation", "evaluate", "layer_activations",
    "final_state", "torch_bytes", "load_evaluation",
]
