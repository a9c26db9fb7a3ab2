"""The claim criteria of notebooks 03 and 04 (gdlib.representation) on inputs with known answers.

Every criterion against its controls (noise, the untrained network) is tested in tests/test_controls.py.
"""

from __future__ import annotations

import numpy as np
import pytest

from gdlib import representation as rep
from gdlib.regions import integer_grid
from gdlib.tori import clifford_torus, torus_3d
from gdlib.torus_geometry import ideal_torus_tests, torus_tests


def test_c1_wants_a_final_pr_near_7_that_settled_after_an_inner_peak():
    epochs = [0, 1, 2, 3, 4, 5, 6]
    assert rep.pr_trajectory(epochs, [80, 5, 12, 9, 7.5, 7, 7.2]).passes
    assert not rep.pr_trajectory(epochs, [80, 5, 6, 7, 8, 9, 9.5]).passes  # still rising: no peak inside
    assert not rep.pr_trajectory(epochs, [80, 12, 11, 9, 7.5, 7, 7.2]).passes  # the peak is the first checkpoint
    assert not rep.pr_trajectory(epochs, [80, 5, 20, 14, 7, 14, 7]).passes  # not settled
    assert not rep.pr_trajectory(epochs, [80, 5, 30, 25, 22, 21, 20]).passes  # settles far above 7
    assert not rep.pr_trajectory([0, 1, 2], [5, 12, 7]).passes  # too few checkpoints to tell


def test_the_epoch_0_pr_does_not_count_as_the_start_of_the_rise():
    # the untrained network's PR (80) is far above the trained one's; the rise is measured from epoch 1
    outcome = rep.pr_trajectory([0, 1, 2, 3, 4, 5], [80, 5, 12, 7.4, 7.1, 7.0])
    assert outcome.passes and "first (5.0)" in " ".join(p.name for p in outcome.parts)


def test_top_k_share_and_eigengap_of_a_known_spectrum():
    ev = np.array([4.0, 3.0, 2.0, 1.0, 0.5, 0.5])
    assert rep.top_k_share(ev) == pytest.approx(10 / 11)
    assert rep.eigengap(ev) == pytest.approx(2.0)


def test_a_circle_is_one_dominant_ring_and_a_blob_is_none():
    theta = np.linspace(0, 2 * np.pi, 64, endpoint=False)
    length, second = rep.ring_strength(np.c_[np.cos(theta), np.sin(theta)])
    assert length > 0.8 and second < 0.1
    length, _ = rep.ring_strength(np.random.default_rng(0).standard_normal((256, 2)))
    assert length < rep.RING_LENGTH


@pytest.fixture(scope="module")
def ideal():
    labels = integer_grid(12, order="y fastest")
    return labels, ideal_torus_tests(labels, n=12, n_pairs=60, seed=0)


def test_a_clifford_representation_passes_c4_and_a_3d_torus_fails_it(ideal):
    labels, tests = ideal
    clifford = torus_tests(clifford_torus(labels, 12), labels, n_pairs=60, seed=0)
    assert rep.clifford_like(clifford, tests).passes
    three_d = torus_tests(torus_3d(labels, 12), labels, n_pairs=60, seed=0)
    assert not rep.clifford_like(three_d, tests).passes


def test_the_parallel_families_of_a_clifford_torus_fail_c5(ideal):
    _, tests = ideal
    outcome = rep.hyperfactorized(tests["clifford"], tests)
    assert not outcome.passes
    # its x-on-x and y-on-y planes coincide: distance 0 to the Clifford family, so closer to it than to 3D x-on-y
    assert not any(p.passes for p in outcome.parts if "W to 3D" in p.name)
