"""The layer-4 representation of a trained model over its checkpoints, and claims C1-C5 (Sec. 3.1, Fig. 2, 3).

For every saved checkpoint the model samples the N x N integer centres; the activations of "layer4"
(the output of Up(256, 64)) at the last denoising step, flattened, are the representation ``h``
((N*N, C*H*W)) analysed by notebooks 03 and 04. The samples and activations are cached next to the
checkpoint by :func:`gdlib.runs.evaluate`, so the analysis reruns without sampling again.

The criteria of C1-C5 are plain functions of a :class:`CheckpointRepresentation` (C2-C5) or of a participation-ratio
trajectory (C1), applied alike to the trained model and to its controls (:mod:`gdlib.claims`):

- the **untrained network** (the epoch-0 checkpoint: same architecture, seed, sampling and capture);
- **isotropic Gaussian noise** of the representation's shape;
- the data's own **pixels** (the formula's images at the same centres, flattened; they are factorised too, since
  a bump's image is the product of an x and a y profile, and a torus on periodic data: issue 22 made them a
  control); C1's controls are trajectories over the checkpoints (:mod:`gdlib.representation_controls`);
- and, as references outside the verdict, the network's conditioning input
  (:func:`gdlib.representation_controls.conditioning_input`) and the ideal Clifford and 3D tori.

Measured on controls before the criteria were fixed (N = 16, width 16, 256 centres; three untrained seeds):
the untrained network has PR 74-86 and noise 204 (so "PR about 7" alone separates them); every family of
ring pairs is near-orthogonal for both (mean principal angles 73-89 degrees: in many dimensions random
planes are orthogonal, which is why "closer to Clifford than to the 3D torus" alone passes on noise); and no
PC plane of either holds a ring (longest H1 bar <= 0.07 of the plane's diameter, against 0.38 for a Clifford
torus). The criteria therefore rest on contrasts: between families of ring pairs (C4, C5) and on rings (C2).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch

from gdlib.claims import Gate, Outcome, Part
from gdlib.config import TrainConfig
from gdlib.runs import evaluate, sample_and_score, saved_epochs
from gdlib.spectrum import PCAResult, pca
from gdlib.tables import pct

#: C1 (Sec. 3.1: "converging to around 7 dimensions"): the final PR must lie in this range.
PR_RANGE = (5.0, 10.0)
#: C2's ring test: a PC plane holds one ring when its longest H1 bar is at least RING_LENGTH of the
#: plane's diameter and the second longest at most RING_SECOND of the longest.
RING_LENGTH, RING_SECOND = 0.2, 0.5


@dataclass(frozen=True)
class CheckpointRepresentation:
    """One checkpoint: its epoch, the evaluation centres, the flattened activations, accuracy and PCA."""

    epoch: int | str
    labels: np.ndarray
    h: np.ndarray
    accuracy: float
    pca: PCAResult
    strict_accuracy: float = math.nan

    @property
    def participation_ratio(self) -> float:
        return self.pca.participation_ratio


def from_h(epoch: int | str, labels: np.ndarray, h: np.ndarray, accuracy: float = math.nan,
           strict_accuracy: float = math.nan) -> CheckpointRepresentation:
    """A :class:`CheckpointRepresentation` of any (n, D) array (a control, a reference)."""
    h = np.asarray(h, dtype=np.float64).reshape(len(labels), -1)
    return CheckpointRepresentation(epoch, np.asarray(labels), h, accuracy, pca(h, n_components=min(16, *h.shape)),
                                    strict_accuracy)


def checkpoint_representations(cfg: TrainConfig, name: str, layer: str = "layer4",
                               epochs: list[int] | None = None) -> list[CheckpointRepresentation]:
    """The representation at every saved checkpoint (or at ``epochs``), in epoch order."""
    epochs = saved_epochs(cfg, name) if epochs is None else list(epochs)
    out = []
    for epoch in epochs or ["final"]:
        ev = evaluate(cfg, name, epoch, layers=(layer,))
        out.append(from_h(epoch, ev.labels, ev.activations[layer], ev.accuracy, ev.strict_accuracy))
    return out


def untrained_representation(cfg: TrainConfig, name: str, layer: str = "layer4") -> CheckpointRepresentation:
    """The untrained network's representation: the epoch-0 checkpoint when it was saved, else the network
    initialised as training initialises it (``cfg.seed``), sampled and captured the same way."""
    if 0 in saved_epochs(cfg, name):
        return checkpoint_representations(cfg, name, layer, [0])[0]
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        model = cfg.make_model()
    ev = sample_and_score(model, cfg, 0, layers=(layer,))
    return from_h(0, ev.labels, ev.activations[layer], ev.accuracy, ev.strict_accuracy)


def noise_like(rep: CheckpointRepresentation, seed: int = 0) -> CheckpointRepresentation:
    """Isotropic Gaussian noise of the representation's shape, at the same centres."""
    rng = np.random.default_rng(seed)
    return from_h("noise", rep.labels, rng.standard_normal(rep.h.shape))


def pixel_representation(cfg: TrainConfig, labels: np.ndarray) -> CheckpointRepresentation:
    """Raw pixels: the data formula's images at ``labels``, flattened (a control of C2-C5: bumps are products of
    an x and a y profile, so pixels are factorised too, and a torus on periodic data)."""
    from gdlib.images import render

    d = cfg.data
    lab = np.asarray(labels, dtype=np.float64)
    return from_h("pixels", labels, render(d.family, lab[:, 0], lab[:, 1], d.n, d.sigma_x, d.sigma_y, d.periodic))


def accuracy_gate(rep: CheckpointRepresentation, threshold: float = 0.6) -> Gate:
    """C1-C5 are decided only when the torus model learnt: final strict joint accuracy >= ``threshold``."""
    return Gate("torus model", "final strict joint accuracy", rep.strict_accuracy, threshold)


# C1: the participation ratio over training ----------------------------------------------------------------
def pr_trajectory(epochs: Sequence[int | str], prs: Sequence[float], pr_range: tuple[float, float] = PR_RANGE,
                  rise: float = 0.1, fall: float = 0.1, settle: float = 0.2) -> Outcome:
    """C1: over the checkpoints after training starts (epoch >= 1): the final PR lies in ``pr_range``; the
    last three PRs are within ``settle`` of each other (max / min <= 1 + settle); and the PR rose then fell:
    its maximum lies strictly after the first of these checkpoints and before the last, at least ``rise``
    above the first, and the final PR is at least ``fall`` below the maximum."""
    keep = [i for i, e in enumerate(epochs) if e == "final" or int(e) >= 1]
    p = np.asarray([prs[i] for i in keep], dtype=np.float64)
    shown = ", ".join(f"{epochs[i]}: {prs[i]:.1f}" for i in range(len(prs)))
    if len(p) < 4:
        return Outcome((Part("at least 4 checkpoints after training starts", False),), f"PR {shown}")
    peak = int(np.argmax(p))
    last3 = p[-3:]
    parts = (Part(f"final PR {p[-1]:.1f} in [{pr_range[0]:g}, {pr_range[1]:g}]",
                  bool(pr_range[0] <= p[-1] <= pr_range[1]), ("torus model",)),
             Part(f"settled: last three PRs within {settle:.0%} (max/min {last3.max() / last3.min():.2f})",
                  bool(last3.max() <= (1 + settle) * last3.min()), ("torus model",)),
             Part(f"rises then falls: peak {p[peak]:.1f} inside, >= {1 + rise:g} x first ({p[0]:.1f}), final <= "
                  f"{1 - fall:g} x peak", bool(0 < peak < len(p) - 1 and p[peak] >= (1 + rise) * p[0]
                                                and p[-1] <= (1 - fall) * p[peak]), ("torus model",)))
    return Outcome(parts, f"PR by epoch: {shown}")


def constant_trajectory(epochs: Sequence[int | str], pr: float) -> tuple[list, list[float]]:
    """The same value at every checkpoint. Not a control of C1 (a constant line fails it by construction: notebook
    03 uses the moving trajectories of :mod:`gdlib.representation_controls`); tests use it for that property."""
    return list(epochs), [pr] * len(epochs)


# C2: the top four PCs and their rings -----------------------------------------------------------------
def ring_strength(points: np.ndarray) -> tuple[float, float]:
    """(longest H1 bar / diameter, second longest / longest) of a 2D point cloud (Rips persistence, ripser)."""
    from ripser import ripser
    from scipy.spatial.distance import pdist

    bars = ripser(np.asarray(points, dtype=np.float64), maxdim=1)["dgms"][1]
    pers = np.sort(bars[:, 1] - bars[:, 0])[::-1] if len(bars) else np.zeros(0)
    pers = np.concatenate([pers, [0.0, 0.0]])
    diameter = float(pdist(points).max())
    return (float(pers[0] / diameter) if diameter > 0 else 0.0, float(pers[1] / pers[0]) if pers[0] > 0 else 1.0)


@dataclass(frozen=True)
class LabelPlane:
    """The plane inside PCs 1-4 that carries one label's angle: the least-squares fit of the PC 1-4 coordinates on
    (cos, sin) of 2 pi mu / N (``r2``: the share of their variance it explains) and the ring test there."""

    variable: str
    r2: float
    length: float
    second: float

    @property
    def ring(self) -> bool:
        return self.length >= RING_LENGTH and self.second <= RING_SECOND

    def describe(self) -> str:
        return (f"{self.variable} plane (R^2 {self.r2:.2f}): longest H1 {self.length:.2f} of diameter, "
                f"second/longest {self.second:.2f}")


def label_planes(rep: CheckpointRepresentation, n: int | None = None) -> tuple[LabelPlane, LabelPlane]:
    """The x and the y plane inside PCs 1-4 and their rings (:func:`ring_strength`). Fig. 2 e-g shows the rings
    in PCs 1 & 3 and 2 & 4, but when eigenvalues are nearly equal (a Clifford torus's four are equal) PCA may
    return any rotation of those PCs, and a ring seen in a pair of PCs depends on that basis (issue 22: a rotated
    ideal Clifford torus failed a PC-pair test in 2 of 3 rotations). Regressing the coordinates on cos and sin of
    each label's angle finds that label's plane whatever the basis. ``n``: the period N (default: inferred from
    the labels, the N x N grid of integer centres of App. A.3)."""
    from gdlib.tori import infer_period, labels_to_angles

    coords = rep.pca.project(rep.h, min(4, rep.pca.components.shape[0]))
    coords = coords - coords.mean(axis=0)
    angles = labels_to_angles(rep.labels, infer_period(rep.labels) if n is None else n)
    planes = []
    for name, theta in zip(("x", "y"), angles):
        f = np.c_[np.cos(theta), np.sin(theta)]
        f = f - f.mean(axis=0)
        b, *_ = np.linalg.lstsq(f, coords, rcond=None)  # (2, k): the label's circle's two axes in PC space
        total = float(np.sum(coords**2))
        r2 = 1.0 - float(np.sum((coords - f @ b) ** 2)) / total if total > 0 else 0.0
        basis, _ = np.linalg.qr(b.T)  # an orthonormal basis of the plane the circle spans
        planes.append(LabelPlane(name, r2, *ring_strength(coords @ basis)))
    return planes[0], planes[1]


def top_four(rep: CheckpointRepresentation, min_share: float = 0.5, min_gap: float = 1.5) -> Outcome:
    """C2: the top 4 PCs carry at least ``min_share`` of the variance, stand out (lambda_4 / lambda_5 >=
    ``min_gap``), and hold two rings: in the x plane and in the y plane found inside PCs 1-4 (:func:`label_planes`),
    each has one dominant H1 bar (longest >= RING_LENGTH of the diameter, second <= RING_SECOND of the longest)."""
    ev = rep.pca.eigenvalues
    share, gap = top_k_share(ev), eigengap(ev)
    planes = label_planes(rep)
    ring_text = "; ".join(p.describe() for p in planes)
    parts = (Part(f"top-4 share {pct(share)} >= {pct(min_share)}", share >= min_share, ("torus model",)),
             Part(f"lambda4/lambda5 {gap:.2f} >= {min_gap:g}", gap >= min_gap, ("torus model",)),
             Part(f"a ring in the x plane and in the y plane of PCs 1-4 ({ring_text})", all(p.ring for p in planes),
                  ("torus model",)))
    return Outcome(parts, f"top-4 share {pct(share)}, lambda4/lambda5 {gap:.2f}; {ring_text}")


def top_k_share(eigenvalues: np.ndarray, k: int = 4) -> float:
    """Fraction of the variance in the top k PCs (Fig. 2d labels it on each panel)."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    return float(ev[:k].sum() / ev.sum())


def eigengap(eigenvalues: np.ndarray, k: int = 4) -> float:
    """lambda_k / lambda_{k+1}: how far the top k PCs stand out from the rest."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    return float(ev[k - 1] / ev[k]) if len(ev) > k and ev[k] > 0 else math.inf


# C3: persistent homology (Fig. 2b) --------------------------------------------------------------------
def torus_topology(rep: CheckpointRepresentation, n_points: int = 300, n_components: int = 6,
                   seed: int = 0) -> Outcome:
    """C3: the Betti numbers counted by :func:`gdlib.topology.betti_numbers` (its documented thresholds) on
    the representation's top ``n_components`` PCs, ``n_points`` farthest-point samples, are (1, 2, 1)."""
    from gdlib.topology import betti_numbers, persistent_homology

    betti = betti_numbers(persistent_homology(rep.h, n_points=n_points, n_components=n_components, seed=seed))
    return Outcome((Part(f"Betti numbers {betti} == (1, 2, 1)", betti == (1, 2, 1), ("torus model",)),),
                   f"Betti numbers {betti}")


# C4, C5: orthogonality and parallelism (App. B) ----------------------------------------------------------
def mean_angles(result) -> dict[str, tuple[float, float]]:
    """Per family, the mean (smaller, larger) principal angle of its ring pairs, in degrees."""
    from gdlib.torus_geometry import FAMILIES

    return {f: tuple(float(v) for v in result.orthogonality[f].mean(axis=0)) for f in FAMILIES}


def clifford_like(model, ideal, margin: float = 10.0) -> Outcome:
    """C4: x and y in orthogonal subspaces. The model's x-on-y statistics are closer (Wasserstein) to the
    Clifford torus's than to the 3D torus's, for both statistics; and x-on-y pairs are more orthogonal than
    pairs of the same variable: their mean principal angle exceeds the x-on-x and the y-on-y one by
    ``margin`` degrees (noise, whose random planes are all near-orthogonal, shows no such contrast)."""
    from gdlib.torus_geometry import STATISTICS, wasserstein_distances

    w = {kind: wasserstein_distances(model, ideal[kind])["x-on-y"] for kind in ("clifford", "3d")}
    mean = {f: sum(a) / 2 for f, a in mean_angles(model).items()}
    parts = tuple(Part(f"x-on-y {s}: W to Clifford {w['clifford'][s]:.3g} < to 3D {w['3d'][s]:.3g}",
                       w["clifford"][s] < w["3d"][s], ("torus model",)) for s in STATISTICS)
    parts += tuple(Part(f"mean angle x-on-y {mean['x-on-y']:.1f} >= {f} {mean[f]:.1f} + {margin:g}",
                        mean["x-on-y"] >= mean[f] + margin, ("torus model",)) for f in ("x-on-x", "y-on-y"))
    return Outcome(parts, "mean principal angle (deg): " + ", ".join(f"{f} {v:.1f}" for f, v in mean.items())
                   + "; x-on-y W to Clifford / 3D: " + ", ".join(
                       f"{s} {w['clifford'][s]:.3g} / {w['3d'][s]:.3g}" for s in STATISTICS))


def hyperfactorized(model, ideal, margin: float = 10.0) -> Outcome:
    """C5: different values of one variable sit in near-orthogonal planes that still share structure, like
    the 3D torus's x-on-y. For x-on-x and y-on-y: closer (Wasserstein) to the 3D torus's x-on-y than to the
    Clifford torus's own family, for both statistics; and their mean *smaller* principal angle lies at
    least ``margin`` degrees below x-on-y's (a shared direction; noise has none)."""
    from scipy.stats import wasserstein_distance

    from gdlib.torus_geometry import STATISTICS

    angles = mean_angles(model)
    parts: tuple[Part, ...] = ()
    for f in ("x-on-x", "y-on-y"):
        for s in STATISTICS:
            to_3d = wasserstein_distance(model.statistic(f, s), ideal["3d"].statistic("x-on-y", s))
            to_cl = wasserstein_distance(model.statistic(f, s), ideal["clifford"].statistic(f, s))
            parts += (Part(f"{f} {s}: W to 3D x-on-y {to_3d:.3g} < to Clifford {f} {to_cl:.3g}", to_3d < to_cl,
                           ("torus model",)),)
        parts += (Part(f"{f} smaller angle {angles[f][0]:.1f} <= x-on-y's {angles['x-on-y'][0]:.1f} - {margin:g}",
                       angles[f][0] <= angles["x-on-y"][0] - margin, ("torus model",)),)
    return Outcome(parts, "mean (smaller, larger) principal angle (deg): " + ", ".join(
        f"{f} ({a[0]:.1f}, {a[1]:.1f})" for f, a in angles.items()))


def torus_results(reps: dict[str, CheckpointRepresentation], n_pairs: int, seed: int = 0) -> dict:
    """:func:`gdlib.torus_geometry.torus_tests` of each named representation (the same ring pairs for all)."""
    from gdlib.torus_geometry import torus_tests

    return {k: torus_tests(r.h, r.labels, n_pairs=n_pairs, seed=seed) for k, r in reps.items()}


__all__ = ["CheckpointRepresentation", "from_h", "checkpoint_representations",
           "untrained_representation", "noise_like", "pixel_representation", "accuracy_gate", "pr_trajectory",
           "constant_trajectory", "ring_strength", "LabelPlane", "label_planes", "top_four", "top_k_share", "eigengap",
           "torus_topology", "mean_angles", "clifford_like", "hyperfactorized", "torus_results", "PR_RANGE"]
