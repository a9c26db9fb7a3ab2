"""How each model of notebook 05 is scored (Sec. 3.2, App. A.3, App. C.2-C.4); the models are
:mod:`gdlib.experiments.composition`, the claims :mod:`gdlib.experiments.composition_claims`.

Scoring (:func:`score_evaluation`, :func:`gdlib.accuracy.region_accuracy`): a model's evaluation samples (the N*N
integer centres of App. A.3, from :func:`gdlib.runs.evaluate`) are split by its hold-out's region codes: the parts
(vertical, horizontal, intersection for the cross; the lesion; the square), ``"OOD"`` = their union,
``"in-distribution"`` = everything else, ``"all"`` = every sample; each gets joint, x and y accuracy. With several
seeds (:func:`seed_scores`) the scores are the mean over seeds, with their spread (:mod:`gdlib.seeds`).

Choices where the paper is silent (written down in notebook 05 too):

- region claims use the **strict** accuracy (a centroid fallback counts as wrong; :func:`score_evaluation`),
  and the bump + stripe claim C8 counts only samples that are bumps (not crossings of stripes);
- the 1D stripe models are gated on their own training stripes (:func:`stripe_accuracy`);
- **controls** (:func:`control_scores`, :mod:`gdlib.controls`): a blank generator, one that copies the
  nearest training image, the formula oracle, and the pixel average of the two nearest training images, each
  drawn at every model's evaluation centres and scored alike;
- **learning curves** (:func:`learning_curves`, :mod:`gdlib.curves`): each model's OOD strict joint accuracy at its
  checkpoint steps, scored like the final evaluation, for the still-learning gate of every claim.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import numpy as np

from gdlib.accuracy import BUMP, OOD, Accuracy, region_accuracy, strict
from gdlib.checks import check_choice
from gdlib.controls import AVERAGE, COPY, GENERATORS, control_evaluation
from gdlib.curves import Curve
from gdlib.curves import points as curve_points
from gdlib.datasets import CATEGORIES, categorise, make_dataset, training_labels
from gdlib.experiments.composition import ModelSpec
from gdlib.runs import Evaluation, evaluate, load_checkpoint, sample_and_score
from gdlib.seeds import mean_scores

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


def seed_scores(seeded: Mapping[int, Sequence[ModelSpec]], name: str, scoring: Callable[[ModelSpec], str],
                ) -> dict[str, dict[str, Accuracy]]:
    """Each seed's models (``{seed: models}``) scored from their final evaluation (:func:`score_evaluation` with
    ``scoring(model)``), averaged over seeds with the spread (:func:`gdlib.seeds.mean_scores`)."""
    return mean_scores([{m.key: score_evaluation(m, evaluate(m.config, name, "final", layers=()), scoring(m))
                         for m in models} for models in seeded.values()])


def learning_curves(seeded: Mapping[int, Sequence[ModelSpec]], name: str, scoring: Callable[[ModelSpec], str],
                    scores: Mapping[str, Mapping[str, Accuracy]],
                    controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]]) -> dict[str, Curve]:
    """Each model's learning curve (:mod:`gdlib.curves`): its OOD strict joint accuracy (``scoring(model)``; the
    number its claims rest on) at each saved checkpoint step, the mean over seeds, then at the end (``scores``, the
    final evaluation's), with each control's OOD joint accuracy beside it."""
    out = {}
    for m in next(iter(seeded.values())):
        values = []
        for _, point in curve_points(m.config)[:-1]:
            per_seed = [{m.key: score_evaluation(s, evaluate(s.config, name, point, layers=()), scoring(m))}
                        for models in seeded.values() for s in models if s.key == m.key]
            values.append(mean_scores(per_seed)[m.key][OOD].joint)
        out[m.key] = Curve(m.key, "OOD strict joint", [s for s, _ in curve_points(m.config)],
                           [*values, scores[m.key][OOD].joint], {k: c[m.key][OOD].joint for k, c in controls.items()})
    return out


def stripe_accuracy(model: ModelSpec, name: str, count: int = 256, seed: int = 0) -> float:
    """Strict accuracy of the trained ``model`` on ``count`` of its own 1D training centres (seeded draw):
    the stripe it draws must sit within one pixel of the requested in-frame coordinate (App. A.3's darkest
    pixel, which lies on the stripe; a centroid fallback counts as wrong)."""
    cfg = model.config
    train = training_labels(cfg.data)
    stripes = train[categorise(train, cfg.data) == CATEGORIES.index("1D")]
    pick = np.random.default_rng(seed).choice(len(stripes), size=min(count, len(stripes)), replace=False)
    labels = stripes[np.sort(pick)].astype(np.float32)
    ev = sample_and_score(load_checkpoint(cfg, name, "final"), cfg, "stripes", layers=(), labels=labels)
    return visible_accuracy(ev)


def visible_accuracy(ev: Evaluation) -> float:
    """Strict accuracy of the in-frame coordinates only (one for a 1D centre): each must be within one pixel."""
    labels, n = np.asarray(ev.labels, dtype=np.float64), ev.n
    visible = (labels >= 0) & (labels <= n)
    right = (np.abs(ev.centres - labels) < 1) & visible & strict(ev.method)[:, None]
    return float(np.mean(right.sum(axis=1) == visible.sum(axis=1)))


# controls -------------------------------------------------------------------------------------------
def control_scores(models: Sequence[ModelSpec], kinds: Sequence[str] = GENERATORS, scoring: str = "strict",
                   bump_scoring: Sequence[str] = ()) -> dict[str, dict[str, dict[str, Accuracy]]]:
    """``{control kind: {model key: region scores}}``: each control generator (:mod:`gdlib.controls`) drawn
    at the evaluation centres of each model, for that model's training set, and scored like the model.
    Models whose keys are in ``bump_scoring`` are scored with "strict bumps" (C8)."""
    out: dict[str, dict[str, dict[str, Accuracy]]] = {k: {} for k in kinds}
    for m in models:
        train = make_dataset(m.data) if {COPY, AVERAGE} & set(kinds) else None
        for kind in kinds:
            ev = control_evaluation(kind, m.config, train=train)
            out[kind][m.key] = score_evaluation(m, ev, "strict bumps" if m.key in bump_scoring else scoring)
    return out


__all__ = ["SCORINGS", "score_evaluation", "seed_scores", "learning_curves", "stripe_accuracy", "visible_accuracy",
           "control_scores"]
