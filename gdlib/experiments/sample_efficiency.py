"""Sample efficiency of data with independent factors (Sec. 3.2, Fig. 5; App. C.2): notebook 06.

For several image sizes N, the centre square holding 20% of the 2D bumps is held out
(:class:`gdlib.regions.CentreSquare`) and models are trained on a percentage of the remaining bumps,
either alone (*baseline*) or with the 1D Gaussian stripes of the extended latent space (*augmented*,
Fig. 9h). This module builds the sweep and scores each model; :mod:`gdlib.experiments.sample_efficiency_claims`
finds, for each N and data set, the training-set size at which the accuracy crosses 60% and fits the exponent of
that size against N on log-log axes (claim C10; paper: about 1 with stripes, about 2 without).

Choices where the paper is silent (the notebook repeats them):

- **Data sets** (:func:`data_config`). Baseline: 2D bumps only, no margin, ``include=("2D",)``.
  Augmented: the same formula and hold-out with the extended space, ``include=("2D", "1D", "0D")``:
  **no rim**. The rim (bumps whose centre is just outside the frame, partly visible) holds 2D
  compositional examples whose number exceeds that of the interior bumps at small N (20,664 against
  5,336 at N = 8, d = 0.1); kept, it would swamp the subsampling that Fig. 5 varies. Without it the
  only compositional examples are the kept interior bumps, so the sweep measures how many of them the
  stripes need (App. C.2's "a few compositional examples"). ``include_rim=True`` gives the paper's
  Fig. 9h set instead.
- **Margin**: ``margin`` pixels at every N (default 6, the paper's value at N = 32), *not* scaled in
  proportion to N. The margin exists to hold centres whose stripe is invisible, and visibility depends
  on sigma (fixed in pixels), not on N: a sigma = 1 stripe still darkens a pixel by one grey level when
  its centre is 3.7 pixels outside the frame (:func:`gdlib.datasets.visible`), so a proportional margin
  (6 N / 32 = 1.5 at N = 8, 3 at N = 16) would leave no 1D stripe at all below N of about 20. With a
  constant margin the stripes (1D + 0D) grow linearly in N: 4 b (N + 7.4) / d^2 + (2 b / d)^2 with the
  invisible band b = margin - 3.7 on each side.
- **Dataset size** = every training image: the kept 2D bumps, plus the 1D stripes and the blank 0D
  images for the augmented set (the paper's claim is about total data). The kept-bump count alone is
  tabulated and fitted as well.
- **Subsampling**: ``keep_fraction = percent / 100`` with ``subsample_seed = seed``, nested in the
  percentage for a given seed (:func:`gdlib.datasets.nested_subsets`). The baseline and augmented grids
  start at different offsets (0 and -margin), so their kept bumps are not the same centres.
- **Training length**: a fixed number of optimizer steps per N, whatever the data set
  (``TrainConfig.steps``): models on fewer data see proportionally more epochs, so the number of batches
  is constant per N (App. A.6). :func:`gdlib.config.with_equal_batches` does the same by whole epochs,
  which rounds a data set larger than the step budget up to one whole epoch (at ``quick`` the augmented
  sets are): steps keep it exact.
- **Accuracy** (App. A.3): on the N*N integer centres 1..N, joint (both coordinates within one pixel);
  *overall* = all centres, *ID* = outside the centre square, *OOD* = inside it. The **overall** accuracy
  drives the 60% threshold: "the accuracy of the models in generating 2D Gaussian bumps" (Sec. 3.2)
  without qualification, and the baseline can reach 60% overall by its in-distribution 80% alone.
- **Learning curves** (:func:`learning_curves`, :mod:`gdlib.curves`): every model saves its weights at fractions of
  its own steps; each checkpoint is sampled and scored exactly as the final weights (:func:`scores_of` of
  :func:`gdlib.runs.evaluate`: same sampler, same noise, same centres), which gives the accuracy the 60% crossing
  reads along the model's run, with the blank generator's and the copier's beside it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from gdlib.accuracy import ALL, OOD, region_accuracy, strict
from gdlib.checks import check_choice, check_int, check_range
from gdlib.config import TrainConfig
from gdlib.controls import control_evaluation
from gdlib.curves import Curve
from gdlib.curves import points as curve_points
from gdlib.datasets import CATEGORIES, PAPER_MARGIN, DatasetConfig, categorise, training_labels
from gdlib.regions import IN_DISTRIBUTION, CentreSquare, grid, integer_grid
from gdlib.runs import evaluate
from gdlib.seeds import check_seeds

DATASETS = ("baseline", "augmented")
THRESHOLD = 0.6  # Sec. 3.2 / Fig. 5c: "a 60% accuracy threshold"
HOLDOUT_FRACTION = 0.2  # Sec. 3.2: "20% of the 2D Gaussian bumps from the center square"
PAPER_SLOPES = {"baseline": 2.0, "augmented": 1.0}  # Sec. 3.2: quadratic without stripes, linear with
LABELS = {"baseline": "2D bumps", "augmented": "2D bumps + 1D stripes"}
ACCURACY_COLUMNS = {"overall": "acc_all_strict", "ID": "acc_id_strict", "OOD": "acc_ood_strict"}


# the sweep -----------------------------------------------------------------------------------------
def data_config(n: int, dataset: str, percent: float, seed: int = 0, sigma: float = 1.0, d: float = 0.1,
                margin: float = PAPER_MARGIN, include_rim: bool = False,
                holdout_fraction: float = HOLDOUT_FRACTION) -> DatasetConfig:
    """The training set of one sweep point: ``percent`` % of the in-distribution 2D bumps at size ``n``,
    the centre square holding ``holdout_fraction`` of them held out; plus the stripes when augmented."""
    check_choice("dataset", dataset, DATASETS)
    check_range("percent", percent, 0, 100, low_open=True)
    base = DatasetConfig(family="bump", n=n, sigma=sigma, d=d, holdout=CentreSquare(holdout_fraction),
                         keep_fraction=percent / 100.0, subsample_seed=seed)
    if dataset == "baseline":
        return replace(base, margin=0.0, include=("2D",))
    include = ("2D", "rim", "1D", "0D") if include_rim else ("2D", "1D", "0D")
    return replace(base, margin=margin, include=include)


def _per_size(value: int | Sequence[int], sizes: Sequence[int], name: str) -> dict[int, int]:
    if isinstance(value, int):
        return {n: value for n in sizes}
    if len(value) != len(sizes):
        raise ValueError(f"{name} = {list(value)!r} is not allowed: must be one integer or one per size "
                         f"({len(sizes)} sizes)")
    return dict(zip(sizes, value))


@dataclass(frozen=True)
class SweepPoint:
    """One model of the sweep: data set, size N, percentage of bumps kept, seed, and its training config."""

    dataset: str
    n: int
    percent: float
    seed: int
    config: TrainConfig

    @property
    def key(self) -> str:
        return self.config.key()

    @property
    def name(self) -> str:
        """How tables, curves and gates name the model: ``baseline N=8 0.3% seed 0``."""
        return f"{self.dataset} N={self.n} {self.percent:g}% seed {self.seed}"


def sweep_points(template: TrainConfig, sizes: Sequence[int], percents: Sequence[float], seeds: Sequence[int],
                 steps: int | Sequence[int], sigma: float = 1.0, d: float = 0.1, margin: float = PAPER_MARGIN,
                 include_rim: bool = False, datasets: Sequence[str] = DATASETS) -> list[SweepPoint]:
    """Every (data set, N, percent, seed) of Fig. 5 as a :class:`SweepPoint`.

    ``template`` holds the model, diffusion and optimiser settings; its data and length are replaced:
    ``steps`` optimizer steps (one integer, or one per size) for every data set of a size, so the
    number of batches is constant per N; the seed sets both the subsample and the training seed.
    """
    if not sizes or not percents:
        raise ValueError("sizes and percents must each hold at least one value")
    seeds = check_seeds(seeds, "seeds")
    per_size = _per_size(steps, sizes, "steps")
    points = []
    for dataset in datasets:
        for n in sizes:
            check_int("size", n, 2)
            check_int("steps", per_size[n], 1)
            for seed in seeds:
                for percent in sorted(percents):
                    data = data_config(n, dataset, percent, seed, sigma, d, margin, include_rim)
                    cfg = replace(template, data=data, steps=per_size[n], epochs=1, seed=seed,
                                  checkpoint_epochs=(), eval_epochs=(), eval_layers=())  # 06 reads none
                    points.append(SweepPoint(dataset, n, float(percent), seed, cfg))
    return points


def reference_steps(n: int, epochs: int, batch_size: int, sigma: float = 1.0, d: float = 0.1) -> int:
    """Optimizer steps of ``epochs`` passes over the full baseline set of size ``n`` (every
    in-distribution bump): the reference that fixes the number of batches of every model at that N."""
    images = len(training_labels(data_config(n, "baseline", 100.0, sigma=sigma, d=d)))
    return epochs * math.ceil(images / batch_size)


def training_counts(data: DatasetConfig) -> dict[str, int]:
    """Training images of a data set by category (2D bumps, rim, 1D, 0D) without rendering them."""
    cat = categorise(training_labels(data), data)
    return {name: int(np.sum(cat == i)) for i, name in enumerate(CATEGORIES)}


def planned_table(points: Sequence[SweepPoint]) -> pd.DataFrame:
    """One row per model before training: sizes of its training set, steps and the epochs they make."""
    rows = []
    for p in points:
        counts = training_counts(p.config.data)
        images = sum(counts.values())
        rows.append({"dataset": p.dataset, "N": p.n, "percent": p.percent, "seed": p.seed,
                     "bumps": counts["2D"], "stripes": images - counts["2D"], "images": images,
                     "steps": p.config.steps, "epochs": p.config.steps * p.config.batch_size / images,
                     "key": p.key})
    return pd.DataFrame(rows)


def centre_square_share(n: int, d: float, fraction: float = HOLDOUT_FRACTION) -> tuple[float, float]:
    """Share of the (0, N]^2 grid of step d, and of the N*N evaluation centres, inside the centre square."""
    square = CentreSquare(fraction)
    return (float(square.codes(grid(d * np.arange(1, round(n / d) + 1)), n).mean()),
            float(square.codes(integer_grid(n), n).mean()))


# accuracy of each model --------------------------------------------------------------------------
def scores_of(ev, data: DatasetConfig) -> dict[str, float]:
    """App. A.3 accuracy of one evaluation on the N*N integer centres: overall (``acc_all``), outside the
    centre square (``acc_id``) and inside it (``acc_ood``), joint; plus x and y overall, and the same three
    joint accuracies under the strict rule (a centroid fallback counts wrong: ``*_strict``)."""
    out = {}
    for suffix, valid in (("", None), ("_strict", strict(ev.method))):
        acc = region_accuracy(ev.labels, ev.centres, data.n, data.holdout, data.periodic, valid)
        out.update({f"acc_all{suffix}": acc[ALL].joint, f"acc_id{suffix}": acc[IN_DISTRIBUTION].joint,
                    f"acc_ood{suffix}": acc[OOD].joint})
        if not suffix:
            out.update(acc_all_x=acc[ALL].x, acc_all_y=acc[ALL].y, eval_ood_share=acc[OOD].count / len(ev.labels))
    return out


def point_accuracy(point: SweepPoint, name: str) -> dict[str, float]:
    """:func:`scores_of` the trained sweep model's final evaluation."""
    return scores_of(evaluate(point.config, name, "final", layers=()), point.config.data)


def results_table(points: Sequence[SweepPoint], name: str | None, planned: pd.DataFrame | None = None,
                  control: str | None = None) -> pd.DataFrame:
    """:func:`planned_table` joined with every trained model's accuracy (NaN where a model is missing), or,
    with ``control`` (a :data:`gdlib.controls.GENERATORS` kind), with that control generator's accuracy at
    every sweep point (drawn at the evaluation centres for the point's training set, scored alike)."""
    table = planned_table(points) if planned is None else planned.copy()
    accs = []
    for p in points:
        if control is not None:
            accs.append(scores_of(control_evaluation(control, p.config), p.config.data))
            continue
        try:
            accs.append(point_accuracy(p, name))
        except FileNotFoundError:
            accs.append({})
    return pd.concat([table.reset_index(drop=True), pd.DataFrame(accs)], axis=1)


# learning curves ----------------------------------------------------------------------------------
#: The name of each accuracy column in curves and gates.
METRICS = {"acc_all_strict": "overall strict joint", "acc_id_strict": "ID strict joint",
           "acc_ood_strict": "OOD strict joint"}


def learning_curves(points: Sequence[SweepPoint], name: str, column: str = "acc_all_strict",
                    controls: Mapping[str, pd.DataFrame] | None = None) -> dict[str, Curve]:
    """Each sweep model's learning curve (:mod:`gdlib.curves`), by key: ``column`` of :func:`scores_of` at each of
    its checkpoint steps (``TrainConfig.checkpoint_steps``) and at the end, every point sampled like the final
    weights (:func:`gdlib.runs.evaluate`, cached where the sweep's job sampled it), with each control's ``column`` at
    the same sweep point beside it (``controls``: ``{kind: results_table(..., control=kind)}``, which do not train)."""
    check_choice("column", column, tuple(METRICS))
    beside = {kind: table.set_index("key")[column] for kind, table in (controls or {}).items()}
    out = {}
    for p in points:
        steps, values = [], []
        for step, point in curve_points(p.config):
            steps.append(step)
            values.append(scores_of(evaluate(p.config, name, point, layers=()), p.config.data)[column])
        out[p.key] = Curve(p.name, METRICS[column], steps, values, {k: v[p.key] for k, v in beside.items()})
    return out


__all__ = [
    "METRICS", "learning_curves",
    "DATASETS", "THRESHOLD", "PAPER_SLOPES", "data_config", "SweepPoint", "sweep_points", "reference_steps",
    "training_counts", "planned_table", "centre_square_share", "point_accuracy", "results_table", "scores_of",
]
