"""Ideal tori sampled on the data's grid of centres: the standard 3D torus and the Clifford torus.

Sec. 3.1, Fig. 2a, App. B: with periodic boundaries the latent space of the bump data is
S1 x S1. Two embeddings of it are the references for the learned representation:

* the standard (ring) torus in R^3, coupled: ``((R + r cos phi) cos theta, (R + r cos phi) sin theta,
  r sin phi)`` with R > r. Here ``theta = theta_x`` (from mu_x) is the toroidal angle, around the
  z axis, and ``phi = theta_y`` (from mu_y) the poloidal angle, around the tube;
* the Clifford torus in R^4, factorized: ``(r1 cos theta_x, r1 sin theta_x, r2 cos theta_y,
  r2 sin theta_y)``, each circle in its own orthogonal plane. The default radii 1/sqrt(2) put it on
  the unit 3-sphere (the usual definition); only the ratio r1 / r2 matters for the tests.

Angles come from the centres on an N-periodic canvas, ``theta = 2 pi mu / N`` (App. B: "a simulation
with similar spacing in x and y samples"), so the ideal tori have exactly the samples, in the same
order, as the representation they are compared with.
"""

from __future__ import annotations

import math

import numpy as np

from gdlib.checks import check_choice, check_int, check_range

TORUS_KINDS = ("3d", "clifford")


def _check_labels(labels: np.ndarray) -> np.ndarray:
    labels = np.asarray(labels, dtype=np.float64)
    if labels.ndim != 2 or labels.shape[1] != 2:
        raise ValueError(f"labels must have shape (n_samples, 2) = (mu_x, mu_y), got {labels.shape}")
    if not np.all(np.isfinite(labels)):
        raise ValueError("labels contain NaN or infinite values")
    return labels


def labels_to_angles(labels: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """``(theta_x, theta_y) = 2 pi (mu_x, mu_y) / n`` for centres on an ``n``-periodic canvas."""
    check_int("n", n, 1)
    labels = _check_labels(labels)
    theta = 2.0 * math.pi * labels / n
    return theta[:, 0], theta[:, 1]


def _add_noise(points: np.ndarray, noise: float, seed: int) -> np.ndarray:
    check_range("noise", noise, 0.0)
    check_int("seed", seed, 0)
    if noise > 0:
        points = points + noise * np.random.default_rng(seed).standard_normal(points.shape)
    return points


def torus_3d(
    labels: np.ndarray, n: int, R: float = 2.0, r: float = 1.0, noise: float = 0.0, seed: int = 0
) -> np.ndarray:
    """Standard 3D torus at the centres ``labels`` (n_samples, 2), shape (n_samples, 3).

    mu_x sets the toroidal angle (around the z axis), mu_y the poloidal angle (around the tube);
    ``noise`` is the standard deviation of isotropic Gaussian noise added to every coordinate, drawn
    with ``seed``. R > r > 0 so the torus does not self-intersect.
    """
    check_range("r", r, 0.0, low_open=True)
    check_range("R", R, r, low_open=True)
    theta, phi = labels_to_angles(labels, n)
    ring = R + r * np.cos(phi)
    points = np.stack([ring * np.cos(theta), ring * np.sin(theta), r * np.sin(phi)], axis=1)
    return _add_noise(points, noise, seed)


def clifford_torus(
    labels: np.ndarray,
    n: int,
    r1: float = 1.0 / math.sqrt(2.0),
    r2: float = 1.0 / math.sqrt(2.0),
    noise: float = 0.0,
    seed: int = 0,
) -> np.ndarray:
    """Clifford torus in R^4 at the centres ``labels`` (n_samples, 2), shape (n_samples, 4).

    The mu_x circle (radius r1) lies in coordinates 0-1, the mu_y circle (radius r2) in 2-3: the
    factorized torus of Sec. 3.1. ``noise`` as in :func:`torus_3d`.
    """
    check_range("r1", r1, 0.0, low_open=True)
    check_range("r2", r2, 0.0, low_open=True)
    tx, ty = labels_to_angles(labels, n)
    points = np.stack([r1 * np.cos(tx), r1 * np.sin(tx), r2 * np.cos(ty), r2 * np.sin(ty)], axis=1)
    return _add_noise(points, noise, seed)


def ideal_torus(kind: str, labels: np.ndarray, n: int, noise: float = 0.0, seed: int = 0) -> np.ndarray:
    """``torus_3d`` (kind "3d") or ``clifford_torus`` (kind "clifford") with default radii."""
    check_choice("kind", kind, TORUS_KINDS)
    if kind == "3d":
        return torus_3d(labels, n, noise=noise, seed=seed)
    return clifford_torus(labels, n, noise=noise, seed=seed)


def infer_period(labels: np.ndarray) -> int:
    """Canvas size N of a full unit-spaced grid of integer centres: the number of distinct mu_x values.

    Raises ValueError unless mu_x and mu_y each take N consecutive integer values (as 1..N of App. A.3);
    pass N explicitly for any other layout.
    """
    labels = _check_labels(labels)
    sizes = []
    for col, name in ((0, "mu_x"), (1, "mu_y")):
        values = np.unique(labels[:, col])
        consecutive = np.allclose(values, np.round(values)) and np.allclose(np.diff(values), 1.0)
        if not consecutive:
            raise ValueError(f"{name} values are not consecutive integers: pass the canvas size n explicitly")
        sizes.append(len(values))
    if sizes[0] != sizes[1]:
        raise ValueError(
            f"mu_x takes {sizes[0]} values and mu_y {sizes[1]}: pass the canvas size n explicitly"
        )
    return sizes[0]
