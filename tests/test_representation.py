"""The claim criteria of notebooks 03 and 04 (gdlib.representation) on inputs with known answers."""

from __future__ import annotations

import numpy as np
import pytest

from gdlib import representation as rep
from gdlib.tori import clifford_torus, grid_labels, torus_3d
from gdlib.torus_tests import ideal_torus_tests, torus_tests


def test_rises_then_falls_needs_an_interior_peak_and_a_drop():
    assert rep.rises_then_falls([3, 9, 12, 8, 7])
    assert not rep.rises_then_falls([3, 5, 7, 9])  # still rising
    assert not rep.rises_then_falls([12, 9, 7])  # peak at the first checkpoint
    assert not rep.rises_then_falls([3, 10, 9.5])  # falls by less than 10%


def test_top_k_share_and_eigengap_of_a_known_spectrum():
    ev = np.array([4.0, 3.0, 2.0, 1.0, 0.5, 0.5])
    assert rep.top_k_share(ev) == pytest.approx(10 / 11)
    assert rep.eigengap(ev) == pytest.approx(2.0)


@pytest.fixture(scope="module")
def ideal():
    labels = grid_labels(12)
    return labels, ideal_torus_tests(labels, n=12, n_pairs=60, seed=0)


def test_a_clifford_representation_passes_c4_and_a_3d_torus_fails_it(ideal):
    labels, tests = ideal
    clifford = torus_tests(clifford_torus(labels, 12), labels, n_pairs=60, seed=0)
    d = rep.x_on_y_distances(clifford, tests)
    assert all(d["clifford"][s] < d["3d"][s] for s in d["clifford"])
    three_d = torus_tests(torus_3d(labels, 12), labels, n_pairs=60, seed=0)
    d = rep.x_on_y_distances(three_d, tests)
    assert all(d["3d"][s] < d["clifford"][s] for s in d["3d"])


def test_hyperfactorization_distances_are_zero_against_itself(ideal):
    _, tests = ideal
    d = rep.hyperfactorization_distances(tests["clifford"], tests)
    # the Clifford torus's own x-on-x and y-on-y are exactly "parallel": distance 0 to itself
    assert all(v == pytest.approx(0.0, abs=1e-9) for f in d for v in d[f]["clifford same"].values())
    assert all(v > 0 for f in d for v in d[f]["3d x-on-y"].values())
