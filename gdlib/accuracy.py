"""Where a generated image puts its bump, and the accuracy metric of App. A.3 (Eq. 1).

App. A.3: "we estimate the centre ... by finding the location of the darkest pixel in the image. In
the cases where there are no Gaussian bumps or more than one bump, the algorithm defaults back to
finding the centroid of the image." The paper does not define the two cases; our definitions:

- darkness ``a = (255 - v) / 255`` per pixel (0 white, 1 black);
- **no bump**: the darkest pixel has ``a < NO_BUMP_DARKNESS`` (0.3). A bump of sigma >= 1 darkens
  its nearest pixel to at least exp(-1/8) = 0.88, and a bump of width sigma = 0.5 still to 0.61,
  whatever the sub-pixel position of its centre;
- **more than one bump**: the half-maximum region of the darkest spot forms more than one
  connected component, with 8-connectivity (diagonal neighbours touch), and on periodic data
  components that touch across an edge are merged. The spot is the bump itself for bumps, so its
  half maximum is ``a > 0.5 * max(a)``; for an SOS the spot is the crossing, which rises from the
  stripes' darkness (half of the crossing's, Sec. 2) to the peak, so its half maximum is
  ``a > 0.75 * max(a)``. (At 0.5 the stripes themselves sit on the threshold: a generated SOS whose
  stripes are a shade too dark or broken counted as "several bumps" and got the centroid, near the
  canvas centre, instead of its correct crossing.) :data:`SPOT_BASE` holds the two levels;
- **centroid**: the darkness-weighted mean pixel position; on periodic data the circular mean
  (each axis mapped to an angle 2 pi x / N), returned in (0, N]. A blank image (all white) gives
  the canvas centre (N + 1) / 2.

Accuracy (Eq. 1): a sample counts when |mu - mu_hat| < 1 in x, in y, or in both (joint); on
periodic data the distance is circular (min(|d|, N - |d|)).

**Strict accuracy** (ours, beside App. A.3's): a sample whose centre came from the centroid fallback
counts as wrong. The fallback of a blank image is the canvas centre, which lies inside every central
held-out region: a generator that draws nothing scores 44% joint accuracy in the cross's intersection
at N = 16 under App. A.3's rule and 0% under the strict one. Region claims use the strict accuracy.

**Shape** (:func:`classify_shape`): whether the darkest spot is a bump, the crossing of two stripes (an
SOS), a single stripe, or nothing. Stripes reach the frame and a bump does not, so the test looks along
the row and the column through the darkest pixel, away from it: a stripe keeps darkness there.

**Width** (:func:`bump_width`, Fig. 6d: the model draws sigma = 0.1 wider): the number of pixels of the darkest
connected spot whose darkness is at least half the darkest pixel's (8-connected), and a sigma from the
darkness-weighted second moment in a window around the darkest pixel (the bump formula's darkness
exp(-r^2 / (4 sigma^2)) has per-axis variance 2 sigma^2; pixels below a tenth of the peak are ignored; a single
dark pixel gives 0).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from scipy import ndimage
from scipy.sparse import coo_matrix
from scipy.sparse.csgraph import connected_components

from gdlib.checks import check_choice, check_int
from gdlib.images import darkness
from gdlib.regions import HoldOut, region_codes, region_names

#: The regions of :func:`region_accuracy` beyond a hold-out's parts: all held-out parts together, every sample.
OOD, ALL = "OOD", "all"
NO_BUMP_DARKNESS = 0.3
HALF_MAX = 0.5
#: Darkness around the spot whose centre is sought, as a fraction of the peak: none around a bump; the
#: stripes (half the crossing's darkness, Sec. 2) around an SOS crossing.
SPOT_BASE = {"bump": 0.0, "sos": 0.5}
_EIGHT = np.ones((3, 3), dtype=bool)

#: How a centre was found: the darkest pixel, or the centroid because there was no bump or several.
DARKEST, NO_BUMP, SEVERAL = 0, 1, 2
METHOD_NAMES = {DARKEST: "darkest pixel", NO_BUMP: "no bump: centroid", SEVERAL: "several bumps: centroid"}


#: What a generated image shows around its darkest pixel (:func:`classify_shape`).
BLANK, BUMP, CROSSING, STRIPE = 0, 1, 2, 3
SHAPE_NAMES = {BLANK: "blank", BUMP: "bump", CROSSING: "crossing of two stripes", STRIPE: "single stripe"}
#: A stripe runs through the darkest pixel when the median darkness of its row (or column), at least
#: STRIPE_GAP pixels away from that pixel, is at least STRIPE_LEVEL of the peak: an SOS's stripes hold
#: half the crossing's darkness (Sec. 2), a bump of sigma = 1 holds exp(-9/4) = 0.1 of its peak 3 pixels away
#: and less further out; 0.25 sits between them.
STRIPE_LEVEL = 0.25
STRIPE_GAP = 3


def _darkest(images: np.ndarray) -> tuple[np.ndarray, bool, np.ndarray, np.ndarray]:
    """The darkness (M, N, N) of one image (N, N) or a stack, whether it was one image, and each image's darkest
    pixel: its flat index (the first in row order on a tie) and its darkness."""
    a = darkness(images)
    single = a.ndim == 2
    if single:
        a = a[None]
    flat = a.reshape(len(a), -1)
    arg = flat.argmax(axis=1)
    return a, single, arg, flat[np.arange(len(a)), arg]


def classify_shape(images: np.ndarray, periodic: bool = False) -> np.ndarray:
    """Shape code of each image (BLANK, BUMP, CROSSING or STRIPE; see the module docstring), int8 (M,).

    ``images``: (M, N, N) or (N, N) on the uint8 scale. Blank: the darkest pixel is below
    :data:`NO_BUMP_DARKNESS`. Otherwise the row and the column through the darkest pixel are tested for
    a stripe (:data:`STRIPE_LEVEL`, :data:`STRIPE_GAP`; distances wrap on periodic data): none is a bump,
    both a crossing, one a single stripe.
    """
    a, single, arg, peak = _darkest(images)
    m, n_rows, n_cols = a.shape
    row, col = arg // n_cols, arg % n_cols

    def away(n: int, at: np.ndarray) -> np.ndarray:  # (M, n): pixels at least STRIPE_GAP from ``at``
        d = np.abs(np.arange(n)[None, :] - at[:, None])
        if periodic:
            d = np.minimum(d, n - d)
        return d >= STRIPE_GAP

    along_row = a[np.arange(m), row, :]  # (M, N cols): the row through the peak (a horizontal stripe)
    along_col = a[np.arange(m), :, col]  # (M, N rows): the column through the peak (a vertical stripe)
    stripes = []
    for values, far in ((along_row, away(n_cols, col)), (along_col, away(n_rows, row))):
        med = np.array([np.median(v[f]) if f.any() else 0.0 for v, f in zip(values, far)])
        stripes.append(med >= STRIPE_LEVEL * peak)
    count = stripes[0].astype(int) + stripes[1].astype(int)
    shape = np.where(count == 2, CROSSING, np.where(count == 1, STRIPE, BUMP))
    shape = np.where(peak < NO_BUMP_DARKNESS, BLANK, shape).astype(np.int8)
    return shape[0] if single else shape


def count_blobs(mask: np.ndarray, periodic: bool = False) -> int:
    """Connected components of a 2D boolean mask, 8-connected; merged across the edges when periodic."""
    labels, count = ndimage.label(mask, structure=_EIGHT)
    if not periodic or count <= 1:
        return count
    # On a torus the last column touches the first (rows r-1, r, r+1), and the last row the first row: join the
    # blobs that meet across an edge, then count the components of that graph of blobs.
    pairs = []
    for a_edge, b_edge in ((labels[:, -1], labels[:, 0]), (labels[-1, :], labels[0, :])):
        for shift in (-1, 0, 1):
            b = np.roll(b_edge, -shift)  # b[i] = b_edge[(i + shift) % length]
            touch = (a_edge > 0) & (b > 0)
            pairs.append(np.stack([a_edge[touch], b[touch]]))
    rows, cols = np.concatenate(pairs, axis=1) - 1
    graph = coo_matrix((np.ones(len(rows)), (rows, cols)), shape=(count, count))
    return int(connected_components(graph, directed=False)[0])


def centroid(a: np.ndarray, periodic: bool = False) -> tuple[float, float]:
    """Darkness-weighted centre (x, y) in pixel coordinates 1..N of one darkness image ``a`` (N, N)."""
    n_rows, n_cols = a.shape
    total = a.sum()
    if total <= 0:
        return (n_cols + 1) / 2, (n_rows + 1) / 2
    wx, wy = a.sum(axis=0), a.sum(axis=1)  # weight per column (x) and per row (y)
    out = []
    for w, n in ((wx, n_cols), (wy, n_rows)):
        pos = np.arange(1, n + 1, dtype=np.float64)
        if not periodic:
            out.append(float((w * pos).sum() / total))
            continue
        angle = 2 * np.pi * pos / n
        s, c = (w * np.sin(angle)).sum(), (w * np.cos(angle)).sum()
        if np.hypot(s, c) < 1e-9 * total:  # no preferred direction (uniform darkness)
            out.append((n + 1) / 2)
            continue
        mean = np.arctan2(s, c) * n / (2 * np.pi) % n
        out.append(float(n if mean == 0 else mean))
    return out[0], out[1]


def half_max_level(family: str) -> float:
    """Fraction of the peak darkness above which a pixel belongs to the spot's half-maximum region:
    0.5 for a bump, 0.75 for an SOS crossing (halfway between its stripes' level and its peak)."""
    check_choice("family", family, tuple(SPOT_BASE))
    base = SPOT_BASE[family]
    return base + HALF_MAX * (1.0 - base)


def estimate_centres(images: np.ndarray, periodic: bool = False, return_method: bool = False,
                     family: str = "bump") -> np.ndarray | tuple[np.ndarray, np.ndarray]:
    """Estimated (mu_x, mu_y) of each image (App. A.3): float64 (M, 2), pixel coordinates 1..N.

    ``images``: (M, N, N) or (N, N) on the uint8 scale (0 black .. 255 white; floats allowed).
    ``family``: "bump" or "sos", the spot whose half maximum decides "several bumps" (module docstring).
    With ``return_method`` also the int array of how each centre was found (DARKEST, NO_BUMP, SEVERAL).
    """
    level = half_max_level(family)
    a, single, arg, peak = _darkest(images)
    m, n_rows, n_cols = a.shape
    centres = np.stack([arg % n_cols + 1, arg // n_cols + 1], axis=1).astype(np.float64)
    method = np.full(m, DARKEST, dtype=np.int8)
    for i in range(m):
        if peak[i] < NO_BUMP_DARKNESS:
            method[i] = NO_BUMP
        elif count_blobs(a[i] > level * peak[i], periodic) > 1:
            method[i] = SEVERAL
        else:
            continue
        centres[i] = centroid(a[i], periodic)
    if single:
        centres, method = centres[0], method[0]
    return (centres, method) if return_method else centres


def distance(mu: np.ndarray, mu_hat: np.ndarray, n: int | None = None, periodic: bool = False) -> np.ndarray:
    """|mu - mu_hat| elementwise; circular (period N) when ``periodic``."""
    d = np.abs(np.asarray(mu, dtype=np.float64) - np.asarray(mu_hat, dtype=np.float64))
    if periodic:
        if n is None:
            raise ValueError("n is required for periodic distances")
        d = d % n
        d = np.minimum(d, n - d)
    return d


@dataclass(frozen=True)
class Accuracy:
    """Fractions of samples placed within one pixel (App. A.3 Eq. 1): joint, x only, y only. A mean over several
    seeds (:func:`gdlib.seeds.mean_accuracy`) has ``seeds`` > 1 (the seeds with a value), ``sd`` = the spread (joint,
    x, y) across them and ``lowest`` = the worst seed's joint accuracy.

    The graded error beside it (ours; issue 20: a sample one pixel off counts as wrong exactly like a copy from the
    band's edge): a sample's error is max(|mu_x - mu_x_hat|, |mu_y - mu_y_hat|) in pixels (joint accuracy is the
    share below 1), infinite where the sample may not count (``valid`` False: a strict centroid fallback);
    ``median_error`` is its median and ``within_one`` the share with an error of at most 1 pixel."""

    joint: float
    x: float
    y: float
    count: int
    sd: tuple[float, float, float] = (0.0, 0.0, 0.0)
    seeds: int = 1
    lowest: float | None = None  # the lowest seed's joint accuracy (None: one seed, the joint itself)
    median_error: float = float("nan")  # pixels, the graded error (see the class docstring)
    within_one: float = float("nan")  # share of samples with an error of at most one pixel

    @property
    def lowest_joint(self) -> float:
        """The joint accuracy of the worst seed: a gate passes only when every seed's model learnt."""
        return self.joint if self.lowest is None else self.lowest

    def as_dict(self) -> dict[str, float]:
        return {"joint": self.joint, "x": self.x, "y": self.y, "count": self.count, "median_error": self.median_error,
                "within_one": self.within_one}

    def graded(self) -> str:
        """``median 1 px, 80% within 1 px`` for a claim's measured field."""
        return f"median {self.median_error:.3g} px, {100 * self.within_one:.0f}% within 1 px"

    def spread(self, metric: str) -> float:
        """The spread across seeds of ``metric`` ("joint", "x" or "y"); 0 for one seed."""
        return self.sd[("joint", "x", "y").index(metric)]


def correct(labels: np.ndarray, centres: np.ndarray, n: int | None = None,
            periodic: bool = False, valid: np.ndarray | None = None) -> np.ndarray:
    """Boolean (M, 2): |mu_x - mu_x_hat| < 1 and |mu_y - mu_y_hat| < 1 per sample; a sample with
    ``valid`` False (e.g. a centroid fallback, for the strict accuracy) is wrong in both."""
    ok = distance(labels, centres, n, periodic) < 1.0
    if valid is not None:
        ok &= np.asarray(valid, dtype=bool)[:, None]
    return ok


def strict(method: np.ndarray) -> np.ndarray:
    """The samples that count under the strict accuracy: centre found as the darkest pixel (no fallback)."""
    return np.asarray(method) == DARKEST


def accuracy(labels: np.ndarray, centres: np.ndarray, n: int | None = None, periodic: bool = False,
             regions: np.ndarray | None = None, region_names: Mapping[int, str] | None = None,
             valid: np.ndarray | None = None) -> Accuracy | dict[str, Accuracy]:
    """Eq. 1 of App. A.3 from true labels (M, 2) and estimated centres (M, 2).

    Without ``regions``: one :class:`Accuracy`. With an int array of region codes (M,) and
    ``region_names`` (code -> name): a dict name -> Accuracy for every named code (count 0 and NaN
    fractions for a region with no sample), plus :data:`ALL`. ``valid`` (M,) bool: samples that may count at
    all (:func:`strict` for the strict accuracy); the others are wrong.
    """
    ok = correct(labels, centres, n, periodic, valid)
    error = distance(labels, centres, n, periodic).max(axis=1)  # the graded error of :class:`Accuracy`
    if valid is not None:
        error = np.where(np.asarray(valid, dtype=bool), error, np.inf)

    def summarise(mask: np.ndarray) -> Accuracy:
        k = int(mask.sum())
        if k == 0:
            return Accuracy(float("nan"), float("nan"), float("nan"), 0)
        sel, e = ok[mask], error[mask]
        return Accuracy(float(sel.all(axis=1).mean()), float(sel[:, 0].mean()), float(sel[:, 1].mean()), k,
                        median_error=float(np.median(e)), within_one=float(np.mean(e <= 1.0)))

    everything = np.ones(len(ok), dtype=bool)
    if regions is None:
        return summarise(everything)
    regions = np.asarray(regions)
    if region_names is None:
        region_names = {int(c): str(c) for c in np.unique(regions)}
    out = {name: summarise(regions == code) for code, name in region_names.items()}
    out[ALL] = summarise(everything)
    return out


def region_accuracy(labels: np.ndarray, centres: np.ndarray, n: int, holdout: HoldOut | None,
                    periodic: bool = False, valid: np.ndarray | None = None) -> dict[str, Accuracy]:
    """Eq. 1 per region of ``holdout`` (:mod:`gdlib.regions`), the regions of the *requested* centres: in
    distribution, each held-out part, :data:`OOD` (the union of the parts) and :data:`ALL`, in that order.
    ``valid`` as in :func:`accuracy` (:func:`strict` for the strict accuracy)."""
    codes = region_codes(labels, holdout, n)
    names = region_names(holdout)
    parts = accuracy(labels, centres, n, periodic, regions=codes, region_names=names, valid=valid)
    union = accuracy(labels, centres, n, periodic, regions=(codes > 0).astype(np.int8), region_names={1: OOD},
                     valid=valid)
    return {**{name: parts[name] for name in names.values()}, OOD: union[OOD], ALL: parts[ALL]}


def score_images(images: np.ndarray, labels: np.ndarray, n: int, periodic: bool = False,
                 regions: np.ndarray | None = None,
                 region_names: Mapping[int, str] | None = None, family: str = "bump"
                 ) -> Accuracy | dict[str, Accuracy]:
    """Estimate the centres of uint8-scale images of ``family`` and score them against ``labels`` (Eq. 1)."""
    return accuracy(labels, estimate_centres(images, periodic, family=family), n, periodic, regions, region_names)


@dataclass(frozen=True)
class BumpWidth:
    """Half-maximum area (pixels) and second-moment sigma of the darkest spot of an image."""

    half_max_pixels: int
    sigma: float
    peak: float


def bump_width(image: np.ndarray, window: int = 3) -> BumpWidth:
    """Width of the darkest spot of a uint8-scale image (0 black .. 255 white); see the module docstring."""
    check_int("window", window, 1)
    a = darkness(np.asarray(image, dtype=np.float64))
    iy, ix = np.unravel_index(int(np.argmax(a)), a.shape)
    peak = float(a[iy, ix])
    if peak <= 0:
        return BumpWidth(0, float("nan"), 0.0)
    labelled, _ = ndimage.label(a >= 0.5 * peak, structure=np.ones((3, 3), dtype=bool))
    half = int(np.sum(labelled == labelled[iy, ix]))
    y0, y1 = max(0, iy - window), min(a.shape[0], iy + window + 1)
    x0, x1 = max(0, ix - window), min(a.shape[1], ix + window + 1)
    w = a[y0:y1, x0:x1].copy()
    w[w < 0.1 * peak] = 0.0
    yy, xx = np.mgrid[y0:y1, x0:x1]
    mx, my = np.sum(w * xx) / w.sum(), np.sum(w * yy) / w.sum()
    var = 0.5 * (np.sum(w * (xx - mx) ** 2) + np.sum(w * (yy - my) ** 2)) / w.sum()
    return BumpWidth(half, float(np.sqrt(var / 2.0)), peak)
