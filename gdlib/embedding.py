"""UMAP embedding of a representation to 3D (App. A.2, Fig. 2 and Fig. 15).

App. A.2: the layer-4 representations are reduced to a 3D embedding with UMAP (McInnes et al. 2018,
the umap-learn package) for visualisation. The paper gives no UMAP settings: we keep umap-learn's
defaults (15 neighbours, min_dist 0.1, Euclidean metric) and fix ``random_state``, which makes
umap-learn run single-threaded and reproducible: the same input and seed give the same embedding.
UMAP checks its own arguments (a bad ``n_neighbors`` or ``min_dist`` raises its ValueError).
"""

from __future__ import annotations

import numpy as np


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

    reducer = umap.UMAP(
        n_components=n_components,
        n_neighbors=n_neighbors,
        min_dist=min_dist,
        metric=metric,
        random_state=seed,
        n_jobs=1,  # umap-learn forces one thread when seeded; saying so avoids its warning
    )
    return np.asarray(reducer.fit_transform(np.asarray(h, dtype=np.float64)), dtype=np.float64)


def umap_3d(h: np.ndarray, seed: int = 0) -> np.ndarray:
    """3D UMAP embedding of ``h`` with the defaults of :func:`umap_embedding` (App. A.2)."""
    return umap_embedding(h, n_components=3, seed=seed)
