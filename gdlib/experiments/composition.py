"""The composition experiments of Sec. 3.2 and App. C.2-C.4 (notebook 05): the models and their tables.
Their claims (gates, the memorisation floor, criteria C6a-C9c) are :mod:`gdlib.experiments.composition_claims`,
their figures :mod:`gdlib.plots.composition`.

Every model of the notebook is a :class:`ModelSpec`: a :class:`~gdlib.training.TrainConfig` plus what the
notebook needs to read it (its experiment, label, swept value, and the held-out region that scores it).
:func:`experiment_models` builds them all from one training template, so the notebook trains them in one
sweep (:func:`gdlib.sweeps.run_sweep`, model name :data:`MODEL_NAME`) that runs on a cluster unchanged.

Experiments (``ModelSpec.experiment``):

- ``"sos"``: the 2D, 1D and 2D+1D SOS models with the composition cross held out (Fig. 4 c-e, Fig. 9 e-g);
- ``"rim"``: 1D stripes with the partly visible 2D rim (App. C.2, Fig. 10 d-f), beside the 1D model (stripes
  without the rim, Fig. 10 a-c), which belongs to ``"sos"`` and is not trained twice;
- ``"bump_stripes"``: 2D bumps with the cross held out plus the 1D stripes, the bumps subsampled (Fig. 4g, 9h);
- ``"lesion"``: 2D SOS with a vertical lesion of width w held out (App. C.3, Fig. 11);
- ``"square"``: 2D bumps or 2D SOS with an interior or exterior W x W cut (App. C.4, Fig. 12).

How each model is scored (region accuracies, seeds, controls) is :mod:`gdlib.experiments.composition_scores`.

Choices where the paper is silent (written down in notebook 05 too):

- every model trains for the same number of optimiser steps (``TrainConfig.steps``): App. A.6's
  "constant total number of batches" across a sweep whose training sets differ in size;
- the extended space's margin stays the paper's 6 pixels at every N (not 6 N / 32): sigma is not scaled, and
  a stripe of sigma = 1 stays visible (one grey level) up to 4.7 pixels outside the frame, so a margin of
  3 (N = 16) would leave no invisible band, hence no 1D data and no "1D stripes without rim" set at all;
- the 1D models' "in-distribution" and "OOD" (Fig. 10 b, e) are outside and inside the cross, although
  neither model saw any 2D sample in the frame;
- the lesion and square models are trained on 2D data alone (no stripes, no margin), on the plane;
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

import pandas as pd

from gdlib.accuracy import OOD, Accuracy
from gdlib.checks import check_choice, check_int, check_range
from gdlib.claims import Gate
from gdlib.config import TrainConfig
from gdlib.datasets import PAPER_MARGIN, DatasetConfig, composition_sets, rim_kept, training_labels
from gdlib.regions import CROSS_READINGS, IN_DISTRIBUTION, Cross, HoldOut, Lesion, Square
from gdlib.tables import pct

MODEL_NAME = "composition"
CROSS_PARTS = ("vertical", "horizontal", "intersection")
SQUARE_KINDS = (("bump", "interior"), ("bump", "exterior"), ("sos", "interior"), ("sos", "exterior"))
EXPERIMENTS = ("sos", "rim", "bump_stripes", "lesion", "square")

# The three SOS models of Fig. 4 and the rim model of Fig. 10, keyed by their composition_sets names.
SOS_MODELS = {"2D": "2D SOS", "1D": "1D stripes (no rim)", "2D+1D": "2D+1D SOS"}
RIM_MODEL = ("1D + rim", "1D stripes + 2D rim")


@dataclass(frozen=True)
class ModelSpec:
    """What one model of notebook 05 is (its training config, not a network) and how to read it.

    ``key`` is unique in the notebook (a figure label); ``value`` the swept quantity (keep fraction,
    lesion width w, square width W) or None; ``scoring`` the hold-out whose regions score it;
    ``learnt_metric`` "joint" or "stripes" (see :func:`gdlib.experiments.composition_claims.gate`).
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
        check_choice("learnt_metric", self.learnt_metric, ("joint", "stripes"))

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

    ``cross`` defaults to a 6-pixel band centred on the canvas over the frame only (:meth:`Cross.centred`: the
    paper's [13, 19] at N = 32, whose width follows sigma, not N, and the paper's reading, Sec. 3.2 and App.
    C.1-C.2: rim images centred outside the frame are trained on); ``margin`` is the extended space's (the
    paper's 6 by default, see the module docstring). Lesion and square widths are in pixels.
    """
    cross = Cross.centred(n) if cross is None else cross
    sets = composition_sets(n=n, sigma=sigma, d=d, margin=margin, cross=cross)
    train = lambda data: replace(base, data=data, eval_layers=())  # notebook 05 reads no activations
    models = [ModelSpec(key, "sos", key, train(sets[name]), cross, learnt_metric="stripes" if key == "1D" else "joint")
              for key, name in SOS_MODELS.items()]
    models.append(ModelSpec(RIM_MODEL[0], "rim", RIM_MODEL[0], train(sets[RIM_MODEL[1]]), cross,
                        learnt_metric="stripes"))
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


#: The experiments whose training sets the cross's reading changes: C7, C7b and C8 rest on their models.
READING_EXPERIMENTS = ("sos", "rim", "bump_stripes")


def under_reading(models: Sequence[ModelSpec], reading: str) -> list[ModelSpec]:
    """The models of :data:`READING_EXPERIMENTS` with their cross read as ``reading`` (:data:`CROSS_READINGS`),
    keyed ``"<key> (<reading>)"``, to show that reading beside the notebook's. A set that the reading does not
    change (no rim: the 2D and 1D models) keeps its config, so that a sweep trains that model once."""
    check_choice("reading", reading, CROSS_READINGS)
    out = []
    for m in models:
        if m.experiment in READING_EXPERIMENTS and isinstance(m.scoring, Cross):
            cross, config = m.scoring.read_as(reading), m.config
            if len(set(rim_kept(m.data).values())) > 1:
                config = replace(config, data=replace(m.data, holdout=cross))
            out.append(replace(m, key=f"{m.key} ({reading})", scoring=cross, config=config))
    return out


def by_key(models: Sequence[ModelSpec]) -> dict[str, ModelSpec]:
    return {m.key: m for m in models}


# tables ---------------------------------------------------------------------------------------------
#: The columns of :func:`results_table` and of ``composition_claims.learnt_table`` that hold fractions (percentages).
PERCENT_COLUMNS = ("joint", "x", "y", "ID joint", "ID x", "ID y", "OOD joint", "OOD joint (App. A.3)", "within 1 px",
                   "OOD within 1 px")


def results_table(models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]],
                  controls: Mapping[str, Mapping[str, Mapping[str, Accuracy]]] | None = None) -> pd.DataFrame:
    """One row per model and region: model, generator, experiment, value, region, count, joint, x, y and the graded
    error (:class:`~gdlib.accuracy.Accuracy`: median |mu - mu_hat| in pixels, share within 1 px); with ``controls``
    (``{kind: {model key: region scores}}``) each control's row follows the model's, in the same columns."""
    generators = {"model": scores, **(controls or {})}
    return pd.DataFrame([{"model": m.key, "generator": kind, "experiment": m.experiment, "value": m.value,
                          "region": region, "count": acc.count, "joint": acc.joint, "x": acc.x, "y": acc.y,
                          "median px": acc.median_error, "within 1 px": acc.within_one}
                         for m in models for region in scores[m.key]
                         for kind, by_model in generators.items() if m.key in by_model
                         for acc in (by_model[m.key][region],)])


def learnt_table(models: Sequence[ModelSpec], scores: Mapping[str, Mapping[str, Accuracy]],
                 gates: Mapping[str, Gate], headline: Mapping[str, Mapping[str, Accuracy]] | None = None
                 ) -> pd.DataFrame:
    """One row per model: training images, steps, in-distribution strict accuracy, its gate
    (:func:`gdlib.experiments.composition_claims.gate`), OOD strict joint accuracy and graded error (and App. A.3's
    headline OOD joint beside it when ``headline`` scores are given)."""
    rows = []
    for m in models:
        g, s = gates[m.key], scores[m.key]
        row = {"model": m.key, "training images": len(training_labels(m.data)), "steps": m.config.steps,
               "ID joint": s[IN_DISTRIBUTION].joint, "ID x": s[IN_DISTRIBUTION].x, "ID y": s[IN_DISTRIBUTION].y,
               "gate": f"{m.learnt_metric} {pct(g.value)}", "learnt": g.passed, "OOD joint": s[OOD].joint,
               "OOD median px": s[OOD].median_error, "OOD within 1 px": s[OOD].within_one}
        if headline is not None:
            row["OOD joint (App. A.3)"] = headline[m.key][OOD].joint
        rows.append(row)
    return pd.DataFrame(rows)


def scale(models: Sequence[ModelSpec], samples_note: str = "", seeds: Sequence[int] | None = None) -> str:
    """The scale a claim was measured at: N, d, width, the models' optimiser steps, samples, seed(s)."""
    cfgs = [m.config for m in models]
    steps = sorted({c.steps for c in cfgs})
    c = cfgs[0]
    span = f"{steps[0]:,}" if len(steps) == 1 else f"{steps[0]:,}-{steps[-1]:,}"
    return (f"N = {c.data.n}, d = {c.data.d_x:g}, UNet width {c.width}, {span} optimiser steps of batch "
            f"{c.batch_size}, {c.data.n ** 2} samples per model ({c.sampler}, {c.sample_steps} steps), "
            + (f"seeds {list(seeds)} (mean)" if seeds and len(seeds) > 1 else f"seed {c.seed}")
            + (f"; {samples_note}" if samples_note else ""))


__all__ = [
    "MODEL_NAME", "CROSS_PARTS", "SQUARE_KINDS", "EXPERIMENTS", "ModelSpec", "experiment_models",
    "select", "READING_EXPERIMENTS", "under_reading", "by_key", "results_table", "learnt_table", "PERCENT_COLUMNS",
    "scale",
]
