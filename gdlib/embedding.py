"""UMAP embedding of a representation to 3D (App. A.2, Fig. 2 and Fig. 15).

App. A.2: the layer-4 representations are reduced to a 3D embedding with UMAP (McInnes et al. 2018,
the umap-learn package) for visualisation. The paper gives no UMAP settings: we keep umap-learn's
defaults (15 neighbours, min_dist 0.1, Euclidean metric) and fix ``random_state``, which makes
umap-learn run single-threaded and reproducible: the same input and seed give the same embedding.
"""

from __future__ import annotations

import numpy as np

from gdlib.checks import check_int, check_range


def umap_embedding(
    h: np.ndarray,
    n_components: int = 3,
    n_neighbors: int = 15,
    min_dist: float = 0.1,
    seed: int = 0,
    metric: str = "euclidean",
) -> np.ndarray:
    """UMAP of ``h`` (n, D) to ``n_components`` dimensions (3 by default), shape (n, n_components).

    The first call in a process compiles umap-learn's numba code (tens of seconds).
    """
    import umap

    h = np.asarray(h, dtype=np.float64)
    if h.ndim != 2:
        raise ValueError(f"h must be a 2D array (n_samples, D), got shape {h.shape}")
    check_int("n_components", n_components, 1)
    check_int("n_neighbors", n_neighbors, 2)
    if h.shape[0] <= n_neighbors:
        raise ValueError(
            f"n_neighbors = {n_neighbors} is not allowed: must be below n_samples = {h.shape[0]}"
        )
    if h.shape[0] <= n_components + 1:
        raise ValueError(f"h has {h.shape[0]} samples: UMAP to {n_components} dimensions needs more")
    check_range("min_dist", min_dist, 0.0)
    check_int("seed", seed, 0)
    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        n_jobs=1,  # umap-learn forces one thread when seeded; saying so avoids its warning
    )
    return np.asarray(reducer.fit_transform(h), dtype=np.float64)


def umap_3d(h: np.ndarray, seed: int = 0) -> np.ndarray:
    """3D UMAP embedding of ``h`` with the defaults of :func:`umap_embedding` (App. A.2)."""
    return umap_embedding(h, n_components=3, seed=seed)
