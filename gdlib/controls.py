"""Controls: what a model that learned nothing (or one that does everything right) would produce.

A claim is evidence only when its criterion fails on these (see :mod:`gdlib.claims`). Each generator
returns images at the requested centres, which are then scored exactly like a trained model's samples
(:func:`control_evaluation` goes through :func:`gdlib.runs.scored`):

- :func:`blank_images`: every image white. Under App. A.3's rule its centres are the canvas centre
  (the centroid fallback), which lies inside every central held-out region: the chance floor.
- :func:`nearest_training_images`: the training image whose centre is nearest to the requested one
  (Euclidean in label space, wrapped on periodic data): a generator that memorises its training set and
  generalises nothing. On held-out regions it scores what memorisation alone gives.
- :func:`oracle_images`: the data formula's own image at the requested centre: a generator that composes
  and interpolates perfectly. It is the control for statements that the model *fails* at something.
- :func:`average_of_nearest_images`: the pixel average of the two training images whose centres are nearest to
  the requested one: the cheapest "interpolation", with no learning (issue 22). Between two training centres on
  either side of a narrow gap, the average's darkest pixel lies between them, on the requested centre.

For representations (claims C1-C5), :func:`isotropic_noise` is Gaussian noise of the representation's
shape; the untrained network is the epoch-0 checkpoint, sampled and captured like every other.
"""

from __future__ import annotations

import numpy as np
from scipy.spatial import cKDTree

from gdlib.checks import check_choice
from gdlib.datasets import Dataset, DatasetConfig, make_dataset
from gdlib.images import render
from gdlib.regions import nearest_indices

GENERATORS = ("blank", "nearest training image", "formula oracle", "average of two nearest training images")
BLANK, COPY, ORACLE, AVERAGE = GENERATORS


def blank_images(labels: np.ndarray, n: int) -> np.ndarray:
    """All-white uint8 images, one per label: (M, N, N)."""
    return np.full((len(labels), n, n), 255, dtype=np.uint8)


def nearest_training_images(labels: np.ndarray, train: Dataset) -> np.ndarray:
    """For each requested centre, the training image with the nearest centre: (M, N, N) uint8."""
    cfg = train.config
    return train.images[nearest_indices(labels, train.labels, cfg.n, cfg.periodic)]


def two_nearest_indices(queries: np.ndarray, centres: np.ndarray, n: int | None = None, periodic: bool = False,
                        seed: int = 0) -> np.ndarray:
    """Indices (M, 2) of the two of ``centres`` (K >= 2, 2) nearest to each query (Euclidean in label space,
    wrapped with period N when ``periodic``). Ties are broken at random (seeded), as the copier's are
    (:func:`gdlib.regions.nearest_indices`): on a grid a requested centre is often equidistant from several."""
    q, c = np.asarray(queries, dtype=np.float64), np.asarray(centres, dtype=np.float64)
    if len(c) < 2:
        raise ValueError(f"need at least two training centres to average, got {len(c)}")
    if periodic:
        if n is None:
            raise ValueError("n is required for periodic distances")
        tree, q = cKDTree(np.mod(c, n), boxsize=float(n)), np.mod(q, n)
    else:
        tree = cKDTree(c)
    dist, first = tree.query(q, k=2)
    rng = np.random.default_rng(seed)
    out = np.empty((len(q), 2), dtype=np.int64)
    for i, (point, (d1, d2)) in enumerate(zip(q, dist)):
        tied = sorted(tree.query_ball_point(point, d2 + 1e-9))  # every centre as near as the second
        if d1 < d2 - 1e-9:  # one nearest, then one of those tied for second
            out[i] = first[i, 0], rng.choice([j for j in tied if j != first[i, 0]])
        else:
            out[i] = rng.choice(tied, size=2, replace=False)
    return out


def average_of_nearest_images(labels: np.ndarray, train: Dataset) -> np.ndarray:
    """For each requested centre, the pixel average of the two training images with the nearest centres:
    (M, N, N) uint8. No learning: the cheapest way to land between two training centres."""
    cfg = train.config
    pair = two_nearest_indices(labels, train.labels, cfg.n, cfg.periodic)
    mean = (train.images[pair[:, 0]].astype(np.float64) + train.images[pair[:, 1]]) / 2
    return np.rint(mean).astype(np.uint8)


def oracle_images(labels: np.ndarray, data: DatasetConfig) -> np.ndarray:
    """The formula's image of the dataset's family at each requested centre (the visible frame)."""
    lab = np.asarray(labels, dtype=np.float64)
    return render(data.family, lab[:, 0], lab[:, 1], data.n, data.sigma_x, data.sigma_y, data.periodic)


def generate(kind: str, labels: np.ndarray, data: DatasetConfig, train: Dataset | None = None) -> np.ndarray:
    """Images of the control generator ``kind`` (one of :data:`GENERATORS`) at ``labels`` for a model
    trained on ``data`` (``train``: its training set, built when needed)."""
    check_choice("kind", kind, GENERATORS)
    if kind == BLANK:
        return blank_images(labels, data.n)
    if kind == ORACLE:
        return oracle_images(labels, data)
    train = make_dataset(data) if train is None else train
    return average_of_nearest_images(labels, train) if kind == AVERAGE else nearest_training_images(labels, train)


def control_evaluation(kind: str, cfg, labels: np.ndarray | None = None, train: Dataset | None = None):
    """The :class:`gdlib.training.Evaluation` of control ``kind`` for the model of ``cfg``: its images at
    the evaluation centres (App. A.3), scored by the same estimator and metric as the model's samples."""
    from gdlib.regions import evaluation_grid
    from gdlib.runs import scored

    labels = evaluation_grid(cfg.data.n) if labels is None else np.asarray(labels, dtype=np.float32)
    return scored(cfg, f"control: {kind}", generate(kind, labels, cfg.data, train), labels, {})


def isotropic_noise(shape: tuple[int, ...], seed: int = 0) -> np.ndarray:
    """Standard Gaussian noise of ``shape`` (e.g. a representation's (samples, features)), seeded."""
    return np.random.default_rng(seed).standard_normal(shape)


__all__ = ["GENERATORS", "BLANK", "COPY", "ORACLE", "AVERAGE", "blank_images", "nearest_training_images",
           "two_nearest_indices", "average_of_nearest_images", "oracle_images", "generate", "control_evaluation",
           "isotropic_noise"]
