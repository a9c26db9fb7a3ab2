"""The claims of notebook 05 (Sec. 3.2, App. C.2-C.4): the gate each model must pass, the memorisation floor,
and the criteria C6a-C9c, each applied alike to the models' region scores and, in their place, to each control's
(:mod:`gdlib.claims`). The models and their scores are :mod:`gdlib.experiments.composition`.

Choices where the paper is silent (written down in notebook 05 too):

- a model passes its **gate** (:func:`gate`) when its in-distribution strict joint accuracy reaches
  :data:`LEARNT_THRESHOLD` (60%); the 1D stripe models, which never saw a 2D sample, when the in-distribution
  accuracy of at least one coordinate (x or y correct, ``x + y - joint``) does. A claim part resting on a
  model that did not pass is not decided (:func:`gdlib.claims.verdict`); nor is one whose model's OOD accuracy was
  still moving at the end of its learning curve (``ClaimRecorder.settled``, :func:`gdlib.curves.still_learning`);
- the copier's accuracy in a region (:func:`gdlib.experiments.composition_scores.control_scores`) is the
  **memorisation floor**: positive statements must beat it by a margin (:func:`beats_floor`); statements that
  the model fails are checked against the formula oracle, which does not fail. Across widths, criteria compare
  the share of the gap between the copier and the oracle that the model closes (:meth:`Subject.closed`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from gdlib.accuracy import ALL, OOD, Accuracy
from gdlib.claims import ClaimCheck, ClaimLog, Evidence, Gate, Outcome, Part, judge
from gdlib.controls import COPY, ORACLE
from gdlib.experiments.composition import CROSS_PARTS, ModelSpec, learnt_table, scale
from gdlib.regions import IN_DISTRIBUTION, Cross
from gdlib.seeds import spread_note
from gdlib.tables import pct

LEARNT_THRESHOLD = 0.6


def gate(model: ModelSpec, scores: Mapping[str, Accuracy], threshold: float = LEARNT_THRESHOLD,
         stripes: float | None = None) -> Gate:
    """Whether ``model`` learnt its training set, at least ``threshold``: in-distribution strict joint accuracy;
    for the 1D stripe models (``learnt_metric="stripes"``), which never saw a 2D sample in the frame, the
    strict accuracy of the visible coordinate of stripes drawn at their own training centres (``stripes``,
    from :func:`gdlib.experiments.composition_scores.stripe_accuracy`). Their in-frame accuracy would measure
    composition itself, which is what C7 and C7b test: the first version gated them on it and the 1D model
    hovered at 57-60%."""
    if model.learnt_metric == "joint":  # over several seeds: the lowest seed's (gdlib.seeds)
        return Gate(model.key, "in-distribution strict joint accuracy", scores[IN_DISTRIBUTION].lowest_joint, threshold)
    if stripes is None:
        raise ValueError(f"model {model.key!r} is gated on its stripes: pass stripes=stripe_accuracy(...)")
    return Gate(model.key, "strict accuracy of its own training stripes", stripes, threshold)


def describe_regions(scores: Mapping[str, Accuracy], regions: Sequence[str]) -> str:
    """``vertical: x 10%, y 90%, joint 9%, median 1 px, 80% within 1 px (n=39); ...`` for a claim's measured
    field (the graded error: :class:`~gdlib.accuracy.Accuracy`)."""
    return "; ".join(f"{r}: x {pct(scores[r].x)}, y {pct(scores[r].y)}, joint {pct(scores[r].joint)}, "
                     f"{scores[r].graded()} (n={scores[r].count})" for r in regions)


@dataclass(frozen=True)
class Subject:
    """What a region criterion reads: region scores per model key (the model's, or a control's in its
    place), the memorisation floor (the nearest-training-image copier's scores per model key) and the
    ceiling (the formula oracle's)."""

    scores: Mapping[str, Mapping[str, Accuracy]]
    floor: Mapping[str, Mapping[str, Accuracy]]
    ceiling: Mapping[str, Mapping[str, Accuracy]] | None = None

    def gain(self, key: str, region: str) -> float:
        """Joint accuracy above what copying the nearest training image gives, in one region."""
        return self.scores[key][region].joint - self.floor[key][region].joint

    def closed(self, key: str, region: str) -> float:
        """The share of what copying misses that the model gets right, in one region: (model - floor) /
        (ceiling - floor), 0 for the copier and 1 for the oracle whatever the region's geometry (NaN when the
        copier is already perfect). The copier's accuracy in a lesion or a cut depends on its width (its edge
        columns lie within the metric's one pixel of the training data), so raw gains are not comparable
        across widths; this share is."""
        top = 1.0 if self.ceiling is None else self.ceiling[key][region].joint
        room = top - self.floor[key][region].joint
        return self.gain(key, region) / room if room > 0 else math.nan

    def describe_ood(self, keys: Iterable[str]) -> str:
        """``key: OOD joint 40%, median 1 px, 70% within 1 px (copying 20%, n=36); ...``"""
        return "; ".join(f"{k}: OOD joint {pct(self.scores[k][OOD].joint)}, {self.scores[k][OOD].graded()} (copying "
                         f"{pct(self.floor[k][OOD].joint)}, n={self.scores[k][OOD].count})" for k in keys)


def subjects(scores: Mapping[str, Mapping[str, Accuracy]], controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]],
             kinds: Sequence[str]) -> tuple[Subject, dict[str, Subject]]:
    """The model's :class:`Subject` and one per control kind in ``kinds`` (each control in place of every model)."""
    floor, ceiling = controls[COPY], controls.get(ORACLE)
    return Subject(scores, floor, ceiling), {kind: Subject(controls[kind], floor, ceiling) for kind in kinds}


def evidence(criterion: Callable[[Subject], Outcome], keys: Sequence[str], scores: Mapping[str, Mapping[str, Accuracy]],
             controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]], gates: Mapping[str, Gate],
             kinds: Sequence[str], settled: Mapping[str, Gate] | None = None) -> Evidence:
    """``criterion`` applied to the models' scores and, in their place, to each control kind of ``kinds``,
    with the gates of the models ``keys`` that the claim rests on (:func:`gdlib.claims.judge`) and their
    still-learning gates (``settled``, :func:`gdlib.curves.still_learning`) where given."""
    model, ctrl = subjects(scores, controls, kinds)
    settled = settled or {}
    return judge(criterion, model, ctrl, gates=[gates[k] for k in keys] + [settled[k] for k in keys if k in settled])


# claim criteria: thresholds come from the notebook, fixed before the measurement ------------------------
def no_interpolation(s: Subject, key: str, maximum: float) -> Outcome:
    """C6a: the coordinate held out is wrong: in the vertical part x, in the horizontal part y, and in the
    intersection both, each accuracy below ``maximum``."""
    r = s.scores[key]
    parts = (Part(f"vertical x {pct(r['vertical'].x)} < {pct(maximum)}", r["vertical"].x < maximum, (key,)),
             Part(f"horizontal y {pct(r['horizontal'].y)} < {pct(maximum)}", r["horizontal"].y < maximum, (key,)),
             Part(f"intersection joint {pct(r['intersection'].joint)} < {pct(maximum)}",
                  r["intersection"].joint < maximum, (key,)))
    return Outcome(parts, describe_regions(r, CROSS_PARTS))


def keeps_other_coordinate(s: Subject, key: str, minimum: float) -> Outcome:
    """C6b: the coordinate that was seen stays right: y in the vertical part and x in the horizontal part,
    each at least ``minimum``."""
    r = s.scores[key]
    parts = (Part(f"vertical y {pct(r['vertical'].y)} >= {pct(minimum)}", r["vertical"].y >= minimum, (key,)),
             Part(f"horizontal x {pct(r['horizontal'].x)} >= {pct(minimum)}", r["horizontal"].x >= minimum, (key,)))
    return Outcome(parts, describe_regions(r, CROSS_PARTS))


def beats_floor(s: Subject, key: str, region: str, minimum: float, margin: float) -> Part:
    """Joint accuracy in ``region`` at least ``minimum`` and at least ``margin`` above the memorisation floor."""
    acc, gain = s.scores[key][region].joint, s.gain(key, region)
    return Part(f"{key} {region} joint {pct(acc)} >= {pct(minimum)} and {pct(gain)} above copying >= {pct(margin)}",
                bool(acc >= minimum and gain >= margin), (key,))


def composes_everywhere(s: Subject, key: str, key_1d: str, minimum: float, margin: float,
                        maximum_1d: float) -> Outcome:
    """C7: the 2D+1D model beats ``minimum`` and the floor by ``margin`` in every part of the cross; the 1D
    model's intersection joint accuracy stays below ``maximum_1d``."""
    parts = tuple(beats_floor(s, key, r, minimum, margin) for r in CROSS_PARTS)
    i1 = s.scores[key_1d]["intersection"].joint
    parts += (Part(f"{key_1d} intersection joint {pct(i1)} < {pct(maximum_1d)}", i1 < maximum_1d, (key_1d,)),)
    return Outcome(parts, f"{key}: {describe_regions(s.scores[key], CROSS_PARTS)} | {key_1d}: "
                          f"{describe_regions(s.scores[key_1d], CROSS_PARTS)}")


def rim_composes(s: Subject, key_rim: str, key_1d: str, minimum: float, margin: float, gain_1d: float) -> Outcome:
    """C7b: with the rim, OOD joint accuracy beats ``minimum`` and the floor by ``margin``, and exceeds the
    1D model's (no rim) by ``gain_1d``."""
    a, b = s.scores[key_rim][OOD].joint, s.scores[key_1d][OOD].joint
    parts = (beats_floor(s, key_rim, OOD, minimum, margin),
             Part(f"{key_rim} OOD {pct(a)} >= {key_1d} OOD {pct(b)} + {pct(gain_1d)}", a >= b + gain_1d,
                  (key_rim, key_1d)))
    return Outcome(parts, f"OOD joint: {key_rim} {pct(a)}, {key_1d} {pct(b)} (n={s.scores[key_rim][OOD].count}); "
                          f"overall {pct(s.scores[key_rim][ALL].joint)} vs {pct(s.scores[key_1d][ALL].joint)}")


def keeps_with_fewer(s: Subject, key_full: str, key_small: str, minimum: float, margin: float,
                     tolerance: float) -> Outcome:
    """C8: with all bumps, OOD joint accuracy (bumps only) beats ``minimum`` and the floor by ``margin``; with
    the fewest, it is within ``tolerance`` of that and still beats the floor by ``margin``."""
    a, b = s.scores[key_full][OOD].joint, s.scores[key_small][OOD].joint
    parts = (beats_floor(s, key_full, OOD, minimum, margin), beats_floor(s, key_small, OOD, 0.0, margin),
             Part(f"{key_small} OOD {pct(b)} >= {key_full} OOD {pct(a)} - {pct(tolerance)}", b >= a - tolerance,
                  (key_full, key_small)))
    return Outcome(parts, "; ".join(f"{k}: OOD joint {pct(s.scores[k][OOD].joint)} (copying "
                                    f"{pct(s.floor[k][OOD].joint)}), ID {pct(s.scores[k][IN_DISTRIBUTION].joint)}"
                                    for k in (key_full, key_small)))


def interpolation_falls(s: Subject, keys: Sequence[str], widths: Sequence[float], margin: float,
                        drop: float) -> Outcome:
    """C9: the interpolation share (:meth:`Subject.closed`: the part of what copying misses in the lesion that
    the model gets right) is at least ``margin`` at the narrowest lesion and at least ``drop`` smaller at the
    widest: the model interpolates across a narrow gap, less across a wide one. Needs two widths or more."""
    order = np.argsort(widths)
    narrow, wide = keys[order[0]], keys[order[-1]]
    c_n, c_w = s.closed(narrow, OOD), s.closed(wide, OOD)
    parts = (Part(f"{narrow} closes {pct(c_n)} of the gap to the oracle >= {pct(margin)}", bool(c_n >= margin),
                  (narrow,)),
             Part(f"{wide} closes {pct(c_w)} <= {pct(c_n)} - {pct(drop)}", bool(len(keys) > 1 and c_w <= c_n - drop),
                  (narrow, wide)))
    return Outcome(parts, s.describe_ood([keys[i] for i in order]))


def interior_beats_exterior(s: Subject, interior: str, exterior: str, margin: float, gap: float) -> Outcome:
    """C9b: the interior cut's share of the gap between copying and the oracle (:meth:`Subject.closed`) is at
    least ``margin`` and exceeds the exterior cut's by ``gap``."""
    c_i, c_e = s.closed(interior, OOD), s.closed(exterior, OOD)
    parts = (Part(f"{interior} closes {pct(c_i)} of the gap to the oracle >= {pct(margin)}", bool(c_i >= margin),
                  (interior,)),
             Part(f"{exterior} closes {pct(c_e)} <= {pct(c_i)} - {pct(gap)}", bool(c_e <= c_i - gap),
                  (interior, exterior)))
    return Outcome(parts, s.describe_ood((interior, exterior)))


def composes_in_every_cut(s: Subject, keys: Sequence[str], minimum: float, margin: float) -> Outcome:
    """C9c: every SOS cut model beats ``minimum`` and the floor by ``margin`` in its OOD region."""
    parts = tuple(beats_floor(s, k, OOD, minimum, margin) for k in keys)
    return Outcome(parts, s.describe_ood(keys))


@dataclass(frozen=True)
class ClaimRecorder:
    """What notebook 05's claims are measured on: the models by key, each model's count of rim training images
    under each reading of the cross (:func:`gdlib.datasets.rim_kept`), the region scores of the models (their mean
    over ``seeds``) and of each control kind, the models' gates and their still-learning gates (``settled``)."""

    log: ClaimLog
    models: Mapping[str, ModelSpec]
    rims: Mapping[str, Mapping[str, int]]
    scores: Mapping[str, Mapping[str, Accuracy]]
    controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]]
    gates: Mapping[str, Gate]
    seeds: Sequence[int] = (0,)
    settled: Mapping[str, Gate] = field(default_factory=dict)

    def check(self, id: str, criterion: Callable[[Subject], Outcome], keys: Sequence[str], kinds: Sequence[str],
              statement: str, paper_figure: str, paper_value: str, criterion_text: str, note: str = "") -> ClaimCheck:
        """Record one claim: ``criterion`` on the models ``keys`` and on each control kind in their place, with the
        scale of those models and, when their training sets hold rim images, the reading of the cross they were
        trained under and how many rim images each reading keeps."""
        rim = [k for k in keys if isinstance(self.models[k].scoring, Cross) and any(self.rims[k].values())]
        counts = lambda k: ", ".join(f"{r} {n:,}" for r, n in self.rims[k].items())
        rims = "; ".join(f"{k} (trained under {self.models[k].scoring.reading!r}): rim images kept by each reading of "
                         f"the cross: {counts(k)}" for k in rim)
        return self.log.check(id, statement, criterion_text,
                              evidence(criterion, keys, self.scores, self.controls, self.gates, kinds, self.settled),
                              paper_figure, paper_value, scale([self.models[k] for k in keys], seeds=self.seeds),
                              note="; ".join(filter(None, [note, rims, spread_note(self.scores, keys)])))


__all__ = [
    "LEARNT_THRESHOLD", "gate", "describe_regions", "Subject", "subjects", "evidence", "no_interpolation",
    "keeps_other_coordinate", "beats_floor", "composes_everywhere", "rim_composes", "keeps_with_fewer",
    "interpolation_falls", "interior_beats_exterior", "composes_in_every_cut", "learnt_table", "ClaimRecorder",
]
