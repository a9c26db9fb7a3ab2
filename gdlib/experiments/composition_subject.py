"""What notebook 05's region criteria read (:mod:`gdlib.experiments.composition_claims`): the region scores of the
model (or of a control in its place), the memorisation floor (the copier's scores) and the ceiling (the formula
oracle's), with the 95% interval of every accuracy and share (:mod:`gdlib.intervals`).

The floor and the ceiling are deterministic generators scored on the same centres: only the model's accuracy is
a sample, so the interval of a share of the copier-to-oracle gap is the Wilson interval of the accuracy mapped
through the share's (linear, increasing) formula, and that of a difference between two models is bootstrapped.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from gdlib.accuracy import OOD, Accuracy
from gdlib.claims import Evidence, Gate, judge
from gdlib.controls import COPY, ORACLE
from gdlib.intervals import Interval, bootstrap, proportion
from gdlib.tables import pct


def samples(a: Accuracy) -> int:
    """The samples behind an accuracy: its count in one seed times the seeds with a value (pooled)."""
    return a.count * max(a.seeds, 1)


def describe_regions(scores: Mapping[str, Accuracy], regions: Sequence[str]) -> str:
    """``vertical: x 10% [3%, 24%], y 90% [..], joint 9% [..], median 1 px, 80% within 1 px (n=39); ...`` for a
    claim's measured field (Wilson 95% intervals; the graded error: :class:`~gdlib.accuracy.Accuracy`)."""
    def acc(a: Accuracy, metric: str) -> str:
        return proportion(getattr(a, metric), samples(a)).text()

    return "; ".join(f"{r}: x {acc(scores[r], 'x')}, y {acc(scores[r], 'y')}, joint {acc(scores[r], 'joint')}, "
                     f"{scores[r].graded()} (n={scores[r].count})" for r in regions)


@dataclass(frozen=True)
class Subject:
    """What a region criterion reads: region scores per model key (the model's, or a control's in its
    place), the memorisation floor (the nearest-training-image copier's scores per model key) and the
    ceiling (the formula oracle's)."""

    scores: Mapping[str, Mapping[str, Accuracy]]
    floor: Mapping[str, Mapping[str, Accuracy]]
    ceiling: Mapping[str, Mapping[str, Accuracy]] | None = None

    def accuracy(self, key: str, region: str, metric: str = "joint") -> Interval:
        """The accuracy in one region with its Wilson 95% interval over the (pooled) samples."""
        a = self.scores[key][region]
        return proportion(getattr(a, metric), samples(a))

    def gain(self, key: str, region: str) -> float:
        """Joint accuracy above what copying the nearest training image gives, in one region."""
        return self.scores[key][region].joint - self.floor[key][region].joint

    def _room(self, key: str, region: str, metric: str) -> tuple[float, float]:
        low = getattr(self.floor[key][region], metric)
        top = 1.0 if self.ceiling is None else getattr(self.ceiling[key][region], metric)
        return low, top - low

    def closed(self, key: str, region: str, metric: str = "joint") -> float:
        """The share of what copying misses that the model gets right, in one region: (model - floor) /
        (ceiling - floor), 0 for the copier and 1 for the oracle whatever the region's geometry (NaN when the
        copier is already perfect). The copier's accuracy in a lesion or a cut depends on its width (its edge
        columns lie within the metric's one pixel of the training data), so raw gains are not comparable
        across widths; this share is."""
        return self.closed_interval(key, region, metric).value

    def closed_interval(self, key: str, region: str, metric: str = "joint") -> Interval:
        """:meth:`closed` with its 95% interval (the accuracy's Wilson interval through the same formula)."""
        low, room = self._room(key, region, metric)
        if not room > 0:
            return Interval(math.nan, math.nan, math.nan)
        return self.accuracy(key, region, metric).shifted(low, room)

    def closed_difference(self, first: str, second: str, region: str = OOD) -> Interval:
        """:meth:`closed` of ``first`` minus that of ``second``, bootstrapped over both models' samples."""
        (f1, r1), (f2, r2) = self._room(first, region, "joint"), self._room(second, region, "joint")
        a, b = self.scores[first][region], self.scores[second][region]
        if not (r1 > 0 and r2 > 0):
            return Interval(math.nan, math.nan, math.nan)
        return bootstrap(lambda p, q: (p - f1) / r1 - (q - f2) / r2, [(a.joint, samples(a)), (b.joint, samples(b))])

    def difference(self, first: str, second: str, region: str = OOD) -> Interval:
        """Joint accuracy of ``first`` minus that of ``second`` in ``region``, bootstrapped over their samples."""
        a, b = self.scores[first][region], self.scores[second][region]
        return bootstrap(lambda p, q: p - q, [(a.joint, samples(a)), (b.joint, samples(b))])

    def describe_ood(self, keys: Iterable[str]) -> str:
        """``key: OOD joint 40% [..], closes 20% [..] of the gap, median 1 px, .. (copying 20%, n=36); ...``"""
        return "; ".join(f"{k}: OOD joint {self.accuracy(k, OOD).text()}, closes {self.closed_interval(k, OOD).text()}"
                         f" of the gap, {self.scores[k][OOD].graded()} (copying {pct(self.floor[k][OOD].joint)}, "
                         f"n={self.scores[k][OOD].count})" for k in keys)


def subjects(scores: Mapping[str, Mapping[str, Accuracy]], controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]],
             kinds: Sequence[str]) -> tuple[Subject, dict[str, Subject]]:
    """The model's :class:`Subject` and one per control kind in ``kinds`` (each control in place of every model)."""
    floor, ceiling = controls[COPY], controls.get(ORACLE)
    return Subject(scores, floor, ceiling), {kind: Subject(controls[kind], floor, ceiling) for kind in kinds}


def evidence(criterion, keys: Sequence[str], scores: Mapping[str, Mapping[str, Accuracy]],
             controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]], gates: Mapping[str, Gate],
             kinds: Sequence[str], settled: Mapping[str, Gate] | None = None) -> Evidence:
    """``criterion`` applied to the models' scores and, in their place, to each control kind of ``kinds``,
    with the gates of the models ``keys`` that the claim rests on (:func:`gdlib.claims.judge`) and their
    still-learning gates (``settled``, :func:`gdlib.curves.still_learning`) where given."""
    model, ctrl = subjects(scores, controls, kinds)
    settled = settled or {}
    return judge(criterion, model, ctrl, gates=[gates[k] for k in keys] + [settled[k] for k in keys if k in settled])


__all__ = ["samples", "describe_regions", "Subject", "subjects", "evidence"]
