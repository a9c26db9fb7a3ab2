"""The percolation simulation of Sec. 3.3 and App. D.1 (Fig. 6c, Fig. 13, Fig. 14b).

Bumps on the N x N lattice at d = 1 (1024 centres at N = 32) are *connected* when their overlap
(App. A.5, :func:`gdlib.overlap.overlap`) exceeds a threshold. Draw a fraction lambda of the centres,
find the connected clusters and report the mass ratio of the largest one.

Choices where the paper is silent:
- The overlap of two lattice bumps depends only on their offset: we compute it once per sigma for every
  offset, from bumps rendered (uint8, as trained) on a canvas large enough that neither is cut by the
  edge. Translation invariance makes it symmetric, so the graph is undirected.
- Mass ratio = size of the largest cluster / number of drawn centres (so it is 1 when everything drawn
  is connected, at any lambda).
- The draws of the simulation are independent uniform subsets (seeded), 5 per point as in the paper.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, minimum_spanning_tree

from gdlib import images as img
from gdlib.checks import check_int, check_positive, check_range
from gdlib.overlap import overlap
from gdlib.regions import integer_grid


def offset_overlaps(sigma: float, reach: int) -> np.ndarray:
    """Overlap of a bump with the bump offset by (dx, dy), for |dx|, |dy| <= reach; shape (2r+1, 2r+1), [dy, dx].

    Rendered on a canvas of side 2 (reach + pad) + 1 with the reference at its centre, pad = 6 sigma + 2
    pixels, so that no bump is truncated.
    """
    check_positive("sigma", sigma)
    check_int("reach", reach, 0)
    pad = int(np.ceil(6 * sigma)) + 2
    side = 2 * (reach + pad) + 1
    c = float(reach + pad + 1)  # pixel coordinates are 1..side
    ref = img.render("bump", [c], [c], side, sigma, sigma)
    offsets = integer_grid(2 * reach + 1, start=-reach)  # (dx, dy), x fastest: rows of the table are dy
    moved = img.render("bump", c + offsets[:, 0], c + offsets[:, 1], side, sigma, sigma)
    return overlap(ref, moved).reshape(2 * reach + 1, 2 * reach + 1)


def component_sizes(m: int, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
    """Sizes of the connected components of an undirected graph on m nodes given by edges, largest first."""
    check_int("m", m, 0)
    if m == 0:
        return np.zeros(0, dtype=np.int64)
    graph = coo_matrix((np.ones(len(rows)), (np.asarray(rows), np.asarray(cols))), shape=(m, m))
    _, labels = connected_components(graph, directed=False)
    return np.sort(np.bincount(labels))[::-1]


def pair_overlaps(points: np.ndarray, table: np.ndarray) -> np.ndarray:
    """Overlap of every pair of lattice points (integer (m, 2)), looked up by offset in ``table`` (m, m)."""
    reach = table.shape[0] // 2
    p = np.asarray(points, dtype=np.int64)
    dx = p[None, :, 0] - p[:, None, 0] + reach
    dy = p[None, :, 1] - p[:, None, 1] + reach
    ov = table[dy, dx]
    np.fill_diagonal(ov, 0.0)
    return ov


def spanning_forest(ov: np.ndarray, floor: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Edges (i, j, overlap) of a maximum spanning forest of the pairs whose overlap exceeds ``floor``.

    For any threshold t >= floor the components of {overlap > t} equal those of the forest's edges with
    overlap > t (a maximum spanning forest keeps, between any two nodes, the path of largest bottleneck),
    so one forest answers every threshold.
    """
    upper = np.triu(np.where(ov > floor, ov, 0.0), k=1)
    weights = np.where(upper > 0, 3.0 - upper, 0.0)  # overlaps lie in [0, ~1.1]: positive weights, reversed order
    forest = minimum_spanning_tree(csr_matrix(weights)).tocoo()
    return forest.row, forest.col, 3.0 - forest.data


def largest_cluster_ratio(points: np.ndarray, sigma: float, threshold: float, n: int) -> float:
    """Mass ratio of the largest cluster of ``points`` (its size / number of points) at one sigma and threshold."""
    points = np.asarray(points)
    if len(points) == 0:
        return 0.0
    ov = pair_overlaps(points, offset_overlaps(sigma, reach=n - 1))
    rows, cols = np.nonzero(np.triu(ov > threshold, k=1))
    return float(component_sizes(len(points), rows, cols)[0] / len(points))


@dataclass(frozen=True)
class PercolationResult:
    """Mass ratio of the largest cluster, mean and std over repeats, shape (thresholds, sigmas, lambdas);
    ``ratios`` keeps each repeat (a last axis of repeats) for the onsets' bootstrap intervals, None where a result
    was built without repeats (a null world)."""

    thresholds: tuple[float, ...]
    sigmas: tuple[float, ...]
    lambdas: tuple[float, ...]
    mean: np.ndarray
    std: np.ndarray
    ratios: np.ndarray | None = None

    def curve(self, threshold: float, sigma: float) -> np.ndarray:
        return self.mean[self.thresholds.index(threshold), self.sigmas.index(sigma)]


def simulate(
    sigmas: list[float],
    lambdas: list[float],
    thresholds: list[float],
    n: int = 32,
    repeats: int = 5,
    seed: int = 0,
) -> PercolationResult:
    """Fig. 6c / 13 / 14b: largest-cluster mass ratio for every (threshold, sigma, lambda), averaged over repeats.

    The same draws (seeded per repeat and lambda) are used for every sigma and threshold, so curves differ
    only by sigma and threshold. Overlaps are computed once per sigma.
    """
    check_int("n", n, 2)
    check_int("repeats", repeats, 1)
    for lam in lambdas:
        check_range("lambda", lam, 0, 1, low_open=True)
    for t in thresholds:
        check_range("threshold", t, 0, np.inf)
    sites = integer_grid(n).astype(np.int64)  # the n x n lattice at d = 1 (Sec. 3.3)
    rng = np.random.default_rng(seed)
    draws = {(r, lam): sites[rng.permutation(len(sites))[: max(1, int(round(lam * len(sites))))]]
             for r in range(repeats) for lam in lambdas}
    ratios = np.zeros((len(thresholds), len(sigmas), len(lambdas), repeats))
    floor = min(thresholds)
    for j, sigma in enumerate(sigmas):
        table = offset_overlaps(sigma, reach=n - 1)
        for k, lam in enumerate(lambdas):
            for r in range(repeats):
                points = draws[r, lam]
                rows, cols, weight = spanning_forest(pair_overlaps(points, table), floor)
                for i, t in enumerate(thresholds):
                    keep = weight > t
                    ratios[i, j, k, r] = component_sizes(len(points), rows[keep], cols[keep])[0] / len(points)
    return PercolationResult(tuple(thresholds), tuple(sigmas), tuple(lambdas),
                             ratios.mean(axis=-1), ratios.std(axis=-1), ratios)
