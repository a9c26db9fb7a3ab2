"""The latent plane: grids of centres, the evaluation grid (App. A.3), the nearest-centre lookup, and the
held-out regions (Sec. 3.2, App. C.3, C.4).

A hold-out is a small frozen dataclass; ``codes(labels, n)`` gives every sample an integer region
code, 0 meaning in distribution, and ``parts`` names the other codes. Regions live on the visible
frame [0, N]^2 in image coordinates; the composition cross has a stricter variant whose bands extend beyond the
frame into the rim of the extended space (:class:`Cross`, :data:`CROSS_READINGS`). Whatever the code, the 1D
and 0D stripes are never held out (:mod:`gdlib.datasets` sets their code to 0), since the paper keeps
the stripes over the full range of x and y (Fig. 4b). Region bounds are closed intervals.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import ClassVar

import numpy as np
from scipy.spatial import cKDTree

from gdlib.checks import check_choice, check_int, check_positive, check_range

IN_DISTRIBUTION = "in-distribution"
#: Row orders of a grid of centres: "x fastest" (mu_y major, the order of an image's pixels: the evaluation
#: grid, the datasets, the percolation lattice) or "y fastest" (mu_x major, as the rings of App. B are listed).
ORDERS = ("x fastest", "y fastest")


def grid(xs: np.ndarray, ys: np.ndarray | None = None, order: str = "x fastest") -> np.ndarray:
    """Every centre (mu_x, mu_y) with mu_x in ``xs`` and mu_y in ``ys`` (default ``xs``), float64
    (len(xs) * len(ys), 2), rows in ``order`` (:data:`ORDERS`)."""
    check_choice("order", order, ORDERS)
    xs = np.asarray(xs, dtype=np.float64)
    ys = xs if ys is None else np.asarray(ys, dtype=np.float64)
    if order == "x fastest":
        mu_y, mu_x = np.meshgrid(ys, xs, indexing="ij")
    else:
        mu_x, mu_y = np.meshgrid(xs, ys, indexing="ij")
    return np.stack([mu_x.ravel(), mu_y.ravel()], axis=1)


def integer_grid(n: int, start: int = 1, order: str = "x fastest") -> np.ndarray:
    """The n x n integer centres ``start .. start + n - 1`` on both axes (by default 1..N, the pixel
    positions), float64 (n*n, 2), rows in ``order``."""
    check_int("n", n, 1)
    return grid(np.arange(start, start + n, dtype=np.float64), order=order)


def evaluation_grid(n: int) -> np.ndarray:
    """The N*N evaluation centres (mu_x, mu_y), float32 (N*N, 2), x fastest.

    App. A.3 samples "the 32x32 grid points"; we use the integer centres 1..N, the pixel
    positions, so that every centre can be hit exactly by a darkest pixel (on a non-periodic
    canvas a centre at 0 is one pixel away from the nearest pixel and can never satisfy
    |mu - mu_hat| < 1: measured as the 87.9% ceiling at N = 16).
    """
    return integer_grid(n).astype(np.float32)


def _in_frame(labels: np.ndarray, n: int) -> np.ndarray:
    lab = np.asarray(labels)
    return np.all((lab >= 0) & (lab <= n), axis=1)


def _between(v: np.ndarray, low: float, high: float) -> np.ndarray:
    eps = 1e-6  # grid centres are sums of float increments: keep a centre on a bound inside
    return (v >= low - eps) & (v <= high + eps)


#: The two readings of the composition cross (:class:`Cross`): "frame" (the paper's, the default) holds out the 2D
#: images centred in a band inside the frame; "into rim" also the rim images centred in a band's extension.
CROSS_READINGS = ("frame", "into rim")
PAPER_READING, INTO_RIM_READING = CROSS_READINGS


@dataclass(frozen=True)
class Cross:
    """The composition cross of Sec. 3.2 / Fig. 4: mu_x or mu_y in [low, high] held out (paper: [13, 19] at N = 32).

    Two readings (:data:`CROSS_READINGS`, :attr:`reading`). The default, ``into_rim=False`` ("frame"), is the
    paper's: the bands cover the frame only, and the rim's partly visible crossings centred outside the frame stay
    in training. Sec. 3.2 builds the 1D stripe set "across the entire range of x and y without any held-out
    regions"; App. C.1 notes that "the 2D data only exist within the image space (and some spillover)"; and App.
    C.2 trains on exactly such rim crossings: "given a small set of examples of partial overlaps, the model has
    completely gained the ability to properly compose". ``into_rim=True`` ("into rim") is a stricter reading: the
    bands extend beyond the frame, so a rim image centred at an x (or y) in the band, which shows the held-out x
    crossing a stripe at the frame's edge, is held out too (1,600 rim images at N = 16, d = 0.25 with a 6-pixel
    band; 10,248 at N = 32, d = 0.1). Either way the 1D and 0D stripes are never held out.
    """

    low: float = 13.0
    high: float = 19.0
    into_rim: bool = False  # Sec. 3.2, App. C.1-C.2: the paper's reading, rim images centred outside the frame kept
    parts: ClassVar[dict[int, str]] = {1: "vertical", 2: "horizontal", 3: "intersection"}

    def check(self, n: int) -> None:
        check_range("cross.low", self.low, 0, n)
        check_range("cross.high", self.high, self.low, n)

    @property
    def reading(self) -> str:
        """The reading: "frame" (the paper's) or "into rim" (:data:`CROSS_READINGS`)."""
        return INTO_RIM_READING if self.into_rim else PAPER_READING

    def read_as(self, reading: str) -> Cross:
        """The same bands under ``reading`` (one of :data:`CROSS_READINGS`)."""
        check_choice("reading", reading, CROSS_READINGS)
        return replace(self, into_rim=reading == INTO_RIM_READING)

    def codes(self, labels: np.ndarray, n: int) -> np.ndarray:
        lab = np.asarray(labels, dtype=np.float64)
        in_x = _between(lab[:, 0], self.low, self.high)
        in_y = _between(lab[:, 1], self.low, self.high)
        # Fig. 4f: vertical part = x in the band (a vertical strip), y outside; horizontal the reverse.
        code = np.where(in_x & in_y, 3, np.where(in_x, 1, np.where(in_y, 2, 0)))
        return (code if self.into_rim else np.where(_in_frame(lab, n), code, 0)).astype(np.int8)

    @staticmethod
    def centred(n: int, width: float = 6.0, reading: str = PAPER_READING) -> Cross:
        """A band of ``width`` pixels centred on the canvas of size n: the paper's [13, 19] at N = 32. Sec. 3.2
        chooses "the width of the cuts to be around 6 pixels wide, which roughly corresponds to the width of
        the Gaussian stripes of sigma = 1.0": the width follows sigma, so it stays 6 pixels at every N."""
        return Cross(n / 2 - width / 2, n / 2 + width / 2).read_as(reading)

    @staticmethod
    def scaled(n: int, low: float = 13.0, high: float = 19.0, reference_n: int = 32,
               reading: str = PAPER_READING) -> Cross:
        """The paper's [13, 19] band scaled to a canvas of size n (keeps its centre and relative width)."""
        return Cross(low * n / reference_n, high * n / reference_n).read_as(reading)


@dataclass(frozen=True)
class Square:
    """A W x W square held out (App. C.4, Fig. 12): ``interior`` = centred, ``exterior`` = the corner at (0, 0)."""

    width: float
    where: str = "interior"
    parts: ClassVar[dict[int, str]] = {1: "square"}

    def bounds(self, n: int) -> tuple[float, float]:
        if self.where == "interior":
            return n / 2 - self.width / 2, n / 2 + self.width / 2
        return 0.0, float(self.width)

    def check(self, n: int) -> None:
        if self.where not in ("interior", "exterior"):
            raise ValueError(f"square.where = {self.where!r} is not allowed: must be one of 'interior', 'exterior'")
        check_range("square.width", self.width, 0, n, low_open=True)

    def codes(self, labels: np.ndarray, n: int) -> np.ndarray:
        lab = np.asarray(labels, dtype=np.float64)
        low, high = self.bounds(n)
        inside = _between(lab[:, 0], low, high) & _between(lab[:, 1], low, high) & _in_frame(lab, n)
        return inside.astype(np.int8)


@dataclass(frozen=True)
class Lesion:
    """A vertical lesion of width w in x, centred on the canvas (App. C.3, Fig. 11a)."""

    width: float
    parts: ClassVar[dict[int, str]] = {1: "lesion"}

    def check(self, n: int) -> None:
        check_range("lesion.width", self.width, 0, n, low_open=True)

    def codes(self, labels: np.ndarray, n: int) -> np.ndarray:
        lab = np.asarray(labels, dtype=np.float64)
        inside = _between(lab[:, 0], n / 2 - self.width / 2, n / 2 + self.width / 2) & _in_frame(lab, n)
        return inside.astype(np.int8)


@dataclass(frozen=True)
class CentreSquare:
    """The centre square holding a fraction of the 2D data (Sec. 3.2, Fig. 5: 20%): side N sqrt(fraction)."""

    fraction: float = 0.2
    parts: ClassVar[dict[int, str]] = {1: "centre"}

    def check(self, n: int) -> None:
        check_range("centre_square.fraction", self.fraction, 0, 1, low_open=True, high_open=True)
        check_positive("n", n)

    def side(self, n: int) -> float:
        return n * math.sqrt(self.fraction)

    def codes(self, labels: np.ndarray, n: int) -> np.ndarray:
        lab = np.asarray(labels, dtype=np.float64)
        # Half-open on the high side so a grid of step d holds fraction * (N/d)^2 centres up to one row.
        low, high = n / 2 - self.side(n) / 2, n / 2 + self.side(n) / 2
        inside = (lab[:, 0] > low) & (lab[:, 0] <= high) & (lab[:, 1] > low) & (lab[:, 1] <= high)
        return (inside & _in_frame(lab, n)).astype(np.int8)


def nearest_indices(queries: np.ndarray, centres: np.ndarray, n: int | None = None, periodic: bool = False,
                    seed: int = 0, return_distance: bool = False) -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Index of the nearest of ``centres`` (K, 2) to each query (M, 2), and with ``return_distance`` also that
    distance (Euclidean in label space); distances wrap with period N when ``periodic``. Ties are broken at
    random (seeded): on a grid of step 0.25 a requested integer centre in a held-out band is often equidistant
    from training centres on either side, and always taking one side would bias the copier's score (an SOS at
    x.5 has two equally dark pixels, and the darkest-pixel rule takes the first)."""
    q = np.asarray(queries, dtype=np.float64)
    c = np.asarray(centres, dtype=np.float64)
    if len(c) == 0:
        raise ValueError("centres is empty: there is nothing to copy")
    if periodic:
        if n is None:
            raise ValueError("n is required for periodic distances")
        tree = cKDTree(np.mod(c, n), boxsize=float(n))
        q = np.mod(q, n)
    else:
        tree = cKDTree(c)
    dist, _ = tree.query(q, k=1)
    # every centre within the nearest distance (plus rounding), then the lowest index among them
    near = tree.query_ball_point(q, dist + 1e-9)
    rng = np.random.default_rng(seed)
    index = np.array([idx[0] if len(idx) == 1 else rng.choice(sorted(idx)) for idx in near], dtype=np.int64)
    return (index, dist) if return_distance else index


def on_centres(queries: np.ndarray, centres: np.ndarray, tolerance: float = 1e-4) -> np.ndarray:
    """Whether each query (M, 2) is one of ``centres`` (K, 2), to ``tolerance`` (e.g. a training centre)."""
    if len(centres) == 0:
        return np.zeros(len(queries), dtype=bool)
    return nearest_indices(queries, centres, return_distance=True)[1] <= tolerance


HoldOut = Cross | Square | Lesion | CentreSquare


def region_names(holdout: HoldOut | None) -> dict[int, str]:
    """Code -> name, with 0 = in-distribution."""
    return {0: IN_DISTRIBUTION, **({} if holdout is None else dict(holdout.parts))}


def region_codes(labels: np.ndarray, holdout: HoldOut | None, n: int) -> np.ndarray:
    """Region code of every centre (0 everywhere when nothing is held out)."""
    if holdout is None:
        return np.zeros(len(labels), dtype=np.int8)
    return holdout.codes(labels, n)
