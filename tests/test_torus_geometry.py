"""Tests of gdlib.torus_geometry: orthogonality and parallelism tests of tori (App. B, Fig. 3, Fig. 8).

Expected values are derived in the module docstring of gdlib.torus_geometry from the parametrisations
of gdlib.tori (3D torus: mu_x toroidal angle, mu_y poloidal).
"""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

from gdlib import torus_claims
from gdlib.intervals import resampled
from gdlib.plots.geometry import plot_torus_tests
from gdlib.regions import integer_grid
from gdlib.tori import clifford_torus, torus_3d
from gdlib.torus_geometry import (
    FAMILIES,
    STATISTICS,
    _tests_of_rows,
    distances_to_ideal_tori,
    family_pairs,
    ideal_torus_tests,
    resampled_torus_tests,
    torus_tests,
    wasserstein_distances,
)

N = 16
LABELS = integer_grid(N, order="y fastest")


@pytest.fixture(scope="module")
def ideal():
    return ideal_torus_tests(LABELS, n=N, n_pairs=100, seed=0)


def test_clifford_torus_passes_orthogonality_and_parallelism(ideal):
    cl = ideal["clifford"]
    # x-rings and y-rings lie in orthogonal planes: both principal angles 90 degrees, nothing projects.
    assert np.allclose(cl.orthogonality["x-on-y"], 90.0, atol=1e-6)
    assert np.allclose(cl.parallelism["x-on-y"], 1.0, atol=1e-9)
    # Rings of the same variable lie in parallel planes: angles 0, reconstruction error 0.
    for family in ("x-on-x", "y-on-y"):
        assert np.allclose(cl.orthogonality[family], 0.0, atol=1e-5)
        assert np.allclose(cl.parallelism[family], 0.0, atol=1e-9)


def test_3d_torus_x_on_y_planes_share_one_direction(ideal):
    t3 = ideal["3d"]
    # Poloidal (fix x) and horizontal (fix y) circles share the radial direction: angles (0, 90).
    assert np.allclose(t3.orthogonality["x-on-y"][:, 0], 0.0, atol=1e-5)
    assert np.allclose(t3.orthogonality["x-on-y"][:, 1], 90.0, atol=1e-5)
    assert np.allclose(t3.parallelism["x-on-y"], 0.5, atol=1e-9)


def test_3d_torus_x_rings_rotate_about_the_axis_and_y_rings_are_parallel(ideal):
    t3 = ideal["3d"]
    dtheta = 2 * np.pi * (t3.pairs["x-on-x"][:, 0] - t3.pairs["x-on-x"][:, 1]) / N
    # Planes span(u(theta), e_z): angles (0, arccos|cos dtheta|), error sin^2(dtheta) / 2.
    assert np.allclose(t3.orthogonality["x-on-x"][:, 0], 0.0, atol=1e-5)
    assert np.allclose(
        t3.orthogonality["x-on-x"][:, 1], np.degrees(np.arccos(np.abs(np.cos(dtheta)))), atol=1e-5
    )
    assert np.allclose(t3.parallelism["x-on-x"], np.sin(dtheta) ** 2 / 2, atol=1e-9)
    # Horizontal circles at different heights are parallel.
    assert np.allclose(t3.orthogonality["y-on-y"], 0.0, atol=1e-5)
    assert np.allclose(t3.parallelism["y-on-y"], 0.0, atol=1e-9)


def test_the_tests_tell_the_3d_torus_from_the_clifford_torus(ideal):
    d = wasserstein_distances(ideal["3d"], ideal["clifford"])
    assert d["x-on-y"]["orthogonality"] == pytest.approx(45.0, abs=1e-3)  # (0, 90) vs (90, 90)
    assert d["x-on-y"]["parallelism"] == pytest.approx(0.5, abs=1e-6)
    assert d["x-on-x"]["orthogonality"] > 15.0
    assert d["x-on-x"]["parallelism"] > 0.15
    assert d["y-on-y"]["orthogonality"] < 1e-3 and d["y-on-y"]["parallelism"] < 1e-6


def test_wasserstein_distance_of_a_sample_to_itself_is_zero(ideal):
    for kind in ("3d", "clifford"):
        d = wasserstein_distances(ideal[kind], ideal[kind])
        assert set(d) == set(FAMILIES) and all(set(v) == set(STATISTICS) for v in d.values())
        assert all(v == 0.0 for fam in d.values() for v in fam.values())


def test_statistics_do_not_depend_on_ambient_dimension_rotation_or_sample_order():
    x = clifford_torus(LABELS, N)
    rng = np.random.default_rng(5)
    q, _ = np.linalg.qr(rng.standard_normal((40, 40)))
    h = np.hstack([x, np.zeros((len(x), 36))]) @ q.T * 7.0 + 1.0
    perm = rng.permutation(len(x))
    a = torus_tests(x, LABELS, n_pairs=50, seed=1)
    b = torus_tests(h[perm], LABELS[perm], n_pairs=50, seed=1)
    for family in FAMILIES:
        assert np.array_equal(a.pairs[family], b.pairs[family])
        assert np.allclose(a.orthogonality[family], b.orthogonality[family], atol=1e-5)
        assert np.allclose(a.parallelism[family], b.parallelism[family], atol=1e-9)


def test_pairs_are_seeded_distinct_and_capped_at_all_pairs():
    x = torus_3d(LABELS, N)
    a = torus_tests(x, LABELS, n_pairs=30, seed=2)
    assert np.array_equal(a.pairs["x-on-x"], torus_tests(x, LABELS, n_pairs=30, seed=2).pairs["x-on-x"])
    assert not np.array_equal(a.pairs["x-on-x"], torus_tests(x, LABELS, n_pairs=30, seed=3).pairs["x-on-x"])
    assert a.parallelism["x-on-y"].shape == (30,) and a.orthogonality["x-on-y"].shape == (30, 2)
    assert np.all(a.pairs["x-on-x"][:, 0] != a.pairs["x-on-x"][:, 1])
    assert len({tuple(p) for p in a.pairs["x-on-x"]}) == 30
    full = torus_tests(x, LABELS, n_pairs=None)
    assert len(full.pairs["x-on-y"]) == N * N and len(full.pairs["y-on-y"]) == N * (N - 1)
    assert len(torus_tests(x, LABELS, n_pairs=10**6).pairs["x-on-x"]) == N * (N - 1)


def test_distances_to_ideal_tori_place_each_ideal_at_zero_from_itself():
    x = clifford_torus(LABELS, N)
    d = distances_to_ideal_tori(x, LABELS, n_pairs=40)
    assert all(v < 1e-6 for fam in d["clifford"].values() for v in fam.values())
    assert d["3d"]["x-on-y"]["orthogonality"] == pytest.approx(45.0, abs=1e-3)
    noisy = clifford_torus(LABELS, N, noise=0.05, seed=1)
    d_noisy = distances_to_ideal_tori(noisy, LABELS, n_pairs=40)
    assert d_noisy["clifford"]["x-on-y"]["orthogonality"] < d_noisy["3d"]["x-on-y"]["orthogonality"]


@pytest.mark.parametrize(
    "kwargs, name",
    [({"n_pairs": 0}, "n_pairs"), ({"seed": -1}, "seed"), ({"n_pairs": 2.5}, "n_pairs")],
)
def test_bad_parameters_raise_value_error_naming_them(kwargs, name):
    with pytest.raises(ValueError, match=rf"^{name} = "):
        torus_tests(torus_3d(LABELS, N), LABELS, **kwargs)


def test_rings_need_three_points_and_statistics_need_known_names(ideal):
    labels = np.array([[1, 1], [1, 2], [2, 1], [2, 2]], dtype=float)
    with pytest.raises(ValueError, match="at least 3"):
        torus_tests(np.random.default_rng(0).standard_normal((4, 5)), labels)
    with pytest.raises(ValueError, match="^family = "):
        ideal["3d"].statistic("z-on-z", "parallelism")


def test_the_resampled_tests_of_every_point_drawn_once_are_the_torus_tests():
    # the vectorised statistics of a resample against torus_tests' pair-by-pair ones: every point once, in order
    labels = integer_grid(12, order="y fastest")
    h = np.random.default_rng(0).standard_normal((len(labels), 30))
    direct = torus_tests(h, labels, n_pairs=100, seed=3)
    ring = [np.searchsorted(np.unique(labels[:, a]), labels[:, a]) for a in (0, 1)]
    again = _tests_of_rows(h, np.arange(len(h)), ring, [12, 12], family_pairs(12, 12, 100, 3))
    for family in FAMILIES:
        np.testing.assert_allclose(again.orthogonality[family], direct.orthogonality[family], atol=1e-6)
        np.testing.assert_allclose(again.parallelism[family], direct.parallelism[family], atol=1e-12)


def test_resamples_are_seeded_keep_an_ideal_toruss_angles_and_leave_out_rings_without_a_plane():
    clifford = torus_tests(clifford_torus(LABELS, N), LABELS, n_pairs=60, seed=0, resamples=5)
    assert len(clifford.resampled) == 5 and not clifford.resampled[0].resampled
    for r in clifford.resampled:  # any three points of a circle span its plane: nothing to vary
        assert np.allclose(r.orthogonality["x-on-y"], 90.0, atol=1e-4)
        assert np.allclose(r.orthogonality["x-on-x"], 0.0, atol=1e-4)
    # a 4 x 4 grid: a resample often leaves a ring of 4 points with fewer than 3 distinct ones, whose pairs drop out
    labels = integer_grid(4, order="y fastest")
    h = np.random.default_rng(1).standard_normal((16, 6))
    draws = resampled_torus_tests(h, labels, n_pairs=None, seed=0, draws=40)
    assert all(np.all(np.isfinite(r.orthogonality[f])) for r in draws for f in FAMILIES)
    assert min(len(r.parallelism["x-on-y"]) for r in draws) < 16 == len(torus_tests(h, labels).parallelism["x-on-y"])
    again = resampled_torus_tests(h, labels, n_pairs=None, seed=0, draws=40)
    assert all(np.array_equal(a.parallelism["x-on-x"], b.parallelism["x-on-x"]) for a, b in zip(draws, again))


def test_the_interval_of_c4s_angle_contrast_contains_the_estimate_and_narrows_with_more_centres():
    widths = []
    for n in (8, 16):
        labels = integer_grid(n, order="y fastest")
        h = np.c_[clifford_torus(labels, n), np.zeros((n * n, 8))]
        h = h + 0.3 * np.random.default_rng(0).standard_normal(h.shape)
        result = torus_tests(h, labels, n_pairs=200, seed=0, resamples=40)
        contrast = lambda r: r.orthogonality["x-on-y"].mean() - r.orthogonality["x-on-x"].mean()  # noqa: E731
        interval = resampled(contrast(result), [contrast(r) for r in result.resampled])
        assert interval.low <= interval.value <= interval.high
        outcome = torus_claims.clifford_like(result, ideal_torus_tests(labels, n=n, n_pairs=200, seed=0))
        assert f"(difference {interval.text(lambda v: f'{v:.1f}')})" in outcome.parts[2].name  # C4 reads it
        widths.append(interval.high - interval.low)
    assert widths[1] < widths[0], widths


@pytest.mark.parametrize("overlay, n_cols", [(False, 6), (True, 2)])
def test_plot_torus_tests_draws_the_fig3_grid(ideal, overlay, n_cols):
    results = {"3d": ideal["3d"], "model": ideal["clifford"], "clifford": ideal["clifford"]}
    fig = plot_torus_tests(results, overlay=overlay, bins=10)
    axes = fig.get_axes()
    assert len(axes) == 3 * n_cols
    assert all(len(ax.patches) > 0 for ax in axes)
    assert axes[0].get_ylabel() == "x-on-y"
    plt.close(fig)
