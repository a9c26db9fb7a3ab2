"""95% intervals for the numbers a claim reads, and the rule that turns an interval and a threshold into a
criterion part (issue 22): a part passes only when its interval clears the threshold, fails clearly when the
interval lies wholly on the wrong side, and otherwise *straddles* it (:attr:`gdlib.claims.Part.straddles`, whose
verdict is "cannot tell").

- a proportion (an accuracy over ``n`` samples): the Wilson score interval (Wilson 1927; Agresti & Coull 1998),
  which stays inside [0, 1] and is not degenerate at 0/n or n/n, unlike the normal approximation;
- a difference or any other function of several accuracies: a parametric bootstrap over samples (each accuracy
  redrawn as Binomial(n, p) / n, seeded), the percentile interval. With several seeds the samples of all seeds
  are pooled (``n`` = samples x seeds): the bootstrap sees the sampling noise, not extra spread between seeds,
  which each claim row reports beside (:func:`gdlib.seeds.spread_note`);
- a fitted slope: the t interval slope +- t(0.975, k - 2) x its standard error (``scipy.stats.linregress``);
  the difference of two fitted slopes: the same with both errors combined (Welch-Satterthwaite);
- a median (a bump's width over samples): the percentile bootstrap over the samples;
- a statistic of a representation's point cloud (claims C1, C2, C4, C5: a participation ratio, a share of variance,
  a persistence ratio, a mean principal angle, a Wasserstein distance): the statistic recomputed on the cloud's
  points resampled with replacement, the percentile interval of those replicates shifted so that their median is the
  estimate (:func:`resampled`). Resampling with replacement repeats points, which biases spectral and topological
  statistics one way: it lowers the rank (the PR of the data's pixels at N = 16 falls from 20.6 to a median 19.1 over
  resamples, [18.6, 19.5]: the plain percentile interval misses the estimate; noise's 240 falls to 123). The shift
  removes that bias to first order and keeps the spread and skew of the replicates.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.stats import linregress
from scipy.stats import t as student_t

from gdlib.claims import Part
from gdlib.tables import pct

Z95 = 1.959963984540054  # the standard normal's 97.5% quantile
DRAWS = 4000


@dataclass(frozen=True)
class Interval:
    """A point estimate and its 95% interval [low, high] (NaN bounds: unknown, e.g. no sample)."""

    value: float
    low: float
    high: float

    @property
    def known(self) -> bool:
        return all(math.isfinite(v) for v in (self.value, self.low, self.high))

    def at_least(self, threshold: float) -> tuple[bool, bool]:
        """``(passes, straddles)`` for "value >= threshold": passes when the whole interval is at or above it."""
        if not self.known:
            return False, False
        return bool(self.low >= threshold), bool(self.low < threshold <= self.high)

    def at_most(self, threshold: float) -> tuple[bool, bool]:
        """``(passes, straddles)`` for "value <= threshold": passes when the whole interval is at or below it."""
        if not self.known:
            return False, False
        return bool(self.high <= threshold), bool(self.low <= threshold < self.high)

    def below(self, threshold: float) -> tuple[bool, bool]:
        """``(passes, straddles)`` for "value < threshold": passes when the whole interval lies below it."""
        if not self.known:
            return False, False
        return bool(self.high < threshold), bool(self.low < threshold <= self.high)

    def within(self, low: float, high: float) -> tuple[bool, bool]:
        """``(passes, straddles)`` for "low <= value <= high": passes when the whole interval lies inside; straddles
        when it reaches inside but not wholly (an interval wholly outside clearly fails)."""
        if not self.known:
            return False, False
        inside = low <= self.low and self.high <= high
        return bool(inside), bool(not inside and self.low <= high and self.high >= low)

    def shifted(self, offset: float, scale: float = 1.0) -> Interval:
        """(x - offset) / scale of every bound: an increasing linear map keeps the interval's coverage."""
        return Interval((self.value - offset) / scale, (self.low - offset) / scale, (self.high - offset) / scale)

    def text(self, fmt: Callable[[float], str] = pct) -> str:
        """``40% [22%, 61%]``"""
        return f"{fmt(self.value)} [{fmt(self.low)}, {fmt(self.high)}]" if self.known else fmt(self.value)


def wilson(successes: float, n: float, z: float = Z95) -> Interval:
    """The Wilson score interval of ``successes`` out of ``n`` (NaN bounds when ``n`` is 0)."""
    if n <= 0:
        return Interval(math.nan, math.nan, math.nan)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z / (1 + z * z / n) * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low, high = (0.0 if successes <= 0 else centre - half), (1.0 if successes >= n else centre + half)
    return Interval(p, max(0.0, low), min(1.0, high))


def proportion(p: float, n: float) -> Interval:
    """:func:`wilson` of an accuracy ``p`` measured on ``n`` samples."""
    return wilson(p * n, n) if math.isfinite(p) else Interval(math.nan, math.nan, math.nan)


def bootstrap(statistic: Callable[..., np.ndarray], proportions: Sequence[tuple[float, float]],
              draws: int = DRAWS, seed: int = 0) -> Interval:
    """Percentile interval of ``statistic(p1, p2, ...)`` (vectorised over draws) when each accuracy ``(p, n)`` is
    redrawn as Binomial(n, p) / n; the point value is the statistic of the measured accuracies."""
    value = float(statistic(*(np.float64(p) for p, _ in proportions)))
    if not all(math.isfinite(p) and n > 0 for p, n in proportions) or not math.isfinite(value):
        return Interval(value, math.nan, math.nan)
    rng = np.random.default_rng(seed)
    sampled = [rng.binomial(int(round(n)), min(max(p, 0.0), 1.0), draws) / round(n) for p, n in proportions]
    low, high = np.nanpercentile(statistic(*sampled), [2.5, 97.5])
    return Interval(value, float(low), float(high))


def t_interval(value: float, stderr: float, dof: float) -> Interval:
    """value +- t(0.975, dof) x stderr (NaN bounds without a finite error or a degree of freedom)."""
    if not (math.isfinite(value) and math.isfinite(stderr) and dof >= 1):
        return Interval(value, math.nan, math.nan)
    half = float(student_t.ppf(0.975, dof)) * stderr
    return Interval(value, value - half, value + half)


def slope_difference(first: float, first_stderr: float, first_dof: float, second: float, second_stderr: float,
                     second_dof: float) -> Interval:
    """``first - second`` of two independently fitted slopes with its 95% t interval: standard error
    sqrt(se1^2 + se2^2), degrees of freedom by Welch-Satterthwaite (at least the smaller fit's); NaN bounds when
    either fit has no standard error (two points)."""
    var = first_stderr**2 + second_stderr**2
    if not (math.isfinite(var) and first_dof >= 1 and second_dof >= 1):
        return Interval(first - second, math.nan, math.nan)
    quartic = first_stderr**4 / first_dof + second_stderr**4 / second_dof
    dof = var**2 / quartic if quartic > 0 else first_dof + second_dof
    return t_interval(first - second, math.sqrt(var), dof)


def linear_rise(x: np.ndarray, y: np.ndarray) -> tuple[float, Interval]:
    """Pearson r of (x, y) and the relative rise of their least-squares line from x's smallest to its largest value,
    slope * (x_max - x_min) / fitted y at x_min, with the slope's t interval through the same scale."""
    fit = linregress(x, y)
    base = fit.intercept + fit.slope * np.min(x)
    scale = base / np.ptp(x) if base > 0 else math.nan
    return float(fit.rvalue), t_interval(float(fit.slope), float(fit.stderr), len(x) - 2).shifted(0.0, scale)


def median_interval(values: Sequence[float], draws: int = 2000, seed: int = 0) -> Interval:
    """The median and its 95% percentile-bootstrap interval over the samples (NaN without samples)."""
    v = np.asarray(values, dtype=np.float64)
    if len(v) == 0:
        return Interval(math.nan, math.nan, math.nan)
    boot = np.median(np.random.default_rng(seed).choice(v, size=(draws, len(v))), axis=1)
    return Interval(float(np.median(v)), float(np.percentile(boot, 2.5)), float(np.percentile(boot, 97.5)))


def resampled(value: float, replicates: Sequence[float] | np.ndarray | None,
              limits: tuple[float, float] = (-math.inf, math.inf)) -> Interval:
    """``value`` and the 2.5 and 97.5 percentiles of its bootstrap ``replicates`` (the statistic recomputed on
    resampled points), both shifted by ``value`` - their median (module docstring: resampling with replacement
    biases a spectral statistic), then kept within the statistic's ``limits`` (a share in [0, 1]: the shift may
    carry a bound past them; no threshold lies outside, so no decision changes). Non-finite replicates are left out;
    NaN bounds when fewer than 10 remain. Without replicates (None or empty: an exact reference such as an ideal
    torus, which has nothing to resample) the interval is the value itself, and a part decides on it as on a
    point."""
    value = float(value)
    if replicates is None or len(replicates) == 0:
        return Interval(value, value, value)
    r = np.asarray(replicates, dtype=np.float64)
    r = r[np.isfinite(r)]
    if len(r) < 10 or not math.isfinite(value):
        return Interval(value, math.nan, math.nan)
    low, high = np.clip(np.percentile(r, [2.5, 97.5]) + value - np.median(r), *limits)
    return Interval(value, float(low), float(high))


def part_at_least(name: str, interval: Interval, threshold: float, models: Sequence[str] = ()) -> Part:
    """A criterion part "``interval`` >= ``threshold``" decided by :meth:`Interval.at_least`."""
    passes, straddles = interval.at_least(threshold)
    return Part(name, passes, tuple(models), straddles)


def part_within(name: str, interval: Interval, low: float, high: float, models: Sequence[str] = ()) -> Part:
    """A criterion part "``low`` <= ``interval`` <= ``high``" decided by :meth:`Interval.within`."""
    passes, straddles = interval.within(low, high)
    return Part(name, passes, tuple(models), straddles)


def part_below(name: str, interval: Interval, threshold: float, models: Sequence[str] = ()) -> Part:
    """A criterion part "``interval`` < ``threshold``" decided by :meth:`Interval.below`."""
    passes, straddles = interval.below(threshold)
    return Part(name, passes, tuple(models), straddles)


def part_at_most(name: str, interval: Interval, threshold: float, models: Sequence[str] = ()) -> Part:
    """A criterion part "``interval`` <= ``threshold``" decided by :meth:`Interval.at_most`."""
    passes, straddles = interval.at_most(threshold)
    return Part(name, passes, tuple(models), straddles)


def part_all(name: str, parts: Sequence[Part], models: Sequence[str] = ()) -> Part:
    """One part made of several conditions (``parts``): passes when all pass, fails clearly when one fails clearly,
    and straddles otherwise."""
    passes = all(p.passes for p in parts)
    return Part(name, passes, tuple(models), not passes and not any(p.clearly_fails for p in parts))


__all__ = ["Z95", "DRAWS", "Interval", "wilson", "proportion", "bootstrap", "t_interval", "slope_difference",
           "linear_rise",
           "median_interval", "resampled", "part_at_least", "part_below", "part_at_most", "part_within", "part_all"]
