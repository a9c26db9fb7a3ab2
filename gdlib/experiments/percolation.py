"""The training side of the percolation experiment (Sec. 3.3, App. D.2; Fig. 6d-e, Fig. 14c, Fig. 15).

Models are trained on nested subsets of the N x N lattice at d = 1 (the integer pixel positions 1..N,
which are also the evaluation grid of App. A.3): for every sigma the same centres, for every lambda a
superset of the smaller lambdas (:func:`gdlib.datasets.nested_subsets`), so two models differ only by
sigma and lambda. Every model sees the same number of batches (App. A.6,
:func:`gdlib.training.with_equal_batches`). The simulation of Fig. 6c / 13 / 14b is
:mod:`gdlib.percolation`; this module builds the sweep, measures what each trained model did and draws it.

- :func:`sweep_configs`: one :class:`~gdlib.training.TrainConfig` per (sigma, lambda);
- :func:`diffusion_loss` / :func:`final_losses`: the final training and validation loss of Fig. 14c;
- :func:`collect_results` -> :class:`SweepTable`: accuracy (all centres, seen and unseen), losses,
  the training set's own largest-cluster mass ratio, steps and wall time per model;
- :func:`percolation_onsets` (:func:`gdlib.crossing.threshold_crossing`), :func:`simulation_reproduces` (C11,
  a reproduction of the simulation against numbers read off the paper's figures), :func:`learns_unseen` (C12,
  on the centres a model never saw), :func:`losses_rise` (C12c) and their controls (:func:`null_simulation`,
  :func:`flat_losses`, ``collect_results(source=...)``);
- :func:`bump_width`: how wide a generated bump is (Fig. 6d: the model draws sigma = 0.1 wider);
- plotting helpers for Fig. 6d, 6e, 13, 14c and 15.

Choices where the paper is silent:
- The reference for equal batches is the full lattice (lambda = 1) trained for ``base.epochs`` epochs;
  a set of lambda N^2 images gets ``ceil(reference batches / its batches per epoch)`` epochs.
- The validation set of a model is the complement of its training set on the lattice
  (``make_dataset(cfg, split="heldout")``); at lambda = 1 it is empty and the validation loss is NaN.
- The losses of Fig. 14c are measured after training with the final (EMA) weights at ``timesteps``
  fixed timesteps, the midpoints of ``timesteps`` equal strata of [0, T) (the same t for every image,
  a midpoint rule for the expectation over uniform t of Eq. 2), with noise drawn per lattice site
  and timestep from a seeded generator: every model, and both splits, see the same draws at a site.
- "Learnt" means joint accuracy (App. A.3) on all N^2 integer centres at or above a level fixed in the
  notebook; accuracy is also reported on the seen (training) and unseen centres separately.
- Width of a bump: the number of pixels of the darkest connected spot whose darkness is at least half
  the darkest pixel's (8-connected), and a sigma from the darkness-weighted second moment in a
  window around the darkest pixel (the bump formula's darkness exp(-r^2 / (4 sigma^2)) has per-axis
  variance 2 sigma^2; pixels below a tenth of the peak are ignored; a single dark pixel gives 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import pandas as pd
import torch
from scipy import ndimage

from gdlib import device as _device
from gdlib import diffusion
from gdlib.accuracy import accuracy, correct, strict
from gdlib.checks import check_choice, check_int, check_range
from gdlib.claims import Gate, Outcome, Part
from gdlib.controls import GENERATORS, control_evaluation
from gdlib.crossing import threshold_crossing
from gdlib.datasets import DatasetConfig, grid_centres, make_dataset, nested_subsets, training_labels
from gdlib.images import darkness, render
from gdlib.percolation import PercolationResult, largest_cluster_ratio
from gdlib.regions import nearest_indices, on_centres
from gdlib.tables import markdown_table, pct
from gdlib.training import TrainConfig, evaluate, load_checkpoint, load_metrics, sample_and_score, with_equal_batches

#: The lambda grid of Fig. 6e (nested subsets, each containing the smaller).
PAPER_LAMBDAS = tuple(round(0.1 * k, 1) for k in range(1, 11))
_MAX_NOISE_VALUES = 50_000_000  # sites x pixels drawn at once by diffusion_loss


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


def batch_counts(configs: Mapping[tuple[float, float], TrainConfig]) -> dict[tuple[float, float], int]:
    """Optimizer steps (batches) each config will take over its whole training."""
    return {k: cfg.total_steps(len(training_labels(cfg.data))) for k, cfg in configs.items()}


def seen_mask(cfg: TrainConfig, labels: np.ndarray) -> np.ndarray:
    """Whether each label (M, 2) is one of the config's training centres (to 1e-4)."""
    return on_centres(labels, training_labels(cfg.data))


# the losses of Fig. 14c ---------------------------------------------------------------------------
def loss_timesteps(T: int, timesteps: int) -> np.ndarray:
    """The midpoints of ``timesteps`` equal strata of [0, T): the t at which every image is scored."""
    check_int("timesteps", timesteps, 1, T)
    return np.floor((np.arange(timesteps) + 0.5) * T / timesteps).astype(np.int64)


def _site_index(cfg: DatasetConfig, labels: np.ndarray) -> np.ndarray:
    index, dist = nearest_indices(labels, grid_centres(cfg), return_distance=True)
    if np.any(dist > 1e-4):
        raise ValueError(f"label {tuple(np.asarray(labels)[np.argmax(dist)])} is not on the dataset's grid")
    return index


@torch.no_grad()
def diffusion_loss(model: torch.nn.Module, cfg: TrainConfig, split: str = "train", timesteps: int = 10,
                   seed: int = 0, batch_size: int = 256) -> float:
    """Eq. 2 (App. A.4) of ``model`` on ``cfg``'s training set or its held-out complement, deterministic.

    Every image is noised at the same ``timesteps`` fixed t (:func:`loss_timesteps`); the noise of a
    (lattice site, t) pair comes from a generator seeded by ``seed`` and t, so it is the same for every
    model, sigma, lambda and split. Returns the mean squared error over images, timesteps and pixels
    (NaN when the split is empty, e.g. the held-out set at lambda = 1). Runs on the model's device.
    """
    check_choice("split", split, ("train", "heldout"))
    check_int("seed", seed, 0)
    check_int("batch_size", batch_size, 1)
    data = make_dataset(cfg.data, split=split)
    if len(data) == 0:
        return float("nan")
    n = cfg.data.n
    sites = _site_index(cfg.data, data.labels)
    n_sites = len(grid_centres(cfg.data))
    if n_sites * n * n > _MAX_NOISE_VALUES:
        raise ValueError(f"data = {cfg.data} is not allowed: {n_sites} grid sites of {n}x{n} pixels is too many "
                         "for per-site noise (meant for the lattice at d = 1)")
    dev = next(model.parameters()).device
    was_training = model.training
    model.eval()
    schedule = cfg.schedule()
    x0_all = torch.from_numpy(np.ascontiguousarray(data.images)).to(dev).unsqueeze(1).float().div_(127.5).sub_(1.0)
    labels_all = torch.from_numpy(np.ascontiguousarray(data.labels, dtype=np.float32)).to(dev)
    total, count = 0.0, 0
    try:
        for t in loss_timesteps(cfg.T, timesteps):
            gen = torch.Generator(device="cpu").manual_seed(int(seed) * 1_000_003 + int(t))
            noise_all = torch.randn((n_sites, 1, n, n), generator=gen)[torch.from_numpy(sites)].to(dev)
            for start in range(0, len(data), batch_size):
                x0 = x0_all[start:start + batch_size]
                noise = noise_all[start:start + batch_size]
                tt = torch.full((len(x0),), int(t), dtype=torch.long, device=dev)
                mse = diffusion.loss(model, schedule, x0, labels_all[start:start + batch_size], t=tt, noise=noise)
                total += float(mse) * noise.numel()
                count += noise.numel()
    finally:
        if was_training:
            model.train()
    return total / count


def final_losses(cfg: TrainConfig, name: str, timesteps: int = 10, seed: int = 0) -> tuple[float, float]:
    """(training loss, validation loss) of the finished model of ``cfg`` under ``name`` (Fig. 14c)."""
    model = load_checkpoint(cfg, name, "final")
    return (diffusion_loss(model, cfg, "train", timesteps, seed),
            diffusion_loss(model, cfg, "heldout", timesteps, seed))


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

    def __getattr__(self, name: str) -> np.ndarray:
        values = self.__dict__.get("values", {})
        if name in values:
            return values[name]
        raise AttributeError(name)

    def rows(self) -> list[dict[str, float]]:
        """One dict per model: sigma, lambda and every field."""
        return [{"sigma": s, "lambda": lam, **{k: float(v[i, j]) for k, v in self.values.items()}}
                for i, s in enumerate(self.sigmas) for j, lam in enumerate(self.lambdas)]

    def to_markdown(self) -> str:
        """The table as Markdown (one row per model), accuracies as percentages."""
        frame = pd.DataFrame(self.rows()).round({"train_loss": 4, "val_loss": 4, "mass_ratio": 2, "wall_s": 0})
        names = {"n_train": "train images", "accuracy": "acc. all (App. A.3)", "accuracy_strict": "strict",
                 "accuracy_seen": "strict seen", "accuracy_unseen": "strict unseen", "train_loss": "train loss",
                 "val_loss": "val. loss", "mass_ratio": f"mass ratio @{self.threshold:g}", "wall_s": "train s"}
        return markdown_table(frame.rename(columns=names), percent=[names[k] for k in _TABLE_FIELDS if "acc" in k],
                              digits=1)


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
    control generator of :mod:`gdlib.controls` ("blank", "nearest training image", "formula oracle") gives
    accuracies only (its losses and training time are NaN)."""
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
        # strict joint accuracy (App. A.3, fallbacks wrong) on the training centres and on the others (NaN if none)
        by_seen = accuracy(ev.labels, ev.centres, cfg.data.n, regions=seen_mask(cfg, ev.labels).astype(np.int8),
                           region_names={1: "seen", 0: "unseen"}, valid=strict(ev.method))
        row = {"n_train": len(train), "steps": cfg.total_steps(len(train)), "accuracy": ev.accuracy,
               "accuracy_strict": ev.strict_accuracy, "accuracy_seen": by_seen["seen"].joint,
               "accuracy_unseen": by_seen["unseen"].joint,
               "train_loss": losses[0], "val_loss": losses[1],
               "mass_ratio": largest_cluster_ratio(np.rint(train).astype(np.int64), sigma, threshold, cfg.data.n),
               "wall_s": wall}
        for k, v in row.items():
            vals[k][i, j] = v
    return SweepTable(sigmas, lambdas, threshold, vals)


# claims -------------------------------------------------------------------------------------------
def percolation_onsets(result: PercolationResult, level: float = 0.5) -> np.ndarray:
    """Onset lambda (first mean mass ratio above ``level``) per (threshold, sigma); inf where it never is."""
    return np.array([[threshold_crossing(result.lambdas, result.mean[i, j], level, inclusive=False).first
                      for j in range(len(result.sigmas))] for i in range(len(result.thresholds))])


def onset_table(result: PercolationResult, level: float = 0.5) -> pd.DataFrame:
    """:func:`percolation_onsets` as a table: one row per threshold, one column per sigma ("never" where none)."""
    onsets = percolation_onsets(result, level)
    return pd.DataFrame([{"threshold": t, **{f"sigma {s:g}": _fmt_onset(v) for s, v in zip(result.sigmas, row)}}
                         for t, row in zip(result.thresholds, onsets)])


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


def _fmt_onset(v: float) -> str:
    return "never" if math.isinf(v) else f"{v:g}"


def _non_increasing(values: np.ndarray) -> bool:
    v = np.asarray(values, dtype=np.float64)
    return bool(np.all((v[1:] <= v[:-1]) | (np.isinf(v[1:]) & np.isinf(v[:-1]))))


@dataclass(frozen=True)
class Expectation:
    """A number read off the paper's Fig. 6c / Fig. 13 that the simulation must reproduce: at overlap
    ``threshold`` the onset lambda of ``sigma`` (first mean mass ratio above the percolation level) lies in
    [``low``, ``high``] (``high`` = inf and ``low`` = inf: it never percolates)."""

    threshold: float
    sigma: float
    low: float
    high: float

    def describe(self) -> str:
        if math.isinf(self.low):
            return f"sigma {self.sigma:g} never percolates at threshold {self.threshold:g}"
        return f"sigma {self.sigma:g} at threshold {self.threshold:g}: onset in [{self.low:g}, {self.high:g}]"


def simulation_reproduces(result: PercolationResult, expectations: Sequence[Expectation],
                          level: float = 0.5) -> Outcome:
    """C11, a reproduction of the simulation of Fig. 6c / 13 (not a measured finding about models): every
    expected onset (:class:`Expectation`) is met by the simulation's onsets (:func:`percolation_onsets`)."""
    onsets = percolation_onsets(result, level)
    parts = []
    for e in expectations:
        got = onsets[result.thresholds.index(e.threshold), result.sigmas.index(e.sigma)]
        ok = math.isinf(got) if math.isinf(e.low) else bool(e.low - 1e-9 <= got <= e.high + 1e-9)
        parts.append(Part(f"{e.describe()} (simulated: {_fmt_onset(got)})", ok))
    table = "; ".join(f"threshold {t:g}: " + ", ".join(f"sigma {s:g} -> {_fmt_onset(onsets[i, j])}"
                                                         for j, s in enumerate(result.sigmas))
                      for i, t in enumerate(result.thresholds))
    return Outcome(tuple(parts), f"onset lambda (mean mass ratio > {level:g}): {table}")


NULL_SIMULATIONS = ("nothing overlaps", "everything overlaps")


def null_simulation(result: PercolationResult, kind: str, n: int) -> PercolationResult:
    """C11's null worlds on the same grid: no pair of bumps overlaps (the largest cluster is one point), or
    every pair does (one cluster holds everything)."""
    check_choice("kind", kind, NULL_SIMULATIONS)
    counts = np.array([max(1, int(round(lam * n * n))) for lam in result.lambdas], dtype=np.float64)
    mean = np.broadcast_to(1.0 / counts if kind == NULL_SIMULATIONS[0] else np.ones_like(counts),
                           result.mean.shape).copy()
    return PercolationResult(result.thresholds, result.sigmas, result.lambdas, mean, np.zeros_like(mean))


def sigma_name(sigma: float) -> str:
    return f"sigma {sigma:g}"


def training_gates(table: SweepTable, threshold: float = 0.6) -> list[Gate]:
    """C12 rests on models that learnt their training centres: for every sigma, the model at the largest
    lambda reaches ``threshold`` strict joint accuracy on its seen centres."""
    j = int(np.argmax(table.lambdas))
    return [Gate(sigma_name(s), f"strict accuracy on the training centres at lambda {table.lambdas[j]:g}",
                 float(table.values["accuracy_seen"][i, j]), threshold) for i, s in enumerate(table.sigmas)]


def learns_unseen(table: SweepTable, level: float, small_sigma: float, late_lambda: float) -> Outcome:
    """C12 on the centres a model never saw (a memoriser scores 0 there at every lambda): for every sigma
    the strict unseen accuracy at the largest lambda that leaves unseen centres exceeds that at the smallest;
    the onset (first lambda with unseen accuracy >= ``level``) never increases with sigma; and ``small_sigma``
    has a finite onset, no earlier than ``late_lambda`` (paper: learnt at lambda 0.8-0.9)."""
    acc = table.values["accuracy_unseen"]
    cols = [j for j in range(len(table.lambdas)) if np.all(np.isfinite(acc[:, j]))]
    lambdas = [table.lambdas[j] for j in cols]
    onsets = np.array([threshold_crossing(lambdas, acc[i, cols], level).first
                       for i in range(len(table.sigmas))])
    first, last = cols[0], cols[-1]
    parts = [Part(f"{sigma_name(s)}: unseen {pct(acc[i, last], 1)} at lambda {lambdas[-1]:g} > "
                  f"{pct(acc[i, first], 1)} at {lambdas[0]:g}", bool(len(cols) > 1 and acc[i, last] > acc[i, first]),
                  (sigma_name(s),)) for i, s in enumerate(table.sigmas)]
    parts.append(Part("onset non-increasing in sigma (" + ", ".join(
        f"{s:g}: {_fmt_onset(o)}" for s, o in zip(table.sigmas, onsets)) + ")", _non_increasing(onsets),
        tuple(sigma_name(s) for s in table.sigmas)))
    small = onsets[table.sigmas.index(small_sigma)] if small_sigma in table.sigmas else math.inf
    parts.append(Part(f"{sigma_name(small_sigma)} onset {_fmt_onset(small)} finite and >= {late_lambda:g}",
                      bool(math.isfinite(small) and small >= late_lambda - 1e-9), (sigma_name(small_sigma),)))
    measured = "; ".join(f"{sigma_name(s)}: unseen " + ", ".join(pct(acc[i, j], 1) for j in cols)
                         + f" (seen {', '.join(pct(table.values['accuracy_seen'][i, j], 1) for j in cols)})"
                         for i, s in enumerate(table.sigmas))
    at = ", ".join(f"{lam:g}" for lam in lambdas)
    return Outcome(tuple(parts), f"strict joint accuracy at lambda {at}: {measured}")


def losses_rise(table: SweepTable, min_r: float = 0.8, min_rise: float = 0.05) -> Outcome:
    """Fig. 14c: for every sigma both final losses grow with the number of training images, nearly linearly:
    Pearson r(image count, loss) >= ``min_r`` and the loss at the most images at least ``min_rise`` (relative)
    above the loss at the fewest (NaN losses, e.g. the validation loss at lambda = 1, are left out; fewer than
    3 points fail)."""
    parts = []
    for i, sigma in enumerate(table.sigmas):
        for key in ("train_loss", "val_loss"):
            x, y = table.values["n_train"][i], table.values[key][i]
            keep = np.isfinite(y)
            enough = keep.sum() >= 3 and np.ptp(y[keep]) > 0
            r = float(np.corrcoef(x[keep], y[keep])[0, 1]) if enough else math.nan
            rise = float(y[keep][-1] / y[keep][0] - 1) if enough else math.nan
            parts.append(Part(f"{sigma_name(sigma)} {key.split('_')[0]}: r {r:.2f} >= {min_r:g}, rise {rise:+.1%} >= "
                              f"{min_rise:.0%}", bool(r >= min_r and rise >= min_rise), (sigma_name(sigma),)))
    measured = "; ".join(f"{sigma_name(s)} {key.split('_')[0]}: " + ", ".join(f"{v:.4f}" for v in table.values[key][i])
                         for i, s in enumerate(table.sigmas) for key in ("train_loss", "val_loss"))
    return Outcome(tuple(parts), measured)


def flat_losses(table: SweepTable) -> SweepTable:
    """C12c's null world: the same table with every loss replaced by its sigma's mean (losses that do not
    depend on the amount of data)."""
    vals = dict(table.values)
    for key in ("train_loss", "val_loss"):
        v = np.array(vals[key], dtype=np.float64)
        vals[key] = np.where(np.isfinite(v), np.nanmean(v, axis=1, keepdims=True), np.nan)
    return SweepTable(table.sigmas, table.lambdas, table.threshold, vals)


# the width of a bump (Fig. 6d) --------------------------------------------------------------------
@dataclass(frozen=True)
class BumpWidth:
    """Half-maximum area (pixels) and second-moment sigma of the darkest spot of an image."""

    half_max_pixels: int
    sigma: float
    peak: float


def bump_width(image: np.ndarray, window: int = 3) -> BumpWidth:
    """Width of the darkest spot of a uint8-scale image (0 black .. 255 white); see the module docstring."""
    check_int("window", window, 1)
    a = darkness(np.asarray(image, dtype=np.float64))
    iy, ix = np.unravel_index(int(np.argmax(a)), a.shape)
    peak = float(a[iy, ix])
    if peak <= 0:
        return BumpWidth(0, float("nan"), 0.0)
    labelled, _ = ndimage.label(a >= 0.5 * peak, structure=np.ones((3, 3), dtype=bool))
    half = int(np.sum(labelled == labelled[iy, ix]))
    y0, y1 = max(0, iy - window), min(a.shape[0], iy + window + 1)
    x0, x1 = max(0, ix - window), min(a.shape[1], ix + window + 1)
    w = a[y0:y1, x0:x1].copy()
    w[w < 0.1 * peak] = 0.0
    yy, xx = np.mgrid[y0:y1, x0:x1]
    mx, my = np.sum(w * xx) / w.sum(), np.sum(w * yy) / w.sum()
    var = 0.5 * (np.sum(w * (xx - mx) ** 2) + np.sum(w * (yy - my) ** 2)) / w.sum()
    return BumpWidth(half, float(np.sqrt(var / 2.0)), peak)


@dataclass(frozen=True)
class WidthEvidence:
    """Fig. 6d: the ground truth and the generated bump at ``centre``, and the widths over all correctly
    placed final samples of the model (App. A.3), with their medians (NaN when none is correct)."""

    centre: tuple[float, float]
    truth_image: np.ndarray
    generated_image: np.ndarray
    truth: BumpWidth
    generated: BumpWidth
    placed: list[BumpWidth]
    median_half_max: float
    median_sigma: float


def width_evidence(cfg: TrainConfig, name: str, centre: tuple[float, float] | None = None,
                   window: int = 3, ev=None) -> WidthEvidence:
    """Measure how wide the trained model draws its bumps next to the training formula's (Fig. 6d).

    ``centre`` defaults to (N/2, N/2) (the paper's (16, 16) at N = 32). ``ev``: another evaluation of the
    same centres (a control generator's) instead of the model's."""
    n = cfg.data.n
    centre = (n / 2, n / 2) if centre is None else (float(centre[0]), float(centre[1]))
    ev = evaluate(cfg, name, "final", layers=()) if ev is None else ev
    i = int(nearest_indices(np.array([centre]), ev.labels)[0])
    truth_image = ground_truth_bump(n, cfg.data.sigma_x, centre)
    ok = correct(ev.labels, ev.centres, valid=strict(ev.method)).all(axis=1)
    placed = [bump_width(im, window) for im in ev.images[ok]]
    med = (lambda v: float(np.median(v)) if len(v) else float("nan"))
    return WidthEvidence(centre, truth_image, ev.images[i], bump_width(truth_image, window),
                         bump_width(ev.images[i], window), placed,
                         med([w.half_max_pixels for w in placed]), med([w.sigma for w in placed]))


def wider_than_truth(w: WidthEvidence) -> Outcome:
    """C12b: the median half-maximum area of the correctly placed (strict) samples exceeds the ground truth's
    (no correctly placed sample fails)."""
    ok = bool(len(w.placed) > 0 and w.median_half_max > w.truth.half_max_pixels)
    return Outcome((Part(f"median half-max {w.median_half_max:g} px over {len(w.placed)} correctly placed samples > "
                         f"ground truth {w.truth.half_max_pixels} px", ok),),
                   f"median over {len(w.placed)} correctly placed samples: half-max {w.median_half_max:g} px, sigma "
                   f"{w.median_sigma:.2f}; at {w.centre}: half-max {w.generated.half_max_pixels} px (ground truth "
                   f"{w.truth.half_max_pixels} px, sigma {w.truth.sigma:.2f})")


def ground_truth_bump(n: int, sigma: float, centre: tuple[float, float]) -> np.ndarray:
    """The training formula's bump (uint8, N x N) at ``centre`` (plane)."""
    check_range("sigma", sigma, 0, math.inf, low_open=True)
    return render("bump", [centre[0]], [centre[1]], n, sigma, sigma)[0]


__all__ = [
    "PAPER_LAMBDAS", "lattice_data", "sweep_configs", "batch_counts", "seen_mask", "loss_timesteps",
    "diffusion_loss", "final_losses", "SweepTable", "SOURCES", "untrained_model", "collect_results",
    "percolation_onsets", "onset_table",
    "training_set_table", "Expectation", "simulation_reproduces", "NULL_SIMULATIONS", "null_simulation",
    "sigma_name", "training_gates", "learns_unseen", "losses_rise", "flat_losses", "BumpWidth", "bump_width",
    "WidthEvidence", "width_evidence", "wider_than_truth", "ground_truth_bump",
]
