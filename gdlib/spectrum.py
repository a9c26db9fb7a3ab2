"""PCA of a representation: eigenspectrum, explained variance, participation ratio, projections.

Sec. 3.1 and Fig. 2 (c)-(g): the effective dimension of the layer-4 representation is its
participation ratio ``PR = (sum_i l_i)^2 / sum_i l_i^2`` (Gao et al. 2017), where ``l_i`` are the
eigenvalues of the covariance of the representation (the PCA variances). PR counts the dominant
eigen-components: an isotropic k-dimensional cloud has PR = k, a Clifford torus with equal radii
has PR = 4 exactly, a standard 3D torus between 2 and 3. The paper finds PR rising, falling and
settling near 7 after 200 epochs, with the top 4 PCs dominant (Fig. 2d shows the top 15).

A representation is ``h: np.ndarray (n_samples, D)``; every function centres it first.
PCA is done with an economy SVD of the centred data, so D may be large (layer 4 of a 32x32 model is
64 channels x 16 x 16 = 16,384 features) as long as n_samples is moderate (1024 in the paper).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from gdlib.checks import check_int


@dataclass(frozen=True)
class PCAResult:
    """PCA of a representation.

    ``eigenvalues`` are all the nonzero-rank covariance eigenvalues (variances along the PCs, with the
    ``n - 1`` normalisation), sorted in decreasing order; ``components`` (n_components, D) holds the
    orthonormal principal directions as rows; ``mean`` (D,) is the centre that was removed.
    """

    eigenvalues: np.ndarray
    components: np.ndarray
    mean: np.ndarray

    @property
    def explained_variance_ratio(self) -> np.ndarray:
        """Fraction of the total variance carried by each PC (sums to 1 over all PCs)."""
        return explained_variance_ratio_from_eigenvalues(self.eigenvalues)

    @property
    def participation_ratio(self) -> float:
        """``(sum l)^2 / sum l^2`` (Sec. 3.1, Gao et al. 2017)."""
        return participation_ratio_from_eigenvalues(self.eigenvalues)

    def project(self, h: np.ndarray, n_components: int | None = None) -> np.ndarray:
        """Coordinates of ``h`` (n, D) on the first ``n_components`` PCs (all kept ones by default)."""
        k = self.components.shape[0] if n_components is None else n_components
        check_int("n_components", k, 1, self.components.shape[0])
        h = _as_representation(h)
        if h.shape[1] != self.mean.shape[0]:
            raise ValueError(f"h has {h.shape[1]} features, the PCA was fitted on {self.mean.shape[0]}")
        return (h - self.mean) @ self.components[:k].T


def _as_representation(h: np.ndarray, min_samples: int = 2) -> np.ndarray:
    h = np.asarray(h, dtype=np.float64)
    if h.ndim != 2:
        raise ValueError(f"h must be a 2D array (n_samples, D), got shape {h.shape}")
    if h.shape[0] < min_samples:
        raise ValueError(f"h has {h.shape[0]} samples: at least {min_samples} are needed")
    if not np.all(np.isfinite(h)):
        raise ValueError("h contains NaN or infinite values")
    return h


def pca(h: np.ndarray, n_components: int | None = None) -> PCAResult:
    """PCA of ``h`` (n, D) by SVD of the centred data.

    All eigenvalues (min(n, D) of them) are kept, so that ratios and the participation ratio use the
    full spectrum; ``n_components`` only limits how many principal directions are stored.
    """
    h = _as_representation(h)
    n, d = h.shape
    rank = min(n, d)
    k = rank if n_components is None else n_components
    check_int("n_components", k, 1, rank)
    mean = h.mean(axis=0)
    centred = h - mean
    if d > n:
        # Gram trick: eigen-decompose the n x n Gram matrix instead of an n x D SVD (same spectrum).
        gram = centred @ centred.T
        evals, evecs = np.linalg.eigh(gram)
        order = np.argsort(evals)[::-1]
        evals = np.clip(evals[order], 0.0, None)
        evecs = evecs[:, order]
        s = np.sqrt(evals)
        safe = s[:k] > s[0] * 1e-12 if s[0] > 0 else np.zeros(k, dtype=bool)
        comps = np.zeros((k, d))
        comps[safe] = (evecs[:, :k][:, safe] / s[:k][safe]).T @ centred
        eigenvalues = evals / (n - 1)
    else:
        _, s, vt = np.linalg.svd(centred, full_matrices=False)
        comps = vt[:k]
        eigenvalues = s**2 / (n - 1)
    return PCAResult(eigenvalues=eigenvalues, components=comps, mean=mean)


def pca_eigenvalues(h: np.ndarray, k: int | None = None) -> np.ndarray:
    """The top ``k`` covariance eigenvalues of ``h`` (all by default), decreasing (Fig. 2d: top 15)."""
    ev = pca(h, n_components=1).eigenvalues
    if k is None:
        return ev
    check_int("k", k, 1)
    return ev[:k]


def explained_variance_ratio_from_eigenvalues(eigenvalues: np.ndarray) -> np.ndarray:
    """``l_i / sum_j l_j``: sorted like ``eigenvalues``, sums to 1."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    total = ev.sum()
    if not total > 0:
        raise ValueError("the representation has zero variance: explained variance is undefined")
    return ev / total


def explained_variance_ratio(h: np.ndarray, k: int | None = None) -> np.ndarray:
    """Fraction of the total variance on each of the top ``k`` PCs (all by default, summing to 1).

    Fig. 2d labels each panel with the explained variance of the top 4 PCs:
    ``explained_variance_ratio(h, 4).sum()``.
    """
    ratios = explained_variance_ratio_from_eigenvalues(pca_eigenvalues(h))
    if k is None:
        return ratios
    check_int("k", k, 1)
    return ratios[:k]


def participation_ratio_from_eigenvalues(eigenvalues: np.ndarray) -> float:
    """``(sum l)^2 / sum l^2`` of a spectrum (Sec. 3.1, Gao et al. 2017)."""
    ev = np.asarray(eigenvalues, dtype=np.float64)
    denom = float(np.sum(ev**2))
    if not denom > 0:
        raise ValueError("the representation has zero variance: the participation ratio is undefined")
    return float(np.sum(ev) ** 2 / denom)


def participation_ratio(h: np.ndarray) -> float:
    """Effective dimension of ``h`` (n, D): ``(sum l)^2 / sum l^2`` over the PCA eigenvalues (Sec. 3.1)."""
    return participation_ratio_from_eigenvalues(pca_eigenvalues(h))


def pca_project(h: np.ndarray, n_components: int = 4) -> np.ndarray:
    """Coordinates of ``h`` on its own top ``n_components`` PCs, (n, n_components).

    Fig. 2 (e)-(g) plot PCs 1 & 3 and 2 & 4 (columns 0 & 2 and 1 & 3 here), where the two rings of a
    learned Clifford-like torus appear (App. B.2).
    """
    h = _as_representation(h)
    check_int("n_components", n_components, 1, min(h.shape))
    return pca(h, n_components).project(h)


# resampling the points (95% intervals of C1 and C2, gdlib.intervals.resampled) -----------------------------------
def _centred_gram(h: np.ndarray) -> np.ndarray:
    """h h^T of ``h`` centred on its mean: the resamples' Gram matrices are read from it (a shift of every row
    changes no resample's centred Gram matrix, and centring first keeps the sums from cancelling)."""
    h = _as_representation(h)
    c = h - h.mean(axis=0)
    return c @ c.T


def resample_counts(n: int, draws: int, seed: int = 0) -> np.ndarray:
    """(draws, n) how often each of ``n`` points is drawn when ``n`` are drawn with replacement, seeded."""
    check_int("n", n, 1)
    check_int("draws", draws, 1)
    return np.random.default_rng(seed).multinomial(n, np.full(n, 1.0 / n), size=draws).astype(np.float64)


def resampled_participation_ratios(hs, draws: int, seed: int = 0) -> np.ndarray:
    """(draws, len(hs)): the participation ratio of every representation in ``hs`` (each (n, D_i), the same n
    points in the same order, e.g. one set of centres at every checkpoint) with its points resampled with
    replacement, the same resample for all (a paired bootstrap: a ratio of two PRs sees one resample).

    Exact and without an eigendecomposition: PR = tr(C)^2 / |C|_F^2 for the covariance C, whose nonzero spectrum
    is the centred Gram matrix's. With w the counts of a resample and G the Gram matrix, the resample's centred
    Gram matrix J A J (A = G at the drawn rows, J = I - 11^T / n) has tr = sum_j w_j G_jj - w^T G w / n and
    |J A J|_F^2 = w^T (G o G) w - 2 / n sum_j w_j (G w)_j^2 + (w^T G w)^2 / n^2: two matrix products per h."""
    grams = [_centred_gram(h) for h in hs]
    n = {g.shape[0] for g in grams}
    if len(n) != 1:
        raise ValueError(f"the representations have different numbers of points: {sorted(n)}")
    (n,) = n
    w = resample_counts(n, draws, seed)
    out = np.empty((draws, len(grams)))
    for i, g in enumerate(grams):
        gw = w @ g
        q = np.sum(gw * w, axis=1)
        trace = w @ np.diag(g) - q / n
        frob = np.sum((w @ (g * g)) * w, axis=1) - 2.0 / n * np.sum(w * gw**2, axis=1) + q**2 / n**2
        with np.errstate(divide="ignore", invalid="ignore"):
            out[:, i] = np.where(frob > 0, trace**2 / frob, np.nan)
    return out


def resampled_spectra(h: np.ndarray, draws: int, seed: int = 0, k: int = 5):
    """For ``draws`` resamples of ``h``'s points with replacement (seeded): ``(rows, eigenvalues, total, scores)``,
    the drawn rows (n,), the top ``k`` covariance eigenvalues decreasing, the total variance, and the drawn points'
    coordinates on their own top ``k`` PCs (n, k), from the centred Gram matrix of the resample (a generator)."""
    from scipy.linalg import eigh

    g = _centred_gram(h)
    n = g.shape[0]
    k = min(k, n - 1)
    rng = np.random.default_rng(seed)
    for _ in range(draws):
        rows = rng.integers(n, size=n)
        a = g[np.ix_(rows, rows)]
        mean = a.mean(axis=0)
        a = a - mean[None, :] - mean[:, None] + mean.mean()
        evals, evecs = eigh(a, subset_by_index=[n - k, n - 1])
        evals, evecs = np.clip(evals[::-1], 0.0, None), evecs[:, ::-1]
        yield rows, evals / (n - 1), float(np.trace(a)) / (n - 1), evecs * np.sqrt(evals)
