"""The percolation simulation of Sec. 3.3 / App. D.1."""

from __future__ import annotations

import numpy as np
import pytest

from gdlib.percolation import (
    component_sizes,
    largest_cluster_ratio,
    offset_overlaps,
    pair_overlaps,
    simulate,
    spanning_forest,
)
from gdlib.regions import integer_grid


def test_components_of_a_hand_made_graph():
    # 0-1-2 a chain, 3-4 a pair, 5 alone
    sizes = component_sizes(6, np.array([0, 1, 3]), np.array([1, 2, 4]))
    assert sizes.tolist() == [3, 2, 1]


def test_no_edges_gives_singletons():
    assert component_sizes(4, np.array([], dtype=int), np.array([], dtype=int)).tolist() == [1, 1, 1, 1]


def test_offset_table_is_one_at_zero_and_symmetric():
    table = offset_overlaps(1.0, reach=5)
    assert table[5, 5] == pytest.approx(1.0)
    assert np.allclose(table, table[::-1, ::-1])  # overlap(delta) = overlap(-delta)
    assert np.allclose(table, table.T)  # x and y play the same role for sigma_x = sigma_y


def test_a_huge_sigma_at_lambda_one_is_one_cluster():
    assert largest_cluster_ratio(integer_grid(16), sigma=8.0, threshold=0.005, n=16) == 1.0


def test_sigma_0_1_never_connects_at_threshold_0_005():
    ov = pair_overlaps(integer_grid(32), offset_overlaps(0.1, 31))
    assert component_sizes(1024, *np.nonzero(np.triu(ov > 0.005, 1))).max() == 1


def test_spanning_forest_gives_the_components_of_direct_thresholding():
    rng = np.random.default_rng(3)
    points = integer_grid(20)[rng.permutation(400)[:150]]
    for sigma in (0.5, 1.0):
        ov = pair_overlaps(points, offset_overlaps(sigma, 19))
        rows, cols, weight = spanning_forest(ov, 0.005)
        for t in (0.005, 0.05, 0.2, 0.5, 0.8):
            direct = component_sizes(150, *np.nonzero(np.triu(ov > t, 1)))
            keep = weight > t
            assert component_sizes(150, rows[keep], cols[keep]).tolist() == direct.tolist()


def test_mass_ratio_rises_with_lambda_and_sigma_and_falls_with_threshold():
    res = simulate([0.3, 1.0], [0.1, 0.5, 1.0], [0.005, 0.5], n=16, repeats=3)
    assert np.all(np.diff(res.curve(0.005, 0.3)) >= 0) and np.all(np.diff(res.curve(0.5, 1.0)) >= 0)
    # below percolation the largest cluster is one point, so the ratio is 1 / (lambda * n^2)
    assert res.curve(0.5, 0.3)[-1] == pytest.approx(1 / 256)
    assert np.all(res.curve(0.005, 1.0) >= res.curve(0.005, 0.3))
    assert np.all(res.curve(0.005, 0.3) >= res.curve(0.5, 0.3))
    assert res.mean.shape == res.std.shape == (2, 2, 3)


def test_simulation_is_reproducible_with_the_seed():
    a = simulate([0.5], [0.3], [0.05], n=12, repeats=2, seed=7)
    b = simulate([0.5], [0.3], [0.05], n=12, repeats=2, seed=7)
    assert np.array_equal(a.mean, b.mean)


@pytest.mark.parametrize("kwargs,name", [({"lambdas": [0.0]}, "lambda"), ({"thresholds": [-1.0]}, "threshold"),
                                          ({"repeats": 0}, "repeats"), ({"sigmas": [0.0]}, "sigma")])
def test_bad_parameters_name_themselves(kwargs, name):
    args = {"sigmas": [1.0], "lambdas": [0.5], "thresholds": [0.05], "n": 8, "repeats": 1, **kwargs}
    with pytest.raises(ValueError, match=rf"^{name} = "):
        simulate(**args)
