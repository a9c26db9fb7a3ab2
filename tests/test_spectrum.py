"""Tests of gdlib.spectrum: eigenspectrum, explained variance, participation ratio (Sec. 3.1, Fig. 2)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gdlib.plots.geometry import plot_eigenspectrum, plot_pca_projections
from gdlib.regions import integer_grid
from gdlib.spectrum import (
    explained_variance_ratio,
    participation_ratio,
    participation_ratio_from_eigenvalues,
    pca,
    pca_eigenvalues,
    pca_project,
    resample_counts,
    resampled_participation_ratios,
    resampled_spectra,
)
from gdlib.tori import clifford_torus, torus_3d


def _embedded_gaussian(k: int, d: int = 50, n: int = 20000, seed: int = 0) -> np.ndarray:
    """An isotropic k-dim Gaussian rotated into R^d."""
    rng = np.random.default_rng(seed)
    basis, _ = np.linalg.qr(rng.standard_normal((d, k)))
    return rng.standard_normal((n, k)) @ basis.T + 3.0


@pytest.mark.parametrize("k", [1, 3, 7])
def test_participation_ratio_of_an_isotropic_k_dim_gaussian_is_k(k):
    assert participation_ratio(_embedded_gaussian(k)) == pytest.approx(k, rel=0.1)


def test_participation_ratio_of_a_clifford_torus_is_4_and_of_a_3d_torus_below_3():
    labels = integer_grid(32, order="y fastest")
    assert participation_ratio(clifford_torus(labels, 32)) == pytest.approx(4.0, rel=0.05)
    # ((R^2 + r^2)^2 / ((R^2 + r^2/2)^2 / 2 + r^4 / 4) = 25 / 10.375 for R = 2, r = 1.
    assert participation_ratio(torus_3d(labels, 32)) == pytest.approx(25 / 10.375, rel=1e-6)


def test_participation_ratio_from_eigenvalues_counts_equal_eigenvalues():
    assert participation_ratio_from_eigenvalues(np.array([2.0, 2.0, 2.0, 0.0])) == pytest.approx(3.0)


def test_explained_variance_ratios_sum_to_one_and_are_sorted():
    h = np.random.default_rng(1).standard_normal((300, 40)) * np.linspace(5, 0.1, 40)
    ratios = explained_variance_ratio(h)
    assert ratios.sum() == pytest.approx(1.0)
    assert np.all(np.diff(ratios) <= 1e-12)
    top4 = explained_variance_ratio(h, 4)
    assert top4.shape == (4,) and np.allclose(top4, ratios[:4])


def test_wide_data_uses_the_same_spectrum_as_the_svd():
    """D > n (the layer-4 case, 16,384 features for 1024 samples) goes through the Gram matrix."""
    rng = np.random.default_rng(2)
    h = rng.standard_normal((60, 500))
    ev_wide = pca_eigenvalues(h, 10)
    ev_svd = np.linalg.svd(h - h.mean(0), compute_uv=False)[:10] ** 2 / 59
    assert np.allclose(ev_wide, ev_svd)
    res = pca(h, 5)
    assert np.allclose(res.components @ res.components.T, np.eye(5), atol=1e-8)


def test_pca_projection_of_a_clifford_torus_keeps_its_variance():
    x = clifford_torus(integer_grid(16, order="y fastest"), 16)
    coords = pca_project(x, 4)
    assert coords.shape == (256, 4)
    assert np.allclose(coords.var(axis=0, ddof=1), pca_eigenvalues(x, 4))
    assert np.allclose(np.sum(coords**2), np.sum((x - x.mean(0)) ** 2))


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda h: pca_eigenvalues(h, 0), "k"),
        (lambda h: explained_variance_ratio(h, -1), "k"),
        (lambda h: pca_project(h, 0), "n_components"),
        (lambda h: pca(h, 100), "n_components"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(call, name):
    h = np.random.default_rng(0).standard_normal((20, 5))
    with pytest.raises(ValueError, match=name):
        call(h)


def test_resampled_participation_ratios_are_those_of_the_drawn_rows_one_draw_shared_by_every_representation():
    rng = np.random.default_rng(1)
    hs = [rng.standard_normal((50, 30)) @ rng.standard_normal((30, 80)) + 3.0, rng.standard_normal((50, 200))]
    prs = resampled_participation_ratios(hs, draws=4, seed=3)
    for d, counts in enumerate(resample_counts(50, 4, seed=3)):
        rows = np.repeat(np.arange(50), counts.astype(int))  # the d-th resample: each point as often as drawn
        assert prs[d] == pytest.approx([participation_ratio(h[rows]) for h in hs], rel=1e-9)
    np.testing.assert_array_equal(prs, resampled_participation_ratios(hs, draws=4, seed=3))  # seeded


def test_resampled_spectra_are_the_pca_of_the_drawn_rows():
    h = np.random.default_rng(2).standard_normal((40, 60)) * np.linspace(3.0, 0.1, 60)
    for rows, eigenvalues, total, scores in resampled_spectra(h, draws=3, seed=0, k=5):
        direct = pca(h[rows])
        np.testing.assert_allclose(eigenvalues, direct.eigenvalues[:5], rtol=1e-9)
        assert total == pytest.approx(direct.eigenvalues.sum())
        np.testing.assert_allclose(np.abs(scores), np.abs(direct.project(h[rows], 5)), atol=1e-8)  # up to sign


def test_bad_representations_are_refused():
    with pytest.raises(ValueError, match="2D"):
        participation_ratio(np.zeros(10))
    with pytest.raises(ValueError, match="zero variance"):
        participation_ratio(np.ones((10, 3)))


def test_geometry_plots_draw_on_given_axes():
    labels = integer_grid(8, order="y fastest")
    x = clifford_torus(labels, 8)
    fig, axes = plt.subplots(1, 3)
    plot_eigenspectrum(x, axes[0], k=4, top=4)
    plot_pca_projections(x, labels, axes[1:])
    assert len(axes[0].patches) == 4 and len(axes[1].collections) == 1
    assert axes[2].get_xlabel() == "PC 2"
    plt.close(fig)
