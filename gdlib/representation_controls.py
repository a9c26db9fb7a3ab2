"""Representation controls and references that cost no learning (issue 22), for claims C1-C5.

- :func:`conditioning_input`: what the network is told, [enc(mu_x), enc(mu_y)], the label part of the UNet's own
  embedding (:meth:`gdlib.model.UNet.embed`). A reference: a layer that only passes its input on would score this.
  It is factorised by construction (x and y in disjoint coordinates), so it passes C4's contrast (x-on-y at 90
  degrees, x-on-x and y-on-y at 0); it is not periodic in mu, so it is no torus (C3).
- The data's own pixels at the same centres (:func:`gdlib.representation.pixel_representation`) are a control of
  C2-C5: a bump's image is the product of an x and a y profile, so pixels are factorised and, on periodic data,
  a torus too (Betti (1, 2, 1) at N = 16 and 32).
- C1 reads a trajectory over checkpoints, so its controls must be trajectories that can move:
  :func:`sample_pixel_trajectory` (the PR of the model's own samples' pixels at each checkpoint: what the images
  alone explain) and :func:`untrained_on_samples` (the untrained network's layer 4 fed each checkpoint's samples:
  what a network that learnt nothing makes of the same images). Like the model's, each trajectory carries the PRs
  of resamples of the centres, the same resample at every checkpoint (:func:`gdlib.representation.trajectory`), from
  which C1's 95% intervals are read.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch

from gdlib.model import capture
from gdlib.representation import PR_RESAMPLES, CheckpointRepresentation, PRTrajectory, from_h, trajectory


def conditioning_input(cfg, labels: np.ndarray) -> CheckpointRepresentation:
    """[enc(mu_x), enc(mu_y)] at ``labels``: the UNet's embedding of ``cfg`` without its timestep part (App. A.1)."""
    model = cfg.make_model()
    lab = torch.as_tensor(np.asarray(labels, dtype=np.float32))
    with torch.no_grad():
        emb = model.embed(torch.zeros(len(lab), dtype=torch.long), lab)
    return from_h("conditioning input", np.asarray(labels), emb[:, model.enc_dim:].numpy())


def sample_pixel_trajectory(evaluations: Sequence, resamples: int = PR_RESAMPLES, seed: int = 0) -> PRTrajectory:
    """C1's control: (epochs, PR of each checkpoint's generated images' pixels, resamples), from
    :class:`gdlib.runs.Evaluation` s in epoch order. Early samples are noisy, late ones bumps: the trajectory moves as
    the samples change."""
    return trajectory([ev.epoch for ev in evaluations], [ev.images for ev in evaluations], resamples, seed)


def untrained_on_samples(cfg, evaluations: Sequence, layer: str = "layer4", batch_size: int = 256,
                         resamples: int = PR_RESAMPLES, seed: int = 0) -> PRTrajectory:
    """C1's control: (epochs, PR of the untrained network's ``layer`` on each checkpoint's samples, resamples). The
    network is initialised as training initialises it (``cfg.seed``) and fed each checkpoint's images (scaled to
    [-1, 1]) and labels at t = 0, the last denoising step at which the model's own representation is captured."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = cfg.make_model().eval()
    hs = []
    for ev in evaluations:
        h = []
        for start in range(0, len(ev.images), batch_size):
            x = torch.as_tensor(ev.images[start:start + batch_size], dtype=torch.float32)[:, None] / 127.5 - 1.0
            lab = torch.as_tensor(np.asarray(ev.labels[start:start + batch_size], dtype=np.float32))
            with torch.no_grad(), capture(model, [layer]) as got:
                model(x, torch.zeros(len(x), dtype=torch.long), lab)
            h.append(got[layer].reshape(len(x), -1).numpy())
        hs.append(np.concatenate(h))
    return trajectory([ev.epoch for ev in evaluations], hs, resamples, seed)


__all__ = ["conditioning_input", "sample_pixel_trajectory", "untrained_on_samples"]
