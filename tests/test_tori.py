"""Tests of gdlib.tori: ideal 3D and Clifford tori on the data's grid (Sec. 3.1, Fig. 2a, App. B)."""

import math

import numpy as np
import pytest

from gdlib.regions import integer_grid
from gdlib.tori import clifford_torus, ideal_torus, infer_period, labels_to_angles, torus_3d


def test_angles_are_two_pi_mu_over_n_and_periodic():
    tx, ty = labels_to_angles(np.array([[8.0, 16.0], [32.0, 0.0]]), 32)
    assert np.allclose(tx, [math.pi / 2, 2 * math.pi]) and np.allclose(ty, [math.pi, 0.0])
    # mu = 0 and mu = N are the same point on the periodic canvas.
    a = clifford_torus(np.array([[0.0, 3.0]]), 32)
    b = clifford_torus(np.array([[32.0, 3.0]]), 32)
    assert np.allclose(a, b)


def test_3d_torus_points_lie_on_the_torus_surface():
    x = torus_3d(integer_grid(16, order="y fastest"), 16, R=3.0, r=1.0)
    assert x.shape == (256, 3)
    # (sqrt(x^2 + y^2) - R)^2 + z^2 = r^2
    rho = np.hypot(x[:, 0], x[:, 1])
    assert np.allclose((rho - 3.0) ** 2 + x[:, 2] ** 2, 1.0)


def test_clifford_torus_is_two_circles_in_orthogonal_planes_on_the_unit_sphere():
    x = clifford_torus(integer_grid(16, order="y fastest"), 16)
    assert x.shape == (256, 4)
    assert np.allclose(np.sum(x[:, :2] ** 2, axis=1), 0.5)
    assert np.allclose(np.sum(x[:, 2:] ** 2, axis=1), 0.5)
    assert np.allclose(np.linalg.norm(x, axis=1), 1.0)


def test_noise_is_seeded_and_has_the_requested_scale():
    labels = integer_grid(32, order="y fastest")
    clean = torus_3d(labels, 32)
    a = torus_3d(labels, 32, noise=0.1, seed=3)
    assert np.array_equal(a, torus_3d(labels, 32, noise=0.1, seed=3))
    assert not np.array_equal(a, torus_3d(labels, 32, noise=0.1, seed=4))
    assert np.std(a - clean) == pytest.approx(0.1, rel=0.05)


def test_ideal_torus_dispatches_and_infer_period_reads_the_grid():
    labels = integer_grid(16, order="y fastest")
    assert ideal_torus("3d", labels, 16).shape == (256, 3)
    assert ideal_torus("clifford", labels, 16).shape == (256, 4)
    assert infer_period(labels) == 16
    with pytest.raises(ValueError, match="consecutive"):
        infer_period(labels * 0.5)


@pytest.mark.parametrize(
    "call, name",
    [
        (lambda L: torus_3d(L, 16, R=1.0, r=2.0), "R"),
        (lambda L: torus_3d(L, 16, r=0.0), "r"),
        (lambda L: torus_3d(L, 16, noise=-0.1), "noise"),
        (lambda L: clifford_torus(L, 16, r1=-1.0), "r1"),
        (lambda L: clifford_torus(L, 0), "n"),
        (lambda L: ideal_torus("donut", L, 16), "kind"),
        (lambda L: integer_grid(0), "n"),
    ],
)
def test_bad_parameters_raise_value_error_naming_them(call, name):
    with pytest.raises(ValueError, match=rf"^{name} = "):
        call(integer_grid(4, order="y fastest"))


def test_labels_must_be_pairs():
    with pytest.raises(ValueError, match="labels"):
        torus_3d(np.zeros((5, 3)), 16)
