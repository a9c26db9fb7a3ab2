"""The training side of the percolation experiment (Sec. 3.3, App. D.2; notebook 07): the sweep and what each
trained model did. Its claims (C11 on the simulation, C12, C12b, C12c) are
:mod:`gdlib.experiments.percolation_claims`, its figures :mod:`gdlib.plots.percolation`; the simulation of
Fig. 6c / 13 / 14b is :mod:`gdlib.percolation`.

Models are trained on nested subsets of the N x N lattice at d = 1 (the integer pixel positions 1..N,
which are also the evaluation grid of App. A.3): for every sigma the same centres, for every lambda a
superset of the smaller lambdas (:func:`gdlib.datasets.nested_subsets`), so two models differ only by
sigma and lambda. Every model sees the same number of batches (App. A.6,
:func:`gdlib.config.with_equal_batches`).

- :func:`sweep_configs`: one :class:`~gdlib.training.TrainConfig` per (sigma, lambda);
- :func:`gdlib.experiments.percolation_losses.final_losses`: the final training and validation loss of Fig. 14c;
- :func:`collect_results` -> :class:`SweepTable`: accuracy (all centres, seen and unseen), losses,
  the training set's own largest-cluster mass ratio, steps and wall time per model; with ``source=...`` the
  same table for the untrained network or a control generator;
- :mod:`gdlib.experiments.percolation_curves`: C12's number along each model's run and its still-learning gates.

Choices where the paper is silent:
- The reference for equal batches is the full lattice (lambda = 1) trained for ``base.epochs`` epochs;
  a set of lambda N^2 images gets ``ceil(reference batches / its batches per epoch)`` epochs.
- The validation set of a model is the complement of its training set on the lattice
  (``make_dataset(cfg, split="heldout")``); at lambda = 1 it is empty and the validation loss is NaN.
- "Learnt" means joint accuracy (App. A.3) on all N^2 integer centres at or above a level fixed in the
  notebook; accuracy is also reported on the seen (training) and unseen centres separately.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch

from gdlib import device as _device
from gdlib.accuracy import accuracy, strict
from gdlib.checks import check_choice
from gdlib.config import TrainConfig, with_equal_batches
from gdlib.controls import GENERATORS, control_evaluation
from gdlib.datasets import DatasetConfig, nested_subsets, training_labels
from gdlib.experiments.percolation_losses import diffusion_loss, final_losses
from gdlib.percolation import largest_cluster_ratio
from gdlib.regions import on_centres
from gdlib.runs import Evaluation, evaluate, load_metrics, sample_and_score
from gdlib.seeds import check_seeds, lowest, mean, spread
from gdlib.tables import markdown_table

#: The lambda grid of Fig. 6e (nested subsets, each containing the smaller).
PAPER_LAMBDAS = tuple(round(0.1 * k, 1) for k in range(1, 11))


# the sweep ----------------------------------------------------------------------------------------
def lattice_data(n: int, sigma: float, subset_seed: int = 0) -> DatasetConfig:
    """The full N x N lattice at d = 1 of bumps of width ``sigma`` on the plane (Sec. 3.3), lambda = 1."""
    return DatasetConfig(family="bump", n=n, sigma=sigma, d=1.0, periodic=False, subsample_seed=subset_seed)


def sweep_configs(base: TrainConfig, sigmas: Sequence[float], lambdas: Sequence[float],
                  subset_seed: int = 0) -> dict[tuple[float, float], TrainConfig]:
    """One config per (sigma, lambda): ``base`` trained on the nested lattice subset, with equal batches.

    ``base.data.n`` gives N; ``base.epochs`` is the number of epochs of the full lattice (lambda = 1,
    N^2 images), the reference every other model matches in batches (App. A.6). Checkpoint and
    evaluation epochs of ``base`` are scaled with the epochs; the final evaluation always happens.
    """
    if not sigmas or not lambdas:
        raise ValueError("sigmas and lambdas must not be empty")
    n = base.data.n
    out: dict[tuple[float, float], TrainConfig] = {}
    for sigma in sigmas:
        for lam, data in nested_subsets(lattice_data(n, sigma, subset_seed), list(lambdas)).items():
            m = len(training_labels(data))
            out[(float(sigma), float(lam))] = with_equal_batches(replace(base, data=data), m, n * n, base.epochs)
    return out


def seeded_configs(base: TrainConfig, sigmas: Sequence[float], lambdas: Sequence[float],
                   seeds: Sequence[int]) -> dict[int, dict[tuple[float, float], TrainConfig]]:
    """:func:`sweep_configs` once per seed: seed s trains with ``seed = s`` on the lattice subset drawn with
    ``subset_seed = s`` (:mod:`gdlib.seeds`), so the spread covers both the training and the draw of sites."""
    return {s: sweep_configs(replace(base, seed=s), sigmas, lambdas, subset_seed=s) for s in check_seeds(seeds)}


def batch_counts(configs: Mapping[tuple[float, float], TrainConfig]) -> dict[tuple[float, float], int]:
    """Optimizer steps (batches) each config will take over its whole training."""
    return {k: cfg.total_steps(len(training_labels(cfg.data))) for k, cfg in configs.items()}


def seen_mask(cfg: TrainConfig, labels: np.ndarray) -> np.ndarray:
    """Whether each label (M, 2) is one of the config's training centres (to 1e-4)."""
    return on_centres(labels, training_labels(cfg.data))


def seen_unseen(cfg: TrainConfig, ev: Evaluation) -> tuple[float, float]:
    """Strict joint accuracy (App. A.3, every centroid fallback wrong) of ``ev`` on the training centres of ``cfg``
    and on the others (NaN where there are none)."""
    by_seen = accuracy(ev.labels, ev.centres, cfg.data.n, regions=seen_mask(cfg, ev.labels).astype(np.int8),
                       region_names={1: "seen", 0: "unseen"}, valid=strict(ev.method))
    return by_seen["seen"].joint, by_seen["unseen"].joint


# the result table ---------------------------------------------------------------------------------
_TABLE_FIELDS = ("n_train", "steps", "accuracy", "accuracy_strict", "accuracy_seen", "accuracy_unseen",
                 "train_loss", "val_loss", "mass_ratio", "wall_s")


@dataclass
class SweepTable:
    """What each model of the sweep did; every array has shape (len(sigmas), len(lambdas)).

    ``accuracy`` is the joint accuracy (App. A.3) on all N^2 integer centres, ``accuracy_strict`` the same
    with every centroid fallback counted wrong; ``accuracy_seen`` / ``accuracy_unseen`` the strict joint
    accuracy on the training centres and on the others (NaN where there are none); ``mass_ratio`` is the largest
    cluster mass ratio of the training set itself at ``threshold`` (the simulation's criterion applied
    to the data the model saw); ``wall_s`` the training time including its evaluations.
    """

    sigmas: tuple[float, ...]
    lambdas: tuple[float, ...]
    threshold: float
    values: dict[str, np.ndarray] = field(default_factory=dict)
    spread: dict[str, np.ndarray] = field(default_factory=dict)
    seeds: int = 1
    lowest: dict[str, np.ndarray] = field(default_factory=dict)  # over seeds: each field's lowest (gates)

    @classmethod
    def mean(cls, tables: Sequence[SweepTable]) -> SweepTable:
        """The mean over seeds of the same sweep's tables, with the spread of every field (:mod:`gdlib.seeds`)."""
        if not tables:
            raise ValueError("SweepTable.mean needs at least one table")
        first = tables[0]
        if any((t.sigmas, t.lambdas, t.threshold) != (first.sigmas, first.lambdas, first.threshold) for t in tables):
            raise ValueError("the tables of every seed must share sigmas, lambdas and threshold")
        stack = {k: np.stack([t.values[k] for t in tables]) for k in first.values}
        return cls(first.sigmas, first.lambdas, first.threshold, {k: mean(v) for k, v in stack.items()},
                   {k: spread(v) for k, v in stack.items()}, len(tables), {k: lowest(v) for k, v in stack.items()})

    def __getattr__(self, name: str) -> np.ndarray:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def spread_note(self, field_name: str, label: str) -> str:
        """For a claim's row: the seeds averaged and the largest spread of ``field_name`` (empty for one seed)."""
        if self.seeds == 1:
            return ""
        sd = self.spread[field_name]
        largest = float(np.nanmax(sd)) if np.isfinite(sd).any() else math.nan
        shown = f"{100 * largest:.1f} points" if field_name.startswith("accuracy") else f"{largest:.3g}"
        return f"mean of {self.seeds} seeds; largest spread (sd) of {label}: {shown}; gates on the lowest seed"

    def rows(self) -> list[dict[str, float]]:
        """One dict per model: sigma, lambda and every field."""
        return [{"sigma": s, "lambda": lam, **{k: float(v[i, j]) for k, v in self.values.items()}}
                for i, s in enumerate(self.sigmas) for j, lam in enumerate(self.lambdas)]

    def to_markdown(self) -> str:
        """The table as Markdown (one row per model), accuracies as percentages; over several seeds the means, and
        the spread of the strict accuracies in columns of their own."""
        frame = pd.DataFrame(self.rows()).round({"train_loss": 4, "val_loss": 4, "mass_ratio": 2, "wall_s": 0})
        if self.seeds > 1:
            for k in ("accuracy_strict", "accuracy_unseen"):
                frame[f"sd {k}"] = self.spread[k].ravel()
        names = {"n_train": "train images", "accuracy": "acc. all (App. A.3)", "accuracy_strict": "strict",
                 "accuracy_seen": "strict seen", "accuracy_unseen": "strict unseen", "train_loss": "train loss",
                 "val_loss": "val. loss", "mass_ratio": f"mass ratio @{self.threshold:g}", "wall_s": "train s"}
        names |= {"sd accuracy_strict": "sd strict", "sd accuracy_unseen": "sd strict unseen"}
        frame = frame.rename(columns=names)
        percent = [v for k, v in names.items() if "acc" in k and v in frame.columns]
        return markdown_table(frame, percent=percent, digits=1)


SOURCES = ("model", "untrained", *GENERATORS)


def untrained_model(cfg: TrainConfig) -> torch.nn.Module:
    """The network of ``cfg`` as training initialises it (seed ``cfg.seed``), on the default device."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        return _device.prepare_model(cfg.make_model()).eval()


def collect_results(configs: Mapping[tuple[float, float], TrainConfig], name: str, threshold: float = 0.005,
                    loss_timesteps_count: int = 10, loss_seed: int = 0, source: str = "model") -> SweepTable:
    """Measure every model of the sweep (see :class:`SweepTable`). ``source``: "model" reads each finished
    model back from the cache; "untrained" measures the network as initialised (samples and losses); a
    control generator of :mod:`gdlib.controls` (one of :data:`gdlib.controls.GENERATORS`) gives accuracies only
    (its losses and training time are NaN)."""
    check_choice("source", source, SOURCES)
    sigmas = tuple(sorted({s for s, _ in configs}))
    lambdas = tuple(sorted({lam for _, lam in configs}))
    vals = {k: np.full((len(sigmas), len(lambdas)), np.nan) for k in _TABLE_FIELDS}
    for (sigma, lam), cfg in configs.items():
        i, j = sigmas.index(sigma), lambdas.index(lam)
        train = training_labels(cfg.data)
        losses, wall = (math.nan, math.nan), math.nan
        if source == "model":
            ev = evaluate(cfg, name, "final", layers=())
            losses = final_losses(cfg, name, loss_timesteps_count, loss_seed)
            walls = load_metrics(cfg, name)["wall_s"]
            wall = float(np.nanmax(walls)) if len(walls) else math.nan
        elif source == "untrained":
            model = untrained_model(cfg)
            ev = sample_and_score(model, cfg, "untrained", layers=())
            losses = tuple(diffusion_loss(model, cfg, split, loss_timesteps_count, loss_seed)
                           for split in ("train", "heldout"))
        else:
            ev = control_evaluation(source, cfg)
        seen, unseen = seen_unseen(cfg, ev)
        row = {"n_train": len(train), "steps": cfg.total_steps(len(train)), "accuracy": ev.accuracy,
               "accuracy_strict": ev.strict_accuracy, "accuracy_seen": seen, "accuracy_unseen": unseen,
               "train_loss": losses[0], "val_loss": losses[1],
               "mass_ratio": largest_cluster_ratio(np.rint(train).astype(np.int64), sigma, threshold, cfg.data.n),
               "wall_s": wall}
        for k, v in row.items():
            vals[k][i, j] = v
    return SweepTable(sigmas, lambdas, threshold, vals)


def collect_mean(configs: Mapping[int, Mapping[tuple[float, float], TrainConfig]], name: str, *args,
                 **kwargs) -> SweepTable:
    """:func:`collect_results` for each seed's configs (:func:`seeded_configs`), averaged (:meth:`SweepTable.mean`)."""
    return SweepTable.mean([collect_results(c, name, *args, **kwargs) for c in configs.values()])


def training_set_table(configs: Mapping[tuple[float, float], TrainConfig], thresholds: Sequence[float]) -> pd.DataFrame:
    """One row per model: its training set's size, steps, epochs, and the set's own largest-cluster mass ratio at
    each overlap threshold (the simulation's criterion applied to the data the model sees)."""
    rows = []
    for (sigma, lam), cfg in configs.items():
        pts = np.rint(training_labels(cfg.data)).astype(int)
        ratios = {f"mass ratio @{t:g}": round(largest_cluster_ratio(pts, sigma, t, cfg.data.n), 2) for t in thresholds}
        rows.append({"sigma": sigma, "lambda": lam, "images": len(pts), "steps": cfg.total_steps(len(pts)),
                     "epochs": cfg.epochs, **ratios})
    return pd.DataFrame(rows)


__all__ = [
    "PAPER_LAMBDAS", "lattice_data", "sweep_configs", "seeded_configs", "batch_counts", "seen_mask", "seen_unseen",
    "SweepTable", "SOURCES", "untrained_model", "collect_results", "collect_mean", "training_set_table",
]
