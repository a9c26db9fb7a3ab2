"""Notebook 07's learning curves and C12's still-learning gates (issue 20; the mechanism is :mod:`gdlib.curves`).

C12 is a claim about the lattice centres a model never saw, so each model it rests on (every (sigma, lambda) that
leaves centres unseen) saves its weights at :data:`gdlib.curves.CURVE_FRACTIONS` of its optimiser steps
(:func:`with_curves`: notebook 07 trains by epochs under equal batches, so the steps come from each training set's
size, :func:`gdlib.curves.run_steps`). Each checkpoint is sampled and scored like the final weights, which gives
C12's number along the model's own run (:func:`learning_curves`), and :func:`still_learning_gates` turns those
curves into the gates C12 is decided under.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

import numpy as np

from gdlib.claims import Gate
from gdlib.config import TrainConfig
from gdlib.curves import CURVE_FRACTIONS, STILL_LEARNING_TOLERANCE, Curve, points, still_learning, with_curve
from gdlib.datasets import training_labels
from gdlib.experiments.percolation import SweepTable, seen_unseen
from gdlib.experiments.percolation_claims import sigma_name
from gdlib.runs import evaluate
from gdlib.seeds import mean

#: The number C12 rests on, as its curves name it.
CURVE_METRIC = "unseen strict joint"


def with_curves(configs: Mapping[tuple[float, float], TrainConfig],
                fractions: Sequence[float] = CURVE_FRACTIONS) -> dict[tuple[float, float], TrainConfig]:
    """``configs`` with learning-curve checkpoints (:func:`gdlib.curves.with_curve`, at ``fractions`` of each run's
    optimiser steps, which equal batches fix through its epochs) on every model that leaves lattice centres unseen:
    the models C12 rests on. A model of the full lattice (lambda = 1) has no unseen centre and keeps its config
    (and its cache key)."""
    out = {}
    for key, cfg in configs.items():
        m = len(training_labels(cfg.data))
        out[key] = with_curve(cfg, fractions, m) if m < cfg.data.n ** 2 else cfg
    return out


def curve_name(sigma: float, lam: float) -> str:
    """The name of the model at (``sigma``, ``lam``) in its learning curve and REPORT.md."""
    return f"sigma {sigma:g}, lambda {lam:g}"


def learning_curves(configs: Mapping[int, Mapping[tuple[float, float], TrainConfig]], name: str, table: SweepTable,
                    controls: Mapping[str, SweepTable]) -> dict[tuple[float, float], Curve]:
    """Each model's learning curve of the number C12 rests on, its strict joint accuracy on the unseen centres: at
    each saved checkpoint (:func:`with_curves`), sampled and scored exactly like the final weights
    (:func:`gdlib.runs.evaluate`: the same N x N centres, sampler and noise), the mean over the seeds of ``configs``
    (:func:`gdlib.experiments.percolation.seeded_configs`); then at the end, ``table``'s value
    (:func:`gdlib.experiments.percolation.collect_mean`, the number C12 reads). Beside it each control's unseen
    accuracy (``controls``: ``{kind: collect_mean(..., source=kind)}``). A model of the full lattice (no unseen
    centre) has no curve; one with unseen centres but no checkpoint (``fractions`` empty in :func:`with_curves`) has
    a curve of its end alone, whose gate fails (:func:`gdlib.curves.still_learning`): C12 is not decided on it."""
    out = {}
    for key, cfg in next(iter(configs.values())).items():
        m = len(training_labels(cfg.data))
        if m >= cfg.data.n ** 2:
            continue
        i, j = table.sigmas.index(key[0]), table.lambdas.index(key[1])
        curve = points(cfg, m)
        values = [float(mean(np.array([seen_unseen(c[key], evaluate(c[key], name, point, layers=()))[1]
                                       for c in configs.values()]))) for _, point in curve[:-1]]
        out[key] = Curve(curve_name(*key), CURVE_METRIC, [s for s, _ in curve],
                         [*values, table.values["accuracy_unseen"][i, j]],
                         {kind: t.values["accuracy_unseen"][i, j] for kind, t in controls.items()})
    return out


def still_learning_gates(curves: Mapping[tuple[float, float], Curve],
                         tolerance: float = STILL_LEARNING_TOLERANCE) -> list[Gate]:
    """C12's still-learning gates (:func:`gdlib.curves.still_learning`), one per model C12 rests on (``curves``:
    :func:`learning_curves`). A gate passes when that model's strict joint accuracy on its unseen centres moved by
    less than ``tolerance`` (5 points, fixed before any run) between the last two points of its curve, S/2 and S.

    The choice: C12 compares the unseen accuracy across lambdas and sigmas (a rise over lambda, onsets), so every
    model enters it, and it is decided only when every one of them has stopped moving. Each gate carries its
    model's sigma as its name, the name C12's parts rest on
    (:func:`gdlib.experiments.percolation_claims.learns_unseen`): a model still moving at any lambda keeps its
    sigma's parts, and the onset order of all sigmas, from failing the claim, and the verdict is "not decided: still
    learning at S steps" naming each model still moving (:func:`gdlib.claims.verdict`, no branch of its own). The
    training-centre gate (:func:`gdlib.experiments.percolation_claims.training_gates`) stays beside these.

    C12b and C12c get no still-learning gate. C12b's width is measured over every correctly placed sample of one
    model, seen and unseen centres alike: how the model draws a bump, not what it does on held-out data. C12c's
    validation loss is on held-out centres, but the claim is about the losses at the end of equal-batch runs
    (Fig. 14c), and its number is a loss, for which no tolerance was fixed before any run (the 5 points are points
    of accuracy)."""
    return [still_learning(replace(c, model=sigma_name(sigma), metric=f"{c.metric} at lambda {lam:g}"), tolerance)
            for (sigma, lam), c in curves.items()]


__all__ = ["CURVE_METRIC", "with_curves", "curve_name", "learning_curves", "still_learning_gates"]
