"""Several seeds of one experiment (issue "seeds"; the paper's error bars are over three seeds): the models of
each seed, and the mean and spread of what they measure.

Choices where the paper is silent:
- a seed sets the training seed (initialisation, noise, batch order) of every model and, in the sweeps that
  draw a subset of a data set (notebooks 06 and 07), the subset's draw too;
- claims are decided on the **mean** over seeds; the **spread** is the sample standard deviation across seeds
  (ddof = 1; 0 with a single seed), shown as error bars and in each claim's row;
- a **gate** (did the model learn its training set?) passes only when every seed's model passes it: it is judged
  on the lowest seed, so one seed that learnt nothing cannot hide in a mean;
- a seed whose value is NaN is left out of the mean and not counted in ``seeds``;
- seed 0 alone is the `quick` profile, so its models are the ones a single-seed run trains.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TypeVar

import numpy as np

from gdlib.accuracy import Accuracy
from gdlib.checks import check_int

T = TypeVar("T")


def check_seeds(seeds: int | Sequence[int], name: str = "SEEDS") -> tuple[int, ...]:
    """``seeds`` (one seed, or a list) as a tuple of distinct non-negative integers, at least one; else a
    ValueError naming the parameter ``name``, the value and what is allowed."""
    values = (seeds,) if isinstance(seeds, (int, np.integer)) and not isinstance(seeds, bool) else seeds
    try:
        values = tuple(values)
    except TypeError:
        raise ValueError(f"{name} = {seeds!r} is not allowed: must be a list of distinct integers >= 0") from None
    if not values:
        raise ValueError(f"{name} = [] is not allowed: must hold at least one seed (integers >= 0)")
    for s in values:
        if isinstance(s, bool) or not isinstance(s, (int, np.integer)) or s < 0:
            raise ValueError(f"{name} = {list(values)} is not allowed: every seed must be an integer >= 0, got {s!r}")
    if len(set(values)) != len(values):
        raise ValueError(f"{name} = {list(values)} is not allowed: the seeds must be distinct")
    return tuple(int(s) for s in values)


def with_seed(models: Sequence[T], seed: int) -> list[T]:
    """The same models (dataclasses with a ``config`` TrainConfig) with their training seed set to ``seed``."""
    check_int("seed", seed, 0)
    return [replace(m, config=replace(m.config, seed=int(seed))) for m in models]


def spread(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Sample standard deviation (ddof = 1) along ``axis``, ignoring NaN; 0 where one value exists, NaN where none."""
    values = np.asarray(values, dtype=np.float64)
    finite = np.isfinite(values).sum(axis=axis)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # all-NaN slices and single values
        sd = np.nanstd(values, axis=axis, ddof=1)
    return np.where(finite == 1, 0.0, sd)


def mean(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Mean along ``axis`` ignoring NaN; NaN where every value is NaN (without numpy's warning)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmean(np.asarray(values, dtype=np.float64), axis=axis)


def lowest(values: np.ndarray, axis: int = 0) -> np.ndarray:
    """Minimum along ``axis`` ignoring NaN (the worst seed, which gates read); NaN where every value is NaN."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return np.nanmin(np.asarray(values, dtype=np.float64), axis=axis)


def mean_accuracy(accs: Sequence[Accuracy]) -> Accuracy:
    """The mean of one region's :class:`Accuracy` over seeds, with the spread of joint, x and y; ``count`` is the
    samples of one seed (every seed is evaluated at the same centres)."""
    if not accs:
        raise ValueError("mean_accuracy needs at least one Accuracy")
    table = np.array([[a.joint, a.x, a.y] for a in accs])
    m, sd, worst = mean(table), spread(table), lowest(table)
    graded = mean(np.array([[a.median_error, a.within_one] for a in accs]))  # the graded error, mean over seeds
    return Accuracy(float(m[0]), float(m[1]), float(m[2]), accs[0].count, (float(sd[0]), float(sd[1]), float(sd[2])),
                    int(np.isfinite(table[:, 0]).sum()), float(worst[0]) if len(accs) > 1 else None,
                    float(graded[0]), float(graded[1]))


def mean_scores(per_seed: Sequence[Mapping[str, Mapping[str, Accuracy]]]) -> dict[str, dict[str, Accuracy]]:
    """``{model key: {region: Accuracy}}`` averaged over seeds (each seed's scores have the same keys and regions)."""
    if not per_seed:
        raise ValueError("mean_scores needs the scores of at least one seed")
    first = per_seed[0]
    for other in per_seed[1:]:
        if set(other) != set(first):
            raise ValueError(f"every seed must score the same models: {sorted(first)} vs {sorted(other)}")
    return {key: {region: mean_accuracy([s[key][region] for s in per_seed]) for region in regions}
            for key, regions in first.items()}


def spread_note(scores: Mapping[str, Mapping[str, Accuracy]], keys: Sequence[str]) -> str:
    """For a claim's row: how many seeds its models' accuracies average, and the largest spread of a joint
    accuracy among their regions (empty for one seed)."""
    accs = [a for k in keys for a in scores[k].values() if a.lowest is not None]  # means over several seeds
    if not accs:
        return ""
    largest = max((a.sd[0] for a in accs if np.isfinite(a.sd[0])), default=float("nan"))
    counts = sorted({a.seeds for a in accs})
    fewer = f" (only {counts[0]} with a value in some region)" if counts[0] < counts[-1] else ""
    return (f"mean of {counts[-1]} seeds{fewer}; largest spread (sd) of a joint accuracy: {100 * largest:.1f} "
            "points; gates on the lowest seed")


__all__ = ["check_seeds", "with_seed", "spread", "mean", "lowest", "mean_accuracy", "mean_scores", "spread_note"]
