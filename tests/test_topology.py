"""Tests of gdlib.topology (persistent homology, Sec. 3.1, Fig. 2b) and gdlib.embedding (UMAP, App. A.2)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gdlib.embedding import umap_embedding
from gdlib.plots.geometry import plot_embedding_3d, plot_persistence
from gdlib.regions import integer_grid
from gdlib.topology import betti_numbers, persistent_homology
from gdlib.tori import clifford_torus, torus_3d

LABELS = integer_grid(32, order="y fastest")


@pytest.mark.parametrize("kind", ["3d", "clifford"])
def test_an_ideal_torus_has_betti_numbers_1_2_1(kind):
    x = torus_3d(LABELS, 32) if kind == "3d" else clifford_torus(LABELS, 32)
    res = persistent_homology(x, n_points=200, seed=0)
    assert betti_numbers(res) == (1, 2, 1)
    assert len(res.indices) == 200 and res.points.shape == (200, x.shape[1])


def test_a_circle_has_one_loop_and_a_blob_none():
    t = np.linspace(0, 2 * np.pi, 120, endpoint=False)
    circle = np.stack([np.cos(t), np.sin(t), 0.01 * np.sin(3 * t)], axis=1)
    assert betti_numbers(persistent_homology(circle, n_points=120)) == (1, 1, 0)
    blob = np.random.default_rng(0).standard_normal((400, 6))
    assert betti_numbers(persistent_homology(blob, n_points=150))[1:] == (0, 0)


def test_persistent_homology_reduces_to_the_top_pcs_and_is_seeded():
    rng = np.random.default_rng(1)
    q, _ = np.linalg.qr(rng.standard_normal((30, 30)))
    h = np.hstack([clifford_torus(integer_grid(12, order="y fastest"), 12), np.zeros((144, 26))]) @ q.T
    a = persistent_homology(h, n_points=60, n_components=6, maxdim=1, seed=3)
    b = persistent_homology(h, n_points=60, n_components=6, maxdim=1, seed=3)
    assert a.points.shape == (60, 6) and len(a.diagrams) == 2
    assert np.array_equal(a.indices, b.indices)
    # The torus spans 4 PCs: the 5th and 6th coordinates are zero.
    assert np.allclose(a.points[:, 4:], 0.0, atol=1e-9)
    c = persistent_homology(h, n_points=60, maxdim=1, seed=3, subsample="random")
    assert len(set(c.indices)) == 60


def test_farthest_point_sampling_covers_evenly():
    x = clifford_torus(LABELS, 32)
    idx = persistent_homology(x, n_points=100, n_components=None, maxdim=0, seed=0).indices
    assert len(set(idx.tolist())) == 100
    rand = np.random.default_rng(0).choice(len(x), 100, replace=False)

    def cover_radius(sub):
        return np.max(np.min(np.linalg.norm(x[:, None] - x[sub][None], axis=2), axis=1))

    assert cover_radius(idx) < cover_radius(rand)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda x: persistent_homology(x, n_points=1), "n_points"),
        (lambda x: persistent_homology(x, maxdim=4), "maxdim"),
        (lambda x: persistent_homology(x, n_components=0), "n_components"),
        (lambda x: persistent_homology(x, subsample="every-other"), "subsample"),
        (lambda x: betti_numbers(persistent_homology(x, n_points=20, maxdim=0), threshold=2.0), "threshold"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=rf"^{name} = "):
        call(torus_3d(integer_grid(8, order="y fastest"), 8))


def test_plot_persistence_draws_on_the_given_axis():
    res = persistent_homology(torus_3d(integer_grid(8, order="y fastest"), 8), n_points=40, maxdim=2)
    fig, ax = plt.subplots()
    assert plot_persistence(res, ax, title="3D torus") is ax
    assert ax.get_title() == "3D torus" and len(ax.collections) >= 3
    plt.close(fig)


@pytest.mark.slow
def test_umap_gives_a_reproducible_3d_embedding():
    """The first UMAP call compiles numba code: this is the one UMAP test."""
    labels = integer_grid(14, order="y fastest")
    h = np.hstack([clifford_torus(labels, 14), np.random.default_rng(0).normal(0, 0.01, (196, 4))])
    a = umap_embedding(h, seed=7)
    b = umap_embedding(h, seed=7)
    assert a.shape == (196, 3) and np.all(np.isfinite(a))
    assert np.allclose(a, b)
    with pytest.raises(ValueError, match="n_neighbors"):  # UMAP's own check
        umap_embedding(h, n_neighbors=1)
    fig = plt.figure()
    ax = fig.add_subplot(projection="3d")
    plot_embedding_3d(a, labels, ax)
    assert len(ax.collections) == 1
    plt.close(fig)
