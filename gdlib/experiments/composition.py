"""The composition experiments of Sec. 3.2 and App. C.2-C.4 (notebook 05): configs, region-wise scores,
claim criteria and figures (Fig. 4 c-e and g, Fig. 10, Fig. 11 b, Fig. 12 c-f).

Every model of the notebook is a :class:`ModelSpec`: a :class:`~gdlib.training.TrainConfig` plus what the
notebook needs to read it (its experiment, label, swept value, and the held-out region that scores it).
:func:`experiment_models` builds them all from one training template, so the notebook trains them in one
sweep (:func:`gdlib.sweeps.run_sweep`, model name :data:`MODEL_NAME`) that runs on a cluster unchanged.

Experiments (``ModelSpec.experiment``):

- ``"sos"``: the 2D, 1D and 2D+1D SOS models with the composition cross held out (Fig. 4 c-e, Fig. 9 e-g);
- ``"rim"``: 1D stripes with the partly visible 2D rim (App. C.2, Fig. 10 d-f), beside the 1D model
  (stripes without the rim, Fig. 10 a-c), which belongs to ``"sos"`` and is not trained twice;
- ``"bump_stripes"``: 2D bumps with the cross held out plus the 1D stripes, the in-distribution bumps
  subsampled to ``keep_fraction`` (Fig. 4g, Fig. 9h);
- ``"lesion"``: 2D SOS with a vertical lesion of width w held out (App. C.3, Fig. 11);
- ``"square"``: 2D bumps or 2D SOS with an interior or exterior W x W cut (App. C.4, Fig. 12).

Scoring (:func:`score_evaluation`, :func:`gdlib.accuracy.region_accuracy`): a model's evaluation samples (the
N*N integer centres of App. A.3, from :func:`gdlib.training.evaluate`) are split by its hold-out's region codes:
the parts (vertical, horizontal, intersection for the cross; the lesion; the square), ``"OOD"`` = the union of
the parts, ``"in-distribution"`` = everything else, ``"all"`` = every sample; each gets joint, x and y accuracy.

Choices where the paper is silent (written down in notebook 05 too):

- every model trains for the same number of optimiser steps (``TrainConfig.steps``): App. A.6's
  "constant total number of batches" across a sweep whose training sets differ in size;
- the extended space's margin stays the paper's 6 pixels at every N (not 6 N / 32): sigma is not scaled, and
  a stripe of sigma = 1 stays visible (one grey level) up to 4.7 pixels outside the frame, so a margin of
  3 (N = 16) would leave no invisible band, hence no 1D data and no "1D stripes without rim" set at all;
- the 1D models' "in-distribution" and "OOD" (Fig. 10 b, e) are outside and inside the cross, although
  neither model saw any 2D sample in the frame;
- the lesion and square models are trained on 2D data alone (no stripes, no margin), on the plane;
- region claims use the **strict** accuracy (a centroid fallback counts as wrong; :func:`score_evaluation`),
  and the bump + stripe claim C8 counts only samples that are bumps (not crossings of stripes);
- a model passes its **gate** (:func:`gate`) when its in-distribution strict joint accuracy reaches
  :data:`LEARNT_THRESHOLD` (60%); the 1D stripe models, which never saw a 2D sample, when the in-distribution
  accuracy of at least one coordinate (x or y correct, ``x + y - joint``) does. A claim part resting on a
  model that did not pass is not decided (:func:`gdlib.claims.verdict`);
- **controls** (:func:`control_scores`, :mod:`gdlib.controls`): a blank generator, one that copies the
  nearest training image, and the formula oracle, each drawn at every model's evaluation centres and scored
  alike. The copier's accuracy in a region is the memorisation floor: positive statements must beat it by a
  margin (:func:`beats_floor`); statements that the model fails are checked against the oracle, which does
  not fail.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from gdlib.accuracy import ALL, BUMP, OOD, Accuracy, region_accuracy, strict
from gdlib.checks import check_choice, check_int, check_range
from gdlib.claims import Evidence, Gate, Outcome, Part, judge
from gdlib.controls import COPY, GENERATORS, ORACLE, control_evaluation
from gdlib.datasets import PAPER_MARGIN, DatasetConfig, composition_sets, make_dataset, training_labels
from gdlib.regions import IN_DISTRIBUTION, Cross, HoldOut, Lesion, Square
from gdlib.tables import pct
from gdlib.training import Evaluation, TrainConfig

MODEL_NAME = "composition"
CROSS_PARTS = ("vertical", "horizontal", "intersection")
SQUARE_KINDS = (("bump", "interior"), ("bump", "exterior"), ("sos", "interior"), ("sos", "exterior"))
LEARNT_THRESHOLD = 0.6
SMOKE_NOTE = "smoke profile: too small to decide"
EXPERIMENTS = ("sos", "rim", "bump_stripes", "lesion", "square")

# The three SOS models of Fig. 4 and the rim model of Fig. 10, keyed by their composition_sets names.
SOS_MODELS = {"2D": "2D SOS", "1D": "1D stripes (no rim)", "2D+1D": "2D+1D SOS"}
RIM_MODEL = ("1D + rim", "1D stripes + 2D rim")


@dataclass(frozen=True)
class ModelSpec:
    """What one model of notebook 05 is (its training config, not a network) and how to read it.

    ``key`` is unique in the notebook (a figure label); ``value`` the swept quantity (keep fraction,
    lesion width w, square width W) or None; ``scoring`` the hold-out whose regions score it;
    ``learnt_metric`` "joint" or "either" (see :func:`learnt`).
    """

    key: str
    experiment: str
    label: str
    config: TrainConfig
    scoring: HoldOut
    value: float | None = None
    learnt_metric: str = "joint"

    def __post_init__(self) -> None:
        check_choice("experiment", self.experiment, EXPERIMENTS)
        check_choice("learnt_metric", self.learnt_metric, ("joint", "either"))

    @property
    def data(self) -> DatasetConfig:
        return self.config.data


def experiment_models(base: TrainConfig, n: int, sigma: float = 1.0, d: float = 0.1, margin: float = PAPER_MARGIN,
                      cross: Cross | None = None, keep_fractions: Sequence[float] = (1.0,),
                      lesion_widths: Sequence[float] = (), square_widths: Sequence[float] = (),
                      square_kinds: Iterable[tuple[str, str]] = SQUARE_KINDS, bump_steps: int | None = None,
                      model_steps: Mapping[str, int] | None = None) -> list[ModelSpec]:
    """Every model of notebook 05, in the order of the notebook, from the training template ``base``
    (its ``data`` is replaced; everything else, the training length included, is shared).

    ``bump_steps``: when given, the models whose 2D images are bumps (bump + stripes, bump squares) train
    for that many optimiser steps instead of ``base.steps``: bumps are learnt later than SOS (a bump darkens
    a few pixels, an SOS whole rows and columns). Every claim compares models of one family, so models
    compared with each other still train equally long. ``model_steps`` (model key -> steps) overrides both
    for single models, e.g. the two 1D stripe models, which learn late.

    ``cross`` defaults to a 6-pixel band centred on the canvas, extending into the rim (:meth:`Cross.centred`:
    the paper's [13, 19] at N = 32, whose width follows sigma, not N); ``margin`` is the extended space's (the
    paper's 6 by default, see the module docstring). Lesion and square widths are in pixels.
    """
    cross = Cross.centred(n) if cross is None else cross
    sets = composition_sets(n=n, sigma=sigma, d=d, margin=margin, cross=cross)
    train = lambda data: replace(base, data=data)
    models = [ModelSpec(key, "sos", key, train(sets[name]), cross, learnt_metric="either" if key == "1D" else "joint")
              for key, name in SOS_MODELS.items()]
    models.append(ModelSpec(RIM_MODEL[0], "rim", RIM_MODEL[0], train(sets[RIM_MODEL[1]]), cross,
                        learnt_metric="either"))
    for fraction in keep_fractions:
        check_range("keep_fraction", fraction, 0, 1, low_open=True)
        data = replace(sets["2D bump + 1D stripes"], keep_fraction=float(fraction))
        models.append(ModelSpec(f"bump+stripes {100 * fraction:g}%", "bump_stripes", f"{100 * fraction:g}% of bumps",
                            train(data), cross, value=float(fraction)))
    plane = DatasetConfig(family="sos", n=n, sigma=sigma, d=d)
    for w in lesion_widths:
        lesion = Lesion(float(w))
        models.append(ModelSpec(f"lesion w={w:g}", "lesion", f"w = {w:g}", train(replace(plane, holdout=lesion)),
                            lesion, value=float(w)))
    for family, where in square_kinds:
        for width in square_widths:
            square = Square(float(width), where)
            data = replace(plane, family=family, holdout=square)
            models.append(ModelSpec(f"{family} {where} W={width:g}", "square", f"{family}, {where}, W = {width:g}",
                                train(data), square, value=float(width)))
    keys = [m.key for m in models]
    if len(set(keys)) != len(keys):
        raise ValueError(f"keep_fractions, lesion_widths and square_widths must not repeat a value: {keys}")
    # training lengths, in one place: model_steps by key, else bump_steps for bump models, else base.steps
    if bump_steps is not None:
        check_int("bump_steps", bump_steps, 1)
    model_steps = dict(model_steps or {})
    for key, steps in model_steps.items():
        check_choice("model_steps key", key, keys)
        check_int(f"model_steps[{key!r}]", steps, 1)
    if bump_steps is not None:
        model_steps = {m.key: bump_steps for m in models if m.data.family == "bump"} | model_steps
    return [replace(m, config=replace(m.config, steps=model_steps[m.key])) if m.key in model_steps else m
            for m in models]


def select(models: Sequence[ModelSpec], experiment: str, **match) -> list[ModelSpec]:
    """The models of one experiment (optionally whose data fields match, e.g. ``family="bump"``), sorted by value."""
    out = [m for m in models if m.experiment == experiment]
    for field, want in match.items():
        out = [m for m in out if getattr(m.data, field, None) == want
               or getattr(m.scoring, field, None) == want]
    return sorted(out, key=lambda m: (m.value is None, m.value if m.value is not None else 0.0))


def by_key(models: Sequence[ModelSpec]) -> dict[str, ModelSpec]:
    return {m.key: m for m in models}


# scoring --------------------------------------------------------------------------------------------
SCORINGS = ("headline", "strict", "strict bumps")


def score_evaluation(model: ModelSpec, ev: Evaluation, scoring: str = "strict") -> dict[str, Accuracy]:
    """:func:`gdlib.accuracy.region_accuracy` of one model's (or one control's) evaluation samples.

    ``scoring``: "headline" = App. A.3 as written (darkest pixel, centroid fallback); "strict" = a fallback
    counts as wrong (:func:`gdlib.accuracy.strict`), what every region claim uses; "strict bumps" = strict,
    and the image must also be a bump, not a crossing of stripes (:func:`gdlib.accuracy.classify_shape`),
    for the bump + stripe claim C8, whose statement is that bumps are generated."""
    check_choice("scoring", scoring, SCORINGS)
    valid = None
    if scoring != "headline":
        valid = strict(ev.method)
        if scoring == "strict bumps":
            valid = valid & (ev.shapes == BUMP)
    return region_accuracy(ev.labels, ev.centres, model.data.n, model.scoring, model.data.periodic, valid)


def either(acc: Accuracy) -> float:
    """Fraction with x or y right: P(x) + P(y) - P(x and y)."""
    return acc.x + acc.y - acc.joint


def gate(model: ModelSpec, scores: Mapping[str, Accuracy], threshold: float = LEARNT_THRESHOLD) -> Gate:
    """Whether ``model`` learnt its training set: in-distribution strict joint accuracy, or for the 1D
    stripe models (which never saw a 2D sample) the fraction with at least one coordinate right, at least
    ``threshold`` (see the module docstring)."""
    acc = scores[IN_DISTRIBUTION]
    if model.learnt_metric == "joint":
        return Gate(model.key, "in-distribution strict joint accuracy", acc.joint, threshold)
    return Gate(model.key, "in-distribution strict accuracy of x or y", either(acc), threshold)


def describe_regions(scores: Mapping[str, Accuracy], regions: Sequence[str]) -> str:
    """``vertical: x 10%, y 90%, joint 9% (n=39); ...`` for a claim's measured field."""
    return "; ".join(f"{r}: x {pct(scores[r].x)}, y {pct(scores[r].y)}, joint {pct(scores[r].joint)} "
                     f"(n={scores[r].count})" for r in regions)


# controls -------------------------------------------------------------------------------------------
def control_scores(models: Sequence[ModelSpec], kinds: Sequence[str] = GENERATORS, scoring: str = "strict",
                   bump_scoring: Sequence[str] = ()) -> dict[str, dict[str, dict[str, Accuracy]]]:
    """``{control kind: {model key: region scores}}``: each control generator (:mod:`gdlib.controls`) drawn
    at the evaluation centres of each model, for that model's training set, and scored like the model.
    Models whose keys are in ``bump_scoring`` are scored with "strict bumps" (C8)."""
    out: dict[str, dict[str, dict[str, Accuracy]]] = {k: {} for k in kinds}
    for m in models:
        train = make_dataset(m.data) if COPY in kinds else None
        for kind in kinds:
            ev = control_evaluation(kind, m.config, train=train)
            out[kind][m.key] = score_evaluation(m, ev, "strict bumps" if m.key in bump_scoring else scoring)
    return out


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
        """``key: OOD joint 40% (copying 20%, n=36); ...``"""
        return "; ".join(f"{k}: OOD joint {pct(self.scores[k][OOD].joint)} (copying {pct(self.floor[k][OOD].joint)}, "
                         f"n={self.scores[k][OOD].count})" for k in keys)


def subjects(scores: Mapping[str, Mapping[str, Accuracy]], controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]],
             kinds: Sequence[str]) -> tuple[Subject, dict[str, Subject]]:
    """The model's :class:`Subject` and one per control kind in ``kinds`` (each control in place of every model)."""
    floor, ceiling = controls[COPY], controls.get(ORACLE)
    return Subject(scores, floor, ceiling), {kind: Subject(controls[kind], floor, ceiling) for kind in kinds}


def evidence(criterion: Callable[[Subject], Outcome], keys: Sequence[str], scores: Mapping[str, Mapping[str, Accuracy]],
             controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]], gates: Mapping[str, Gate],
             kinds: Sequence[str]) -> Evidence:
    """``criterion`` applied to the models' scores and, in their place, to each control kind of ``kinds``,
    with the gates of the models ``keys`` that the claim rests on (:func:`gdlib.claims.judge`)."""
    model, ctrl = subjects(scores, controls, kinds)
    return judge(criterion, model, ctrl, gates=[gates[k] for k in keys])


def scale(models: Sequence[ModelSpec], samples_note: str = "") -> str:
    """The scale a claim was measured at: N, d, width, the models' optimiser steps, samples, seed."""
    cfgs = [m.config for m in models]
    steps = sorted({c.steps for c in cfgs})
    c = cfgs[0]
    span = f"{steps[0]:,}" if len(steps) == 1 else f"{steps[0]:,}-{steps[-1]:,}"
    return (f"N = {c.data.n}, d = {c.data.d_x:g}, UNet width {c.width}, {span} optimiser steps of batch "
            f"{c.batch_size}, {c.data.n ** 2} samples per model ({c.sampler}, {c.sample_steps} steps), seed {c.seed}"
            + (f"; {samples_note}" if samples_note else ""))


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


# tables ---------------------------------------------------------------------------------------------
#: The columns of :func:`results_table` and :func:`learnt_table` that hold fractions (shown as percentages).
PERCENT_COLUMNS = ("joint", "x", "y", "ID joint", "ID x", "ID y", "OOD joint", "OOD joint (App. A.3)")


def results_table(models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]]) -> pd.DataFrame:
    """One row per model and region: model, experiment, value, region, count, joint, x, y."""
    return pd.DataFrame([{"model": m.key, "experiment": m.experiment, "value": m.value, "region": region,
                          "count": acc.count, "joint": acc.joint, "x": acc.x, "y": acc.y}
                         for m in models for region, acc in scores[m.key].items()])


def learnt_table(models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]],
                 headline: Mapping[str, Mapping[str, Accuracy]] | None = None,
                 threshold: float = LEARNT_THRESHOLD) -> pd.DataFrame:
    """One row per model: training images, steps, in-distribution strict accuracy, its gate, OOD strict joint
    accuracy (and App. A.3's headline OOD joint beside it when ``headline`` scores are given)."""
    rows = []
    for m in models:
        g, s = gate(m, scores[m.key], threshold), scores[m.key]
        row = {"model": m.key, "training images": len(training_labels(m.data)), "steps": m.config.steps,
               "ID joint": s[IN_DISTRIBUTION].joint, "ID x": s[IN_DISTRIBUTION].x, "ID y": s[IN_DISTRIBUTION].y,
               "gate": f"{m.learnt_metric} {pct(g.value)}", "learnt": g.passed, "OOD joint": s[OOD].joint}
        if headline is not None:
            row["OOD joint (App. A.3)"] = headline[m.key][OOD].joint
        rows.append(row)
    return pd.DataFrame(rows)


__all__ = [
    "MODEL_NAME", "CROSS_PARTS", "SQUARE_KINDS", "LEARNT_THRESHOLD", "SCORINGS", "ModelSpec",
    "experiment_models", "select", "by_key", "score_evaluation", "either", "gate", "control_scores",
    "Subject", "subjects", "evidence", "scale", "no_interpolation", "keeps_other_coordinate", "beats_floor",
    "composes_everywhere",
    "rim_composes", "keeps_with_fewer", "interpolation_falls", "interior_beats_exterior", "composes_in_every_cut",
    "describe_regions", "results_table",
    "learnt_table", "PERCENT_COLUMNS",
]
