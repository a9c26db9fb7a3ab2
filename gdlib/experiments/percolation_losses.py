"""The losses of Fig. 14c (Sec. 3.3, App. D.2): Eq. 2 (App. A.4) of a trained model on its training set and on the
lattice sites it never saw, measured so that every model sees the same draws.

Choice where the paper is silent: the losses are measured after training with the final (EMA) weights at
``timesteps`` fixed timesteps, the midpoints of ``timesteps`` equal strata of [0, T) (the same t for every image,
a midpoint rule for the expectation over uniform t of Eq. 2), with noise drawn per lattice site and timestep from
a seeded generator: every model, and both splits, see the same draws at a site. The validation set of a model is
the complement of its training set on the lattice (``make_dataset(cfg, split="heldout")``); at lambda = 1 it is
empty and the validation loss is NaN.
"""

from __future__ import annotations

import numpy as np
import torch

from gdlib import diffusion
from gdlib.checks import check_choice, check_int
from gdlib.config import TrainConfig
from gdlib.datasets import DatasetConfig, grid_centres, make_dataset
from gdlib.regions import nearest_indices
from gdlib.runs import load_checkpoint

_MAX_NOISE_VALUES = 50_000_000  # sites x pixels drawn at once by diffusion_loss


def loss_timesteps(T: int, timesteps: int) -> np.ndarray:
    """The midpoints of ``timesteps`` equal strata of [0, T): the t at which every image is scored."""
    check_int("timesteps", timesteps, 1, T)
    return np.floor((np.arange(timesteps) + 0.5) * T / timesteps).astype(np.int64)


def _site_index(cfg: DatasetConfig, labels: np.ndarray) -> np.ndarray:
    index, dist = nearest_indices(labels, grid_centres(cfg), return_distance=True)
    if np.any(dist > 1e-4):
        raise ValueError(f"label {tuple(np.asarray(labels)[np.argmax(dist)])} is not on the dataset's grid")
    return index


@torch.no_grad()
def diffusion_loss(model: torch.nn.Module, cfg: TrainConfig, split: str = "train", timesteps: int = 10,
                   seed: int = 0, batch_size: int = 256) -> float:
    """Eq. 2 (App. A.4) of ``model`` on ``cfg``'s training set or its held-out complement, deterministic.

    Every image is noised at the same ``timesteps`` fixed t (:func:`loss_timesteps`); the noise of a
    (lattice site, t) pair comes from a generator seeded by ``seed`` and t, so it is the same for every
    model, sigma, lambda and split. Returns the mean squared error over images, timesteps and pixels
    (NaN when the split is empty, e.g. the held-out set at lambda = 1). Runs on the model's device.
    """
    check_choice("split", split, ("train", "heldout"))
    check_int("seed", seed, 0)
    check_int("batch_size", batch_size, 1)
    data = make_dataset(cfg.data, split=split)
    if len(data) == 0:
        return float("nan")
    n = cfg.data.n
    sites = _site_index(cfg.data, data.labels)
    n_sites = len(grid_centres(cfg.data))
    if n_sites * n * n > _MAX_NOISE_VALUES:
        raise ValueError(f"data = {cfg.data} is not allowed: {n_sites} grid sites of {n}x{n} pixels is too many "
                         "for per-site noise (meant for the lattice at d = 1)")
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    schedule = cfg.schedule()
    x0_all = torch.from_numpy(np.ascontiguousarray(data.images)).to(dev).unsqueeze(1).float().div_(127.5).sub_(1.0)
    labels_all = torch.from_numpy(np.ascontiguousarray(data.labels, dtype=np.float32)).to(dev)
    total, count = 0.0, 0
    try:
        for t in loss_timesteps(cfg.T, timesteps):
            gen = torch.Generator(device="cpu").manual_seed(int(seed) * 1_000_003 + int(t))
            noise_all = torch.randn((n_sites, 1, n, n), generator=gen)[torch.from_numpy(sites)].to(dev)
            for start in range(0, len(data), batch_size):
                x0 = x0_all[start:start + batch_size]
                noise = noise_all[start:start + batch_size]
                tt = torch.full((len(x0),), int(t), dtype=torch.long, device=dev)
                mse = diffusion.loss(model, schedule, x0, labels_all[start:start + batch_size], t=tt, noise=noise)
                total += float(mse) * noise.numel()
                count += noise.numel()
    finally:
        if was_training:
            model.train()
    return total / count


def final_losses(cfg: TrainConfig, name: str, timesteps: int = 10, seed: int = 0) -> tuple[float, float]:
    """(training loss, validation loss) of the finished model of ``cfg`` under ``name`` (Fig. 14c)."""
    model = load_checkpoint(cfg, name, "final")
    return (diffusion_loss(model, cfg, "train", timesteps, seed),
            diffusion_loss(model, cfg, "heldout", timesteps, seed))


__all__ = ["loss_timesteps", "diffusion_loss", "final_losses"]
