"""Orthogonality and parallelism tests of tori (App. B, Cueva et al. 2021; Fig. 3 and Fig. 8).

Rings. For each value a of mu_x, the ring S(fix x = a) is the set of samples with mu_x = a, sweeping
mu_y; S(fix y = b) likewise. The plane of a ring is spanned by the top two principal components of
its centred points (App. B.2).

Families of ring pairs (Sec. 3.1): "x-on-y" = S(fix x) vs S(fix y); "x-on-x" = S(fix x1) vs
S(fix x2) with x1 != x2; "y-on-y" likewise. Pairs are ordered (A, B) and drawn at random without
replacement from all pairs of the family with a seed, ``n_pairs`` of them (default 500: about half
of the 1024 x-on-y and 992 x-on-x pairs of the 32 x 32 grid), or all when fewer exist.

Statistics of a pair (A, B), with P_A, P_B the (D, 2) orthonormal plane bases:

* orthogonality: the two principal angles between the planes, in degrees, sorted increasingly
  (as ``scipy.linalg.subspace_angles`` computes them; their cosines are the singular values of
  P_A^T P_B, i.e. the cosine similarities between the planes' principal vectors that App. B describes,
  made independent of the arbitrary rotation of the PCs within a circle's plane). 0 deg = the planes share a
  direction, (90, 90) = orthogonal planes, (0, 0) = parallel planes.
* parallelism: App. B Eq. 3 reconstruction error of ring B's centred points h projected on A's plane,
  normalised by their squared norm: ``r = sum |h - P_A P_A^T h|^2 / sum |h|^2`` in [0, 1]; 0 = B lies
  in a plane parallel to A's, 1 = B is orthogonal to A's plane. For a circle B it equals the mean
  of sin^2 of the two principal angles.

What the ideal tori give (derived from the parametrisations in :mod:`gdlib.tori`, checked in
tests/test_torus_geometry.py):

* Clifford torus: S(fix x) all lie in the (e3, e4) plane and S(fix y) in (e1, e2). x-on-y angles
  (90, 90), parallelism 1; x-on-x and y-on-y angles (0, 0), parallelism 0.
* 3D torus (mu_x toroidal angle theta, mu_y poloidal): S(fix x = theta) is a poloidal circle in the
  vertical plane span(u(theta), e_z), u(theta) = (cos theta, sin theta, 0); S(fix y) is a horizontal
  circle. x-on-y: angles (0, 90) (they share u(theta)), parallelism 1/2. x-on-x: angles
  (0, arccos |cos(theta1 - theta2)|), parallelism sin^2(theta1 - theta2) / 2 in [0, 1/2]: the planes
  rotate about the z axis, so different x are not parallel. y-on-y: (0, 0) and 0, as for Clifford.
  So x-on-y and x-on-x tell the two tori apart; y-on-y does not (it would with the roles swapped).

The paper finds the model's x-on-y statistics Clifford-like (factorized) and its x-on-x and y-on-y
statistics like the 3D torus's x-on-y ("hyper-factorized", Sec. 3.1).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from scipy.linalg import subspace_angles
from scipy.stats import wasserstein_distance

from gdlib.checks import check_choice, check_int
from gdlib.regions import grid
from gdlib.spectrum import pca
from gdlib.tori import TORUS_KINDS, ideal_torus, infer_period

FAMILIES = ("x-on-y", "x-on-x", "y-on-y")
STATISTICS = ("orthogonality", "parallelism")
DEFAULT_N_PAIRS = 500
# Fig. 3 colours: 3D torus blue, model green, Clifford torus orange.


@dataclass(frozen=True)
class TorusTestResult:
    """Statistics of the torus tests, per family (App. B).

    ``orthogonality[family]``: (n_pairs, 2) principal angles in degrees, increasing along a row.
    ``parallelism[family]``: (n_pairs,) normalised reconstruction errors in [0, 1].
    ``pairs[family]``: (n_pairs, 2) the fixed label values of rings (A, B) of each pair.
    """

    orthogonality: dict[str, np.ndarray]
    parallelism: dict[str, np.ndarray]
    pairs: dict[str, np.ndarray] = field(default_factory=dict)

    def statistic(self, family: str, statistic: str) -> np.ndarray:
        """The flat sample of one statistic of one family (both angles of every pair for orthogonality)."""
        check_choice("family", family, FAMILIES)
        check_choice("statistic", statistic, STATISTICS)
        values = self.orthogonality[family] if statistic == "orthogonality" else self.parallelism[family]
        return np.ravel(values)


def ring_planes(
    h: np.ndarray, labels: np.ndarray, axis: int
) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """Rings with fixed ``labels[:, axis]``: their fixed values, centred points and plane bases.

    Returns ``(values, centred, bases)``: ``values`` (m,) the sorted distinct fixed values; ``centred[i]``
    (n_i, D) the ring's points minus their mean; ``bases`` (m, D, 2) the top-2 PC directions as columns.
    ``axis = 0`` gives the rings S(fix x), ``axis = 1`` S(fix y).
    """
    check_choice("axis", axis, (0, 1))
    values = np.unique(labels[:, axis])
    centred, bases = [], []
    for v in values:
        pts = h[labels[:, axis] == v]
        if pts.shape[0] < 3:
            raise ValueError(
                f"ring with label[{axis}] = {v} has {pts.shape[0]} samples: at least 3 are needed for a plane"
            )
        c = pts - pts.mean(axis=0)
        basis = pca(pts, 2).components.T if min(pts.shape) >= 2 else np.zeros((pts.shape[1], 1))
        if basis.shape[1] < 2 or not np.allclose(basis.T @ basis, np.eye(2), atol=1e-6):
            raise ValueError(f"ring with label[{axis}] = {v} spans fewer than 2 dimensions")
        centred.append(c)
        bases.append(basis)
    return values, centred, np.stack(bases)


def _draw_pairs(m_a: int, m_b: int, same: bool, n_pairs: int | None, rng: np.random.Generator) -> np.ndarray:
    pairs = grid(np.arange(m_a), np.arange(m_b), order="y fastest").astype(np.int64)  # (ring of A, ring of B)
    if same:
        pairs = pairs[pairs[:, 0] != pairs[:, 1]]
    if n_pairs is not None and n_pairs < len(pairs):
        pairs = pairs[np.sort(rng.choice(len(pairs), size=n_pairs, replace=False))]
    return pairs


def principal_angles_deg(basis_a: np.ndarray, basis_b: np.ndarray) -> np.ndarray:
    """Principal angles between the spans of two (D, k) bases, in degrees, increasing
    (``scipy.linalg.subspace_angles``, accurate near 0 and near 90 degrees alike)."""
    return np.sort(np.degrees(subspace_angles(basis_a, basis_b)))


def parallelism_error(points_b: np.ndarray, basis_a: np.ndarray) -> float:
    """App. B Eq. 3, normalised: ``sum |h - P P^T h|^2 / sum |h|^2``.

    ``points_b`` are ring B's centred points h (n, D), ``basis_a`` = P (D, 2) ring A's plane basis.
    """
    total = float(np.sum(points_b**2))
    if not total > 0:
        raise ValueError("a ring has zero variance: the parallelism error is undefined")
    # |h - P P^T h|^2 = |h|^2 - |P^T h|^2 for orthonormal P: no D-dimensional residual needed.
    kept = float(np.sum((points_b @ basis_a) ** 2))
    return float(np.clip(1.0 - kept / total, 0.0, 1.0))


def torus_tests(
    h: np.ndarray, labels: np.ndarray, n_pairs: int | None = DEFAULT_N_PAIRS, seed: int = 0
) -> TorusTestResult:
    """Orthogonality and parallelism statistics of ``h`` (n, D) with centres ``labels`` (n, 2) (App. B.2).

    ``n_pairs`` ring pairs per family are drawn with ``seed`` (None = every ordered pair). The same
    labels, n_pairs and seed draw the same pairs, so a model and the ideal tori simulated on its grid
    are compared pair by pair.
    """
    h = np.asarray(h, dtype=np.float64)
    labels = np.asarray(labels, dtype=np.float64)
    if h.ndim != 2 or labels.shape != (h.shape[0], 2):
        raise ValueError(f"h must be (n, D) and labels (n, 2); got {h.shape} and {labels.shape}")
    if n_pairs is not None:
        check_int("n_pairs", n_pairs, 1)
    check_int("seed", seed, 0)
    if h.shape[1] > h.shape[0]:
        # Exact speed-up for wide data (layer 4: 16,384 features, 1024 samples): rings, their planes and
        # projections live in the span of the centred data, and the statistics are invariant to
        # rotations and translations, so PCA coordinates (n_samples dimensions) give the same values.
        h = pca(h).project(h)
    rng = np.random.default_rng(seed)
    rings = {0: ring_planes(h, labels, 0), 1: ring_planes(h, labels, 1)}
    orth, par, pairs_out = {}, {}, {}
    for family, (ax_a, ax_b) in zip(FAMILIES, ((0, 1), (0, 0), (1, 1)), strict=True):
        vals_a, _, bases_a = rings[ax_a]
        vals_b, cent_b, bases_b = rings[ax_b]
        pairs = _draw_pairs(len(vals_a), len(vals_b), ax_a == ax_b, n_pairs, rng)
        if len(pairs) == 0:
            raise ValueError(f"no ring pairs for family {family}: the labels need at least 2 values per axis")
        orth[family] = np.array([principal_angles_deg(bases_a[i], bases_b[j]) for i, j in pairs])
        par[family] = np.array([parallelism_error(cent_b[j], bases_a[i]) for i, j in pairs])
        pairs_out[family] = np.stack([vals_a[pairs[:, 0]], vals_b[pairs[:, 1]]], axis=1)
    return TorusTestResult(orthogonality=orth, parallelism=par, pairs=pairs_out)


def ideal_torus_tests(
    labels: np.ndarray,
    n: int | None = None,
    n_pairs: int | None = DEFAULT_N_PAIRS,
    seed: int = 0,
    noise: float = 0.0,
) -> dict[str, TorusTestResult]:
    """Torus tests of the ideal 3D and Clifford tori simulated at ``labels`` on an ``n``-periodic canvas.

    Keys "3d" and "clifford". ``n`` defaults to :func:`gdlib.tori.infer_period` (N of a unit grid
    1..N). ``noise`` (Gaussian, standard deviation in the tori's units, drawn with ``seed``) is 0 by
    default: App. B does not add any.
    """
    labels = np.asarray(labels, dtype=np.float64)
    n = infer_period(labels) if n is None else n
    return {
        kind: torus_tests(ideal_torus(kind, labels, n, noise=noise, seed=seed), labels, n_pairs, seed)
        for kind in TORUS_KINDS
    }


def wasserstein_distances(a: TorusTestResult, b: TorusTestResult) -> dict[str, dict[str, float]]:
    """1-Wasserstein distance between two results, ``{family: {statistic: distance}}`` (App. B, Fig. 8).

    Orthogonality distances are in degrees (both principal angles of every pair pooled), parallelism
    distances in units of the normalised error (0..1).
    """
    return {
        family: {
            stat: float(wasserstein_distance(a.statistic(family, stat), b.statistic(family, stat)))
            for stat in STATISTICS
        }
        for family in FAMILIES
    }


def distances_to_ideal_tori(
    h: np.ndarray,
    labels: np.ndarray,
    n: int | None = None,
    n_pairs: int | None = DEFAULT_N_PAIRS,
    seed: int = 0,
    ideal: Mapping[str, TorusTestResult] | None = None,
) -> dict[str, dict[str, dict[str, float]]]:
    """Wasserstein distances of a representation's statistics to each ideal torus (App. B, Fig. 8).

    Returns ``{"3d" | "clifford": {family: {statistic: distance}}}``. Pass ``ideal`` (from
    :func:`ideal_torus_tests` with the same labels, n_pairs and seed) to reuse it across checkpoints.
    """
    model = torus_tests(h, labels, n_pairs=n_pairs, seed=seed)
    if ideal is None:
        ideal = ideal_torus_tests(labels, n=n, n_pairs=n_pairs, seed=seed)
    return {kind: wasserstein_distances(model, ideal[kind]) for kind in TORUS_KINDS}


