"""The neighbour overlap of App. A.5 (Fig. 6b)."""

from __future__ import annotations

import numpy as np
import pytest

from gdlib.images import render
from gdlib.overlap import neighbour_overlap, overlap


@pytest.mark.parametrize("sigma", [0.3, 1.0, 2.0])
def test_overlap_of_an_image_with_itself_is_one(sigma):
    im = render("bump", [10.3, 4.0], [7.7, 12.0], 16, sigma, sigma)
    assert np.allclose(overlap(im, im), 1.0)


def test_overlap_formula_matches_its_definition():
    a_img, b_img = render("bump", [8.0], [8.0], 16), render("bump", [9.5], [8.0], 16)
    a, b = (255.0 - a_img) / 255, (255.0 - b_img) / 255
    expected = np.linalg.norm(np.sqrt(a * b)) / np.linalg.norm(a)
    assert overlap(a_img, b_img)[0] == pytest.approx(expected)


@pytest.mark.parametrize("sigma", [0.5, 1.0, 2.0])
def test_overlap_from_a_pixel_centre_decreases_with_distance(sigma):
    curve = neighbour_overlap(sigma, np.linspace(0, 6, 61))
    assert curve[0] == pytest.approx(1.0)
    assert np.all(np.diff(curve) <= 1e-12)


def test_discretisation_cusp_from_a_half_pixel_centre_exceeds_one():
    # App. A.5: the overlap "temporarily goes beyond 1". From a half-pixel reference a neighbour moving
    # onto a pixel concentrates its darkness (larger norm), so sqrt(sum a b) / ||a|| > 1 for small sigma.
    curve = neighbour_overlap(0.3, np.array([0.0, 0.25, 0.4, 0.5, 1.0, 2.0]), centre=16.5)
    assert curve[0] == pytest.approx(1.0)
    assert curve[2] > 1.02
    assert curve[-1] < curve[-2] < 1.0


def test_wider_bumps_overlap_more():
    d = np.array([1.0, 2.0])
    assert np.all(neighbour_overlap(2.0, d) > neighbour_overlap(1.0, d))
    assert np.all(neighbour_overlap(1.0, d) > neighbour_overlap(0.3, d))


def test_narrow_bumps_one_pixel_apart_do_not_overlap():
    assert neighbour_overlap(0.1, np.array([1.0]))[0] < 0.005
