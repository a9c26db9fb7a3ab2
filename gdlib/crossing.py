"""Where a measured curve first reaches a level: Fig. 5c's 60% accuracy threshold (the data needed, notebook 06)
and the percolation onsets of Fig. 6c and Fig. 6e (the first lambda that percolates or is learnt, notebook 07).

The points are taken in increasing x (positive: sizes or fractions of data), points with a missing value are
skipped, and the first point whose value reaches the level decides. Between that point and the one before, the
crossing is interpolated linearly in log(x) (data sizes span decades).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Crossing:
    """Where a curve first reaches the level.

    ``first``: the first x whose value reaches it (inf when none does). ``status``: "crossed" (``size``
    interpolated between that point and the one before), "never" (all below: ``size`` NaN, ``bound`` the largest
    x, a lower bound) or "below_range" (the smallest x already reaches it: ``size`` NaN, ``bound`` the smallest x,
    an upper bound).
    """

    size: float
    status: str
    bound: float
    first: float = math.inf


def threshold_crossing(xs: Sequence[float], values: Sequence[float], level: float,
                       inclusive: bool = True) -> Crossing:
    """The :class:`Crossing` of ``values`` (at ``xs``) over ``level``: reached at or above it (``inclusive``), or
    strictly above. ``xs`` must be positive (they are interpolated in log) and are sorted first."""
    s = np.asarray(xs, dtype=np.float64)
    a = np.asarray(values, dtype=np.float64)
    if s.shape != a.shape or s.ndim != 1:
        raise ValueError("xs and values must be 1D arrays of the same length")
    ok = np.isfinite(a) & np.isfinite(s)
    s, a = s[ok], a[ok]
    if np.any(s <= 0):
        raise ValueError("xs must be positive (they are interpolated in log)")
    if len(s) == 0:
        return Crossing(math.nan, "never", math.nan)
    order = np.argsort(s, kind="stable")
    s, a = s[order], a[order]
    above = np.flatnonzero(a >= level if inclusive else a > level)
    if len(above) == 0:
        return Crossing(math.nan, "never", float(s[-1]))
    i = int(above[0])
    if i == 0:
        return Crossing(math.nan, "below_range", float(s[0]), float(s[0]))
    lo, hi = math.log(s[i - 1]), math.log(s[i])
    size = math.exp(lo + (level - a[i - 1]) / (a[i] - a[i - 1]) * (hi - lo))
    return Crossing(size, "crossed", size, float(s[i]))


__all__ = ["Crossing", "threshold_crossing"]
