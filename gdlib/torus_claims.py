"""Claims C4 and C5 of notebook 04 (Sec. 3.1, Fig. 3, App. B): the ring pairs of a representation against the ideal
tori's, each number with its 95% interval (issue 22). :mod:`gdlib.representation` re-exports these functions beside
C1-C3's criteria; its docstring gives the controls and what they measured before the criteria were fixed.

What varies from run to run is the generated sample at each centre, so the intervals resample the centres: the
representation's points drawn with replacement, every ring's plane fitted again on the points it drew, the same
ring pairs (:func:`gdlib.torus_geometry.resampled_torus_tests`), and each number recomputed on every resample
against the fixed ideal tori (:func:`gdlib.intervals.resampled`: percentiles shifted so that their median is the
estimate). A result without resamples (an ideal torus: exact, nothing sampled) decides on its values. One training
seed: no spread between seeds.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping

from scipy.stats import wasserstein_distance

from gdlib.claims import Outcome, Part
from gdlib.intervals import Interval, part_at_least, part_below, resampled
from gdlib.torus_geometry import FAMILIES, STATISTICS, TorusTestResult, torus_tests

#: Resamples of the centres behind C4 and C5's intervals: each fits all 2N rings' planes again
#: (~4 ms of CPU a row at N = 16: 200 resamples of notebook 04's five rows add ~4 s).
TORUS_RESAMPLES = 200
ANGLES = (-90.0, 90.0)  # a difference of two mean principal angles, each in [0, 90] degrees


def mean_angles(result: TorusTestResult) -> dict[str, tuple[float, float]]:
    """Per family, the mean (smaller, larger) principal angle of its ring pairs, in degrees."""
    return {f: tuple(float(v) for v in result.orthogonality[f].mean(axis=0)) for f in FAMILIES}


def _interval(result: TorusTestResult, number: Callable[[TorusTestResult], float],
              limits: tuple[float, float] = (-math.inf, math.inf)) -> Interval:
    """``number`` of ``result`` and its 95% interval over ``result.resampled`` (none: the value). A resample in which
    a family lost every pair (its rings drew fewer than 3 distinct points: tiny grids only) is left out."""
    usable = [r for r in result.resampled if all(len(r.parallelism[f]) for f in FAMILIES)]
    return resampled(number(result), ([number(r) for r in usable] or [math.nan]) if result.resampled else None, limits)


def _w(a: TorusTestResult, family: str, b: TorusTestResult, b_family: str, statistic: str) -> float:
    return float(wasserstein_distance(a.statistic(family, statistic), b.statistic(b_family, statistic)))


def clifford_like(model: TorusTestResult, ideal: Mapping[str, TorusTestResult], margin: float = 10.0) -> Outcome:
    """C4: x and y in orthogonal subspaces. The model's x-on-y statistics are closer (Wasserstein) to the
    Clifford torus's than to the 3D torus's, for both statistics (W to Clifford - W to 3D < 0); and x-on-y pairs are
    more orthogonal than pairs of the same variable: their mean principal angle exceeds the x-on-x and the y-on-y one
    by ``margin`` degrees (noise, whose random planes are all near-orthogonal, shows no such contrast). Each
    difference is decided on its 95% interval over ``model.resampled`` (module docstring)."""
    w = {kind: {s: _w(model, "x-on-y", ideal[kind], "x-on-y", s) for s in STATISTICS} for kind in ("clifford", "3d")}
    mean = {f: sum(a) / 2 for f, a in mean_angles(model).items()}
    m, g3, f1 = ("torus model",), (lambda v: f"{v:.3g}"), (lambda v: f"{v:.1f}")
    parts: tuple[Part, ...] = ()
    shown = []
    for s in STATISTICS:
        diff = _interval(model, lambda r, s=s: _w(r, "x-on-y", ideal["clifford"], "x-on-y", s)
                         - _w(r, "x-on-y", ideal["3d"], "x-on-y", s))
        parts += (part_below(f"x-on-y {s}: W to Clifford {w['clifford'][s]:.3g} < to 3D {w['3d'][s]:.3g} (difference "
                             f"{diff.text(g3)} < 0)", diff, 0.0, m),)
        shown.append(f"{s} {w['clifford'][s]:.3g} / {w['3d'][s]:.3g} (difference {diff.text(g3)})")
    contrasts = []
    for f in ("x-on-x", "y-on-y"):
        diff = _interval(model, lambda r, f=f: float(r.orthogonality["x-on-y"].mean() - r.orthogonality[f].mean()),
                         ANGLES)
        parts += (part_at_least(f"mean angle x-on-y {mean['x-on-y']:.1f} >= {f} {mean[f]:.1f} + {margin:g} "
                                f"(difference {diff.text(f1)})", diff, margin, m),)
        contrasts.append(f"x-on-y - {f} {diff.text(f1)}")
    return Outcome(parts, "mean principal angle (deg): " + ", ".join(f"{f} {v:.1f}" for f, v in mean.items())
                   + f" ({', '.join(contrasts)}); x-on-y W to Clifford / 3D: " + ", ".join(shown) + _resamples(model))


def hyperfactorized(model: TorusTestResult, ideal: Mapping[str, TorusTestResult], margin: float = 10.0) -> Outcome:
    """C5: different values of one variable sit in near-orthogonal planes that still share structure, like
    the 3D torus's x-on-y. For x-on-x and y-on-y: closer (Wasserstein) to the 3D torus's x-on-y than to the
    Clifford torus's own family, for both statistics (W to 3D x-on-y - W to Clifford < 0); and their mean *smaller*
    principal angle lies at least ``margin`` degrees below x-on-y's (a shared direction; noise has none). Each
    difference is decided on its 95% interval over ``model.resampled`` (module docstring)."""
    angles = mean_angles(model)
    m, g3, f1 = ("torus model",), (lambda v: f"{v:.3g}"), (lambda v: f"{v:.1f}")
    parts: tuple[Part, ...] = ()
    shown = []
    for f in ("x-on-x", "y-on-y"):
        for s in STATISTICS:
            to_3d, to_cl = _w(model, f, ideal["3d"], "x-on-y", s), _w(model, f, ideal["clifford"], f, s)
            diff = _interval(model, lambda r, f=f, s=s: _w(r, f, ideal["3d"], "x-on-y", s)
                             - _w(r, f, ideal["clifford"], f, s))
            parts += (part_below(f"{f} {s}: W to 3D x-on-y {to_3d:.3g} < to Clifford {f} {to_cl:.3g} (difference "
                                 f"{diff.text(g3)} < 0)", diff, 0.0, m),)
            shown.append(f"{f} {s} W to 3D x-on-y - to Clifford {diff.text(g3)}")
        diff = _interval(model, lambda r, f=f: float(r.orthogonality["x-on-y"][:, 0].mean()
                                                     - r.orthogonality[f][:, 0].mean()), ANGLES)
        parts += (part_at_least(f"{f} smaller angle {angles[f][0]:.1f} <= x-on-y's {angles['x-on-y'][0]:.1f} - "
                                f"{margin:g} (difference {diff.text(f1)} >= {margin:g})", diff, margin, m),)
        shown.append(f"smaller angle x-on-y - {f} {diff.text(f1)}")
    return Outcome(parts, "mean (smaller, larger) principal angle (deg): " + ", ".join(
        f"{f} ({a[0]:.1f}, {a[1]:.1f})" for f, a in angles.items()) + "; " + ", ".join(shown) + _resamples(model))


def _resamples(result: TorusTestResult) -> str:
    k = len(result.resampled)
    return f" (95% intervals over {k} resamples of the centres)" if k else ""


def torus_results(reps: Mapping, n_pairs: int, seed: int = 0, resamples: int = TORUS_RESAMPLES) -> dict:
    """:func:`gdlib.torus_geometry.torus_tests` of each named representation (anything with ``h`` and ``labels``;
    the same ring pairs for all), each with ``resamples`` resamples of its centres for the intervals."""
    return {k: torus_tests(r.h, r.labels, n_pairs=n_pairs, seed=seed, resamples=resamples) for k, r in reps.items()}


__all__ = ["TORUS_RESAMPLES", "mean_angles", "clifford_like", "hyperfactorized", "torus_results"]
