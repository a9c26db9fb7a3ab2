"""Centre estimation and the accuracy metric of App. A.3 (Eq. 1) on images with known centres."""

from __future__ import annotations

import numpy as np
import pytest

from gdlib.accuracy import (
    DARKEST,
    HALF_MAX,
    NO_BUMP,
    SEVERAL,
    accuracy,
    centroid,
    count_blobs,
    darkness,
    distance,
    estimate_centres,
    half_max_level,
    score_images,
)
from gdlib.images import render
from gdlib.regions import evaluation_grid
from gdlib.seeds import mean_accuracy

N = 16


def test_the_darkest_pixel_recovers_integer_centres_exactly():
    grid = evaluation_grid(N)
    images = render("bump", grid[:, 0], grid[:, 1], N)
    centres, method = estimate_centres(images, return_method=True)
    assert np.array_equal(centres, grid)
    assert (method == DARKEST).all()
    assert accuracy(grid, centres, N).joint == 1.0


def test_off_grid_centres_are_within_one_pixel_so_every_sample_counts():
    rng = np.random.default_rng(0)
    mu = rng.uniform(1, N, size=(200, 2))
    images = render("bump", mu[:, 0], mu[:, 1], N)
    acc = score_images(images, mu, N)
    assert (acc.joint, acc.x, acc.y, acc.count) == (1.0, 1.0, 1.0, 200)


def test_a_misplaced_bump_fails_in_the_coordinate_it_misses_only():
    truth = np.array([[5.0, 5.0], [5.0, 5.0], [5.0, 5.0]])
    images = render("bump", np.array([5.0, 9.0, 9.0]), np.array([5.0, 5.0, 12.0]), N)
    acc = score_images(images, truth, N)
    assert acc.joint == pytest.approx(1 / 3)
    assert acc.x == pytest.approx(1 / 3)
    assert acc.y == pytest.approx(2 / 3)


def test_wrapped_centres_count_on_the_torus_but_not_on_the_plane():
    # mu_x = 0.3 wraps to pixel N on the torus: 0.7 away circularly, N - 0.3 away on the plane
    mu = np.array([[0.3, 8.0], [N - 0.2, 0.1]])
    images = render("bump", mu[:, 0], mu[:, 1], N, periodic=True)
    centres = estimate_centres(images, periodic=True)
    assert centres[0].tolist() == [N, 8.0]
    assert accuracy(mu, centres, N, periodic=True).joint == 1.0
    assert accuracy(mu, centres, N, periodic=False).joint == 0.0
    assert distance(np.array([0.5]), np.array([N - 0.25]), N, periodic=True)[0] == pytest.approx(0.75)


def test_two_bumps_fall_back_to_the_centroid():
    a = render("bump", np.array([4.0]), np.array([8.0]), N)[0]
    b = render("bump", np.array([13.0]), np.array([8.0]), N)[0]  # mirror image of a about x = 8.5
    two = np.minimum(a, b)
    centre, method = estimate_centres(two, return_method=True)
    assert method == SEVERAL
    assert centre == pytest.approx([8.5, 8.0], abs=1e-6)


def test_a_blank_image_has_no_bump_and_gets_the_canvas_centre():
    blank = np.full((N, N), 255, dtype=np.uint8)
    centre, method = estimate_centres(blank, return_method=True)
    assert method == NO_BUMP
    assert centre.tolist() == [(N + 1) / 2, (N + 1) / 2]
    faint = np.full((N, N), 255, dtype=np.uint8)
    faint[3, 3] = 200  # darkness 0.22 < 0.3: still no bump, centroid at the faint pixel
    centre, method = estimate_centres(faint, return_method=True)
    assert method == NO_BUMP and centre.tolist() == [4.0, 4.0]


def test_a_bump_across_the_edge_is_one_blob_on_the_torus_and_two_on_the_plane():
    img = render("bump", np.array([0.5]), np.array([8.0]), N, periodic=True)[0]
    a = darkness(img)
    mask = a > 0.5 * a.max()
    assert count_blobs(mask, periodic=False) == 2
    assert count_blobs(mask, periodic=True) == 1
    assert estimate_centres(img, periodic=True, return_method=True)[1] == DARKEST
    # corners touch diagonally on the torus
    corner = np.zeros((N, N), dtype=bool)
    corner[0, 0] = corner[-1, -1] = True
    assert count_blobs(corner, periodic=True) == 1 and count_blobs(corner) == 2


def test_the_periodic_centroid_of_a_wrapped_bump_lies_at_the_edge_not_in_the_middle():
    a = darkness(render("bump", np.array([0.5]), np.array([8.0]), N, periodic=True)[0])
    x, y = centroid(a, periodic=True)
    assert distance(np.array([x]), np.array([0.5]), N, periodic=True)[0] < 0.1
    assert y == pytest.approx(8.0, abs=1e-6)
    x_plane, _ = centroid(a, periodic=False)
    assert abs(x_plane - N / 2) < 1  # the planar centroid is pulled to the middle


def test_accuracy_per_region_uses_the_given_codes_and_names():
    grid = evaluation_grid(N)
    images = render("bump", grid[:, 0], grid[:, 1], N)
    regions = (grid[:, 0] > 8).astype(int)
    wrong = grid.copy()
    wrong[regions == 1, 1] += 3  # every right-half label is off by 3 in y
    out = accuracy(wrong, estimate_centres(images), N, regions=regions,
                   region_names={0: "left", 1: "right", 2: "empty"})
    assert out["left"].joint == 1.0 and out["left"].count == N * N // 2
    assert out["right"].joint == 0.0 and out["right"].x == 1.0 and out["right"].y == 0.0
    assert out["empty"].count == 0 and np.isnan(out["empty"].joint)
    assert out["all"].joint == 0.5


def test_periodic_distance_needs_the_canvas_size():
    with pytest.raises(ValueError, match="n"):
        distance(np.zeros(1), np.ones(1), periodic=True)


def test_an_sos_with_slightly_dark_broken_stripes_is_found_at_its_crossing():
    # SOS stripes carry half the crossing's darkness (Sec. 2), so they sit on the bump rule's half maximum:
    # a generated sample whose stripes are a shade darker and broken has several "bumps" under that rule
    # and would get the centroid; the SOS rule takes the half maximum of the crossing above its stripes.
    mu = np.array([[4.0, 12.0]])
    a = 1.04 * darkness(render("sos", mu[:, 0], mu[:, 1], N, quantize=False))[0]  # stripes 0.52
    a = np.minimum(a, 1.0)
    a[:, 8] = np.minimum(a[:, 8], 0.2)  # the horizontal stripe broken at x = 9
    img = 255.0 * (1.0 - a)
    assert count_blobs(a > HALF_MAX * a.max()) > 1
    bump_centre, bump_method = estimate_centres(img, return_method=True, family="bump")
    sos_centre, sos_method = estimate_centres(img, return_method=True, family="sos")
    assert bump_method == SEVERAL and accuracy(mu, bump_centre[None], N).joint == 0.0
    assert sos_method == DARKEST and sos_centre.tolist() == [4.0, 12.0]
    assert half_max_level("bump") == 0.5 and half_max_level("sos") == 0.75


def test_formula_images_of_both_families_are_found_exactly_by_their_own_rule():
    grid = evaluation_grid(N)
    for family in ("bump", "sos"):
        images = render(family, grid[:, 0], grid[:, 1], N)
        centres, method = estimate_centres(images, return_method=True, family=family)
        assert (method == DARKEST).all() and np.array_equal(centres, grid)


def test_an_unknown_family_is_refused_by_name():
    with pytest.raises(ValueError, match="family"):
        estimate_centres(np.zeros((N, N)), family="stripes")


def test_the_graded_error_is_the_median_pixel_distance_and_counts_a_sample_one_pixel_off_as_within_one_pixel():
    labels = np.array([[5.0, 5.0], [5.0, 5.0], [5.0, 5.0], [5.0, 5.0]])
    centres = np.array([[5.0, 5.0], [6.0, 5.0], [5.0, 3.0], [5.0, 5.0]])  # exact, 1 px off in x, 2 px off in y
    acc = accuracy(labels, centres)
    assert acc.joint == 0.5 and acc.within_one == 0.75 and acc.median_error == 0.5
    strict = accuracy(labels, centres, valid=np.array([True, True, True, False]))  # a fallback: infinitely far
    assert strict.joint == 0.25 and strict.within_one == 0.5 and strict.median_error == 1.5
    torus = accuracy(np.array([[1.0, 1.0]]), np.array([[16.0, 1.0]]), n=16, periodic=True)  # 1 px across the edge
    assert torus.joint == 0.0 and torus.median_error == 1.0 and torus.within_one == 1.0
    assert mean_accuracy([acc, strict]).median_error == 1.0 and mean_accuracy([acc, strict]).within_one == 0.625
