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
AXES = ((0, 1), (0, 0), (1, 1))  # the fixed label of ring A and of ring B in each family
STATISTICS = ("orthogonality", "parallelism")
DEFAULT_N_PAIRS = 500
# Fig. 3 colours: 3D torus blue, model green, Clifford torus orange.


@dataclass(frozen=True)
class TorusTestResult:
    """Statistics of the torus tests, per family (App. B).

    ``orthogonality[family]``: (n_pairs, 2) principal angles in degrees, increasing along a row.
    ``parallelism[family]``: (n_pairs,) normalised reconstruction errors in [0, 1].
    ``pairs[family]``: (n_pairs, 2) the fixed label values of rings (A, B) of each pair.
    ``resampled``: the same tests on resamples of the points (:func:`resampled_torus_tests`; empty when not asked
    for), from which the claims' 95% intervals are read.
    """

    orthogonality: dict[str, np.ndarray]
    parallelism: dict[str, np.ndarray]
    pairs: dict[str, np.ndarray] = field(default_factory=dict)
    resampled: tuple[TorusTestResult, ...] = field(default=(), repr=False, compare=False)

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


def family_pairs(m_x: int, m_y: int, n_pairs: int | None, seed: int) -> dict[str, np.ndarray]:
    """The ring pairs (index of ring A, of ring B) of each family for ``m_x`` x-rings and ``m_y`` y-rings, drawn with
    one generator seeded by ``seed`` in the order of :data:`FAMILIES` (what :func:`torus_tests` compares)."""
    rng = np.random.default_rng(seed)
    m = (m_x, m_y)
    out = {f: _draw_pairs(m[a], m[b], a == b, n_pairs, rng) for f, (a, b) in zip(FAMILIES, AXES, strict=True)}
    empty = [f for f, p in out.items() if len(p) == 0]
    if empty:
        raise ValueError(f"no ring pairs for family {empty[0]}: the labels need at least 2 values per axis")
    return out


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


def _checked(h: np.ndarray, labels: np.ndarray, n_pairs: int | None, seed: int) -> tuple[np.ndarray, np.ndarray]:
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
    return h, labels


def torus_tests(
    h: np.ndarray, labels: np.ndarray, n_pairs: int | None = DEFAULT_N_PAIRS, seed: int = 0, resamples: int = 0
) -> TorusTestResult:
    """Orthogonality and parallelism statistics of ``h`` (n, D) with centres ``labels`` (n, 2) (App. B.2).

    ``n_pairs`` ring pairs per family are drawn with ``seed`` (None = every ordered pair). The same
    labels, n_pairs and seed draw the same pairs, so a model and the ideal tori simulated on its grid
    are compared pair by pair. ``resamples`` > 0: the result carries that many :func:`resampled_torus_tests`.
    """
    h, labels = _checked(h, labels, n_pairs, seed)
    rings = {0: ring_planes(h, labels, 0), 1: ring_planes(h, labels, 1)}
    orth, par, pairs_out = {}, {}, {}
    drawn = family_pairs(len(rings[0][0]), len(rings[1][0]), n_pairs, seed)
    for family, (ax_a, ax_b) in zip(FAMILIES, AXES, strict=True):
        vals_a, _, bases_a = rings[ax_a]
        vals_b, cent_b, bases_b = rings[ax_b]
        pairs = drawn[family]
        orth[family] = np.array([principal_angles_deg(bases_a[i], bases_b[j]) for i, j in pairs])
        par[family] = np.array([parallelism_error(cent_b[j], bases_a[i]) for i, j in pairs])
        pairs_out[family] = np.stack([vals_a[pairs[:, 0]], vals_b[pairs[:, 1]]], axis=1)
    resampled = resampled_torus_tests(h, labels, n_pairs, seed, resamples) if resamples else ()
    return TorusTestResult(orthogonality=orth, parallelism=par, pairs=pairs_out, resampled=resampled)


def _resampled_planes(h: np.ndarray, rows: np.ndarray, ring: np.ndarray,
                      m: int) -> tuple[np.ndarray, list[np.ndarray], np.ndarray]:
    """(bases (m, D, 2), centred points of each ring, whether each ring has a plane) of the drawn ``rows`` of ``h``,
    whose ring indices are ``ring``: a ring with fewer than 3 distinct points (repeats) has none (zero basis)."""
    bases, centred, valid = np.zeros((m, h.shape[1], 2)), [], np.zeros(m, dtype=bool)
    order = np.argsort(ring, kind="stable")
    for i, members in enumerate(np.split(rows[order], np.searchsorted(ring[order], np.arange(1, m)))):
        pts = h[members]
        c = pts - pts.mean(axis=0) if len(pts) else np.zeros((1, h.shape[1]))
        centred.append(c)
        if len(set(members.tolist())) >= 3:  # the top two PCs from the ring's small Gram matrix
            evals, evecs = np.linalg.eigh(c @ c.T)
            valid[i] = evals[-2] > evals[-1] * 1e-12
            if valid[i]:
                bases[i] = c.T @ (evecs[:, [-1, -2]] / np.sqrt(evals[[-1, -2]]))
    return bases, centred, valid


def resampled_torus_tests(h: np.ndarray, labels: np.ndarray, n_pairs: int | None = DEFAULT_N_PAIRS, seed: int = 0,
                          draws: int = 200, resample_seed: int = 0) -> tuple[TorusTestResult, ...]:
    """:func:`torus_tests` of ``draws`` resamples of the points: the n rows of ``h`` and their labels drawn with
    replacement (seeded by ``resample_seed``), every ring's plane fitted again on the points it drew, the same
    ring pairs as ``torus_tests(h, labels, n_pairs, seed)``. A ring left with fewer than 3 distinct points has no
    plane: its pairs are left out of that resample. Vectorised (principal angles from the singular values of the
    2 x 2 products P_A^T P_B, all ring pairs at once), so the angles agree with :func:`principal_angles_deg`'s to
    about 1e-6 degrees."""
    h, labels = _checked(h, labels, n_pairs, seed)
    check_int("draws", draws, 1)
    values = [np.unique(labels[:, a]) for a in (0, 1)]
    ring = [np.searchsorted(values[a], labels[:, a]) for a in (0, 1)]
    drawn = family_pairs(len(values[0]), len(values[1]), n_pairs, seed)
    from gdlib.device import one_blas_thread

    rng, n = np.random.default_rng(resample_seed), len(h)
    with one_blas_thread():  # small products only
        return tuple(_tests_of_rows(h, rng.integers(n, size=n), ring, [len(v) for v in values], drawn)
                     for _ in range(draws))


def _tests_of_rows(h: np.ndarray, rows: np.ndarray, ring: list[np.ndarray], m: list[int],
                   drawn: dict[str, np.ndarray]) -> TorusTestResult:
    """The torus tests of the points ``rows`` of ``h`` (repeats allowed), ``ring[a]`` the ring index of every point
    along axis a, ``m[a]`` the number of rings, ``drawn`` the pairs of each family (:func:`resampled_torus_tests`)."""
    planes = [_resampled_planes(h, rows, ring[a][rows], m[a]) for a in (0, 1)]
    orth, par = {}, {}
    for family, (ax_a, ax_b) in zip(FAMILIES, AXES, strict=True):
        (bases_a, _, ok_a), (bases_b, cent_b, ok_b) = planes[ax_a], planes[ax_b]
        flat = bases_a.transpose(1, 0, 2).reshape(h.shape[1], -1)  # (D, 2 m_a): every plane's two axes
        products = (flat.T @ bases_b.transpose(1, 0, 2).reshape(h.shape[1], -1)).reshape(len(bases_a), 2, -1, 2)
        cosines = np.linalg.svd(products.transpose(0, 2, 1, 3), compute_uv=False)  # (m_a, m_b, 2): P_A^T P_B
        angles = np.degrees(np.arccos(np.clip(cosines, 0.0, 1.0)))  # decreasing cosines: increasing angles
        kept = np.stack([np.sum((c @ flat) ** 2, axis=0).reshape(-1, 2).sum(axis=1) for c in cent_b], axis=1)
        total = np.array([np.sum(c**2) for c in cent_b])
        with np.errstate(divide="ignore", invalid="ignore"):
            error = np.clip(1.0 - kept / total[None, :], 0.0, 1.0)
        i, j = drawn[family][:, 0], drawn[family][:, 1]
        good = ok_a[i] & ok_b[j]
        orth[family], par[family] = angles[i[good], j[good]], error[i[good], j[good]]
    return TorusTestResult(orth, par)


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


