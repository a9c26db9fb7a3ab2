"""The layer-4 representation of a trained model over its checkpoints (Sec. 3.1, Fig. 2, App. A.3).

For every saved checkpoint the model samples the N x N integer centres; the activations of "layer4"
(the output of Up(256, 64)) at the last denoising step, flattened, are the representation ``h``
((N*N, C*H*W)) analysed by notebooks 03 and 04. The samples and activations are cached next to the
checkpoint by :func:`gdlib.training.evaluate`, so the analysis reruns without sampling again.

The claim criteria of notebooks 03 and 04 live here as plain functions, written before any
measurement, so that a reader can see exactly what "holds" means.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdlib.spectrum import PCAResult, pca
from gdlib.training import TrainConfig, evaluate, finished_runs, saved_epochs


@dataclass(frozen=True)
class CheckpointRepresentation:
    """One checkpoint: its epoch, the evaluation centres, the flattened activations, accuracy and PCA."""

    epoch: int | str
    labels: np.ndarray
    h: np.ndarray
    accuracy: float
    pca: PCAResult

    @property
    def participation_ratio(self) -> float:
        return self.pca.participation_ratio


def latest_model(name: str) -> TrainConfig:
    """The most recently finished run saved under ``outputs/models/<name>/`` (notebook 02's model)."""
    runs = finished_runs(name)
    if not runs:
        raise FileNotFoundError(f"no finished model under outputs/models/{name}/: run notebook 02 first "
                                f"(./run_all.sh --only 02) with the same profile")
    return runs[-1]


def checkpoint_representations(cfg: TrainConfig, name: str, layer: str = "layer4",
                               epochs: list[int] | None = None) -> list[CheckpointRepresentation]:
    """The representation at every saved checkpoint (or at ``epochs``), in epoch order."""
    epochs = saved_epochs(cfg, name) if epochs is None else list(epochs)
    out = []
    for epoch in epochs or ["final"]:
        ev = evaluate(cfg, name, epoch, layers=(layer,))
        h = ev.activations[layer].reshape(len(ev.labels), -1).astype(np.float64)
        out.append(CheckpointRepresentation(epoch, ev.labels, h, ev.accuracy, pca(h, n_components=16)))
    return out


def top_k_share(eigenvalues: np.ndarray, k: int = 4) -> float:
    """Fraction of the variance in the top k PCs (Fig. 2d labels it on each panel)."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    return float(ev[:k].sum() / ev.sum())


def eigengap(eigenvalues: np.ndarray, k: int = 4) -> float:
    """lambda_k / lambda_{k+1}: how far the top k PCs stand out from the rest."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    return float(ev[k - 1] / ev[k])


def rises_then_falls(values: np.ndarray, drop: float = 0.1) -> bool:
    """C1's shape: the maximum lies strictly after the first and before the last checkpoint, and the
    last value is at least ``drop`` (relative) below the maximum."""
    v = np.asarray(values, dtype=np.float64)
    peak = int(np.argmax(v))
    return 0 < peak < len(v) - 1 and v[-1] <= (1 - drop) * v[peak]


def x_on_y_distances(model, ideal) -> dict[str, dict[str, float]]:
    """C4's numbers: Wasserstein distance of the model's x-on-y statistics to each ideal torus's x-on-y,
    ``{"3d" | "clifford": {statistic: distance}}`` (``model``, ``ideal[kind]``: TorusTestResult)."""
    from gdlib.torus_tests import STATISTICS, wasserstein_distances

    return {kind: {s: wasserstein_distances(model, ideal[kind])["x-on-y"][s] for s in STATISTICS}
            for kind in ("3d", "clifford")}


def hyperfactorization_distances(model, ideal) -> dict[str, dict[str, dict[str, float]]]:
    """C5's numbers: for the model's x-on-x and y-on-y statistics, the Wasserstein distance to the 3D
    torus's x-on-y statistics ("like 3d x-on-y") and to the Clifford torus's same family ("parallel"),
    ``{family: {"3d x-on-y" | "clifford same": {statistic: distance}}}``."""
    from scipy.stats import wasserstein_distance

    from gdlib.torus_tests import STATISTICS

    out = {}
    for family in ("x-on-x", "y-on-y"):
        out[family] = {
            "3d x-on-y": {s: float(wasserstein_distance(model.statistic(family, s),
                                                        ideal["3d"].statistic("x-on-y", s))) for s in STATISTICS},
            "clifford same": {s: float(wasserstein_distance(model.statistic(family, s),
                                                            ideal["clifford"].statistic(family, s)))
                              for s in STATISTICS},
        }
    return out
